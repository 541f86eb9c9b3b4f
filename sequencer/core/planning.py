"""When and from where a prospect's touches go, and what their templates see.

Shared by enrolling, the CSV import, sending, polling and task runs: which mailbox
sends (``choose_mailbox``), in whose local time (``prospect_zone``), inside which
send window (``mailbox_window``) and business days (``business_calendar``), and
so at what moment (``TouchPlanner``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sequencer.config import Config, MailboxConfig
from sequencer.core.schedule import SendWindow, due_at, next_window_open, zone
from sequencer.core.sequences import OWNER_MAILBOX, Sequence
from sequencer.db.models import Prospect
from sequencer.errors import NotFound
from sequencer.project import calendar_for

# --- scheduling -----------------------------------------------------------------------

# The team's business days and holidays; one definition, the project's.
business_calendar = calendar_for


def mailbox_window(mailbox: MailboxConfig | None) -> SendWindow:
    if mailbox is None:
        return SendWindow()
    return SendWindow.parse(mailbox.send_window.model_dump())


def choose_mailbox(config: Config, sequence: Sequence, owner: str | None) -> MailboxConfig:
    """The sequence's fixed mailbox, else the owner's; an unknown owner is an error, not a guess."""
    if sequence.mailbox != OWNER_MAILBOX:
        return config.mailbox(sequence.mailbox)
    if owner:
        for m in config.mailboxes:
            if owner in (m.rep, m.name, m.address):
                return m
        known = ", ".join(m.rep for m in config.mailboxes) or "none configured"
        raise NotFound(f"no mailbox for owner {owner!r} in {config.source} (owners: {known})")
    return config.mailbox_for_owner(None)


def prospect_zone(
    config: Config,
    sequence: Sequence | None,
    mailbox: MailboxConfig | None,
    prospect_tz: str | None,
) -> str:
    """Whose local time a touch is timed in: the prospect's, the sequence's, the rep's, the team's."""
    return (
        prospect_tz
        or (sequence.timezone if sequence else None)
        or (mailbox.timezone if mailbox else None)
        or config.timezone
    )


class TouchPlanner:
    """First-touch and resume times for one sequence; caches zones and windows across rows."""

    def __init__(self, config: Config, sequence: Sequence) -> None:
        self.config = config
        self.sequence = sequence
        self.calendar = business_calendar(config)
        self._cache: dict[tuple[str, str, datetime, datetime], datetime] = {}

    def first_touch(
        self, *, base: datetime, now: datetime, tz_name: str, mailbox: MailboxConfig
    ) -> datetime:
        """Step 1's due time from ``base`` (the enrollment's start), never before ``now``."""
        key = (tz_name, mailbox.name, base, now)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        step = self.sequence.steps[0]
        tz = zone(tz_name)
        window = self.sequence.window_for(step, mailbox_window(mailbox))
        when = due_at(base, step.wait, tz, window, self.calendar)
        if when < now:
            when = next_window_open(now, tz, window, self.calendar)
        self._cache[key] = when
        return when

    def resume_time(
        self,
        *,
        step_number: int,
        planned: datetime | None,
        now: datetime,
        tz_name: str,
        mailbox: MailboxConfig | None,
    ) -> datetime:
        """A resumed touch goes at its planned time, or now if that has passed, inside the window."""
        when = max(planned or now, now)
        if not 1 <= step_number <= self.sequence.total_steps:
            return when
        step = self.sequence.step(step_number)
        window = self.sequence.window_for(step, mailbox_window(mailbox))
        return next_window_open(when, zone(tz_name), window, self.calendar)


# --- template variables ---------------------------------------------------------------


# --- template mapping -----------------------------------------------------------------


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


def prospect_mapping(p: Prospect) -> dict[str, Any]:
    """The template mapping of a stored prospect; what the sending engine should render with."""
    return template_prospect(
        email=p.display_email,
        name=p.name,
        company=p.company,
        owner=p.owner,
        timezone=p.timezone,
        deal_value=p.deal_value,
        fields=p.fields,
    )
