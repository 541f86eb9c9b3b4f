"""When a prospect's touches go, how they thread, and what their templates see.

Pure: values in, values out. The send path (``outbound.touch``) and ``preview``
(``people.preview``) both call ``thread_for``/``thread_after``, so a previewed touch
threads exactly as the sent one will, filed enrollments included. The config-aware
choices (which mailbox, whose calendar) are ``sequencer.project``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sequencer.core.compose import reply_subject
from sequencer.core.schedule import BusinessCalendar, SendWindow, due_at, next_window_open, zone
from sequencer.core.sequences import Sequence, Step, Variant, choose_variant
from sequencer.core.template_context import build_context
from sequencer.core.templates import RenderedTouch, TemplateStore, render_subject, render_touch

MAX_REFERENCES = 20

# --- scheduling -----------------------------------------------------------------------


def first_touch_at(
    sequence: Sequence, *, base: datetime, now: datetime, tz_name: str, mailbox_window: SendWindow,
    calendar: BusinessCalendar,
) -> datetime:
    """Step 1's due time from ``base`` (the enrollment's start), never before ``now``."""
    step = sequence.steps[0]
    tz = zone(tz_name)
    window = sequence.window_for(step, mailbox_window)
    when = due_at(base, step.wait, tz, window, calendar)
    if when < now:
        when = next_window_open(now, tz, window, calendar)
    return when


def resume_at(
    sequence: Sequence, *, step_number: int, planned: datetime | None, now: datetime, tz_name: str,
    mailbox_window: SendWindow, calendar: BusinessCalendar,
) -> datetime:
    """A resumed touch goes at its planned time, or now if that has passed, inside the window."""
    when = max(planned or now, now)
    if not 1 <= step_number <= sequence.total_steps:
        return when
    window = sequence.window_for(sequence.step(step_number), mailbox_window)
    return next_window_open(when, zone(tz_name), window, calendar)


# --- threading ------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadState:
    """An enrollment's thread before a touch; all empty before the first touch of a fresh one.

    An enrollment made by filing starts with the filed email as its thread (touch 0):
    ``root_id``/``last_message_id`` are its Message-ID and ``subject`` is its subject.
    """

    subject: str | None = None
    root_id: str | None = None
    last_message_id: str | None = None
    refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Threading:
    """How one touch goes out: its subject, and what it replies to (nothing if it starts a thread)."""

    starts_thread: bool
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]


def starts_thread(step: Step, thread: ThreadState) -> bool:
    """Whether this touch opens a new thread, rather than replying in the enrollment's.

    Step 1 normally does; but an enrollment made by filing already has a thread, the
    rep's own filed email (touch 0), so its step 1 replies to it and keeps that root.
    """
    if step.number == 1 and thread.root_id:
        return False
    return step.starts_thread


def thread_for(
    step: Step, thread: ThreadState, own_subject: str | None, start_subject: Callable[[], str | None]
) -> Threading:
    """The threading rule of one touch (README, "Threading").

    ``own_subject`` is the step's rendered subject (used when it starts a thread);
    ``start_subject`` renders the subject of the touch that started the thread, asked
    only when the enrollment has not stored one.
    """
    if starts_thread(step, thread):
        return Threading(True, own_subject or "", None, ())
    subject = reply_subject(thread.subject or start_subject() or "")
    refs = thread.refs or ((thread.last_message_id,) if thread.last_message_id else ())
    return Threading(False, subject, thread.last_message_id, refs)


def thread_after(step: Step, thread: ThreadState, sent_subject: str, message_id: str) -> ThreadState:
    """The thread once ``step`` went out as ``message_id`` with subject ``sent_subject``."""
    if starts_thread(step, thread):
        return ThreadState(sent_subject, message_id, message_id, (message_id,))
    refs = (*thread.refs, message_id)
    if len(refs) > MAX_REFERENCES:  # keep the root and the most recent ones (RFC 5322 advice)
        refs = (refs[0], *refs[-(MAX_REFERENCES - 1) :])
    return ThreadState(thread.subject, thread.root_id, message_id, refs)


def render_step(
    store: TemplateStore, sequence: Sequence, step: Step, variant: Variant,
    context: Mapping[str, Any],
) -> RenderedTouch:
    """Render one touch's templates under the threading rule of its step.

    Thread-starting steps get a subject (variant's, else step's, else the template's);
    in-thread steps get ``subject=None``: ``thread_for`` gives them ``Re: ...``.
    """
    if step.starts_thread:
        own = variant.subject or step.subject
        line = variant.line if variant.subject else step.subject_line
        return render_touch(
            store, variant.template, context, subject=own,
            subject_origin=sequence.path, subject_line=line,
        )
    return render_touch(store, variant.template, context, include_subject=False)


def render_task_text(
    store: TemplateStore, sequence: Sequence, step: Step, context: Mapping[str, Any]
) -> str:
    """A task step's text as the rep reads it: ``Call {{ first_name }}`` -> ``Call Dana``.

    One line, like a subject; errors point at the ``task:`` line in the sequence file
    (a task step keeps it in ``subject_line``).
    """
    line = step.subject_line or step.line
    template = store.compile_string(step.task or "", sequence.path, line)
    return render_subject(template, context, sequence.path, line)


# --- template mapping -----------------------------------------------------------------


class ProspectRecord(Protocol):
    """What a stored prospect offers the templates (the ORM row satisfies it)."""

    display_email: str
    name: str | None
    company: str | None
    owner: str | None
    timezone: str | None
    deal_value: Decimal | None
    fields: Any


def template_prospect(
    *,
    email: str,
    name: str | None,
    company: str | None,
    owner: str | None,
    timezone: str | None,
    deal_value: Decimal | None,
    fields: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The prospect mapping templates see (``build_context`` flattens ``fields``)."""
    return {
        "email": email,
        "name": name,
        "company": company,
        "owner": owner,
        "timezone": timezone,
        "deal_value": deal_value,
        "fields": dict(fields or {}),
    }


def prospect_mapping(p: ProspectRecord) -> dict[str, Any]:
    """The template mapping of a stored prospect; what the sending engine renders with."""
    return template_prospect(
        email=p.display_email,
        name=p.name,
        company=p.company,
        owner=p.owner,
        timezone=p.timezone,
        deal_value=p.deal_value,
        fields=p.fields,
    )


# --- preview --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedTouch:
    step: int
    label: str
    wait: str
    send_at: datetime  # aware UTC
    local_at: datetime  # the same instant in the prospect's zone
    new_thread: bool
    subject: str
    variant: str
    other_variants: tuple[str, ...]
    text: str
    html: str | None


PREVIEW_UNSUBSCRIBE_URL = "https://example.com/unsubscribe/preview"


def plan_touches(
    sequence: Sequence, prospect: Mapping[str, Any], mailbox: Mapping[str, Any], *,
    start: datetime, tz_name: str, mailbox_window: SendWindow, calendar: BusinessCalendar,
    store: TemplateStore, variant_key: str, thread: ThreadState = ThreadState(),
) -> list[PlannedTouch]:
    """Every touch as it would go out if nobody replied and each touch left when due.

    Pure: the same inputs give the same plan. The real send time may be later
    (mailbox limits, spacing, retries), never earlier. ``thread`` is the enrollment's
    thread before step 1 (a filed email's, for an enrollment made by filing).
    """
    tz = zone(tz_name)
    touches: list[PlannedTouch] = []
    prev = start
    for step in sequence.steps:
        send_at = due_at(prev, step.wait, tz, sequence.window_for(step, mailbox_window), calendar)
        local_at = send_at.astimezone(tz)
        prev = send_at
        if step.is_task:  # sends nothing: the rep's task (README, "Rep workflow"); the next step waits for it
            context = build_context(prospect, mailbox, sequence, step, None, local_at.date(), calendar)
            text = render_task_text(store, sequence, step, context)
            touches.append(PlannedTouch(step.number, step.label, str(step.wait), send_at, local_at, False,
                                        f"(task for the rep, sends nothing: {step.task_kind})", "", (),
                                        f"Task for the rep ({step.task_kind}): {text}\n", None))
            continue
        variant = choose_variant(step, variant_key)
        unsubscribe = PREVIEW_UNSUBSCRIBE_URL if sequence.list_unsubscribe else None
        context = build_context(prospect, mailbox, sequence, step, unsubscribe, local_at.date(), calendar)
        rendered = render_step(store, sequence, step, variant, context)

        def start_subject(step: Step = step, context: Mapping[str, Any] = context) -> str | None:
            first = sequence.thread_start(step)
            return render_step(store, sequence, first, choose_variant(first, variant_key), context).subject

        threading = thread_for(step, thread, rendered.subject, start_subject)
        thread = thread_after(step, thread, threading.subject, f"<preview-{step.number}@preview.invalid>")
        total = sum(v.weight for v in step.variants)
        others = tuple(f"{v.name} ({v.weight * 100 // total}%)" for v in step.variants if v != variant)
        touches.append(PlannedTouch(step.number, step.label, str(step.wait), send_at, local_at,
                                    threading.starts_thread, threading.subject, variant.name, others,
                                    rendered.text, rendered.html))
    return touches
