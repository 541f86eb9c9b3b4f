"""Putting prospects into sequences.

``enroll`` creates or updates a prospect and enrolls it, with ``now`` from the
caller's clock. Who may be enrolled (suppression, already open, open elsewhere,
finished before, missing template variables) is decided by ``guards``, the same
rules the CSV import applies; values typed by the rep are read by ``values``.
Taking prospects out again lives in ``state_changes``, suppression in
``suppression``, listing and history in ``timeline``; when and from where touches go
in ``core.planning``.

Who commits: ``enroll`` takes ``target: Session | Database`` (``sequencer.db.unit``).
With a Session it joins the caller's transaction and the caller commits; with a
Database the prospect, the enrollment and its event commit together before it
returns.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sequencer.config import Config
from sequencer.core import lifecycle
from sequencer.core.addresses import normalize
from sequencer.core.planning import prospect_mapping
from sequencer.core.sequences import Sequence
from sequencer.db import prospects as q
from sequencer.db import store
from sequencer.db.models import Enrollment, Prospect
from sequencer.db.session import Database
from sequencer.db.unit import unit_of_work
from sequencer.errors import AlreadyEnrolled, NotFound, Suppressed
from sequencer.people.guards import (
    ALREADY_ENROLLED,
    MissingVariables,
    enrollment_guard,
    missing_variables,
    sequence_required_variables,
)
from sequencer.people.values import parse_deal_value, parse_timezone
from sequencer.project import TouchPlanner, choose_mailbox, prospect_zone

__all__ = ["EnrollResult", "enroll", "new_token", "require_sequence"]


@dataclass(frozen=True)
class EnrollResult:
    """What ``enroll`` did. ``enrolled`` is False only for "already in this sequence"."""

    email: str
    prospect_id: int
    prospect_created: bool
    prospect_updated: bool
    sequence_id: str
    enrolled: bool
    enrollment_id: int | None
    status: str
    mailbox: str
    timezone: str
    next_send_at: datetime | None
    skipped_reason: str | None = None
    also_active_in: tuple[str, ...] = ()

    @property
    def next_send_local(self) -> datetime | None:
        return self.next_send_at.astimezone(ZoneInfo(self.timezone)) if self.next_send_at else None


def new_token() -> str:
    """The enrollment's opaque id for unsubscribe links (url-safe, unguessable)."""
    return secrets.token_urlsafe(18)


def require_sequence(sequences: Mapping[str, Sequence], sequence_id: str) -> Sequence:
    try:
        return sequences[sequence_id]
    except KeyError:
        known = ", ".join(sorted(sequences)) or "none"
        raise NotFound(f"no sequence {sequence_id!r} (known: {known})") from None


def enroll(
    target: Session | Database, config: Config, sequences: Mapping[str, Sequence], **kwargs: Any
) -> EnrollResult:
    """Create or update the prospect and enroll it (see ``_enroll_once``).

    Commits with the caller's Session, or in one transaction of its own on a Database.
    Two processes enrolling the same new address at the same moment collide on the
    database's unique keys; with a Database target the loser retries once and then
    sees the winner's prospect and enrollment, so the result is the same as if the
    calls had been made one after the other.
    """
    if isinstance(target, Session):
        return _enroll_once(target, config, sequences, **kwargs)
    try:
        return _enroll_once(target, config, sequences, **kwargs)
    except IntegrityError:
        return _enroll_once(target, config, sequences, **kwargs)


def _enroll_once(
    target: Session | Database,
    config: Config,
    sequences: Mapping[str, Sequence],
    *,
    email: str,
    sequence_id: str,
    name: str | None = None,
    company: str | None = None,
    owner: str | None = None,
    tz: str | None = None,
    value: str | Decimal | None = None,
    fields: Mapping[str, Any] | None = None,
    start: datetime | None = None,
    now: datetime,
    actor: str = "cli",
    allow_parallel: bool = False,
    force: bool = False,
    source: str = "cli",
) -> EnrollResult:
    """Create or update the prospect and enroll it; the first touch is scheduled at once.

    ``start`` is when the sequence's clock starts (step 1's wait counts from it;
    default ``now``); a first touch that would fall before ``now`` goes at the next
    moment the send window allows.
    """
    sequence = require_sequence(sequences, sequence_id)
    key = normalize(email)
    display = email.strip()
    tz_name = parse_timezone(tz)
    deal_value = parse_deal_value(value)
    mailbox = choose_mailbox(config, sequence, owner)
    with unit_of_work(target) as s:
        hit = store.find_suppression(s, key)
        if hit is not None:
            raise Suppressed(
                f"{key} is suppressed ({hit.kind} {hit.value}: {hit.reason}); it is never enrolled"
            )
        prospect = store.prospect_by_email(s, key)
        created = prospect is None
        if prospect is None:
            prospect = Prospect(
                email=key,
                display_email=display,
                name=name,
                company=company,
                owner=owner,
                timezone=tz_name,
                deal_value=deal_value,
                fields=dict(fields or {}),
                created_at=now,
                updated_at=now,
            )
            s.add(prospect)
            s.flush()
            updated = False
        else:
            updated = _apply_updates(
                prospect,
                name=name,
                company=company,
                owner=owner,
                tz=tz_name,
                deal_value=deal_value,
                fields=fields,
                now=now,
            )
        zone_name = prospect_zone(config, sequence, mailbox, prospect.timezone)
        existing = q.enrollments_of_prospects(s, [prospect.id])
        verdict = enrollment_guard(
            sequence.id, existing, allow_parallel=allow_parallel, force=force
        )
        if verdict is not None and verdict.code == ALREADY_ENROLLED:
            current = next(
                e
                for e in q.enrollments_for_action(
                    s,
                    prospect_id=prospect.id,
                    sequence_id=sequence.id,
                    statuses=lifecycle.OPEN_STATES,
                )
            )
            return EnrollResult(
                email=key,
                prospect_id=prospect.id,
                prospect_created=created,
                prospect_updated=updated,
                sequence_id=sequence.id,
                enrolled=False,
                enrollment_id=current.id,
                status=current.status,
                mailbox=current.mailbox,
                timezone=zone_name,
                next_send_at=current.next_send_at,
                skipped_reason=verdict.message,
            )
        if verdict is not None:
            raise AlreadyEnrolled(f"{key}: {verdict.message}")
        missing = missing_variables(
            sequence_required_variables(config, sequence), prospect_mapping(prospect)
        )
        if missing:
            raise MissingVariables(sequence.id, missing)
        planner = TouchPlanner(config, sequence)
        next_send_at = planner.first_touch(
            base=start or now, now=now, tz_name=zone_name, mailbox=mailbox
        )
        enrollment = Enrollment(
            prospect_id=prospect.id,
            sequence_id=sequence.id,
            mailbox=mailbox.name,
            owner=owner or prospect.owner or mailbox.rep,
            status=lifecycle.ACTIVE,
            status_reason="enrolled",
            status_changed_at=now,
            steps_done=0,
            total_steps=sequence.total_steps,
            next_send_at=next_send_at,
            token=new_token(),
            thread_refs=[],
            enrolled_at=now,
            source=source,
        )
        s.add(enrollment)
        s.flush()
        others = tuple(
            sorted({e.sequence_id for e in existing if e.status in lifecycle.OPEN_STATES})
        )
        store.record_event(
            s,
            now=now,
            kind="enrolled",
            actor=actor,
            enrollment=enrollment,
            reason=f"enrolled in {sequence.id}",
            step=1,
            data={
                "sequence": sequence.id,
                "mailbox": mailbox.name,
                "source": source,
                "next_send_at": next_send_at.isoformat(),
                "also_active_in": list(others),
            },
        )
        return EnrollResult(
            email=key,
            prospect_id=prospect.id,
            prospect_created=created,
            prospect_updated=updated,
            sequence_id=sequence.id,
            enrolled=True,
            enrollment_id=enrollment.id,
            status=enrollment.status,
            mailbox=mailbox.name,
            timezone=zone_name,
            next_send_at=next_send_at,
            also_active_in=others,
        )


def _apply_updates(
    p: Prospect,
    *,
    name: str | None,
    company: str | None,
    owner: str | None,
    tz: str | None,
    deal_value: Decimal | None,
    fields: Mapping[str, Any] | None,
    now: datetime,
) -> bool:
    """Given values overwrite stored ones; empty ones never erase. True when anything changed."""
    changed = False
    for attr, new in (
        ("name", name),
        ("company", company),
        ("owner", owner),
        ("timezone", tz),
        ("deal_value", deal_value),
    ):
        if new not in (None, "") and getattr(p, attr) != new:
            setattr(p, attr, new)
            changed = True
    if fields:
        merged = {**(p.fields or {}), **{k: v for k, v in fields.items() if v not in (None, "")}}
        if merged != (p.fields or {}):
            p.fields = merged
            changed = True
    if changed:
        p.updated_at = now
    return changed
