"""What the dashboard shows beside the report: mailbox status, held touches, per-rep replies,
sequence definitions.

The dashboard reads through ``sequencer.reporting`` only (an import contract holds it),
so the few reads that are not figures of ``build_report`` live here as named functions.
Each opens one read-only session of its own (never commits, takes no write lock on
SQLite). ``Database`` and ``DATABASE_ERRORS`` are re-exported so an edge can hold a
database and recognise "the database did not answer" without importing ``db`` or
SQLAlchemy itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from sequencer.config import Config
from sequencer.core.planning import render_step
from sequencer.core.sequence_checks import SAMPLE_MAILBOX
from sequencer.core.sequences import Sequence
from sequencer.core.template_context import build_context
from sequencer.db import mailbox_state, outbox
from sequencer.db import reports as q
from sequencer.db.session import Database
from sequencer.errors import SequenceError, SequencerError
from sequencer.project import Project, load_project

# What a caller catches to say "the database did not answer" (a 503, not a 500).
DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError,)
HELD = "held"


@dataclass(frozen=True)
class MailboxStatus:
    name: str
    address: str | None
    paused_reason: str | None
    paused_at: datetime | None
    last_poll_at: datetime | None
    last_poll_error: str | None


@dataclass(frozen=True)
class HeldTouch:
    """A touch that may or may not have gone out: held for the operator, never re-sent blindly."""

    message_pk: int
    enrollment_id: int
    email: str
    owner: str | None
    sequence_id: str
    step: int
    mailbox: str
    subject: str
    claimed_at: datetime
    error: str | None


def mailbox_statuses(db: Database, config: Config) -> list[MailboxStatus]:
    """Every configured mailbox (and any the database knows of), with pause and poll times."""
    with db.read_session() as s:
        states = mailbox_state.mailbox_states(s)
    configured = [m.name for m in config.mailboxes]
    names = configured + sorted(set(states) - set(configured))
    address = {m.name: m.address for m in config.mailboxes}
    out = []
    for name in names:
        st = states.get(name)
        out.append(
            MailboxStatus(
                name=name,
                address=address.get(name),
                paused_reason=st.paused_reason if st else None,
                paused_at=st.paused_at if st else None,
                last_poll_at=st.last_poll_at if st else None,
                last_poll_error=st.last_poll_error if st else None,
            )
        )
    return out


def held_touches(
    db: Database, *, owner: str | None = None, sequence: str | None = None, limit: int = 200
) -> list[HeldTouch]:
    """Touches held for the operator (``sequencer outbox``'s ``held``), of one rep or sequence."""
    with db.read_session() as s:
        rows = outbox.outbox_rows(s, [HELD], limit=limit)
    return [
        HeldTouch(m.id, e.id, m.to_addr, e.owner, e.sequence_id, m.step, m.mailbox, m.subject, m.claimed_at, m.error)
        for m, e in rows
        if (owner is None or e.owner == owner) and (sequence is None or e.sequence_id == sequence)
    ]


def unanswered_by_rep(
    db: Database,
    config: Config,
    owners: list[str | None],
    *,
    now: datetime,
    sequence: str | None = None,
    since: datetime | None = None,
) -> dict[str | None, tuple[int, int]]:
    """Owner -> (unanswered replies, of which past the reply SLA): the report's query per rep."""
    sla = timedelta(hours=config.reporting.reply_sla_hours)
    f = q.ReportFilter(sequence=sequence, since=since)
    with db.read_session() as s:
        per = q.unanswered_counts_by_owner(s, f, now=now, sla=sla)
    total = (sum(n for n, _ in per.values()), sum(b for _, b in per.values()))
    # owner None was asked as "no owner filter", i.e. everyone's: kept as it was
    return {owner: total if owner is None else per.get(owner, (0, 0)) for owner in owners}


def unanswered_enrollments(db: Database, enrollment_ids: list[int]) -> frozenset[int]:
    """Which of these enrollments have a reply still waiting for the rep's answer."""
    from sqlalchemy import select

    from sequencer.db.models import Enrollment as E

    if not enrollment_ids:
        return frozenset()
    with db.read_session() as s:
        return frozenset(s.scalars(select(E.id).where(
            E.id.in_(enrollment_ids), E.replied_at.is_not(None), E.answered_at.is_(None), E.status == "replied",
        )))  # fmt: skip


@dataclass(frozen=True)
class StepDefinition:
    name: str | None
    wait: str
    subject: str | None  # as rendered for the sample prospect (the raw text when it cannot be)
    variants: list[str]  # names, when the step has more than one
    is_task: bool = False
    task: str | None = None


@dataclass(frozen=True)
class SequenceDefinition:
    sequence_id: str
    name: str
    steps: list[StepDefinition]


def sequence_definition(
    config: Config, sequence_id: str, *, now: datetime | None = None
) -> tuple[SequenceDefinition | None, str | None]:
    """The sequence as its file defines it now, or (None, why) when the files cannot be read.

    A broken file is a message on the page, not an error: the figures still show.
    """
    try:
        project = load_project(config)
    except SequenceError as exc:
        return None, f"the sequence files could not be read: {len(exc.problems)} problem(s)"
    loaded = project.sequences.get(sequence_id)
    if loaded is None:
        return None, None
    subjects = _sample_subjects(project, loaded, (now or datetime.now(UTC)).date())
    steps = [
        StepDefinition(
            name=step.name,
            wait=str(step.wait),
            subject=None if step.is_task else subjects.get(step.number, step.subject),
            variants=[v.name for v in step.variants] if len(step.variants) > 1 else [],
            is_task=step.is_task,
            task=step.task,
        )
        for step in loaded.steps
    ]
    return SequenceDefinition(sequence_id, loaded.name, steps), None


SAMPLE_PROSPECT = {"email": "sample@example.com", "name": "Sam Sample", "first_name": "Sam",
                   "company": "Example Co"}


def _sample_subjects(project: Project, sequence: Sequence, today: date) -> dict[int, str]:
    """Each email step's subject as the sequence's ``sample`` prospect (else a stand-in) gets it;
    an in-thread step shows the thread's subject as a reply ("Re: ..."). A step that cannot be
    rendered keeps its raw text."""
    sample = dict(sequence.sample) or SAMPLE_PROSPECT
    out: dict[int, str] = {}
    for step in sequence.steps:
        if step.is_task:
            continue
        try:
            first = sequence.thread_start(step)
            context = build_context(sample, SAMPLE_MAILBOX, sequence, first, None, today, project.calendar)
            subject = render_step(project.templates, sequence, first, first.variants[0], context).subject
        except (SequencerError, ValueError, KeyError, StopIteration):
            continue
        if subject:
            out[step.number] = subject if step.starts_thread else f"Re: {subject}"
    return out


__all__ = [
    "DATABASE_ERRORS",
    "Database",
    "HeldTouch",
    "MailboxStatus",
    "SequenceDefinition",
    "StepDefinition",
    "held_touches",
    "mailbox_statuses",
    "sequence_definition",
    "unanswered_by_rep",
    "unanswered_enrollments",
]
