"""The tables. Times are stored as UTC (naive on SQLite, timestamptz on PostgreSQL).

``UtcDateTime`` makes both databases hand back aware UTC datetimes, so no code
above this layer ever sees a naive time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, Decimal: Numeric(14, 2)}


class Prospect(Base):
    __tablename__ = "prospects"
    # The deal pipeline (sequencer.db.stages): per-stage counts and the rotting check read this
    # index only, so the pipeline page never scans enrollments for it.
    __table_args__ = (
        Index("ix_prospects_stage", "stage", "stage_since", "owner"),
        # The deal pipeline's count and value per stage, covered (0015).
        Index("ix_prospects_stage_value", "stage", "owner", "deal_value"),
        # Rotting per stage: a range of stage_since with the value, covered (0020).
        Index("ix_prospects_rotting", "stage", "stage_since", "deal_value", "owner"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lowercased
    display_email: Mapped[str] = mapped_column(String(320))  # as the rep typed it
    name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    owner: Mapped[str | None] = mapped_column(String(100), index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    deal_value: Mapped[Decimal | None]
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Deal stage: new -> contacted -> replied -> meeting -> proposal -> won | lost (db.stages).
    stage: Mapped[str] = mapped_column(String(20), default="new", server_default="new")
    # A new prospect is in ``new`` since it was created (also for bulk Core inserts).
    stage_since: Mapped[datetime | None] = mapped_column(
        default=lambda ctx: ctx.get_current_parameters().get("created_at")
    )
    # The address of the prospect whose reply named this one (reply intent "referral", 0019).
    referred_by: Mapped[str | None] = mapped_column(String(320))

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="prospect")


class SequenceRecord(Base):
    """A sequence as it was loaded, so reports can name steps after the file changes."""

    __tablename__ = "sequences"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    total_steps: Mapped[int]
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime]


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        # The scheduler's due scan reads only this index: O(due), not O(stored).
        Index("ix_enrollments_due", "status", "next_send_at"),
        Index("ix_enrollments_prospect_status", "prospect_id", "status"),
        # At most one open enrollment per prospect and sequence, even when two imports
        # or workers race: the database refuses the second, so nobody gets touches twice.
        Index(
            "uq_enrollments_open",
            "prospect_id",
            "sequence_id",
            unique=True,
            sqlite_where=text("status IN ('active', 'paused')"),
            postgresql_where=text("status IN ('active', 'paused')"),
        ),
        # Manager report (sequencer.db.reports): covering indexes, so the counts stream
        # from an index in GROUP BY order and the reply, aging and lead-safety figures
        # read only the rows they concern, never the whole table.
        Index(
            "ix_enrollments_report", "sequence_id", "owner", "status", "steps_done", "replied_step", "replied_at"
        ),
        Index(
            "ix_enrollments_replied", "replied_at", "answered_at", "status", "sequence_id", "owner",
            "last_touch_at", "enrolled_at", "replied_step",
            sqlite_where=text("replied_at IS NOT NULL"), postgresql_where=text("replied_at IS NOT NULL"),
        ),
        Index(
            "ix_enrollments_active", "status", "next_send_at", "last_touch_at", "enrolled_at", "sequence_id", "owner",
            sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'"),
        ),
        # A cohort (report --since): the status counts as a range scan on enrolled_at (0015).
        Index(
            "ix_enrollments_cohort", "enrolled_at", "sequence_id", "owner", "status", "steps_done",
            "replied_step", "replied_at", "prospect_id",
        ),
        # A correction finds the re-engagement/referral enrollments a reply planned (0019).
        Index("ix_enrollments_origin", "origin_enrollment_id"),
        # The report's leads coming back (open re-engagements, few) and the replies per intent,
        # covered, instead of scanning every open or replied enrollment (0020).
        Index("ix_enrollments_source", "source", "status", "prospect_id", "next_send_at"),
        Index(
            "ix_enrollments_intent", "sequence_id", "replied_step", "owner", "intent", "status",
            sqlite_where=text("replied_at IS NOT NULL"), postgresql_where=text("replied_at IS NOT NULL"),
        ),
        Index(
            "ix_enrollments_unexplained", "status",
            sqlite_where=text("status_reason IS NULL OR status_reason = ''"),
            postgresql_where=text("status_reason IS NULL OR status_reason = ''"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id"))
    sequence_id: Mapped[str] = mapped_column(String(100), index=True)
    mailbox: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20))
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime]
    paused_until: Mapped[datetime | None]
    # The number of touches (steps) already done; the next one is steps_done + 1.
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int]
    next_send_at: Mapped[datetime | None]
    # Why the next touch waits past next_send_at (window, limit, retry, error); for `list`/`status`.
    wait_reason: Mapped[str | None] = mapped_column(Text)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    # The fencing token's counter: each claim bumps it, and a worker may hand a touch to
    # SMTP only while (lease_owner, lease_attempt) are still the ones it claimed with.
    lease_attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    token: Mapped[str] = mapped_column(String(40), unique=True)
    thread_subject: Mapped[str | None] = mapped_column(Text)
    thread_root_id: Mapped[str | None] = mapped_column(String(500))  # first Message-ID of the thread
    last_message_id: Mapped[str | None] = mapped_column(String(500))
    thread_refs: Mapped[list[str]] = mapped_column(JSON, default=list)
    enrolled_at: Mapped[datetime]
    last_touch_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    replied_step: Mapped[int | None]
    answered_at: Mapped[datetime | None]  # the rep's answer to the prospect's reply
    escalated_at: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(String(50))  # cli, import, filing, inbound
    # Reply intent (0019): what the reply that ended this enrollment asked for, the rule and
    # words that said so, and the day a "not now" comes back.
    intent: Mapped[str | None] = mapped_column(String(20))
    intent_evidence: Mapped[str | None] = mapped_column(Text)
    reengage_on: Mapped[date | None]
    # The enrollment whose reply planned this one (a re-engagement or a referral).
    origin_enrollment_id: Mapped[int | None] = mapped_column(Integer)

    prospect: Mapped[Prospect] = relationship(back_populates="enrollments")


class Message(Base):
    """One outbound touch. UNIQUE(enrollment, step): a touch can never be sent twice."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "step", name="uq_messages_enrollment_step"),
        Index("ix_messages_mailbox_sent", "mailbox", "sent_at"),
        Index("ix_messages_status", "status"),
        # The Reps page's touches sent in a period: a range of sent_at (0015).
        Index("ix_messages_sent", "sent_at", "status", "enrollment_id"),
        # A/B comparison in the manager report reads only the touches that carry a variant.
        Index(
            "ix_messages_variant", "variant", "step", "status", "enrollment_id",
            sqlite_where=text("variant IS NOT NULL"), postgresql_where=text("variant IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    step: Mapped[int]
    message_id: Mapped[str] = mapped_column(String(500), unique=True)
    mailbox: Mapped[str] = mapped_column(String(100))
    to_addr: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    variant: Mapped[str | None] = mapped_column(String(200))
    # sending -> sent | failed | held ; held = crashed mid-send, not confirmable
    status: Mapped[str] = mapped_column(String(20))
    claimed_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(100))


class InboundMessage(Base):
    """A classified inbound (or Sent-folder) message; keyed so re-polling is harmless."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("mailbox", "folder", "uidvalidity", "uid", name="uq_inbound_uid"),
        Index("ix_inbound_message_id", "message_id"),
        # The apply phase reads only unapplied rows: O(new), not O(stored).
        Index("ix_inbound_pending", "mailbox", "applied"),
        Index("ix_inbound_trust", "trust"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(100))
    folder: Mapped[str] = mapped_column(String(200))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str | None] = mapped_column(String(500))
    from_addr: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str | None] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(Text)
    refs: Mapped[list[str]] = mapped_column(JSON, default=list)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    snippet: Mapped[str | None] = mapped_column(Text)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"), index=True)
    received_at: Mapped[datetime]
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    # Facts the apply phase needs beyond the columns (To/Cc, Date, return date, opt-out
    # token, plus-address detail), so a stored verdict can be re-applied without IMAP.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Trust (bounces and complaints): the evidence and the decision. ``trust`` is trusted
    # (it refs a touch we sent to the prospect), untrusted (it acted on nobody; awaiting
    # review), confirmed or rejected (a person decided); NULL for every other kind.
    complainant: Mapped[str | None] = mapped_column(String(320))
    returned_refs: Mapped[list[str] | None] = mapped_column(JSON)
    thread_refs: Mapped[list[str] | None] = mapped_column(JSON)
    trust: Mapped[str | None] = mapped_column(String(20))


class Event(Base):
    """The audit trail: every state change and inbound classification, timestamped."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_enrollment_at", "enrollment_id", "at"),
        # Events of a kind, in and out of the report's window: a covered range (0020).
        Index("ix_events_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    step: Mapped[int | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Suppression(Base):
    """An address or a whole domain that must never be emailed again."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String(320), unique=True)  # lowercased address or domain
    kind: Mapped[str] = mapped_column(String(10))  # address | domain
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class MailboxState(Base):
    """Per mailbox: pause-on-error, send pacing and poll bookkeeping shared by all workers."""

    __tablename__ = "mailbox_state"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    paused_at: Mapped[datetime | None]
    next_send_allowed_at: Mapped[datetime | None]
    last_poll_at: Mapped[datetime | None]
    last_poll_error: Mapped[str | None] = mapped_column(Text)
    # Why it is paused: "auth" (operator resumes), "unreachable" (back-off, resumes by
    # itself), "quota" (the provider's window); paused_until is when to try again.
    pause_kind: Mapped[str | None] = mapped_column(String(20))
    paused_until: Mapped[datetime | None]
    pause_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The deliverability guard counts only touches sent after this (set when the operator
    # resumes the mailbox), so a resumed mailbox is not paused again for the same bounces.
    guard_since: Mapped[datetime | None]
    # A fingerprint of the SMTP settings the pause was decided under (0017): a changed
    # config is tried at the next tick instead of after the back-off.
    paused_config: Mapped[str | None] = mapped_column(String(64))


class FolderState(Base):
    """Incremental IMAP sync: UIDVALIDITY and the last UID seen, per mailbox and folder."""

    __tablename__ = "folder_state"

    mailbox: Mapped[str] = mapped_column(String(100), primary_key=True)
    folder: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    highestmodseq: Mapped[int | None] = mapped_column(BigInteger)
    last_poll_at: Mapped[datetime | None]


class Notification(Base):
    """One system notification (alert, escalation, digest, reminder, notice), claimed before it is sent.

    ``key`` is unique per notification (``alert:<enrollment>:<replied>``, ``digest:<day>``...), so
    two workers can never both claim it. claimed -> sent | failed (SMTP refused; claimable
    again) | held (a claim past its lease: a worker died mid-send, nobody knows if it went
    out; the operator resolves it).
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status", "status", "lease_until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10))
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime]
    lease_until: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class SentCopy(Base):
    """A sent touch's copy still to be filed in the rep's Sent folder (0018).

    Written in the commit that records the touch sent and deleted once appended, so a
    copy is never lost to an IMAP fault or a crash. ``lease_owner``/``lease_until``: the
    worker appending it now; a row whose lease ran out is looked up in Sent by
    Message-ID before it is appended again (never filed twice).
    """

    __tablename__ = "sent_copies"
    __table_args__ = (Index("ix_sent_copies_mailbox", "mailbox", "next_try_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    mailbox: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str] = mapped_column(String(500))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    sent_at: Mapped[datetime]
    queued_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class JobRun(Base):
    """Once-per-day jobs (digest, reminders): the unique key makes 'exactly once' hold across workers."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(100), primary_key=True)
    period: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[datetime]
    worker: Mapped[str | None] = mapped_column(String(100))


class Task(Base):
    """A rep's to-do created by a task step; the enrollment waits until it is done or skipped."""

    __tablename__ = "tasks"
    __table_args__ = (
        # One task per step of an enrollment: a task step is never created twice.
        UniqueConstraint("enrollment_id", "step", name="uq_tasks_enrollment_step"),
        # todo lists, reminders, escalations and the report read open tasks by due time.
        Index("ix_tasks_open", "status", "due_at", "owner"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    step: Mapped[int]
    owner: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))  # email | call | other
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10))  # open | done | skipped
    done_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    done_by: Mapped[str | None] = mapped_column(String(100))
    escalated_at: Mapped[datetime | None]


class InboundLead(Base):
    """A message that arrived in an inbound-leads folder and what became of it (kept even without an address)."""

    __tablename__ = "inbound_leads"
    __table_args__ = (Index("ix_inbound_leads_received", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"), unique=True)
    mailbox: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime]
    from_addr: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(320))
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    owner: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # enrolled | existing | no_address | failed
    reason: Mapped[str | None] = mapped_column(Text)
    notified_at: Mapped[datetime | None]


class RoundRobin(Base):
    """Position of a round-robin assignment, shared by every worker (row-locked when used)."""

    __tablename__ = "round_robin"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class User(Base):
    """A dashboard login: a manager sees every lead, a rep only those whose owner is ``rep``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    role: Mapped[str] = mapped_column(String(10))  # manager | rep
    rep: Mapped[str | None] = mapped_column(String(100))  # the owner name a rep's leads carry
    password_hash: Mapped[str | None] = mapped_column(Text)  # argon2; None: SSO or tokens only
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ApiToken(Base):
    """A user's token for scripts (``Authorization: Bearer``); only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSession(Base):
    """A dashboard login, server side, so logout, a new password or disabling revoke it at once.

    ``id`` is the SHA-256 of the secret the cookie carries; ``user_id`` is None for the
    bootstrap manager (the shared password or token), whose typed ``name`` is the actor.
    """

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed logins per account or client address, shared by every web worker.

    ``key`` is ``account:<name>`` or ``addr:<ip>``; an attempt is charged before the
    password is checked, so parallel guesses queue on this row instead of slipping by.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_attempt_at: Mapped[datetime]
    next_allowed_at: Mapped[datetime | None]


# ---------------------------------------------------------------- report counters (0020)
# Maintained by database triggers (sequencer.db.counters), never written by the application:
# every write to enrollments or prospects, whichever code path makes it, keeps them exact in
# the same transaction, so the report reads a few counter rows instead of scanning a million.


class StatusCount(Base):
    """Enrollments (and those with a reply) per (sequence, owner, status, steps done, reply step).

    A key may have more than one row (two PostgreSQL transactions creating it at once) and
    rows may drop to zero: readers sum per key and skip zeros.
    """

    __tablename__ = "report_status_counts"
    __table_args__ = (
        Index("ix_report_status_counts_key", "sequence_id", "owner", "status", "steps_done", "replied_step"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence_id: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    steps_done: Mapped[int] = mapped_column(Integer)
    replied_step: Mapped[int | None] = mapped_column(Integer)
    enrollments: Mapped[int] = mapped_column(Integer)
    replies: Mapped[int] = mapped_column(Integer)


class ProspectFlag(Base):
    """A prospect with a bounced or opted-out enrollment (``dead``: it never rots) or a reply
    still waiting for the rep's answer (``waiting``: a replied deal rots only then).

    Counts of its enrollments, kept by the counter triggers (db.counters); prospects with
    neither have no row. Rotting reads this small table once per query instead of probing
    the enrollments once per prospect in a stage (seconds at a million).
    """

    __tablename__ = "prospect_flags"

    prospect_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dead: Mapped[int] = mapped_column(Integer)
    waiting: Mapped[int] = mapped_column(Integer)


class PipelineLead(Base):
    """Each prospect's latest enrollment that counts (not unenrolled), with the deal value in cents.

    The pipeline counts one row per prospect in the state of this enrollment; the Leads page
    joins it instead of looking the latest enrollment up per prospect.
    """

    __tablename__ = "pipeline_leads"
    __table_args__ = (
        # A cohort's pipeline (report --since): a range of enrolled_at, covered.
        Index(
            "ix_pipeline_leads_cohort", "enrolled_at", "sequence_id", "owner", "status", "unanswered", "value_cents"
        ),
    )

    prospect_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(Integer, unique=True)
    sequence_id: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    unanswered: Mapped[int] = mapped_column(Integer)  # 1: a reply the rep has not answered
    enrolled_at: Mapped[datetime]
    value_cents: Mapped[int | None] = mapped_column(BigInteger)


class PipelineCount(Base):
    """Prospects and their deal value (cents) per (sequence, owner, status, unanswered) of
    their ``PipelineLead`` row; as ``StatusCount``, summed per key by readers."""

    __tablename__ = "pipeline_counts"
    __table_args__ = (Index("ix_pipeline_counts_key", "sequence_id", "owner", "status", "unanswered"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence_id: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    unanswered: Mapped[int] = mapped_column(Integer)
    prospects: Mapped[int] = mapped_column(Integer)
    value_cents: Mapped[int] = mapped_column(BigInteger)
