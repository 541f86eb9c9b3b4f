"""One claim transaction for one mailbox: pacing, the per-touch decision, the claim itself.

``claim`` reads the mailbox's shared pacing row under its lock (so workers share one
budget), asks ``core.pacing`` how many touches may go, and lets ``db.outbox.claim_due``
apply ``TouchDecider`` to each due enrollment: finish it, hold it for a task, defer it
to its window or tomorrow's limit, or render it and claim it. The transaction commits
before any SMTP (the caller sends only what was committed as ``queued``).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from sequencer.config import Config, MailboxConfig
from sequencer.core import lifecycle, pacing
from sequencer.core.compose import new_message_id
from sequencer.core.schedule import BusinessCalendar, in_window, next_window_open, zone
from sequencer.core.sequences import Sequence, choose_variant
from sequencer.core.templates import TemplateStore
from sequencer.db import mailbox_state, outbox
from sequencer.db.models import Enrollment, Prospect
from sequencer.db.session import Database
from sequencer.errors import TemplateError
from sequencer.outbound.result import TickResult
from sequencer.outbound.touch import render_touch
from sequencer.people import tasks
from sequencer.project import mailbox_window, prospect_zone


@dataclass
class Claimed:
    """One claim's touches, whether another claim may follow at once, and its counts."""

    claims: list[outbox.Claim] = field(default_factory=list)
    more: bool = False
    result: TickResult = field(default_factory=TickResult)


class TouchDecider:
    """What to do with each due enrollment of one claim, within the claim's allowance.

    Runs inside the claim transaction (``s``): a task step creates or checks its task
    there, and templates are rendered there so a template error fails the enrollment
    before anything is sent.
    """

    def __init__(
        self,
        s: Session,
        config: Config,
        sequences: Mapping[str, Sequence],
        templates: TemplateStore,
        calendar: BusinessCalendar,
        mailbox: MailboxConfig,
        now: datetime,
        allowance: pacing.Allowance,
    ) -> None:
        self.s, self.config, self.sequences, self.templates = s, config, sequences, templates
        self.calendar, self.mailbox, self.now, self.allowance = calendar, mailbox, now, allowance
        self.tomorrow = pacing.next_day_start(now, zone(mailbox.timezone or config.timezone))
        self.taken = 0

    def __call__(self, e: Enrollment, p: Prospect, message_id: str) -> outbox.Decision:
        sequence = self.sequences.get(e.sequence_id)
        if sequence is None:
            return outbox.Finish(
                lifecycle.FAILED, f"sequence {e.sequence_id!r} is not loaded (file removed?)"
            )
        number = e.steps_done + 1
        if number > len(sequence.steps):
            return outbox.Finish(lifecycle.COMPLETED, "every step sent, no reply")
        step = sequence.step(number)
        if step.is_task:  # sends nothing: the owner's task holds the enrollment (people/tasks.py)
            return tasks.task_step_due(
                self.s, self.config, self.sequences, sequence, step, e, self.now, self.calendar
            )
        tz_name = prospect_zone(self.config, sequence, self.mailbox, p.timezone)
        tz = zone(tz_name)
        window = sequence.window_for(step, mailbox_window(self.mailbox))
        if not in_window(self.now, tz, window, self.calendar):
            return outbox.Defer(
                next_window_open(self.now, tz, window, self.calendar), outbox.WAIT_WINDOW
            )
        if self.taken >= self.allowance.touches:
            if self.allowance.daily_left <= 0:
                opens = next_window_open(self.tomorrow, tz, window, self.calendar)
                return outbox.Defer(opens, outbox.WAIT_LIMIT)
            return outbox.LEAVE
        return self._render(sequence, number, e, p, message_id, tz_name)

    def _render(
        self,
        sequence: Sequence,
        number: int,
        e: Enrollment,
        p: Prospect,
        message_id: str,
        tz_name: str,
    ) -> outbox.Decision:
        try:
            prepared = render_touch(
                self.config,
                self.templates,
                self.calendar,
                self.mailbox,
                sequence,
                number,
                e,
                p,
                message_id,
                self.now,
                tz_name,
            )
        except (TemplateError, ValueError) as exc:
            return outbox.Finish(lifecycle.FAILED, f"step {number} cannot be composed: {exc}")
        self.taken += 1
        # The A/B report reads the variant off the message: the same choice render_touch made.
        step = sequence.step(number)
        variant = choose_variant(step, e.token).name if len(step.variants) > 1 else None
        return outbox.SendTouch(
            to_addr=p.email, subject=prepared.subject, variant=variant, payload=prepared
        )


def limits_of(mailbox: MailboxConfig, config: Config) -> pacing.Limits:
    return pacing.Limits(
        daily_limit=mailbox.daily_limit,
        per_minute=mailbox.per_minute,
        min_spacing_seconds=mailbox.min_spacing_seconds,
        max_spacing_seconds=mailbox.max_spacing_seconds,
        batch_size=config.sending.batch_size,
    )


def claim(
    db: Database,
    config: Config,
    sequences: Mapping[str, Sequence],
    templates: TemplateStore,
    calendar: BusinessCalendar,
    mailbox: MailboxConfig,
    *,
    now: datetime,
    worker: str,
    rng: random.Random,
    dry_run: bool = False,
) -> Claimed:
    """Claim what ``mailbox`` may send now; commits (a dry run rolls back and only plans)."""
    out = Claimed()
    with db.session() as s:
        state = mailbox_state.lock_mailbox_state(s, mailbox.name)
        if mailbox_state.pause_in_force(state, now):
            assert state.paused_reason is not None
            out.result.paused[mailbox.name] = state.paused_reason
            return out
        midnight = pacing.day_start(now, zone(mailbox.timezone or config.timezone))
        counts = pacing.Counts(
            sent_today=mailbox_state.sent_since(s, mailbox.name, midnight),
            sent_last_minute=mailbox_state.sent_since(s, mailbox.name, now - timedelta(seconds=60)),
            next_send_allowed_at=state.next_send_allowed_at,
        )
        limits = limits_of(mailbox, config)
        allowed = pacing.allowance(now, counts, limits)
        if not allowed.may_claim(dry_run=dry_run):
            return out
        require_poll = config.sending.require_poll_before_followup
        if require_poll and not dry_run:
            outbox.flag_awaiting_poll(
                s, mailbox=mailbox.name, now=now, polled_until=state.last_poll_at
            )
        domain = mailbox.address.rsplit("@", 1)[1]
        claimed = outbox.claim_due(
            s,
            now=now,
            worker=worker,
            limit=allowed.scan,
            lease_seconds=config.sending.lease_seconds,
            mailbox=mailbox.name,
            decide=TouchDecider(s, config, sequences, templates, calendar, mailbox, now, allowed),
            new_message_id=lambda e: new_message_id(domain, uuid.uuid4().hex),
            require_poll=require_poll,
            polled_until=state.last_poll_at,
        )
        out.result.deferred.update(claimed.deferred)
        out.result.finished.update(claimed.finished)
        out.claims = claimed.claims
        if dry_run:
            out.result.planned.extend(_planned(mailbox, c) for c in claimed.claims)
            s.rollback()
            return out
        if claimed.claims and limits.spaced:
            gap = pacing.spacing_gap(limits, rng.random())
            mailbox_state.set_next_send_allowed(s, mailbox.name, now + gap)
    # An exhausted daily limit gets one more pass, which moves the remaining due touches to
    # the next morning (wait_reason "limit").
    out.more = allowed.claim_again(len(out.claims))
    return out


def _planned(mailbox: MailboxConfig, c: outbox.Claim) -> dict[str, object]:
    return {
        "mailbox": mailbox.name,
        "to": c.to_addr,
        "step": c.step,
        "subject": c.subject,
        "message_id": c.message_id,
        "enrollment": c.enrollment_id,
    }


__all__ = ["Claimed", "TouchDecider", "claim", "limits_of"]
