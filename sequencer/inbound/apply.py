"""Phase 2 of the inbox poller: act on the stored, not yet applied verdicts of one mailbox.

Each message is attributed (``attribution``) and acted on (``effects``, ``filing``,
``leads``). They go in chunks of ``APPLY_CHUNK``, one savepoint each; when a message of a
chunk raises, the chunk is rolled back and its messages applied one by one, each in its
own savepoint, so the one that raises is set aside with its error
(``inbound_messages.error``) and the rest go on; ``sequencer inbound retry`` puts
set-aside messages back. The refs of a batch are looked up together
(``attribution.Lookups``). Own mail and unrelated mail have no effect: each batch takes
them in one UPDATE, without savepoints (most of an inbox is newsletters). Batches of
``APPLY_BATCH`` commit one at a time, so a crash loses at most one batch's work, which the
next poll re-applies (stored verdicts are applied exactly once: the mark commits with the
effect)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from sequencer.config import Config, MailboxConfig
from sequencer.core.sequences import Sequence as SequenceDef
from sequencer.db import inbound as q
from sequencer.db.models import InboundMessage
from sequencer.db.session import Database
from sequencer.errors import UserError
from sequencer.inbound import attribution, effects, filing, trust
from sequencer.inbound import leads as inbound_leads
from sequencer.inbound.complaints import apply_complaint
from sequencer.inbound.context import ApplyContext, own_addresses
from sequencer.inbound.counts import NOTHING, Counts
from sequencer.project import calendar_for

log = logging.getLogger(__name__)

APPLY_BATCH = 500
APPLY_CHUNK = 100  # messages applied in one savepoint; one raising sends its chunk one by one
# Kinds whose effects add no touch, thread id or attributed reply: the batch's prefetched
# lookups and deferred marks stay true across them (a reply's intent may plan a new
# enrollment; Sent, filing and leads read and write threads).
SAFE_KINDS = ("auto_reply", "bounce", "complaint", "unsubscribe")
THREAD_KINDS = ("reply",)  # may add thread ids (a re-engagement), nothing else the lookups hold
MARK_SEEN_KINDS = ("auto_reply", "bounce")  # machine mail we handled: read it for the rep
INERT_KINDS = ("own", "unrelated")  # no effect: taken in one UPDATE per batch


def apply_pending(
    db: Database,
    config: Config,
    mailbox: MailboxConfig,
    sequences: Mapping[str, SequenceDef],
    now: datetime,
    sent_folder: str | None,
) -> tuple[Counts, dict[str, list[int]]]:
    """Apply every pending verdict (commits per batch); also the UIDs to flag \\Seen per folder.

    The Sent folder's messages come last, so a reply and the rep's answer to it that
    arrive in one poll are applied in that order.
    """
    ctx = ApplyContext(config, mailbox, sequences, now, own_addresses(config), calendar_for(config))
    tally = _Tally()
    while True:
        with db.session() as s:
            rows = q.pending_inbound(s, mailbox.name, sent_folder, APPLY_BATCH)
            if not rows:
                break
            inert = [r for r in rows if r.kind in INERT_KINDS]
            taken = q.take_many_for_apply(s, [r.id for r in inert])
            for row in inert:  # nothing to do but mark them: one UPDATE, no savepoints
                if row.id in taken:
                    tally.applied(row, None, NOTHING)
            active = [r for r in rows if r.kind not in INERT_KINDS]
            lookups = attribution.Lookups(s, active)
            for start in range(0, len(active), APPLY_CHUNK):
                chunk = active[start : start + APPLY_CHUNK]
                lookups.at(start)
                done = _apply_chunk(s, ctx, chunk, start, lookups)
                if done is None:  # one of them raised: apply them one by one
                    lookups.forget()
                    for i, row in enumerate(chunk):
                        lookups.at(start + i)
                        _apply_alone(s, ctx, row, lookups, tally)
                else:
                    for row, enrollment_id, counts in done:
                        tally.applied(row, enrollment_id, counts)
    return tally.total(), tally.marks


class _Tally:
    """What the batches applied, set aside and asked to mark \\Seen (only what committed)."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.marks: dict[str, list[int]] = {}
        self.count = self.set_aside = 0
        self.effects = NOTHING

    def applied(self, row: InboundMessage, enrollment_id: int | None, counts: Counts) -> None:
        self.count += 1
        self.kinds[row.kind] += 1
        if counts is not NOTHING:
            self.effects += counts
        if enrollment_id is not None and row.kind in MARK_SEEN_KINDS:
            self.marks.setdefault(row.folder, []).append(row.uid)

    def total(self) -> Counts:
        return self.effects + Counts(
            applied=self.count, set_aside=self.set_aside, kinds=dict(self.kinds)
        )


def _apply_chunk(
    s: Session,
    ctx: ApplyContext,
    chunk: list[InboundMessage],
    start: int,
    lookups: attribution.Lookups,
) -> list[tuple[InboundMessage, int | None, Counts]] | None:
    """Apply a chunk in one savepoint: one UPDATE takes them all, the marks go out together.

    None when any of them raised: the savepoint is rolled back (nothing of the chunk
    stays) and the caller applies its messages one by one, setting aside the one that
    fails. A savepoint, a take and a mark per message cost more than most effects.
    """
    savepoint = s.begin_nested()
    try:
        taken = q.take_many_for_apply(s, [r.id for r in chunk])
        done: list[tuple[InboundMessage, int | None, Counts]] = []
        marks: list[tuple[int, int]] = []
        for i, row in enumerate(chunk):
            if row.id not in taken:  # another poller applied it
                continue
            lookups.at(start + i)  # a refill prefetches for this row and those after it
            if row.kind not in SAFE_KINDS:  # it may read what the marks write
                q.mark_many_applied(s, marks)
                marks = []
            enrollment_id, counts = _effect(s, ctx, row, lookups)
            _after(row, lookups)
            if enrollment_id is not None:  # taking it already marked it applied
                marks.append((row.id, enrollment_id))
            done.append((row, enrollment_id, counts))
        q.mark_many_applied(s, marks)
        savepoint.commit()
    except Exception:
        savepoint.rollback()
        return None
    return done


def _effect(
    s: Session, ctx: ApplyContext, row: InboundMessage, lookups: attribution.Lookups
) -> tuple[int | None, Counts]:
    """``_apply_one``; for the safe kinds without autoflush. Their effects add events and
    read nothing pending (they write enrollments with guarded UPDATEs and flush a new
    suppression themselves), so their events go to the database together, at the next
    statement of a later message or the chunk's end, instead of one flush per query."""
    if row.kind in SAFE_KINDS:
        with s.no_autoflush:
            return _apply_one(s, ctx, row, lookups)
    return _apply_one(s, ctx, row, lookups)


def _after(row: InboundMessage, lookups: attribution.Lookups) -> None:
    """What the lookups must ask again after this row's effect."""
    if row.kind in THREAD_KINDS:
        lookups.after_reply()
    elif row.kind not in SAFE_KINDS:
        lookups.forget()


def _apply_alone(
    s: Session,
    ctx: ApplyContext,
    row: InboundMessage,
    lookups: attribution.Lookups,
    tally: _Tally,
) -> None:
    """One message in its own savepoint: if it raises it is set aside with its error."""
    savepoint = s.begin_nested()
    try:
        if not q.take_for_apply(s, row.id):  # another poller applied it
            savepoint.commit()
            return
        enrollment_id, counts = _effect(s, ctx, row, lookups)
        _after(row, lookups)
        if enrollment_id is not None:  # taking it already marked it applied
            q.mark_applied(s, row.id, enrollment_id=enrollment_id)
        savepoint.commit()
    except Exception as exc:  # quarantine, never crash the batch
        savepoint.rollback()
        lookups.forget()
        message = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        log.warning(
            "inbound message %s (%s uid %s) set aside: %s", row.id, row.folder, row.uid, message
        )
        q.set_aside(s, row.id, message)
        tally.set_aside += 1
        return
    tally.applied(row, enrollment_id, counts)


def _apply_one(
    s: Session, ctx: ApplyContext, row: InboundMessage, lookups: attribution.Lookups | None = None
) -> tuple[int | None, Counts]:
    """What one verdict does; returns the enrollment it is about (if any) and its counts."""
    if row.kind in INERT_KINDS:
        return None, NOTHING
    if row.kind == "sent":
        return effects.apply_sent(s, ctx, row)
    if row.kind == "filed":
        return filing.apply_filed(s, ctx, row)
    if row.kind == "lead":
        return (
            inbound_leads.apply_lead(s, ctx.config, ctx.sequences, ctx.mailbox, row, ctx.now),
            NOTHING,
        )
    enrollment, step, how = attribution.attribute(s, ctx, row, lookups)
    if enrollment is not None and row.kind in trust.TRUST_KINDS:
        decision, why = trust.decide(s, row, enrollment, lookups)
        details = {**(row.details or {}), "trust_reason": why, "candidate_enrollment": enrollment.id}
        q.set_trust(s, row.id, decision, details)
        if decision == trust.UNTRUSTED:  # acts on nobody until a person confirms it
            return None, NOTHING
    if enrollment is None:
        if row.kind == "unsubscribe":
            return None, effects.unsubscribe(s, ctx, row, None)
        return None, NOTHING
    counts = NOTHING
    if row.kind == "reply":
        counts = effects.apply_reply(s, ctx, row, enrollment, step, how)
    elif row.kind == "auto_reply":
        counts = effects.apply_auto_reply(s, ctx, row, enrollment, step)
    elif row.kind == "bounce":
        counts = effects.apply_bounce(s, ctx, row, enrollment, step)
    elif row.kind == "complaint":
        counts = apply_complaint(s, ctx, row, enrollment, step)
    elif row.kind == "unsubscribe":
        counts = effects.unsubscribe(s, ctx, row, enrollment)
    return enrollment.id, counts


__all__ = ["APPLY_BATCH", "apply_pending"]
