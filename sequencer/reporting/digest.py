"""The manager's morning digest: the report's numbers as an email, once per business day.

The digest is ``build_report`` over the time since the previous business day
began (so Monday's digest covers Friday to Sunday), rendered as text + HTML
and sent from the notifying mailbox (``reporting.notify_from``, else the first
mailbox) to ``reporting.managers``.

``maybe_send_daily_digest`` is what ``sequencer run`` calls on every tick:
it sends at ``reporting.digest_time`` (local, ``timezone``) on business days,
and a JobRun row keyed by (job, day) makes "exactly once per day" hold with
any number of workers: the insert is the claim, and only its winner sends.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from zoneinfo import ZoneInfo

from sequencer.clock import Clock
from sequencer.config import Config, MailboxConfig
from sequencer.db import job_runs
from sequencer.db.session import Database
from sequencer.errors import MailboxError, NotFound, UserError
from sequencer.project import calendar_for
from sequencer.reporting import once
from sequencer.reporting.html import many, render_digest
from sequencer.reporting.model import Report
from sequencer.reporting.report import build_report, local_day_window

log = logging.getLogger(__name__)

JOB = "daily_digest"


@dataclass(frozen=True)
class Digest:
    day: date
    subject: str
    text: str
    html: str
    report: Report


def digest_window(config: Config, *, now: datetime) -> tuple[date, tuple[datetime, datetime]]:
    """(today, [start of the previous business day, start of today)) in the team's time zone."""
    tz = ZoneInfo(config.timezone)
    today = now.astimezone(tz).date()
    cal = calendar_for(config)
    previous = today - timedelta(days=1)
    for _ in range(14):  # a run of holidays longer than two weeks is not a calendar we can help
        if cal.is_business_day(previous):
            break
        previous -= timedelta(days=1)
    start, _ = local_day_window(previous, config.timezone)
    end, _ = local_day_window(today, config.timezone)
    return today, (start, end)


def _day_label(window: tuple[datetime, datetime], tz: str) -> str:
    zone = ZoneInfo(tz)
    first = window[0].astimezone(zone).date()
    last = (window[1] - timedelta(seconds=1)).astimezone(zone).date()
    if first == last:
        return first.strftime("%A %d %B %Y")
    return f"{first.strftime('%A %d %B')} – {last.strftime('%A %d %B %Y')}"


def build_digest(db: Database, config: Config, *, now: datetime) -> Digest:
    today, window = digest_window(config, now=now)
    report = build_report(db, config, now=now, window=window)
    label = _day_label(window, config.timezone)
    text, html = render_digest(report, day=today.isoformat(), day_label=label, currency=config.reporting.currency)
    speed = speed_to_lead_line(report)
    if speed:
        from html import escape

        text += f"\n{speed}\n"
        html = html.replace("</body>", f"<p>{escape(speed)}</p>\n</body>", 1)
    r = report
    subject = (
        f"Sequencer digest {today.isoformat()}: {many(r.activity.replies, 'new reply', 'new replies')}, "
        f"{r.replies.unanswered} unanswered, {r.aging.stalled} stalled"
    )
    return Digest(day=today, subject=subject, text=text, html=html, report=report)


def speed_to_lead_line(report: Report) -> str | None:
    """One line on inbound leads: median minutes to the first response, per rep, and the unusable ones."""
    s = report.speed_to_lead
    if not s.leads and not s.unusable:
        return None

    def minutes(value: float | None) -> str:
        return "-" if value is None else f"{value:g} min"

    reps = ", ".join(f"{r.owner or 'no rep'} {minutes(r.median_minutes)} ({r.leads})" for r in s.per_rep)
    line = f"SPEED TO LEAD: median {minutes(s.median_minutes)} over {s.leads} inbound leads"
    line += f", {s.waiting} still waiting" if s.waiting else ""
    line += f"; per rep: {reps}" if reps else ""
    line += f"; {s.unusable} without a usable address (see `sequencer report`)" if s.unusable else ""
    return line


def notifying_mailbox(config: Config) -> MailboxConfig:
    if config.reporting.notify_from:
        return config.mailbox(config.reporting.notify_from)
    if not config.mailboxes:
        raise NotFound(f"no mailboxes configured in {config.source}: the digest needs one to send from")
    return config.mailboxes[0]


def recipients(config: Config, to: list[str] | None) -> list[str]:
    found = list(to or config.reporting.managers)
    if not found:
        raise UserError(f"no digest recipients: set reporting.managers in {config.source} or pass --to")
    return found


def compose(digest: Digest, sender: MailboxConfig, to: list[str], *, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr((sender.display_name or "Sequencer", sender.address))
    msg["To"] = ", ".join(to)
    msg["Subject"] = digest.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid("digest", domain=sender.address.rsplit("@", 1)[-1])
    # RFC 3834: a machine wrote this; responders must not answer and our poller ignores it.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(digest.text)
    msg.add_alternative(digest.html, subtype="html")
    return msg


async def smtp_send(mailbox: MailboxConfig, msg: EmailMessage, to: list[str]) -> None:
    """Send through the mailbox's SMTP server with the sending engine's pool (one connection)."""
    from sequencer.mail.smtp import SmtpPool

    raw = msg.as_bytes()
    pool = SmtpPool(mailbox, concurrency=1)
    try:
        for rcpt in to:
            await pool.send(mailbox.address, rcpt, raw)
    finally:
        await pool.close()


async def send_digest(
    db: Database, config: Config, *, now: datetime, to: list[str] | None = None
) -> Digest:
    """Build and send today's digest now, whatever the time (``sequencer digest --send``).

    Reads only: nothing is recorded, so it may be sent again by hand.
    """
    rcpts = recipients(config, to)
    sender = notifying_mailbox(config)
    digest = await asyncio.to_thread(build_digest, db, config, now=now)
    await smtp_send(sender, compose(digest, sender, rcpts, now=now), rcpts)
    log.info("digest for %s sent to %d recipient(s)", digest.day, len(rcpts))
    return digest


def digest_due(config: Config, *, now: datetime) -> date | None:
    """The local day whose digest is due at ``now``, or None (weekend, holiday, too early)."""
    local = now.astimezone(ZoneInfo(config.timezone))
    if not calendar_for(config).is_business_day(local.date()):
        return None
    if local.time() < config.reporting.digest_time:
        return None
    return local.date()


async def maybe_send_daily_digest(
    db: Database, config: Config, clock: Clock, *, worker: str | None = None
) -> bool:
    """Send today's digest if it is due and no worker has claimed it yet; True if we sent it.

    Does nothing when no managers are configured. The day's digest is one claimed
    notification (``reporting.once``, key ``digest:<day>``): two workers never both send
    it, a refused send (raised here as MailboxError) is tried again by the next tick, a
    crash mid-send leaves it held for the operator.
    """
    now = clock.now()
    day = digest_due(config, now=now)
    if day is None or not config.reporting.managers:
        return False
    with db.session() as s:
        if job_runs.has_run(s, JOB, day.isoformat()):  # sent before the notifications table
            return False
    rcpts = recipients(config, None)
    sender = notifying_mailbox(config)

    def composed(at: datetime) -> EmailMessage:
        return compose(build_digest(db, config, now=at), sender, rcpts, now=at)

    outcome = await asyncio.to_thread(
        once.send_once,
        db,
        clock,
        key=f"digest:{day.isoformat()}",
        kind="digest",
        sender=sender,
        recipients=rcpts,
        compose=composed,
        worker=worker,
        subject=f"digest {day.isoformat()}",
    )
    if outcome.status == once.FAILED:
        raise MailboxError(sender.name, outcome.error or "digest not sent")
    if outcome.sent:
        log.info("digest for %s sent to %d recipient(s)", day, len(rcpts))
    return outcome.sent
