"""Deal stages as services: the hand move (CLI, lead page) and the moves events make.

``move_stage`` is what another flow calls when it learns something about a deal
(reply intent: a meeting booked -> ``meeting``); it joins the caller's transaction when
given a Session. ``on_*`` are the automatic moves, forward only (see ``sequencer.db.stages``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from sequencer.config import Config
from sequencer.core.addresses import normalize
from sequencer.core.sequences import Sequence
from sequencer.db import stages as db_stages
from sequencer.db import store
from sequencer.db.models import Enrollment, Task
from sequencer.db.session import Database
from sequencer.db.unit import unit_of_work
from sequencer.errors import UserError

STAGES = db_stages.STAGES
MAX_NOTE = 500


def _check(stage: str) -> str:
    value = stage.strip().lower()
    if value not in db_stages.STAGES:
        raise UserError(f"unknown stage {stage!r} (known: {', '.join(db_stages.STAGES)})")
    return value


def move_stage(
    target: Session | Database,
    prospect_id: int,
    stage: str,
    actor: str,
    now: datetime,
    note: str | None = None,
    *,
    forward_only: bool = False,
) -> str | None:
    """Move a deal to ``stage`` (any stage by hand; ``forward_only`` for automatic moves).

    Returns the previous stage, or None when nothing moved (already there, or an
    automatic move that would go backwards).
    """
    text = " ".join((note or "").split()) or None
    if text and len(text) > MAX_NOTE:
        raise UserError(f"stage note longer than {MAX_NOTE} characters")
    with unit_of_work(target) as s:
        return db_stages.move(s, prospect_id, _check(stage), actor=actor, now=now, note=text,
                              forward_only=forward_only)


def move_by_email(db: Database, email: str, stage: str, *, actor: str, now: datetime,
                  note: str | None = None) -> tuple[str, str | None]:
    """``sequencer stage EMAIL STAGE``: (the stage now, the one before or None if unchanged)."""
    target = _check(stage)
    with db.session() as s:
        p = store.require_prospect(s, normalize(email))
        return target, move_stage(s, p.id, target, actor, now, note)


def on_reply(s: Session, prospect_id: int, *, actor: str, now: datetime, enrollment_id: int | None = None) -> None:
    """A human reply arrived: the deal is at least ``replied``."""
    db_stages.move(s, prospect_id, db_stages.REPLIED, actor=actor, now=now, forward_only=True,
                   enrollment_id=enrollment_id)


def on_task_done(s: Session, config: Config, sequences: Mapping[str, Sequence], task: Task,
                 e: Enrollment, *, actor: str, now: datetime) -> None:
    """A proposal task done (its title or step name has ``reporting.proposal_task``): ``proposal``."""
    word = config.reporting.proposal_task.strip().lower()
    sequence = sequences.get(e.sequence_id)
    step_name = sequence.step(task.step).name if sequence and 1 <= task.step <= len(sequence.steps) else None
    if word and word in f"{task.title} {step_name or ''}".lower():
        db_stages.move(s, e.prospect_id, db_stages.PROPOSAL, actor=actor, now=now, forward_only=True,
                       enrollment_id=e.id, note=task.title)
