"""Rows a crashed or stopped worker left behind, settled before a mailbox sends again.

A ``queued`` row older than a lease never reached SMTP: it is released and goes later
with the same Message-ID. A ``sending`` row may have been delivered: it is looked up
in the Sent folder by Message-ID and recorded sent if found; otherwise it is ``held``
for ``sequencer outbox resolve``, because only the operator can tell.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sequencer.config import Config
from sequencer.core.schedule import BusinessCalendar
from sequencer.core.sequences import Sequence
from sequencer.db import outbox, outbox_record
from sequencer.db.session import Database
from sequencer.outbound.mailbox_run import MailboxRun
from sequencer.outbound.operations import confirm_sent
from sequencer.outbound.result import TickResult

log = logging.getLogger("sequencer.outbound.engine")

RELEASED_REASON = "released after a worker stopped before sending"
# Recovery cannot tell a dead worker from one stalled past its lease: the reasons say so.
# A stalled worker that wakes up and finds its touch held gives it back itself (it knows
# it never reached MAIL FROM), so a held row left standing is one nobody can vouch for.
NO_IMAP_REASON = (
    "a worker stopped answering mid-send (crashed, or stalled past its lease) "
    "and the mailbox has no IMAP to check Sent"
)
NOT_IN_SENT_REASON = (
    "a worker stopped answering mid-send (crashed, or stalled past its lease) and the "
    "Message-ID is not in the Sent folder; it may or may not have been delivered"
)


async def recover(
    db: Database,
    config: Config,
    sequences: Mapping[str, Sequence],
    calendar: BusinessCalendar,
    run: MailboxRun,
    *,
    now: datetime,
    worker: str,
) -> TickResult:
    """Settle the mailbox's stale rows; commits twice, before and after the Sent lookup.

    Raises ``MailboxError`` when Sent cannot be searched (the rows stay for next time).
    """
    result = TickResult()
    mailbox = run.mailbox
    with db.session() as s:
        stale = outbox_record.stale_sending(
            s, now, lease_seconds=config.sending.lease_seconds, mailbox=mailbox.name
        )
        queued = [m.id for m in stale if m.status == outbox.QUEUED]
        if queued:
            result.released += outbox_record.release(s, queued, reason=RELEASED_REASON)
        in_doubt = [(m.id, m.message_id) for m in stale if m.status == outbox.SENDING]
    if not in_doubt:
        return result
    log.warning(
        "mailbox %s: %d touch(es) were mid-send when a worker stopped answering; checking Sent",
        mailbox.name,
        len(in_doubt),
    )
    if mailbox.imap is None:
        found: set[str] = set()
        reason = NO_IMAP_REASON
    else:
        found = await run.find_in_sent([mid for _, mid in in_doubt])
        reason = NOT_IN_SENT_REASON
    with db.session() as s:
        for pk, mid in in_doubt:
            if mid in found:
                if confirm_sent(
                    s,
                    config,
                    sequences,
                    mailbox,
                    pk,
                    now,
                    note="confirmed in the Sent folder after a crash",
                    actor=worker,
                    calendar=calendar,
                ):
                    result.reconciled += 1
            elif outbox_record.hold(s, pk, now=now, reason=reason, actor=worker):
                result.held += 1
    return result


__all__ = ["recover"]
