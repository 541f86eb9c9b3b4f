"""A touch from enrollment to message: context, variant, thread headers, List-Unsubscribe.

The sending engine calls ``render_touch`` inside the claim transaction and
``advance_after`` when it records the send; recovery and ``outbox resolve`` use
``advance_after`` too, so a touch confirmed from the database moves its enrollment on
exactly as a touch the engine saw leave.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sequencer.config import Config, MailboxConfig
from sequencer.core.advance import Advance
from sequencer.core.compose import compose_touch_bytes
from sequencer.core.planning import (
    ThreadState,
    prospect_mapping,
    render_step,
    thread_after,
    thread_for,
)
from sequencer.core.schedule import BusinessCalendar, due_at, zone
from sequencer.core.sequences import Sequence, choose_variant
from sequencer.core.template_context import build_context
from sequencer.core.templates import TemplateStore
from sequencer.db.models import Enrollment, Prospect
from sequencer.errors import UserError
from sequencer.project import mailbox_context, mailbox_window


@dataclass
class Prepared:
    """A composed touch and what recording it needs (kept in memory between claim and send).

    Templates are rendered in the claim (a template error fails the enrollment there); the
    MIME message is built only when an SMTP slot is free, so that CPU work overlaps the
    round trips of the other slots.
    """

    compose: Callable[[], bytes] | None
    sequence: Sequence
    step: int
    subject: str
    tz_name: str
    thread_subject: str | None
    thread_root_id: str | None
    thread_refs: list[str]
    _raw: bytes | None = None

    @property
    def raw(self) -> bytes:
        """The message bytes, composed on first use (raises TemplateError/ValueError if it cannot be)."""
        if self._raw is None:
            assert self.compose is not None
            self._raw = self.compose()
        return self._raw


class ComposeFailed(UserError):
    """A touch's headers could not be built (e.g. a control character in a field)."""


def render_touch(
    config: Config,
    templates: TemplateStore,
    calendar: BusinessCalendar,
    mailbox: MailboxConfig,
    sequence: Sequence,
    number: int,
    e: Enrollment,
    p: Prospect,
    message_id: str,
    now: datetime,
    tz_name: str,
) -> Prepared:
    """Render a touch's templates now (a template error fails the enrollment in the claim);
    the MIME bytes are built later, by ``Prepared.raw``, when an SMTP slot is free."""
    step = sequence.step(number)
    token = e.token
    url = config.unsubscribe.url.replace("{token}", token) if config.unsubscribe.url else None
    mailbox_map = mailbox_context(mailbox)
    today = now.astimezone(zone(tz_name)).date()
    context = build_context(prospect_mapping(p), mailbox_map, sequence, step, url, today, calendar)
    variant = choose_variant(step, token)
    rendered = render_step(templates, sequence, step, variant, context)

    def start_subject() -> str | None:
        first = sequence.thread_start(step)
        return render_step(templates, sequence, first, choose_variant(first, token), context).subject

    threading = thread_for(step, _thread_of(e), rendered.subject, start_subject)
    subject = threading.subject
    mailto = None
    if sequence.list_unsubscribe:
        mailto = unsubscribe_mailto(config.unsubscribe.mailto, mailbox.address, token)
    msg = functools.partial(
        compose_touch_bytes,
        rendered=replace(rendered, subject=subject),
        from_name=mailbox.display_name or None,
        from_addr=mailbox.address,
        to_name=p.name,
        to_addr=p.display_email or p.email,
        message_id=message_id,
        date=now.astimezone(zone(mailbox.timezone or config.timezone)),
        in_reply_to=threading.in_reply_to,
        references=list(threading.references),
        list_unsubscribe_mailto=mailto,
        list_unsubscribe_url=url if sequence.list_unsubscribe else None,
    )
    return Prepared(
        compose=msg,
        sequence=sequence,
        step=number,
        subject=subject,
        tz_name=tz_name,
        thread_subject=e.thread_subject,
        thread_root_id=e.thread_root_id,
        thread_refs=list(e.thread_refs or []),
    )


def advance_after(
    calendar: BusinessCalendar,
    mailbox: MailboxConfig,
    prepared: Prepared,
    message_id: str,
    sent_at: datetime,
) -> Advance:
    """How the enrollment moves on once ``prepared`` went out as ``message_id`` at ``sent_at``."""
    sequence, number = prepared.sequence, prepared.step
    before = ThreadState(prepared.thread_subject, prepared.thread_root_id, None, tuple(prepared.thread_refs))
    after = thread_after(sequence.step(number), before, prepared.subject, message_id)
    next_at = None
    if number < len(sequence.steps):
        nxt = sequence.step(number + 1)
        window = sequence.window_for(nxt, mailbox_window(mailbox))
        next_at = due_at(sent_at, nxt.wait, zone(prepared.tz_name), window, calendar)
    return Advance(
        step=number,
        next_send_at=next_at,
        thread_subject=after.subject,
        thread_root_id=after.root_id,
        last_message_id=message_id,
        thread_refs=list(after.refs),
    )


def advance_safely(
    calendar: BusinessCalendar,
    mailbox: MailboxConfig,
    prepared: Prepared,
    message_id: str,
    sent_at: datetime,
) -> tuple[Advance, str | None]:
    """``advance_after``, or, when the next step cannot be scheduled (a wait that overflows
    the calendar, any error of the schedule), the touch's own advance and why: the touch
    is still recorded as sent (the server took it) and that enrollment alone fails."""
    try:
        return advance_after(calendar, mailbox, prepared, message_id, sent_at), None
    except Exception as exc:  # noqa: BLE001 - one bad touch must fail alone, not its group
        why = (
            f"step {prepared.step} was sent, but the next step cannot be scheduled: "
            f"{type(exc).__name__}: {exc}"
        )[:500]
        last = prepared.step >= len(prepared.sequence.steps)
        return (
            Advance(
                step=prepared.step,
                next_send_at=None if last else sent_at,
                thread_subject=prepared.thread_subject or prepared.subject,
                thread_root_id=prepared.thread_root_id or message_id,
                last_message_id=message_id,
                thread_refs=[*prepared.thread_refs, message_id],
            ),
            why,
        )


def _thread_of(e: Enrollment) -> ThreadState:
    return ThreadState(e.thread_subject, e.thread_root_id, e.last_message_id, tuple(e.thread_refs or ()))


def unsubscribe_mailto(configured: str | None, mailbox_address: str, token: str) -> str:
    """``unsubscribe+TOKEN@domain`` for a configured opt-out address, else ``rep+unsubscribe-TOKEN@domain``.

    Both forms are what the inbox classifier recognises as a List-Unsubscribe hit, and
    the second lands in the rep's own inbox, which the poller already watches.
    """
    base = configured or mailbox_address
    if base.lower().startswith("mailto:"):
        base = base[7:]
    local, _, domain = base.partition("@")
    tag = token if configured else f"unsubscribe-{token}"
    return f"mailto:{local}+{tag}@{domain}?subject=unsubscribe"


__all__ = [
    "ComposeFailed",
    "Prepared",
    "advance_after",
    "advance_safely",
    "render_touch",
    "unsubscribe_mailto",
]
