"""What an enrollment's next touch waits for, in one sentence (``show EMAIL``): pure.

The answer names the first thing that holds the touch back, in the order the sender
checks them: the enrollment is finished or paused, the mailbox is paused, an attempt is
held after a crash, a rep's task, an inbox poll (the reply race), a retry, the send
window or the daily limit, its time, or nothing (it goes at the next tick).
"""

from __future__ import annotations

from datetime import datetime

from sequencer.core import lifecycle


def _at(t: datetime | None) -> str:
    return f"{t:%Y-%m-%d %H:%M} UTC" if t is not None else "-"


def waits_for(
    *,
    status: str,
    status_reason: str | None,
    next_send_at: datetime | None,
    wait_reason: str | None,
    paused_until: datetime | None,
    mailbox: str,
    mailbox_paused: str | None,
    mailbox_paused_until: datetime | None,
    now: datetime,
) -> str:
    if status == lifecycle.PAUSED:
        until = f" until {_at(paused_until)}" if paused_until else " until it is resumed"
        return f"the enrollment is paused{until}: {status_reason or 'paused'}"
    if status != lifecycle.ACTIVE or next_send_at is None:
        return f"nothing: the enrollment is {status} ({status_reason or 'no more touches'})"
    if mailbox_paused:
        how = (
            f"tried again at {_at(mailbox_paused_until)}"
            if mailbox_paused_until
            else f"until `sequencer outbox unpause {mailbox}`"
        )
        return f"the mailbox {mailbox} to resume ({how}): {mailbox_paused}"
    reason = wait_reason or ""
    if reason == "held":
        return "the operator: the last attempt is held after a crash (`sequencer outbox list`)"
    if reason.startswith("task"):
        return f"a rep's task ({reason.partition(': ')[2] or 'open task'})"
    if reason == "awaiting poll":
        return f"an inbox poll of {mailbox} (a reply must be able to stop it)"
    if reason.startswith("retry "):
        return f"a retry at {_at(next_send_at)} ({reason})"
    if next_send_at > now:
        label = {"window": "the send window", "limit": "the daily limit"}.get(reason, "its time")
        return f"{label}: {_at(next_send_at)}"
    return "nothing: due now, it goes at the next tick"


__all__ = ["waits_for"]
