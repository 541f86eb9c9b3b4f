"""A date a rep types for a prospect means that prospect's local morning, not 00:00 UTC.

``pause --until 2026-12-20`` used to resume at midnight UTC: 4 pm the day before for a
Los Angeles prospect, so the touch went out on the day the rep wanted quiet. A date
alone now means the opening of the send window on that day, in the prospect's zone
(the zone touches are timed in: the prospect's, else the rep's mailbox's, else the
team's), which is the first moment a touch could go out anyway.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sequencer.config import Config
from sequencer.core.addresses import normalize
from sequencer.db import store
from sequencer.db.session import Database
from sequencer.project import prospect_zone


def local_morning(db: Database, config: Config, email: str | None, day: date) -> datetime:
    """The UTC instant the send window opens on ``day`` where ``email`` lives.

    Without a prospect (a whole sequence), the team's zone and the default window.
    """
    tz_name, opens = config.timezone, time(8, 0)
    if email:
        with db.session() as s:
            prospect = store.require_prospect(s, normalize(email))
            mailbox = config.mailbox_for_owner(prospect.owner) if config.mailboxes else None
            tz_name = prospect_zone(config, None, mailbox, prospect.timezone)
            if mailbox is not None:
                opens = mailbox.send_window.start
    local = datetime.combine(day, opens, tzinfo=ZoneInfo(tz_name))
    return local.astimezone(UTC)


__all__ = ["local_morning"]
