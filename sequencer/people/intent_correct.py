"""``sequencer intent EMAIL INTENT``: a rep corrects what a reply meant, and the plan follows.

The reader of intents is a set of phrase rules; it will sometimes be wrong, and a wrong
"not now" quietly brings a lead back in a quarter. A correction therefore cancels what the
old intent planned (the re-engagement or referral enrollments it made become
``unenrolled``; its open intent tasks are skipped), carries out the new intent's policy
(``intent_effects.plan``; ``--on`` sets the come-back day), and is kept as an
``intent_corrected`` event holding the reply's text and the new label: a labelled sample
the team can export from the timeline to improve the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from sequencer.classify.intent import INTENTS
from sequencer.config import Config
from sequencer.core import lifecycle
from sequencer.core.addresses import normalize
from sequencer.core.sequences import Sequence
from sequencer.db import attribution as q
from sequencer.db import replies, store
from sequencer.db.models import Enrollment, Task
from sequencer.db.session import Database
from sequencer.db.unit import unit_of_work
from sequencer.errors import NotFound, UserError
from sequencer.people import intent_effects
from sequencer.project import calendar_for

CHOICES = (*INTENTS, "none")


@dataclass(frozen=True)
class Correction:
    """What ``sequencer intent`` did (also its ``--json``)."""

    email: str
    enrollment_id: int
    previous: str | None
    intent: str | None
    reengage_on: date | None
    cancelled: list[int] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"email": self.email, "enrollment_id": self.enrollment_id, "previous": self.previous,
                "intent": self.intent, "reengage_on": self.reengage_on.isoformat() if self.reengage_on else None,
                "cancelled": self.cancelled, "plan": self.plan}


def _target(s: Any, prospect_id: int) -> Enrollment:
    """The enrollment a reply ended most recently, else the prospect's latest one."""
    rows = list(s.scalars(select(Enrollment).where(Enrollment.prospect_id == prospect_id)
                          .order_by(Enrollment.replied_at.is_(None), Enrollment.replied_at.desc(),
                                    Enrollment.id.desc())))
    if not rows:
        raise NotFound("the prospect has no enrollment to record an intent on")
    return rows[0]


def correct_intent(db: Database, config: Config, sequences: Mapping[str, Sequence], email: str, intent: str, *,
                   on: date | None, actor: str, now: datetime) -> Correction:
    """Set the intent of the prospect's last reply to ``intent`` and re-plan its effects."""
    wanted = intent.strip().lower()
    if wanted not in CHOICES:
        raise UserError(f"unknown intent {intent!r} (known: {', '.join(CHOICES)})")
    if on is not None and wanted != "not_now" and wanted not in ("not_interested", "wrong_person"):
        raise UserError("--on is the come-back day: it goes with not_now (or not_interested/wrong_person)")
    if on is not None and on <= now.date():
        raise UserError(f"--on {on.isoformat()} is not in the future")
    calendar = calendar_for(config)
    with unit_of_work(db) as s:
        p = store.require_prospect(s, normalize(email))
        e = _target(s, p.id)
        previous = e.intent
        cancelled = []
        for planned in intent_effects.planned_by(s, e):
            store.transition(s, planned, lifecycle.UNENROLLED, now=now, actor=actor,
                             reason=f"intent corrected from {previous} to {wanted}")
            cancelled.append(planned.id)
        for task in s.scalars(select(Task).where(Task.enrollment_id == e.id, Task.step < 0, Task.status == "open")):
            task.status, task.done_at, task.done_by, task.note = "skipped", now, actor, "intent corrected"
        s.flush()
        if e.status in lifecycle.OPEN_STATES:  # told by phone: the rep records the answer
            store.transition(s, e, lifecycle.REPLIED, now=now, actor=actor, reason=f"marked by the rep: {wanted}",
                             replied_at=now)
        store.record_event(s, now=now, kind="intent_corrected", actor=actor, enrollment=e,
                           reason=f"intent {previous or 'none'} -> {wanted}", data=_sample(s, e, previous, wanted))
        row = replies.latest_reply_of_enrollment(s, e.id)
        stored = dict(((row.details or {}).get("intent") if row else None) or {})
        lines: list[str] = []
        q.update_enrollment(s, e.id, reengage_on=None)
        if wanted == "none":
            q.update_enrollment(s, e.id, intent=None, intent_evidence=f"cleared by {actor}")
        else:
            found = {"intent": wanted, "reason": f"corrected by {actor} (was {previous or 'none'})",
                     "quote": stored.get("quote") or "",
                     "period": stored.get("period") if wanted == stored.get("intent") else None,
                     "referrals": stored.get("referrals") or [], "meeting_at": stored.get("meeting_at")}
            s.refresh(e)
            lines = intent_effects.plan(s, config, sequences, e, found, intent_effects.ReplyInfo.of(row),
                                        now=now, actor=actor, calendar=calendar, on=on)
            intent_effects.record(s, e, found, lines, now=now, actor=actor)
        s.refresh(e)
        return Correction(p.email, e.id, previous, None if wanted == "none" else wanted, e.reengage_on,
                          cancelled, lines)


def _sample(s: Any, e: Enrollment, previous: str | None, wanted: str) -> dict[str, Any]:
    """The labelled sample: the reply's words and the intent a person gave them."""
    row = replies.latest_reply_of_enrollment(s, e.id)
    return {"from": previous, "to": wanted, "label": wanted, "text": row.snippet if row else None,
            "subject": row.subject if row else None, "message_id": row.message_id if row else None,
            "language": (row.details or {}).get("language") if row else None}


__all__ = ["CHOICES", "Correction", "correct_intent"]
