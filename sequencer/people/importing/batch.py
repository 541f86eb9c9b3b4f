"""One batch of checked rows -> prospects, enrollments and events, in one transaction.

A batch costs a constant number of round trips whatever its size: one bulk lookup per
table (prospects, suppressions, enrollments), then bulk inserts and updates. The
checks that need the database run here, with the same guards as ``enroll``: a
suppressed address, a prospect that would lack a template variable, and the
enrollment guards (open elsewhere, finished before). A row already open in the same
sequence is "skipped", not rejected, which is what makes re-running an import harmless.

Who commits: ``BatchWriter.write`` opens one transaction on the Database per batch
and commits it (a dry run rolls it back); nothing is counted until it has committed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from sequencer.config import Config
from sequencer.core import lifecycle
from sequencer.core.planning import template_prospect
from sequencer.core.sequences import Sequence
from sequencer.db import prospects as q
from sequencer.db.models import Prospect
from sequencer.db.session import Database
from sequencer.people.enroll import new_token
from sequencer.people.guards import (
    ALREADY_ENROLLED,
    enrollment_guard,
    missing_variables,
    sequence_required_variables,
)
from sequencer.people.importing.rows import MISSING_VARIABLES, SUPPRESSED, ImportRow, Rejection
from sequencer.project import TouchPlanner, prospect_zone


@dataclass
class BatchOutcome:
    """What one committed batch did."""

    rejects: list[tuple[ImportRow, Rejection]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    created: int = 0
    updated: int = 0
    enrolled: int = 0

    def reject(self, r: ImportRow, code: str, reason: str) -> None:
        self.rejects.append((r, Rejection(code, reason)))


class BatchWriter:
    """Writes batches for one import run into one sequence."""

    def __init__(
        self,
        db: Database,
        config: Config,
        sequence: Sequence,
        *,
        dry_run: bool,
        allow_parallel: bool,
        now: datetime,
        actor: str,
        source_name: str,
    ) -> None:
        self.db = db
        self.config = config
        self.sequence = sequence
        self.dry_run = dry_run
        self.allow_parallel = allow_parallel
        self.now = now
        self.actor = actor
        self.source_name = source_name
        self.planner = TouchPlanner(config, sequence)
        self.required = sequence_required_variables(config, sequence)
        self.batches = 0

    def write(self, batch: list[ImportRow]) -> BatchOutcome:
        """Write one batch in one transaction and return what it did once it has committed.

        A concurrent import (or enroll) can insert the same address between our lookup
        and our insert; the unique constraint then fails the batch, and it is redone
        once, this time seeing the other writer's rows.
        """
        if not batch:
            return BatchOutcome()
        try:
            outcome = self._write(batch)
        except IntegrityError:
            outcome = self._write(batch)
        self.batches += 1
        if not self.dry_run and self.batches & (self.batches - 1) == 0:  # batch 1, 2, 4, 8, ...
            with self.db.session() as s:
                q.refresh_planner_statistics(s)
        return outcome

    def _write(self, batch: list[ImportRow]) -> BatchOutcome:
        out = BatchOutcome()
        with self.db.session() as s:
            emails = [r.email for r in batch]
            existing = q.prospects_by_emails(s, emails)
            suppressed = q.suppressions_among(s, emails)
            by_prospect: dict[int, list[q.EnrollmentBrief]] = defaultdict(list)
            for brief in q.enrollments_of_prospects(s, [p.id for p in existing.values()]):
                by_prospect[brief.prospect_id].append(brief)
            new_prospects: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            to_enroll: list[ImportRow] = []
            for r in batch:
                hit = suppressed.get(r.email)
                if hit is not None:
                    out.reject(r, SUPPRESSED, f"suppressed ({hit.kind} {hit.value}: {hit.reason})")
                    continue
                p = existing.get(r.email)
                merged = _merged(r, p)
                missing = missing_variables(self.required, template_prospect(**merged))
                if missing:
                    out.reject(
                        r,
                        MISSING_VARIABLES,
                        f"missing required template variable(s): {', '.join(sorted(missing))}",
                    )
                    continue
                verdict = enrollment_guard(
                    self.sequence.id,
                    by_prospect.get(p.id, []) if p else [],
                    allow_parallel=self.allow_parallel,
                    force=False,
                )
                if verdict is not None and verdict.code != ALREADY_ENROLLED:
                    out.reject(r, verdict.code, verdict.message)
                    continue
                if p is None:
                    new_prospects.append(self._new_prospect(r))
                    out.created += 1
                else:
                    change = self._update(p, merged)
                    if change:
                        updates.append(change)
                        out.updated += 1
                if verdict is not None:
                    out.skipped[verdict.code] += 1
                    continue
                to_enroll.append(r)
            out.enrolled = len(to_enroll)
            if self.dry_run:
                s.rollback()
                return out
            q.update_prospects(s, updates)
            ids = {p.email: p.id for p in existing.values()}
            ids.update(q.insert_prospects(s, new_prospects))
            enrollments, tokens = [], []
            for r in to_enroll:
                token = new_token()
                tokens.append(token)
                enrollments.append(self._enrollment(r, ids[r.email], token, existing.get(r.email)))
            enrollment_ids = q.insert_enrollments(s, enrollments)
            q.insert_events(
                s,
                [
                    {
                        "at": self.now,
                        "enrollment_id": enrollment_ids[token],
                        "prospect_id": e["prospect_id"],
                        "kind": "enrolled",
                        "actor": self.actor,
                        "reason": f"enrolled in {self.sequence.id}",
                        "step": 1,
                        "data": {
                            "sequence": self.sequence.id,
                            "mailbox": e["mailbox"],
                            "source": "import",
                            "file": self.source_name,
                            "row": r.number,
                            "next_send_at": e["next_send_at"].isoformat(),
                        },
                    }
                    for r, token, e in zip(to_enroll, tokens, enrollments, strict=True)
                ],
            )
        return out

    def _new_prospect(self, r: ImportRow) -> dict[str, Any]:
        return {
            "email": r.email,
            "display_email": r.display_email,
            "name": r.name,
            "company": r.company,
            "owner": r.owner,
            "timezone": r.timezone,
            "deal_value": r.deal_value,
            "fields": r.fields,
            "created_at": self.now,
            "updated_at": self.now,
        }

    def _update(self, p: Prospect, merged: Mapping[str, Any]) -> dict[str, Any] | None:
        keys = ("name", "company", "owner", "timezone", "deal_value", "fields")
        if all(getattr(p, k) == merged[k] for k in keys):
            return None
        return {"id": p.id, **{k: merged[k] for k in keys}, "updated_at": self.now}

    def _enrollment(
        self, r: ImportRow, prospect_id: int, token: str, p: Prospect | None
    ) -> dict[str, Any]:
        tz_name = prospect_zone(
            self.config, self.sequence, r.mailbox, r.timezone or (p.timezone if p else None)
        )
        next_send_at = self.planner.first_touch(
            base=self.now, now=self.now, tz_name=tz_name, mailbox=r.mailbox
        )
        return {
            "prospect_id": prospect_id,
            "sequence_id": self.sequence.id,
            "mailbox": r.mailbox.name,
            "owner": r.owner or (p.owner if p else None) or r.mailbox.rep,
            "status": lifecycle.ACTIVE,
            "status_reason": "enrolled",
            "status_changed_at": self.now,
            "steps_done": 0,
            "total_steps": self.sequence.total_steps,
            "next_send_at": next_send_at,
            "retry_count": 0,
            "token": token,
            "thread_refs": [],
            "enrolled_at": self.now,
            "source": "import",
        }


def _merged(r: ImportRow, p: Prospect | None) -> dict[str, Any]:
    """The prospect as it will be after this row: stored values, row values on top."""
    if p is None:
        return {
            "email": r.email,
            "name": r.name,
            "company": r.company,
            "owner": r.owner,
            "timezone": r.timezone,
            "deal_value": r.deal_value,
            "fields": r.fields,
        }
    return {
        "email": p.email,
        "name": r.name or p.name,
        "company": r.company or p.company,
        "owner": r.owner or p.owner,
        "timezone": r.timezone or p.timezone,
        "deal_value": r.deal_value if r.deal_value is not None else p.deal_value,
        "fields": {**(p.fields or {}), **r.fields},
    }
