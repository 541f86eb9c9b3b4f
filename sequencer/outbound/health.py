"""A sick mailbox pauses, the people who can fix it hear once, a fixed one resumes.

Three things the engine does around each tick (hooks in ``outbound.engine``):

- ``guard``: the deliverability guard (``config.deliverability``, README "Deliverability
  guard"). A mailbox whose hard-bounce or complaint rate is over its threshold is paused
  with the figure until the operator resumes it (``sequencer outbox unpause``);
- ``notify_pauses``: every pause (fault, quota, refused login, deliverability) is told
  to the mailbox's owner and the managers exactly once, through
  ``reporting.once.send_once`` keyed on the pause's start (``paused_at`` stays put
  across the back-off's retries, so a retry is not a new notice);
- ``config_print``: a fingerprint of the SMTP settings, stored with a fault pause, so a
  config the operator fixed is tried at the next tick instead of after the back-off.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from email.message import EmailMessage

from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.core.deliverability import Health, verdict
from sequencer.core.outcome import PauseKind
from sequencer.db import mailbox_health, mailbox_state
from sequencer.db.models import MailboxState
from sequencer.db.session import Database
from sequencer.reporting import notify, once

log = logging.getLogger("sequencer.outbound.engine")


def config_print(mailbox: MailboxConfig) -> str:
    """A short fingerprint of what decides whether the mailbox's SMTP server can be used."""
    smtp = mailbox.smtp
    secret = mailbox.secret("smtp")
    parts = [
        mailbox.address, smtp.host, smtp.port, smtp.security, smtp.ca_file,
        secret.username, secret.password_env, secret.password_cmd,
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def config_changed(state: MailboxState, mailbox: MailboxConfig) -> bool:
    """The operator changed the SMTP settings since a fault paused the mailbox."""
    return (
        state.pause_kind in (PauseKind.UNREACHABLE, PauseKind.AUTH)
        and state.paused_config is not None
        and state.paused_config != config_print(mailbox)
    )


# --- the deliverability guard ----------------------------------------------------------


def health(db: Database, config: Config, mailbox: MailboxConfig, now: datetime) -> Health:
    """What the guard counts for ``mailbox`` now (also shown by ``status``)."""
    rules = config.deliverability
    with db.read_session() as s:
        state = mailbox_state.get_mailbox_state(s, mailbox.name)
        since = state.guard_since if state is not None else None
        touches, bounces = mailbox_health.recent_touches(
            s, mailbox.name, window=rules.bounce_window, since=since
        )
        start = now - timedelta(days=rules.complaint_window_days)
        if since is not None and since > start:
            start = since
        complaints = mailbox_health.complaints_since(s, mailbox.name, start)
        sent = mailbox_health.sent_between(s, mailbox.name, start)
    return Health(
        bounces=bounces,
        touches=touches,
        window=rules.bounce_window,
        complaints=complaints,
        sent_in_window=sent,
        window_days=rules.complaint_window_days,
    )


def guard(db: Database, config: Config, now: datetime) -> dict[str, str]:
    """Pause every mailbox over a deliverability threshold; returns mailbox -> reason of
    the pauses started now. A mailbox already paused is left as it is. Commits."""
    rules = config.deliverability
    started: dict[str, str] = {}
    if not rules.enabled:
        return started
    for mailbox in config.mailboxes:
        with db.read_session() as s:
            state = mailbox_state.get_mailbox_state(s, mailbox.name)
            if mailbox_state.pause_in_force(state, now):
                continue
        reason = verdict(
            health(db, config, mailbox, now),
            max_bounce_rate=rules.max_bounce_rate,
            max_complaint_rate=rules.max_complaint_rate,
        )
        if reason is None:
            continue
        with db.session() as s:
            mailbox_state.pause_mailbox(
                s, mailbox.name, reason=reason, now=now, kind=str(PauseKind.DELIVERABILITY)
            )
        log.error("mailbox %s paused (deliverability): %s", mailbox.name, reason)
        started[mailbox.name] = reason
    return started


# --- pause notices ---------------------------------------------------------------------

_HOW_IT_RESUMES = {
    PauseKind.UNREACHABLE: "It is retried by itself (after 1, 2, 4 ... 60 minutes) and "
    "resumes with the first send that goes through; a fixed config is tried at once.",
    PauseKind.QUOTA: "It resumes by itself when the provider's window ends.",
    PauseKind.AUTH: "Fix the login or sender address, then run "
    "`sequencer outbox unpause {name}` (a changed SMTP config is tried at once).",
    PauseKind.DELIVERABILITY: "Look at the bounces and complaints (`sequencer inbound list`), "
    "clean the list, then run `sequencer outbox unpause {name}`.",
}


def pause_notice(
    mailbox: MailboxConfig,
    state: MailboxState,
    *,
    sender: MailboxConfig,
    to: list[str],
    now: datetime,
) -> EmailMessage:
    try:
        kind = PauseKind(state.pause_kind or PauseKind.AUTH)
    except ValueError:
        kind = PauseKind.AUTH
    until = f"\nUntil:   {state.paused_until:%Y-%m-%d %H:%M %Z}" if state.paused_until else ""
    how = _HOW_IT_RESUMES[kind]
    body = (
        f"The mailbox {mailbox.name} ({mailbox.address}) stopped sending.\n\n"
        f"Why:     {state.paused_reason or 'paused'}\n"
        f"Since:   {state.paused_at:%Y-%m-%d %H:%M %Z}{until}\n\n"
        "Its leads are untouched: no touch was counted against any of them.\n"
        f"{how.format(name=mailbox.name)}\n\n"
        "`sequencer status` shows what waits.\n\n-- sequencer\n"
    )
    return notify.system_message(
        kind="mailbox-paused",
        from_mailbox=sender,
        to=to,
        subject=f"Mailbox {mailbox.name} paused: {(state.paused_reason or '')[:80]}",
        body=body,
        now=now,
    )


def _sender(config: Config, paused: set[str]) -> MailboxConfig:
    """The notify_from mailbox, else the first one not paused (a paused one may not send)."""
    preferred = config.reporting.notify_from
    ordered = sorted(config.mailboxes, key=lambda m: (m.name in paused, m.name != preferred))
    return ordered[0]


def notify_pauses(db: Database, config: Config, clock: Clock, *, worker: str) -> int:
    """Tell the owner and the managers of each pause, once per pause; returns notices sent."""
    with db.read_session() as s:
        states = [st for st in mailbox_health.paused_states(s) if st.paused_reason]
        for st in states:
            s.expunge(st)
    names = {m.name for m in config.mailboxes}
    states = [st for st in states if st.name in names]
    if not states:
        return 0
    paused = {st.name for st in states}
    sender = _sender(config, paused)
    sent = 0
    for st in states:
        mailbox = config.mailbox(st.name)
        assert st.paused_at is not None
        to = list(dict.fromkeys([mailbox.address, *config.reporting.managers]))
        outcome = once.send_once(
            db,
            clock,
            key=f"mailbox-paused:{st.name}:{st.paused_at.isoformat()}",
            kind="mailbox-paused",
            sender=sender,
            recipients=to,
            compose=lambda now, st=st, mailbox=mailbox, to=to: pause_notice(
                mailbox, st, sender=sender, to=to, now=now
            ),
            worker=worker,
            subject=f"mailbox paused: {st.name}",
        )
        if outcome.status == once.FAILED:
            log.warning("mailbox %s: pause notice not sent: %s", st.name, outcome.error)
        sent += int(outcome.sent)
    return sent


__all__ = ["config_changed", "config_print", "guard", "health", "notify_pauses", "pause_notice"]
