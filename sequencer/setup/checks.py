"""``sequencer check``: every problem of a project in one pass, and optionally its servers.

A config that does not load is a finding, not a crash: its problems are reported
like the sequences' and templates', each with file and line. With ``connect`` every
mailbox's SMTP and IMAP servers are logged in to through the same adapters the
engine and the poller use (``sequencer.mail.probe``), so a green check means sending
and polling will connect the same way. Secrets are never part of a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sequencer.config import Config
from sequencer.errors import ConfigError, Problem
from sequencer.mail.probe import ProbeResult, probe_imap, probe_smtp
from sequencer.project import load_config, validate_project

__all__ = ["CheckReport", "ProbeResult", "check_project", "probe_servers"]


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` found. ``config`` is None when the config file itself did not load."""

    config_path: Path
    config: Config | None
    problems: list[Problem]
    servers: list[ProbeResult]
    warnings: list[Problem] = field(default_factory=list)  # unset secrets without --connect

    @property
    def ok(self) -> bool:
        return not self.problems and all(p.ok for p in self.servers)

    @property
    def servers_ok(self) -> bool:
        return all(p.ok for p in self.servers)


def probe_servers(config: Config) -> list[ProbeResult]:
    """Log in to every mailbox's SMTP and (when configured) IMAP server; never raises."""
    results = []
    for mailbox in config.mailboxes:
        results.append(probe_smtp(mailbox))
        if mailbox.imap is not None:
            results.append(probe_imap(mailbox))
    return results


def check_project(config_path: Path, today: date, *, connect: bool = False) -> CheckReport:
    """Load and validate the config, its sequences and templates (samples rendered for
    ``today``); with ``connect``, also probe the servers of a config that loaded.

    An unset password variable is an error only with ``connect`` (the probe needs it);
    otherwise a warning, so ``check`` runs on a machine that holds no mail secrets.
    """
    problems: list[Problem] = []
    warnings: list[Problem] = []
    try:
        config: Config | None = load_config(
            config_path, require_secrets=connect, secret_warnings=warnings
        )
    except ConfigError as exc:
        problems.extend(exc.problems)
        config = None
    servers: list[ProbeResult] = []
    if config is not None:
        problems.extend(validate_project(config, today))
        if connect:
            servers = probe_servers(config)
    return CheckReport(config_path, config, problems, servers, warnings)
