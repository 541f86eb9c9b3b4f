"""Phase 2 of the inbox poller: act on the stored, not yet applied verdicts of one mailbox.

Each message is attributed (``attribution``) and acted on (``effects``, ``filing``,
``leads``) in its own savepoint: one that raises is set aside with its error
(``inbound_messages.error``) and the batch goes on; ``sequencer inbound retry`` puts
set-aside messages back. Own mail and unrelated mail have no effect: each batch takes
them in one UPDATE, without savepoints (most of an inbox is newsletters). Batches of ``APPLY_BATCH`` commit one at a time, so a crash
loses at most one batch's work, which the next poll re-applies (stored verdicts are
applied exactly once: ``mark_applied`` commits with the effect).
"""

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
    marks: dict[str, list[int]] = {}
    kinds: Counter[str] = Counter()
    applied = set_aside = 0
    effects_total = NOTHING
    while True:
        with db.session() as s:
            rows = q.pending_inbound(s, mailbox.name, sent_folder, APPLY_BATCH)
            if not rows:
                break
            inert = [r for r in rows if r.kind in INERT_KINDS]
            taken = q.take_many_for_apply(s, [r.id for r in inert])
            for row in inert:  # nothing to do but mark them: one UPDATE, no savepoints
                if row.id in taken:
                    applied += 1
                    kinds[row.kind] += 1
            for row in rows:
                if row.kind in INERT_KINDS:
                    continue
                savepoint = s.begin_nested()
                try:
                    if not q.take_for_apply(s, row.id):  # another poller applied it
                        savepoint.commit()
                        continue
                    enrollment_id, counts = _apply_one(s, ctx, row)
                    if enrollment_id is not None:  # taking it already marked it applied
                        q.mark_applied(s, row.id, enrollment_id=enrollment_id)
                    savepoint.commit()
                except Exception as exc:  # quarantine, never crash the batch
                    savepoint.rollback()
                    message = (
                        str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
                    )
                    log.warning(
                        "inbound message %s (%s uid %s) set aside: %s",
                        row.id,
                        row.folder,
                        row.uid,
                        message,
                    )
                    q.set_aside(s, row.id, message)
                    set_aside += 1
                    continue
                applied += 1
                kinds[row.kind] += 1
                if counts is not NOTHING:
                    effects_total += counts
                if enrollment_id is not None and row.kind in MARK_SEEN_KINDS:
                    marks.setdefault(row.folder, []).append(row.uid)
    total = effects_total + Counts(applied=applied, set_aside=set_aside, kinds=dict(kinds))
    return total, marks


def _apply_one(s: Session, ctx: ApplyContext, row: InboundMessage) -> tuple[int | None, Counts]:
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
    enrollment, step, how = attribution.attribute(s, ctx, row)
    if enrollment is not None and row.kind in trust.TRUST_KINDS:
        decision, why = trust.decide(s, row, enrollment)
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
