"""Everything read from a project's files: the config, its calendar, templates and sequences.

File reading lives here (``load_config``, ``load_project``), so the core and the config
model stay free of I/O. Services take a ``Project`` instead of rebuilding the calendar
and template store each time; the CLI builds it once per invocation. The config-aware
planning choices (which mailbox sends, in whose time, on which days) are here too, as
they are what a config means for the pure schedule math of ``core.planning``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from pydantic import ValidationError

from sequencer.config import Config, MailboxConfig
from sequencer.core.planning import first_touch_at, resume_at
from sequencer.core.schedule import BusinessCalendar, SendWindow
from sequencer.core.sequence_checks import sample_problems
from sequencer.core.sequence_files import load_sequences
from sequencer.core.sequences import OWNER_MAILBOX, Sequence
from sequencer.core.templates import TemplateStore
from sequencer.core.yamlsrc import Located, load_yaml_file_recovering, pydantic_problems
from sequencer.errors import ConfigError, NotFound, Problem, SequenceError

DEFAULT_CONFIG_NAME = "sequencer.yaml"

# --- the config file ------------------------------------------------------------------
# Every problem in the file is reported at once, each with file:line, because a rep
# fixing a config one error per run gives up.


def parse_config(
    located: Located,
    base_dir: Path,
    extra: list[Problem] | None = None,
    *,
    require_secrets: bool = False,
    secret_warnings: list[Problem] | None = None,
) -> Config:
    """Validate parsed YAML; raise ConfigError with *every* problem at file:line.

    An unset password variable is a problem only with ``require_secrets``: secrets are
    read when a connection is made, so a manager running ``report`` or ``web`` needs
    no rep's mail password. Otherwise it is appended to ``secret_warnings`` if given.
    """
    problems: list[Problem] = [*(extra or []), *located.duplicates]
    data = located.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError.at(located.path, 1, "the config must be a mapping of keys to values")
    missing = _missing_secrets(data, located)
    if require_secrets:
        problems.extend(missing)
    elif secret_warnings is not None:
        secret_warnings.extend(missing)
    config = None
    try:
        config = Config.model_validate({**data, "base_dir": base_dir, "source": located.path})
    except ValidationError as exc:
        problems.extend(pydantic_problems(located, exc, (), Config))
    if problems or config is None:
        raise ConfigError(sorted(problems, key=lambda p: p.line))
    return config


def _missing_secrets(data: dict, located: Located) -> list[Problem]:
    """An unset password env var is reported up front, even when other keys are wrong.

    Works on the raw mapping so it runs even when the model does not validate.
    """
    out = []
    mailboxes = data.get("mailboxes")
    if not isinstance(mailboxes, list):
        return out
    seen: set[str] = set()
    for i, mb in enumerate(mailboxes):
        if not isinstance(mb, dict):
            continue
        name = mb.get("name", f"#{i + 1}")
        for proto in ("smtp", "imap"):
            server = mb.get(proto)
            if not isinstance(server, dict):
                continue
            env = server.get("password_env") or (None if server.get("password_cmd") else mb.get("password_env"))
            cmd = server.get("password_cmd") or mb.get("password_cmd")
            key = ("mailboxes", i, proto, "password_env") if server.get("password_env") else ("mailboxes", i, "password_env")
            if env and env not in os.environ:
                if (str(i) + env) in seen:
                    continue
                seen.add(str(i) + env)
                out.append(
                    Problem(
                        located.path,
                        located.line_of(key),
                        f"mailbox {name!r} {proto}: environment variable {env} is not set",
                    )
                )
            elif not env and not cmd and server.get("security", "tls") != "none":
                out.append(
                    Problem(
                        located.path,
                        located.line_of(("mailboxes", i, proto)),
                        f"mailbox {name!r} {proto}: set password_env or password_cmd",
                    )
                )
    return out


def find_config_path(explicit: str | None) -> Path:
    """--config, then ./sequencer.yaml, then $SEQUENCER_CONFIG."""
    if explicit:
        return Path(explicit)
    local = Path(DEFAULT_CONFIG_NAME)
    if local.exists():
        return local
    env = os.environ.get("SEQUENCER_CONFIG")
    if env:
        return Path(env)
    return local


def load_config(
    path: str | Path,
    *,
    require_secrets: bool = False,
    secret_warnings: list[Problem] | None = None,
) -> Config:
    p = Path(path)
    if not p.exists():
        raise ConfigError.at(
            p, 0, "config file not found (create one with `sequencer init`, or pass --config)"
        )
    located, syntax = load_yaml_file_recovering(p)
    return parse_config(
        located,
        p.parent.resolve(),
        syntax,
        require_secrets=require_secrets,
        secret_warnings=secret_warnings,
    )


# --- the project ----------------------------------------------------------------------


def calendar_for(config: Config) -> BusinessCalendar:
    """The team's business days and holidays; one definition, the project's."""
    return BusinessCalendar.from_names(config.business_days, config.holidays, config.holiday_subdivision)


business_calendar = calendar_for


@dataclass
class Project:
    config: Config
    calendar: BusinessCalendar
    templates: TemplateStore
    sequences: dict[str, Sequence]

    def sequence(self, sequence_id: str) -> Sequence:
        try:
            return self.sequences[sequence_id]
        except KeyError:
            known = ", ".join(sorted(self.sequences)) or "none"
            raise NotFound(
                f"no sequence {sequence_id!r} in {self.config.sequences_path} (known: {known})"
            ) from None


def load_project(config: Config) -> Project:
    """Load and statically validate every sequence against the config's mailboxes."""
    templates = TemplateStore(config.templates_path)
    sequences = load_sequences(
        config.sequences_path, templates, mailboxes=[m.name for m in config.mailboxes]
    )
    return Project(config, calendar_for(config), templates, sequences)


def validate_project(config: Config, today: date) -> list[Problem]:
    """Every problem in the sequences and templates, including rendering each sample."""
    try:
        project = load_project(config)
    except SequenceError as exc:
        return list(exc.problems)
    problems: list[Problem] = []
    for sequence in project.sequences.values():
        problems.extend(sample_problems(sequence, project.templates, today, project.calendar))
    return problems


# --- planning choices -----------------------------------------------------------------
# Shared by enrolling, the CSV import, sending, polling and task runs.


def mailbox_context(mailbox: MailboxConfig) -> dict[str, str | None]:
    """What templates see of the sending mailbox (``{{ mailbox.display_name }}``, signature)."""
    return {
        "name": mailbox.name,
        "address": mailbox.address,
        "display_name": mailbox.display_name or mailbox.name,
        "signature": mailbox.signature,
    }


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
        if cached is None:
            cached = first_touch_at(
                self.sequence, base=base, now=now, tz_name=tz_name,
                mailbox_window=mailbox_window(mailbox), calendar=self.calendar,
            )
            self._cache[key] = cached
        return cached

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
        return resume_at(
            self.sequence, step_number=step_number, planned=planned, now=now, tz_name=tz_name,
            mailbox_window=mailbox_window(mailbox), calendar=self.calendar,
        )
