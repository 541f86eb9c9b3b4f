"""A task step's text rendered for its prospect, as ``preview`` shows it and ``todo`` lists it."""

from __future__ import annotations

from datetime import datetime

from sequencer.config import Config
from sequencer.core.planning import prospect_mapping
from sequencer.core.schedule import BusinessCalendar
from sequencer.core.sequences import Sequence, Step
from sequencer.core.template_context import build_context
from sequencer.core.templates import make_environment, render_subject
from sequencer.db.models import Enrollment
from sequencer.errors import TemplateError
from sequencer.project import mailbox_context


def task_title(
    config: Config,
    sequence: Sequence,
    step: Step,
    e: Enrollment,
    now: datetime,
    calendar: BusinessCalendar,
) -> str:
    """The task text as the rep reads it in ``todo``: ``Call {{ first_name }}`` -> ``Call Dana``.

    Rendered for this prospect as ``preview`` shows it; a text that cannot be rendered
    (``validate`` reports why) is kept as written rather than losing the task.
    """
    text = step.task or step.label
    if "{" not in text:
        return text
    mailbox = config.mailbox_for_owner(e.owner)
    context = build_context(
        prospect_mapping(e.prospect), mailbox_context(mailbox), sequence, step, None,
        now.date(), calendar,
    )
    try:
        return render_subject(_TASK_ENV.from_string(text), context, sequence.path, step.line)
    except TemplateError:
        return text


_TASK_ENV = make_environment()


__all__ = ["task_title"]
