"""What every message of one apply batch shares: the settings, the mailbox and one clock reading.

Built once per batch by the apply phase (``inbound/apply.py``) and handed to attribution,
the effects and filing. It carries no results: each of those returns its ``Counts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sequencer.config import Config, MailboxConfig
from sequencer.core.schedule import BusinessCalendar
from sequencer.core.sequences import Sequence as SequenceDef

ACTOR = "poller"  # who the timeline says made the poller's changes


@dataclass(frozen=True)
class ApplyContext:
    """One apply batch's settings and clock reading, shared by every message in it."""

    config: Config
    mailbox: MailboxConfig
    sequences: Mapping[str, SequenceDef]
    now: datetime
    own: frozenset[str]
    calendar: BusinessCalendar


def own_addresses(config: Config) -> frozenset[str]:
    """Our mailboxes' addresses: mail from them is never a prospect's."""
    return frozenset(m.address.lower() for m in config.mailboxes)


__all__ = ["ACTOR", "ApplyContext", "own_addresses"]
