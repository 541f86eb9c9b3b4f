"""``sequencer doctor``: is this installation able to do its job, one line per check.

``check`` answers "is my config right?"; the doctor answers the operator's question
after an upgrade or a silent night: the config and sequences, the database's schema
revision, each mailbox's SMTP login, IMAP login and Sent folder, the IMAP server's clock
against ours (a skewed clock sends at the wrong local hour and misreads reply times),
and free disk space where the database lives. Every check runs even when an earlier one
failed, and none raises: one broken mailbox does not hide the others.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sequencer.config import Config, MailboxConfig
from sequencer.errors import ConfigError, SequencerError
from sequencer.mail.probe import probe_smtp
from sequencer.project import load_config, validate_project

SKEW_WARN_SECONDS = 60
SKEW_FAIL_SECONDS = 300
DISK_WARN_BYTES = 1 << 30
DISK_FAIL_BYTES = 100 << 20


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's answer: ``status`` is ok, warn or fail."""

    check: str
    status: str
    detail: str


def diagnose(config_path: Path, now: datetime) -> list[Finding]:
    """Run every check; ``now`` is our clock, compared with the IMAP servers'."""
    findings: list[Finding] = []
    try:
        config = load_config(config_path, require_secrets=True)
    except ConfigError as exc:
        problems = "; ".join(str(p) for p in exc.problems[:3])
        more = f" (+{len(exc.problems) - 3} more)" if len(exc.problems) > 3 else ""
        return [Finding("config", "fail", f"{problems}{more}")]
    findings.append(Finding("config", "ok", f"{config_path}: {len(config.mailboxes)} mailbox(es)"))
    problems = validate_project(config, now.date())
    findings.append(
        Finding("sequences", "fail", f"{problems[0]} (`sequencer check` lists all {len(problems)})")
        if problems
        else Finding("sequences", "ok", "every sequence and template validates")
    )
    findings.append(_guard("database", lambda: _database(config)))
    for mailbox in config.mailboxes:
        findings.extend(_mailbox(mailbox, now))
    findings.append(_guard("disk", lambda: _disk(config, config_path)))
    return findings


def _guard(check: str, run: Callable[[], Finding]) -> Finding:
    try:
        return run()
    except Exception as exc:  # noqa: BLE001 - a check that breaks is a failed check, not a crash
        return Finding(check, "fail", f"{type(exc).__name__}: {exc}")


def _database(config: Config) -> Finding:
    from sequencer.setup.database import schema_state

    state = schema_state(config)
    where = config.database_url.split("@")[-1]  # never the password of a URL
    if state.current is None:
        return Finding("database", "warn", f"{where}: empty; created on first use")
    if not state.up_to_date:
        return Finding(
            "database",
            "fail",
            f"{where}: revision {state.current}, shipped {state.head}: run `sequencer db upgrade`",
        )
    return Finding("database", "ok", f"{where}: revision {state.current} (current)")


def _mailbox(mailbox: MailboxConfig, now: datetime) -> list[Finding]:
    name = f"mailbox {mailbox.name}"
    smtp = probe_smtp(mailbox)
    out = [Finding(f"{name} smtp", "ok" if smtp.ok else "fail", smtp.detail)]
    if mailbox.imap is None:
        out.append(Finding(f"{name} imap", "warn", "no imap section: replies are not detected"))
        return out
    from sequencer.mail.imap import ImapConnection

    try:
        with ImapConnection(mailbox, retries=0) as connection:
            out.append(Finding(f"{name} imap", "ok", f"{connection.where}: logged in"))
            sent = connection.sent_folder()
            if sent is None:
                out.append(
                    Finding(f"{name} sent", "fail", "no Sent folder found: set imap.folders.sent")
                )
                return out
            out.append(Finding(f"{name} sent", "ok", f"Sent folder: {sent}"))
            out.append(_skew(name, connection.server_time(sent), now))
    except SequencerError as exc:
        out.append(Finding(f"{name} imap", "fail", str(exc)))
    return out


def _skew(name: str, server: datetime | None, now: datetime) -> Finding:
    if server is None:
        return Finding(f"{name} clock", "warn", "not measured: the server lacks UIDPLUS")
    skew = (server - now).total_seconds()
    said = f"IMAP server {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} this machine"
    if abs(skew) > SKEW_FAIL_SECONDS:
        return Finding(f"{name} clock", "fail", f"{said}: fix NTP on one of them")
    if abs(skew) > SKEW_WARN_SECONDS:
        return Finding(f"{name} clock", "warn", said)
    return Finding(f"{name} clock", "ok", f"{said} (within {SKEW_WARN_SECONDS} s)")


def _disk(config: Config, config_path: Path) -> Finding:
    url = config.database_url
    where = Path(url.split("///", 1)[1]).parent if url.startswith("sqlite:///") else config_path
    where = where if where.is_dir() else where.resolve().parent
    free = shutil.disk_usage(where).free
    said = f"{free / (1 << 30):.1f} GiB free at {where}"
    if free < DISK_FAIL_BYTES:
        return Finding("disk", "fail", said)
    return Finding("disk", "warn" if free < DISK_WARN_BYTES else "ok", said)


__all__ = ["Finding", "diagnose"]
