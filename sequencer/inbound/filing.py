"""Enrollment by filing: the rep files an email they sent (or BCCs ``rep+<sequence>@``).

The poller classifies such a message as ``filed`` (an ``imap.folders.enroll`` folder, or a
copy delivered to the plus address, found by ``plus_detail``); applying it enrolls the
email's To recipients in that sequence, threaded onto the filed email.
"""

from __future__ import annotations

import re
from email.message import Message

from sqlalchemy.orm import Session

from sequencer.db import attribution as q
from sequencer.db import store
from sequencer.db.models import InboundMessage
from sequencer.errors import UserError
from sequencer.inbound.context import ACTOR, ApplyContext
from sequencer.inbound.counts import Counts
from sequencer.people.enroll import enroll


def plus_detail(headers: Message, mailbox_address: str) -> str | None:
    """The ``+detail`` of the mailbox's own address this copy was delivered to (BCC), if any.

    A BCC is not in the message's headers; the receiving server records the envelope
    recipient in Delivered-To / X-Original-To / Envelope-To (Dovecot, Postfix, Gmail,
    Exim) or in a Received ``for <...>`` clause.
    """
    base, _, domain = mailbox_address.lower().partition("@")
    pattern = re.compile(rf"(?<![\w.+-]){re.escape(base)}\+([\w.-]+)@{re.escape(domain)}", re.I)
    for name in (
        "Delivered-To",
        "X-Original-To",
        "Envelope-To",
        "X-Envelope-To",
        "X-Delivered-To",
        "Received",
    ):
        for value in headers.get_all(name) or []:
            match = pattern.search(str(value))
            if match:
                return match.group(1).lower()
    return None


def apply_filed(s: Session, ctx: ApplyContext, row: InboundMessage) -> tuple[int | None, Counts]:
    """Enroll the To recipients of a filed (or plus-BCC'd) email, threaded onto it.

    The filed email is touch 0: it starts the thread, and every step of the sequence,
    step 1 included, follows as a reply in it (``Re: <its subject>``). Returns the first
    enrollment made and how many were. Runs in the caller's savepoint (never commits);
    a recipient that cannot be enrolled raises after the others, setting the message aside.
    """
    details = row.details or {}
    sequence_id = details.get("sequence") or ""
    if sequence_id not in ctx.sequences:
        raise UserError(
            f"no sequence {sequence_id!r} to enroll into (known: {', '.join(sorted(ctx.sequences)) or 'none'})"
        )
    if not row.message_id:
        raise UserError("the filed email has no Message-ID, so follow-ups cannot thread onto it")
    plus = ctx.mailbox.address.replace("@", f"+{sequence_id}@")
    recipients = [a for a in details.get("to") or [] if a not in ctx.own and a != plus.lower()]
    if not recipients:
        raise UserError("the filed email has no To recipient outside our own mailboxes")
    already = {
        e.prospect_id for e in q.enrollment_with_thread_root(s, ctx.mailbox.name, row.message_id)
    }
    thread = [*reversed(list(row.refs or [])), row.message_id]
    first_id: int | None = None
    enrolled = 0
    failures: list[str] = []
    for address in recipients:
        existing = store.prospect_by_email(s, address)
        if existing is not None and existing.id in already:
            continue
        try:
            outcome = enroll(
                s,
                ctx.config,
                ctx.sequences,
                email=address,
                sequence_id=sequence_id,
                owner=ctx.mailbox.rep,
                now=ctx.now,
                actor=ACTOR,
                source="filing",
            )
        except UserError as exc:
            failures.append(f"{address}: {exc}")
            continue
        if outcome.enrolled and outcome.enrollment_id is not None:
            q.update_enrollment(
                s,
                outcome.enrollment_id,
                thread_root_id=row.message_id,
                last_message_id=row.message_id,
                thread_refs=list(dict.fromkeys(thread)),
                thread_subject=row.subject,
            )
            enrolled += 1
            first_id = first_id or outcome.enrollment_id
    if failures:
        raise UserError("; ".join(failures))
    return first_id, Counts(enrolled=enrolled)


__all__ = ["apply_filed", "plus_detail"]
