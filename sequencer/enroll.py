"""Putting prospects into sequences, and taking them out again.

One use case per function: ``enroll`` a prospect, ``pause``/``resume``/``stop``/
``unenroll``/``mark_replied`` their enrollments, ``suppress_add``/``suppress_remove``
addresses and domains, ``list_enrollments`` and a prospect's ``timeline``. Each
takes a Session (joins the caller's transaction) or a Database (one transaction
of its own), and ``now`` from the caller's clock. Every state change goes through
``store.transition`` and so writes an event with its actor and reason.

Guards (shared with the CSV import, see ``enrollment_guard``), in order:

1. a suppressed address or domain is never enrolled, ``force`` or not (Suppressed);
2. already open (active/paused) in the same sequence: not enrolled again; not an
   error, so a repeated command or import is harmless;
3. open in another sequence: AlreadyEnrolled unless ``allow_parallel``;
4. finished the same sequence before (completed, replied, stopped, ...): AlreadyEnrolled
   unless ``force`` (``unenrolled`` does not count: it means "enrolled by mistake").

Also refused: a prospect lacking a variable the sequence's templates need
(MissingVariables), because a touch that cannot render is worse than none.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sequencer import lifecycle
from sequencer.addresses import normalize
from sequencer.config import Config, MailboxConfig
from sequencer.db import prospects as q
from sequencer.db import store
from sequencer.db.models import Enrollment, Prospect
from sequencer.errors import AlreadyEnrolled, NotFound, Suppressed, UserError
from sequencer.schedule import BusinessCalendar, SendWindow, due_at, next_window_open, zone
from sequencer.sequences import OWNER_MAILBOX, Sequence
from sequencer.templates import TemplateStore, build_context, required_variables

# Enrollment guard outcomes (also the import summary's "skipped"/"rejected" keys).
ALREADY_ENROLLED = "already_enrolled"
ACTIVE_ELSEWHERE = "active_elsewhere"
PREVIOUSLY_ENROLLED = "previously_enrolled"


class MissingVariables(UserError):
    """The prospect lacks data a template of the sequence cannot render without."""

    def __init__(self, sequence_id: str, variables: set[str]) -> None:
        self.sequence_id = sequence_id
        self.variables = sorted(variables)
        super().__init__(
            f"sequence {sequence_id!r} needs {', '.join(self.variables)} for this prospect "
            "(pass --name/--company or --set key=value)"
        )


# --- sessions -------------------------------------------------------------------------


def _unit(target: Session | Any) -> Any:
    """A Session is used as is (the caller commits); a Database gets one transaction."""
    return nullcontext(target) if isinstance(target, Session) else target.session()


# --- scheduling the first touch -------------------------------------------------------


def business_calendar(config: Config) -> BusinessCalendar:
    return BusinessCalendar.from_names(
        config.business_days, config.holidays, config.holiday_subdivision
    )


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
        if cached is not None:
            return cached
        step = self.sequence.steps[0]
        tz = zone(tz_name)
        window = self.sequence.window_for(step, mailbox_window(mailbox))
        when = due_at(base, step.wait, tz, window, self.calendar)
        if when < now:
            when = next_window_open(now, tz, window, self.calendar)
        self._cache[key] = when
        return when

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
        when = max(planned or now, now)
        if not 1 <= step_number <= self.sequence.total_steps:
            return when
        step = self.sequence.step(step_number)
        window = self.sequence.window_for(step, mailbox_window(mailbox))
        return next_window_open(when, zone(tz_name), window, self.calendar)


# --- template variables ---------------------------------------------------------------


@lru_cache(maxsize=8)
def _store(path: Path) -> TemplateStore:
    return TemplateStore(path)


def sequence_required_variables(config: Config, sequence: Sequence) -> frozenset[str]:
    """Prospect variables every touch of the sequence needs (templates and step subjects)."""
    from sequencer import templates as tpl

    store = _store(config.templates_path)
    needed: set[str] = set()
    for step in sequence.steps:
        subjects = [step.subject] + [v.subject for v in step.variants]
        for variant in step.variants:
            needed |= required_variables(store, variant.template)
        for subject in subjects:
            if subject:
                found: set[str] = set()
                tpl._unguarded(store.env.parse(subject), frozenset(), found)
                needed |= found
    return frozenset(needed - tpl.CONTEXT_VARIABLES - set(store.env.globals))


def template_prospect(
    *,
    email: str,
    name: str | None,
    company: str | None,
    owner: str | None,
    timezone: str | None,
    deal_value: Decimal | None,
    fields: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The prospect mapping templates see (``build_context`` flattens ``fields``)."""
    return {
        "email": email,
        "name": name,
        "company": company,
        "owner": owner,
        "timezone": timezone,
        "deal_value": deal_value,
        "fields": dict(fields or {}),
    }


def prospect_mapping(p: Prospect) -> dict[str, Any]:
    """The template mapping of a stored prospect; what the sending engine should render with."""
    return template_prospect(
        email=p.display_email,
        name=p.name,
        company=p.company,
        owner=p.owner,
        timezone=p.timezone,
        deal_value=p.deal_value,
        fields=p.fields,
    )


_NO_CALENDAR = BusinessCalendar()


def missing_variables(required: frozenset[str], prospect: Mapping[str, Any]) -> set[str]:
    """Which required variables the prospect cannot supply (derived names count: name -> first_name)."""
    if not required:
        return set()
    fields = prospect.get("fields") or {}
    present = {k for k, v in prospect.items() if v is not None and v != ""}
    present.update(k for k, v in fields.items() if v is not None and v != "")
    if required <= present:  # build_context only ever adds keys: nothing can be missing
        return set()
    available = build_context(prospect, {}, None, None, None, date(2000, 1, 1), _NO_CALENDAR)
    return set(required) - set(available)


# --- values ---------------------------------------------------------------------------


def parse_timezone(value: str | None) -> str | None:
    """An IANA zone name or None; UserError names the bad value."""
    if value is None or not value.strip():
        return None
    try:
        zone(value.strip())
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return value.strip()


def parse_deal_value(value: str | int | float | Decimal | None) -> Decimal | None:
    """``12000``, ``12,000.50``, ``$12,000``, ``€ 900`` -> Decimal; empty -> None."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        amount = value
    else:
        text = str(value).strip().replace(",", "").replace("_", "").replace(" ", "")
        if not text:
            return None
        text = text.lstrip("$€£¥")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise UserError(f"deal value {value!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise UserError(f"deal value {value!r} must be a positive amount below 1e12")
    return amount.quantize(Decimal("0.01"))


# --- guards ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GuardVerdict:
    """Why an enrollment is not made: a code (summary key) and a sentence for the rep."""

    code: str
    message: str
    others: tuple[str, ...] = ()


def enrollment_guard(
    sequence_id: str, existing: list[q.EnrollmentBrief], *, allow_parallel: bool, force: bool
) -> GuardVerdict | None:
    """Pure: given a prospect's enrollments, may it be enrolled in ``sequence_id``? None = yes."""
    same_open = [
        e for e in existing if e.sequence_id == sequence_id and e.status in lifecycle.OPEN_STATES
    ]
    if same_open:
        return GuardVerdict(
            ALREADY_ENROLLED, f"already {same_open[0].status} in sequence {sequence_id}"
        )
    others = tuple(
        sorted(
            {
                e.sequence_id
                for e in existing
                if e.sequence_id != sequence_id and e.status in lifecycle.OPEN_STATES
            }
        )
    )
    if others and not allow_parallel:
        return GuardVerdict(
            ACTIVE_ELSEWHERE,
            f"already active in sequence {', '.join(others)} (use --allow-parallel to enroll anyway)",
            others,
        )
    finished = [
        e
        for e in existing
        if e.sequence_id == sequence_id
        and lifecycle.is_finished(e.status)
        and e.status != lifecycle.UNENROLLED
    ]
    if finished and not force:
        last = max(finished, key=lambda e: e.finished_at or datetime.min.replace(tzinfo=UTC))
        when = f" on {last.finished_at:%Y-%m-%d}" if last.finished_at else ""
        return GuardVerdict(
            PREVIOUSLY_ENROLLED,
            f"was in sequence {sequence_id} before ({last.status}{when}); use --force to enroll again",
        )
    return None


# --- enroll ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrollResult:
    """What ``enroll`` did. ``enrolled`` is False only for "already in this sequence"."""

    email: str
    prospect_id: int
    prospect_created: bool
    prospect_updated: bool
    sequence_id: str
    enrolled: bool
    enrollment_id: int | None
    status: str
    mailbox: str
    timezone: str
    next_send_at: datetime | None
    skipped_reason: str | None = None
    also_active_in: tuple[str, ...] = ()

    @property
    def next_send_local(self) -> datetime | None:
        return self.next_send_at.astimezone(ZoneInfo(self.timezone)) if self.next_send_at else None


def new_token() -> str:
    """The enrollment's opaque id for unsubscribe links (url-safe, unguessable)."""
    return secrets.token_urlsafe(18)


def require_sequence(sequences: Mapping[str, Sequence], sequence_id: str) -> Sequence:
    try:
        return sequences[sequence_id]
    except KeyError:
        known = ", ".join(sorted(sequences)) or "none"
        raise NotFound(f"no sequence {sequence_id!r} (known: {known})") from None


def enroll(
    target: Session | Any, config: Config, sequences: Mapping[str, Sequence], **kwargs: Any
) -> EnrollResult:
    """Create or update the prospect and enroll it (see ``_enroll_once``).

    Two processes enrolling the same new address at the same moment collide on the
    database's unique keys; with a Database target the loser retries once and then
    sees the winner's prospect and enrollment, so the result is the same as if the
    calls had been made one after the other.
    """
    if isinstance(target, Session):
        return _enroll_once(target, config, sequences, **kwargs)
    try:
        return _enroll_once(target, config, sequences, **kwargs)
    except IntegrityError:
        return _enroll_once(target, config, sequences, **kwargs)


def _enroll_once(
    target: Session | Any,
    config: Config,
    sequences: Mapping[str, Sequence],
    *,
    email: str,
    sequence_id: str,
    name: str | None = None,
    company: str | None = None,
    owner: str | None = None,
    tz: str | None = None,
    value: str | Decimal | None = None,
    fields: Mapping[str, Any] | None = None,
    start: datetime | None = None,
    now: datetime,
    actor: str = "cli",
    allow_parallel: bool = False,
    force: bool = False,
    source: str = "cli",
) -> EnrollResult:
    """Create or update the prospect and enroll it; the first touch is scheduled at once.

    ``start`` is when the sequence's clock starts (step 1's wait counts from it;
    default ``now``); a first touch that would fall before ``now`` goes at the next
    moment the send window allows.
    """
    sequence = require_sequence(sequences, sequence_id)
    key = normalize(email)
    display = email.strip()
    tz_name = parse_timezone(tz)
    deal_value = parse_deal_value(value)
    mailbox = choose_mailbox(config, sequence, owner)
    with _unit(target) as s:
        hit = store.find_suppression(s, key)
        if hit is not None:
            raise Suppressed(
                f"{key} is suppressed ({hit.kind} {hit.value}: {hit.reason}); it is never enrolled"
            )
        prospect = store.prospect_by_email(s, key)
        created = prospect is None
        if prospect is None:
            prospect = Prospect(
                email=key,
                display_email=display,
                name=name,
                company=company,
                owner=owner,
                timezone=tz_name,
                deal_value=deal_value,
                fields=dict(fields or {}),
                created_at=now,
                updated_at=now,
            )
            s.add(prospect)
            s.flush()
            updated = False
        else:
            updated = _apply_updates(
                prospect,
                name=name,
                company=company,
                owner=owner,
                tz=tz_name,
                deal_value=deal_value,
                fields=fields,
                now=now,
            )
        zone_name = prospect_zone(config, sequence, mailbox, prospect.timezone)
        existing = q.enrollments_of_prospects(s, [prospect.id])
        verdict = enrollment_guard(
            sequence.id, existing, allow_parallel=allow_parallel, force=force
        )
        if verdict is not None and verdict.code == ALREADY_ENROLLED:
            current = next(
                e
                for e in q.enrollments_for_action(
                    s,
                    prospect_id=prospect.id,
                    sequence_id=sequence.id,
                    statuses=lifecycle.OPEN_STATES,
                )
            )
            return EnrollResult(
                email=key,
                prospect_id=prospect.id,
                prospect_created=created,
                prospect_updated=updated,
                sequence_id=sequence.id,
                enrolled=False,
                enrollment_id=current.id,
                status=current.status,
                mailbox=current.mailbox,
                timezone=zone_name,
                next_send_at=current.next_send_at,
                skipped_reason=verdict.message,
            )
        if verdict is not None:
            raise AlreadyEnrolled(f"{key}: {verdict.message}")
        missing = missing_variables(
            sequence_required_variables(config, sequence), prospect_mapping(prospect)
        )
        if missing:
            raise MissingVariables(sequence.id, missing)
        planner = TouchPlanner(config, sequence)
        next_send_at = planner.first_touch(
            base=start or now, now=now, tz_name=zone_name, mailbox=mailbox
        )
        enrollment = Enrollment(
            prospect_id=prospect.id,
            sequence_id=sequence.id,
            mailbox=mailbox.name,
            owner=owner or prospect.owner or mailbox.rep,
            status=lifecycle.ACTIVE,
            status_reason="enrolled",
            status_changed_at=now,
            steps_done=0,
            total_steps=sequence.total_steps,
            next_send_at=next_send_at,
            token=new_token(),
            thread_refs=[],
            enrolled_at=now,
            source=source,
        )
        s.add(enrollment)
        s.flush()
        others = tuple(
            sorted({e.sequence_id for e in existing if e.status in lifecycle.OPEN_STATES})
        )
        store.record_event(
            s,
            now=now,
            kind="enrolled",
            actor=actor,
            enrollment=enrollment,
            reason=f"enrolled in {sequence.id}",
            step=1,
            data={
                "sequence": sequence.id,
                "mailbox": mailbox.name,
                "source": source,
                "next_send_at": next_send_at.isoformat(),
                "also_active_in": list(others),
            },
        )
        return EnrollResult(
            email=key,
            prospect_id=prospect.id,
            prospect_created=created,
            prospect_updated=updated,
            sequence_id=sequence.id,
            enrolled=True,
            enrollment_id=enrollment.id,
            status=enrollment.status,
            mailbox=mailbox.name,
            timezone=zone_name,
            next_send_at=next_send_at,
            also_active_in=others,
        )


def _apply_updates(
    p: Prospect,
    *,
    name: str | None,
    company: str | None,
    owner: str | None,
    tz: str | None,
    deal_value: Decimal | None,
    fields: Mapping[str, Any] | None,
    now: datetime,
) -> bool:
    """Given values overwrite stored ones; empty ones never erase. True when anything changed."""
    changed = False
    for attr, new in (
        ("name", name),
        ("company", company),
        ("owner", owner),
        ("timezone", tz),
        ("deal_value", deal_value),
    ):
        if new not in (None, "") and getattr(p, attr) != new:
            setattr(p, attr, new)
            changed = True
    if fields:
        merged = {**(p.fields or {}), **{k: v for k, v in fields.items() if v not in (None, "")}}
        if merged != (p.fields or {}):
            p.fields = merged
            changed = True
    if changed:
        p.updated_at = now
    return changed


# --- pause / resume / stop / unenroll / mark replied ----------------------------------


@dataclass(frozen=True)
class StateChange:
    """One enrollment moved by an action."""

    enrollment_id: int
    email: str
    sequence_id: str
    from_status: str
    to_status: str
    reason: str | None
    next_send_at: datetime | None
    paused_until: datetime | None = None


def _targets(
    s: Session, email: str | None, sequence_id: str | None, statuses: frozenset[str], verb: str
) -> list[tuple[Enrollment, str]]:
    if not email and not sequence_id:
        raise UserError(f"{verb}: name a prospect (EMAIL) or a sequence (--sequence ID)")
    prospect_id = None
    if email:
        prospect_id = store.require_prospect(s, normalize(email)).id
    rows = q.enrollments_for_action(
        s, prospect_id=prospect_id, sequence_id=sequence_id, statuses=statuses
    )
    if not rows:
        who = " ".join(
            x for x in (email, f"in sequence {sequence_id}" if sequence_id else None) if x
        )
        raise NotFound(f"{verb}: no {'/'.join(sorted(statuses))} enrollment for {who}")
    return [(e, e.prospect.email) for e in rows]


def _change(e: Enrollment, email: str, before: str) -> StateChange:
    return StateChange(
        enrollment_id=e.id,
        email=email,
        sequence_id=e.sequence_id,
        from_status=before,
        to_status=e.status,
        reason=e.status_reason,
        next_send_at=e.next_send_at,
        paused_until=e.paused_until,
    )


def _move(
    target: Session | Any,
    *,
    email: str | None,
    sequence_id: str | None,
    to: str,
    verb: str,
    reason: str,
    now: datetime,
    actor: str,
    **values: Any,
) -> list[StateChange]:
    with _unit(target) as s:
        out = []
        for e, addr in _targets(s, email, sequence_id, lifecycle.allowed_from(to), verb):
            before = e.status
            store.transition(
                s, e, to, now=now, actor=actor, reason=reason, step=e.steps_done + 1, **values
            )
            out.append(_change(e, addr, before))
        return out


def pause(
    target: Session | Any,
    *,
    email: str | None = None,
    sequence_id: str | None = None,
    reason: str | None = None,
    until: datetime | None = None,
    now: datetime,
    actor: str = "cli",
) -> list[StateChange]:
    """Hold active enrollments; the next touch time is kept, ``until`` is recorded for the scheduler."""
    if until is not None and until <= now:
        raise UserError(f"--until {until.isoformat()} is not in the future")
    return _move(
        target,
        email=email,
        sequence_id=sequence_id,
        to=lifecycle.PAUSED,
        verb="pause",
        reason=reason or f"paused by {actor}",
        now=now,
        actor=actor,
        paused_until=until,
    )


def stop(
    target: Session | Any,
    *,
    email: str | None = None,
    sequence_id: str | None = None,
    reason: str | None = None,
    now: datetime,
    actor: str = "cli",
) -> list[StateChange]:
    """End open enrollments on purpose; they count as finished."""
    return _move(
        target,
        email=email,
        sequence_id=sequence_id,
        to=lifecycle.STOPPED,
        verb="stop",
        reason=reason or f"stopped by {actor}",
        now=now,
        actor=actor,
    )


def unenroll(
    target: Session | Any,
    *,
    email: str | None = None,
    sequence_id: str | None = None,
    reason: str | None = None,
    now: datetime,
    actor: str = "cli",
) -> list[StateChange]:
    """Take open enrollments out as if never made (a mistake); excluded from completion figures."""
    return _move(
        target,
        email=email,
        sequence_id=sequence_id,
        to=lifecycle.UNENROLLED,
        verb="unenroll",
        reason=reason or f"unenrolled by {actor}",
        now=now,
        actor=actor,
    )


def resume(
    target: Session | Any,
    config: Config,
    sequences: Mapping[str, Sequence],
    *,
    email: str | None = None,
    sequence_id: str | None = None,
    reason: str | None = None,
    now: datetime,
    actor: str = "cli",
) -> list[StateChange]:
    """Resume paused enrollments: the next touch is max(planned, now), moved into the send window."""
    with _unit(target) as s:
        out = []
        for e, addr in _targets(s, email, sequence_id, frozenset({lifecycle.PAUSED}), "resume"):
            before = e.status
            sequence = sequences.get(e.sequence_id)
            when = max(e.next_send_at or now, now)
            if sequence is not None:
                try:
                    mailbox: MailboxConfig | None = config.mailbox(e.mailbox)
                except NotFound:
                    mailbox = None
                zone_name = prospect_zone(config, sequence, mailbox, e.prospect.timezone)
                when = TouchPlanner(config, sequence).resume_time(
                    step_number=e.steps_done + 1,
                    planned=e.next_send_at,
                    now=now,
                    tz_name=zone_name,
                    mailbox=mailbox,
                )
            store.transition(
                s,
                e,
                lifecycle.ACTIVE,
                now=now,
                actor=actor,
                reason=reason or f"resumed by {actor}",
                step=e.steps_done + 1,
                next_send_at=when,
                paused_until=None,
                wait_reason=None,
            )
            out.append(_change(e, addr, before))
        return out


def mark_replied(
    target: Session | Any,
    *,
    email: str,
    sequence_id: str | None = None,
    note: str | None = None,
    now: datetime,
    actor: str = "cli",
) -> list[StateChange]:
    """The rep heard back outside email: every open enrollment (else the latest completed) -> replied."""
    with _unit(target) as s:
        prospect = store.require_prospect(s, normalize(email))
        rows = q.enrollments_for_action(
            s, prospect_id=prospect.id, sequence_id=sequence_id, statuses=lifecycle.OPEN_STATES
        )
        if not rows:
            latest = q.latest_enrollment(s, prospect.id, {lifecycle.COMPLETED})
            if latest is not None and (sequence_id is None or latest.sequence_id == sequence_id):
                rows = [latest]
        if not rows:
            raise NotFound(
                f"mark-replied: {prospect.email} has no active, paused or completed enrollment"
            )
        out = []
        for e in rows:
            before = e.status
            store.transition(
                s,
                e,
                lifecycle.REPLIED,
                now=now,
                actor=actor,
                reason=note or f"marked replied by {actor}",
                step=e.steps_done,
                data={"manual": True},
                replied_at=now,
                replied_step=e.steps_done,
            )
            out.append(_change(e, prospect.email, before))
        return out


# --- suppression ----------------------------------------------------------------------


@dataclass(frozen=True)
class SuppressionResult:
    value: str
    kind: str
    created: bool
    reason: str
    stopped: list[StateChange] = field(default_factory=list)


def parse_suppression(value: str) -> tuple[str, str]:
    """``dana@x.com`` -> (address); ``@x.com`` or ``x.com`` -> (domain). Lowercased."""
    text = value.strip()
    if "@" in text and not text.startswith("@"):
        return normalize(text), "address"
    domain = text.lstrip("@").lower().rstrip(".")
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels) or any(c.isspace() or c in "@/\\:" for c in domain):
        raise UserError(f"{value!r} is neither an email address nor a domain like example.com")
    return domain, "domain"


def suppress_add(
    target: Session | Any,
    value: str,
    *,
    reason: str = "manual",
    now: datetime,
    actor: str = "cli",
) -> SuppressionResult:
    """Suppress an address or a whole domain and stop every open enrollment it covers.

    Stopped enrollments become ``stopped`` with reason ``suppressed: <value> (<reason>)``;
    a later ``suppress remove`` does not restart them.
    """
    key, kind = parse_suppression(value)
    with _unit(target) as s:
        row, created = store.add_suppression(
            s, key, kind=kind, reason=reason, source=actor, now=now
        )
        store.record_event(
            s,
            now=now,
            kind="suppression_added",
            actor=actor,
            reason=reason,
            data={"value": key, "kind": kind, "created": created},
        )
        stopped = []
        for e in q.open_enrollments_suppressed_by(s, key, kind):
            before = e.status
            store.transition(
                s,
                e,
                lifecycle.STOPPED,
                now=now,
                actor=actor,
                reason=f"suppressed: {key} ({row.reason})",
                step=e.steps_done + 1,
            )
            stopped.append(_change(e, e.prospect.email, before))
        return SuppressionResult(key, kind, created, row.reason, stopped)


def suppress_remove(
    target: Session | Any, value: str, *, now: datetime, actor: str = "cli"
) -> bool:
    """Lift a suppression (True if there was one). Enrollments it stopped stay stopped."""
    key, kind = parse_suppression(value)
    with _unit(target) as s:
        removed = q.delete_suppression(s, key)
        if removed is not None:
            store.record_event(
                s,
                now=now,
                kind="suppression_removed",
                actor=actor,
                reason=removed.reason,
                data={"value": key, "kind": kind},
            )
        return removed is not None


@dataclass(frozen=True)
class SuppressionRow:
    value: str
    kind: str
    reason: str
    source: str
    created_at: datetime


def suppress_list(target: Session | Any, *, contains: str | None = None) -> list[SuppressionRow]:
    with _unit(target) as s:
        return [
            SuppressionRow(r.value, r.kind, r.reason, r.source, r.created_at)
            for r in q.list_suppressions(s, contains)
        ]


# --- list and timeline ----------------------------------------------------------------


@dataclass(frozen=True)
class EnrollmentRow:
    """One line of ``sequencer list``."""

    enrollment_id: int
    email: str
    name: str | None
    company: str | None
    owner: str | None
    mailbox: str
    sequence_id: str
    step: str
    steps_done: int
    total_steps: int
    status: str
    status_reason: str | None
    last_touch_at: datetime | None
    next_send_at: datetime | None
    wait_reason: str | None
    paused_until: datetime | None
    days_in_state: float


def list_enrollments(
    target: Session | Any,
    *,
    now: datetime,
    sequence_id: str | None = None,
    owner: str | None = None,
    status: str | None = None,
    due_before: datetime | None = None,
    limit: int | None = None,
) -> list[EnrollmentRow]:
    """Where every lead stands; soonest next touch first, finished ones last."""
    if status is not None and status not in lifecycle.STATES:
        raise UserError(f"unknown status {status!r} (known: {', '.join(lifecycle.STATES)})")
    with _unit(target) as s:
        rows = q.list_enrollments(
            s,
            sequence_id=sequence_id,
            owner=owner,
            status=status,
            due_before=due_before,
            limit=limit,
        )
        return [_row(e, p, now) for e, p in rows]


def _row(e: Enrollment, p: Prospect, now: datetime) -> EnrollmentRow:
    shown = min(e.steps_done + (1 if e.status in lifecycle.OPEN_STATES else 0), e.total_steps)
    return EnrollmentRow(
        enrollment_id=e.id,
        email=p.email,
        name=p.name,
        company=p.company,
        owner=e.owner,
        mailbox=e.mailbox,
        sequence_id=e.sequence_id,
        step=f"{shown}/{e.total_steps}",
        steps_done=e.steps_done,
        total_steps=e.total_steps,
        status=e.status,
        status_reason=e.status_reason,
        last_touch_at=e.last_touch_at,
        next_send_at=e.next_send_at,
        wait_reason=e.wait_reason,
        paused_until=e.paused_until,
        days_in_state=round(max((now - e.status_changed_at).total_seconds(), 0) / 86400, 1),
    )


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a prospect. ``source`` is event | touch | inbound."""

    at: datetime
    source: str
    kind: str
    enrollment_id: int | None
    sequence_id: str | None
    step: int | None
    actor: str | None = None
    reason: str | None = None
    subject: str | None = None
    message_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProspectTimeline:
    email: str
    display_email: str
    name: str | None
    company: str | None
    owner: str | None
    timezone: str | None
    deal_value: Decimal | None
    fields: dict[str, Any]
    suppressed_by: str | None
    enrollments: list[EnrollmentRow]
    entries: list[TimelineEntry]


_SOURCE_ORDER = {"event": 0, "touch": 1, "inbound": 2}


def timeline(target: Session | Any, email: str, *, now: datetime) -> ProspectTimeline:
    """Every enrollment, touch, inbound message and event of a prospect, oldest first."""
    with _unit(target) as s:
        p = store.require_prospect(s, normalize(email))
        enrollments = q.enrollments_of_prospect(s, p.id)
        ids = [e.id for e in enrollments]
        seq_of = {e.id: e.sequence_id for e in enrollments}
        entries: list[TimelineEntry] = []
        for ev in q.events_of_prospect(s, p.id, ids):
            entries.append(
                TimelineEntry(
                    at=ev.at,
                    source="event",
                    kind=ev.kind,
                    enrollment_id=ev.enrollment_id,
                    sequence_id=seq_of.get(ev.enrollment_id) if ev.enrollment_id else None,
                    step=ev.step,
                    actor=ev.actor,
                    reason=ev.reason,
                    detail=dict(ev.data or {}),
                )
            )
        for m in q.messages_of_enrollments(s, ids):
            entries.append(
                TimelineEntry(
                    at=m.sent_at or m.claimed_at,
                    source="touch",
                    kind=m.status,
                    enrollment_id=m.enrollment_id,
                    sequence_id=seq_of.get(m.enrollment_id),
                    step=m.step,
                    subject=m.subject,
                    message_id=m.message_id,
                    detail={
                        "mailbox": m.mailbox,
                        "to": m.to_addr,
                        "variant": m.variant,
                        "attempts": m.attempts,
                        "error": m.error,
                    },
                )
            )
        for m in q.inbound_of_prospect(s, ids, p.email):
            entries.append(
                TimelineEntry(
                    at=m.received_at,
                    source="inbound",
                    kind=m.kind,
                    enrollment_id=m.enrollment_id,
                    sequence_id=seq_of.get(m.enrollment_id) if m.enrollment_id else None,
                    step=None,
                    reason=m.reason,
                    subject=m.subject,
                    message_id=m.message_id,
                    detail={
                        "from": m.from_addr,
                        "severity": m.severity,
                        "snippet": m.snippet,
                        "mailbox": m.mailbox,
                        "folder": m.folder,
                    },
                )
            )
        entries.sort(key=lambda x: (x.at, _SOURCE_ORDER[x.source]))
        hit = store.find_suppression(s, p.email)
        return ProspectTimeline(
            email=p.email,
            display_email=p.display_email,
            name=p.name,
            company=p.company,
            owner=p.owner,
            timezone=p.timezone,
            deal_value=p.deal_value,
            fields=dict(p.fields or {}),
            suppressed_by=f"{hit.value} ({hit.reason})" if hit else None,
            enrollments=[_row(e, p, now) for e in enrollments],
            entries=entries,
        )
