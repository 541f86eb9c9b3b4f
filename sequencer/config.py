"""The typed, validated ``Config``: what config.yaml may say (reading it is ``project``'s).

Secrets are never stored in the
file: a mailbox names an environment variable (``password_env``) or a command
(``password_cmd``) and the secret is fetched only when a connection needs it,
so it never ends up in a log, a traceback or ``--json`` output.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sequencer.errors import SecretError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from None
    return value


def _check_days(value: list[str] | str) -> list[str]:
    if value == "business":
        return ["business"]
    if isinstance(value, str) and value.strip().lower() in ("all", "every day", "daily"):
        return list(WEEKDAYS)  # as a sequence's send_window accepts it
    if isinstance(value, str):
        value = [value]
    out = []
    for day in value:
        d = str(day).strip().lower()[:3]
        if d not in WEEKDAYS:
            raise ValueError(f"unknown weekday {day!r} (use mon, tue, wed, thu, fri, sat, sun)")
        out.append(d)
    return out


def _parse_hhmm(value: str | int) -> time:
    if isinstance(value, int):  # YAML 1.1 reads 08:00 unquoted as sexagesimal minutes
        return time(value // 60, value % 60)
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(value).strip())
    if not m or int(m[1]) > 24 or int(m[2]) > 59:
        raise ValueError(f"{value!r} is not a time of day like 08:30")
    if int(m[1]) == 24:
        return time(23, 59, 59)
    return time(int(m[1]), int(m[2]))


class SendWindowConfig(_Strict):
    """Hours in the prospect's local time when touches may go out."""

    days: list[str] | str = "business"
    start: time = time(8, 0)
    end: time = time(17, 30)

    _days = field_validator("days")(classmethod(lambda cls, v: _check_days(v)))

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, v: str | int | time) -> time:
        return v if isinstance(v, time) else _parse_hhmm(v)

    @model_validator(mode="after")
    def _order(self) -> SendWindowConfig:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Secret(_Strict):
    """Where a password comes from. Holds the *name* of the secret, never the secret."""

    username: str | None = None
    password_env: str | None = None
    password_cmd: str | None = None

    def password(self, where: str) -> str:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise SecretError(f"{where}: environment variable {self.password_env} is not set")
            return value
        if self.password_cmd:
            try:
                out = subprocess.run(
                    shlex.split(self.password_cmd), capture_output=True, text=True, timeout=30, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise SecretError(f"{where}: password_cmd failed to run ({type(exc).__name__})") from None
            if out.returncode != 0:
                raise SecretError(f"{where}: password_cmd exited with status {out.returncode}")
            return out.stdout.rstrip("\n")
        raise SecretError(f"{where}: no password_env or password_cmd configured")


class ServerConfig(_Strict):
    host: str
    port: int | None = None
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str | None = None
    password_env: str | None = None
    password_cmd: str | None = None
    ca_file: str | None = None
    timeout: float = 30.0


class ImapFolders(_Strict):
    inbox: str = "INBOX"
    sent: str | None = None  # None: discover by SPECIAL-USE \Sent
    extra: list[str] = Field(default_factory=list)
    # Enroll by filing: folder (or Gmail label) -> sequence id. A message the rep files
    # there enrolls its To recipients, threaded onto that email (README, "The inbox poller").
    enroll: dict[str, str] = Field(default_factory=dict)
    # Watch Sent for the rep's answers to replies (response time, SLA escalation) and for
    # manual emails to prospects (timeline, email tasks, on_manual_email; README, "Rep workflow").
    poll_sent: bool = True
    # A folder where web-form notifications / sales@ mail land: each message becomes an
    # inbound lead routed by the ``inbound`` section (README, "Rep workflow").
    inbound_leads: str | None = None


class ImapConfig(ServerConfig):
    folders: ImapFolders = Field(default_factory=ImapFolders)
    mark_seen: bool = False


class MailboxConfig(_Strict):
    """A rep's sending identity: their own address, servers, limits and window."""

    name: str
    address: str
    display_name: str = ""
    owner: str | None = None
    signature: str = ""
    timezone: str | None = None
    username: str | None = None
    password_env: str | None = None
    password_cmd: str | None = None
    smtp: ServerConfig
    imap: ImapConfig | None = None
    daily_limit: Annotated[int, Field(ge=1)] = 150
    per_minute: Annotated[float, Field(gt=0)] = 2.0
    min_spacing_seconds: Annotated[float, Field(ge=0)] = 45.0
    max_spacing_seconds: Annotated[float, Field(ge=0)] = 180.0
    send_window: SendWindowConfig = Field(default_factory=SendWindowConfig)
    server_saves_sent: bool = False
    concurrency: Annotated[int, Field(ge=1, le=20)] = 2

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else _check_tz(v)

    @field_validator("address")
    @classmethod
    def _addr(cls, v: str) -> str:
        if "@" not in v or v.strip() != v or " " in v:
            raise ValueError(f"{v!r} is not an email address")
        return v.lower()

    @property
    def rep(self) -> str:
        return self.owner or self.name

    def secret(self, proto: Literal["smtp", "imap"]) -> Secret:
        server = self.smtp if proto == "smtp" else self.imap
        assert server is not None
        return Secret(
            username=server.username or self.username or self.address,
            password_env=server.password_env or (None if server.password_cmd else self.password_env),
            password_cmd=server.password_cmd or (None if server.password_env else self.password_cmd),
        )


class ReportingConfig(_Strict):
    managers: list[str] = Field(default_factory=list)
    reply_sla_hours: Annotated[float, Field(gt=0)] = 4.0
    stalled_after_days: Annotated[float, Field(gt=0)] = 2.0
    digest_time: time = time(8, 0)
    notify_from: str | None = None  # mailbox name used for notifications; default the first
    # Rep tasks (README, "Rep workflow"): open past due by this long = escalated once, a lead at risk.
    task_sla_hours: Annotated[float, Field(gt=0)] = 24.0
    # Each business morning at this time (the rep's mailbox time zone) reps get their task list.
    task_reminder_time: time = time(8, 0)
    # Deal stages (README, "Deal stages"): days in a stage after which a lead is "rotting"
    # (replied: only while the reply is unanswered). A stage left out never rots.
    rotting_days: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: {"contacted": 14.0, "replied": 2.0, "meeting": 7.0, "proposal": 7.0}
    )
    # A task done whose title or step name contains this word moves the deal to ``proposal``.
    proposal_task: str = "proposal"
    # The zone the dashboard and reports show times in (default: the top-level timezone).
    timezone: str | None = None
    # Written after every amount in the digest ("33,000.00 EUR"); deal values carry no currency.
    currency: Annotated[str, Field(max_length=8, pattern=r"^[^\s{}<>]*$")] = "USD"

    @field_validator("rotting_days")
    @classmethod
    def _stages(cls, v: dict[str, float]) -> dict[str, float]:
        known = ("new", "contacted", "replied", "meeting", "proposal")
        wrong = sorted(set(v) - set(known))
        if wrong:
            raise ValueError(f"rotting_days: unknown stage {', '.join(wrong)} (known: {', '.join(known)})")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        return None if v is None else _check_tz(v)

    @field_validator("task_reminder_time", mode="before")
    @classmethod
    def _reminder_hhmm(cls, v: str | int | time) -> time:
        return v if isinstance(v, time) else _parse_hhmm(v)

    @field_validator("digest_time", mode="before")
    @classmethod
    def _hhmm(cls, v: str | int | time) -> time:
        return v if isinstance(v, time) else _parse_hhmm(v)


class SendingConfig(_Strict):
    lease_seconds: Annotated[int, Field(ge=30)] = 300
    max_retries: Annotated[int, Field(ge=0)] = 8
    retry_base_seconds: Annotated[int, Field(ge=1)] = 300
    batch_size: Annotated[int, Field(ge=1)] = 200
    require_poll_before_followup: bool = True


class DeliverabilityConfig(_Strict):
    """The deliverability guard (README, "Deliverability guard"): a mailbox over either
    threshold is paused with the figure until the operator resumes it.

    Sources: Woodpecker pauses a mailbox at a 2% bounce rate, Amazon SES puts an account
    under review at 5% bounces (and 0.1% complaints); Gmail's bulk-sender guidelines ask
    to stay under 0.3% spam complaints. The default 3% sits between the first two.
    """

    enabled: bool = True
    max_bounce_rate: Annotated[float, Field(gt=0, le=1)] = 0.03  # hard bounces per touch
    bounce_window: Annotated[int, Field(ge=1)] = 100  # over the mailbox's last N touches
    max_complaint_rate: Annotated[float, Field(gt=0, le=1)] = 0.003  # complaints per touch
    complaint_window_days: Annotated[float, Field(gt=0)] = 30.0  # rolling window


class UnsubscribeConfig(_Strict):
    mailto: str | None = None  # e.g. unsubscribe@example.com (tokens added as +TOKEN)
    url: str | None = None  # https one-click endpoint; {token} is replaced


class InboundConfig(_Strict):
    """Routing of inbound leads (``imap.folders.inbound_leads``): who gets them, which sequence."""

    sequence: str | None = None  # the sequence every inbound lead is enrolled in
    owners: list[str] = Field(default_factory=list)  # round robin among these reps
    owner: str | None = None  # or one fixed owner
    # The prospect's address: from a "Field: value" line of the body (web forms), else
    # Reply-To, else From.
    email_field: str | None = None
    name_field: str | None = None
    company_field: str | None = None

    @model_validator(mode="after")
    def _one_routing(self) -> InboundConfig:
        if self.owner and self.owners:
            raise ValueError("give either owner (fixed) or owners (round robin), not both")
        return self


class ReengageConfig(_Strict):
    """Reply intent ``not_now`` (README, "Reply intent"): come back on the day they named."""

    sequence: str | None = None  # None: record the intent and give the rep a task instead
    default_delay_days: Annotated[int, Field(ge=1, le=730)] = 90  # "not now" without a date
    # Set to re-engage a "not interested" / "wrong person" after this many days (default: never).
    not_interested_delay_days: Annotated[int, Field(ge=1, le=1095)] | None = None


class ReferralsConfig(_Strict):
    """Reply intent ``referral``: the named colleague is enrolled in this sequence."""

    sequence: str | None = None  # None: the colleague becomes a prospect plus a rep task


class WebConfig(_Strict):
    """The manager dashboard (`sequencer web`). Names environment variables, never secrets."""

    password_hash_env: str = "SEQUENCER_WEB_PASSWORD_HASH"  # from `sequencer web hash-password`
    token_env: str = "SEQUENCER_WEB_TOKEN"
    session_secret_env: str = "SEQUENCER_WEB_SECRET"  # unset: random per process
    base_url: str | None = None  # e.g. https://sales.example.com/ behind a reverse proxy
    # Host names served besides the loopback names and base_url's host (DNS rebinding guard).
    allowed_hosts: list[str] = Field(default_factory=list)
    session_hours: Annotated[float, Field(gt=0)] = 12.0  # absolute: a login lasts at most this
    idle_minutes: Annotated[float, Field(gt=0)] = 120.0  # a login unused this long ends
    # Login throttling, per account and per client address (README, "Users and roles").
    login_backoff_after: Annotated[int, Field(ge=1)] = 5  # failures before waits double from 1 s
    login_lock_after: Annotated[int, Field(ge=1)] = 20  # failures that lock for login_lock_minutes
    login_lock_minutes: Annotated[float, Field(gt=0)] = 15.0
    # SSO: a trusted reverse proxy names the user in this header (off unless set).
    sso_header: str | None = None
    refresh_seconds: Annotated[int, Field(ge=1)] = 30


class Config(_Strict):
    database: str = "sqlite:///sequencer.db"
    timezone: str = "UTC"
    business_days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    holidays: str | None = None
    holiday_subdivision: str | None = None
    sequences_dir: str = "sequences"
    templates_dir: str = "templates"
    mailboxes: list[MailboxConfig] = Field(default_factory=list)
    reporting: ReportingConfig = Field(default_factory=ReportingConfig)
    sending: SendingConfig = Field(default_factory=SendingConfig)
    deliverability: DeliverabilityConfig = Field(default_factory=DeliverabilityConfig)
    unsubscribe: UnsubscribeConfig = Field(default_factory=UnsubscribeConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    inbound: InboundConfig = Field(default_factory=InboundConfig)
    reengage: ReengageConfig = Field(default_factory=ReengageConfig)
    referrals: ReferralsConfig = Field(default_factory=ReferralsConfig)
    # Where the file was read from; relative paths resolve against it.
    base_dir: Path = Field(default=Path("."), exclude=True)
    source: str = Field(default="<defaults>", exclude=True)

    _tz = field_validator("timezone")(classmethod(lambda cls, v: _check_tz(v)))

    @field_validator("business_days")
    @classmethod
    def _bdays(cls, v: list[str]) -> list[str]:
        days = _check_days(v)
        if days == ["business"]:
            raise ValueError("list the weekdays, e.g. [mon, tue, wed, thu, fri]")
        return days

    @field_validator("holidays")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is None:
            return v
        import holidays as hol

        if v.upper() not in hol.list_supported_countries():
            raise ValueError(f"unknown holiday calendar {v!r} (use a country code like US, DE, GB)")
        return v.upper()

    @model_validator(mode="after")
    def _unique_mailboxes(self) -> Config:
        names = [m.name for m in self.mailboxes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"mailbox names must be unique; repeated: {', '.join(dupes)}")
        return self

    # -- resolved paths and lookups -------------------------------------------------
    @property
    def database_url(self) -> str:
        """SQLite paths are relative to the config file, not the working directory."""
        url = self.database
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
            return prefix + str((self.base_dir / url[len(prefix) :]).resolve())
        return url

    @property
    def sequences_path(self) -> Path:
        return (self.base_dir / self.sequences_dir).resolve()

    @property
    def templates_path(self) -> Path:
        return (self.base_dir / self.templates_dir).resolve()

    def mailbox(self, name: str) -> MailboxConfig:
        for m in self.mailboxes:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.mailboxes) or "none configured"
        from sequencer.errors import NotFound

        raise NotFound(f"no mailbox named {name!r} in {self.source} (known: {known})")

    def mailbox_for_owner(self, owner: str | None) -> MailboxConfig:
        """The mailbox a prospect's owner sends from (falls back to the first mailbox)."""
        for m in self.mailboxes:
            if owner and owner in (m.rep, m.name, m.address):
                return m
        if not self.mailboxes:
            from sequencer.errors import NotFound

            raise NotFound(f"no mailboxes configured in {self.source}")
        return self.mailboxes[0]
