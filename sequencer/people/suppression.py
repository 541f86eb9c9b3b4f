"""Addresses and domains that are never sent to, and what adding one stops.

Who commits: ``suppress_add``/``suppress_remove`` take ``target: Session | Database``
(``sequencer.db.unit``): a Session joins the caller's transaction (the caller
commits), a Database is one transaction of their own. ``suppress_list`` only reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from sequencer.core import lifecycle
from sequencer.core.addresses import normalize
from sequencer.db import prospects as q
from sequencer.db import store
from sequencer.db.session import Database
from sequencer.db.unit import reading, unit_of_work
from sequencer.errors import UserError
from sequencer.people.state_changes import StateChange, state_change


@dataclass(frozen=True)
class SuppressionResult:
    value: str
    kind: str
    created: bool
    reason: str
    stopped: list[StateChange] = field(default_factory=list)


def parse_suppression(value: str) -> tuple[str, str]:
    """``dana@x.com`` -> (address); ``@x.com`` or ``x.com`` -> (domain). Lowercased."""
    text = value.strip()
    if "@" in text and not text.startswith("@"):
        return normalize(text), "address"
    domain = text.lstrip("@").lower().rstrip(".")
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels) or any(c.isspace() or c in "@/\\:" for c in domain):
        raise UserError(f"{value!r} is neither an email address nor a domain like example.com")
    return domain, "domain"


def suppress_add(
    target: Session | Database,
    value: str,
    *,
    reason: str = "manual",
    now: datetime,
    actor: str = "cli",
) -> SuppressionResult:
    """Suppress an address or a whole domain and stop every open enrollment it covers.

    Stopped enrollments become ``stopped`` with reason ``suppressed: <value> (<reason>)``;
    a later ``suppress remove`` does not restart them. The suppression and the stops
    commit together: with the caller's Session, or in one transaction on a Database.
    """
    key, kind = parse_suppression(value)
    with unit_of_work(target) as s:
        row, created = store.add_suppression(
            s, key, kind=kind, reason=reason, source=actor, now=now
        )
        store.record_event(
            s,
            now=now,
            kind="suppression_added",
            actor=actor,
            reason=reason,
            data={"value": key, "kind": kind, "created": created},
        )
        stopped = []
        for e in q.open_enrollments_suppressed_by(s, key, kind):
            before = e.status
            store.transition(
                s,
                e,
                lifecycle.STOPPED,
                now=now,
                actor=actor,
                reason=f"suppressed: {key} ({row.reason})",
                step=e.steps_done + 1,
            )
            stopped.append(state_change(e, e.prospect.email, before))
        return SuppressionResult(key, kind, created, row.reason, stopped)


def suppress_remove(
    target: Session | Database, value: str, *, now: datetime, actor: str = "cli"
) -> bool:
    """Lift a suppression (True if there was one). Enrollments it stopped stay stopped.

    Commits with the caller's Session, or in its own transaction on a Database.
    """
    key, kind = parse_suppression(value)
    with unit_of_work(target) as s:
        removed = q.delete_suppression(s, key)
        if removed is not None:
            store.record_event(
                s,
                now=now,
                kind="suppression_removed",
                actor=actor,
                reason=removed.reason,
                data={"value": key, "kind": kind},
            )
        return removed is not None


@dataclass(frozen=True)
class SuppressionRow:
    value: str
    kind: str
    reason: str
    source: str
    created_at: datetime


def suppress_list(
    target: Session | Database, *, contains: str | None = None
) -> list[SuppressionRow]:
    """Every suppression (optionally those containing ``contains``); reads, never commits."""
    with reading(target) as s:
        return [
            SuppressionRow(r.value, r.kind, r.reason, r.source, r.created_at)
            for r in q.list_suppressions(s, contains)
        ]
