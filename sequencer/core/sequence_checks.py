"""Checks of a loaded sequence against its templates: the ones ``validate`` runs.

Static ones (templates exist, compile, thread starters have a subject) run when a
sequence is loaded with a template store; ``sample_problems`` renders every step with
the sequence's sample prospect to catch what static checks cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from functools import partial
from typing import Any

from sequencer.core.planning import render_step, render_task_text
from sequencer.core.schedule import BusinessCalendar
from sequencer.core.sequences import Sequence
from sequencer.core.template_context import (
    CONTEXT_VARIABLES,
    build_context,
    required_variables,
    unguarded_variables,
)
from sequencer.core.templates import TemplateStore
from sequencer.errors import Problem, TemplateError


def check_templates(sequence: Sequence, store: TemplateStore, problems: list[Problem]) -> None:
    """Every variant's template exists and compiles, and each thread-starting step has a subject."""
    for step in sequence.steps:
        for variant in step.variants:
            if not store.exists(variant.template):
                problems.append(Problem(
                    sequence.path, variant.line,
                    f"step {step.number}: template {variant.template!r} not found "
                    f"(looked for {store.path_of(variant.template)})",
                ))
                continue
            try:
                has_subject = store.has_subject(variant.template)
            except TemplateError as exc:
                problems.append(template_problem(store, exc))
                continue
            if step.starts_thread and not (step.subject or variant.subject or has_subject):
                reason = "step 1 starts the thread" if step.number == 1 else "new_thread is true"
                problems.append(Problem(
                    sequence.path, variant.line,
                    f"step {step.number}: {reason} but there is no subject; add 'subject:' to the "
                    f"step or to the front matter of template {variant.template!r}",
                ))


def template_problem(store: TemplateStore, exc: TemplateError) -> Problem:
    """A TemplateError as a file:line Problem (the template's file when it is a template)."""
    path = exc.template
    try:
        if store.exists(exc.template):
            path = str(store.path_of(exc.template))
    except TemplateError:
        pass
    return Problem(path, exc.line or 0, exc.message)


def sequence_required_variables(store: TemplateStore, sequence: Sequence) -> set[str]:
    """Prospect fields some touch of the sequence cannot render without (for CSV import).

    Covers every variant's template and the step/variant subjects that are actually
    used (an in-thread step's template subject is never rendered, so it does not count).
    """
    needed: set[str] = set()
    for step in sequence.steps:
        for variant in step.variants:
            needed |= required_variables(store, variant.template, include_subject=step.starts_thread)
            own = variant.subject or step.subject
            if step.starts_thread and own:
                needed |= unguarded_variables(store.env.parse(own))
    return needed - CONTEXT_VARIABLES


SAMPLE_MAILBOX: Mapping[str, Any] = {
    "name": "sample", "display_name": "Sam Rivera", "address": "sam@example.com",
    "signature": "Sam Rivera\nAccount Executive",
}


def sample_problems(
    sequence: Sequence, store: TemplateStore, today: date, calendar: BusinessCalendar,
    mailbox: Mapping[str, Any] = SAMPLE_MAILBOX,
) -> list[Problem]:
    """Render every step and variant against the sequence's ``sample`` prospect.

    Catches what static checks cannot: a variable the sample (standing in for real
    prospects) lacks, a filter given bad data, a subject that renders a newline.
    """
    if not sequence.sample:
        return []
    problems: list[Problem] = []
    unsubscribe_url = "https://example.com/u/sample" if sequence.list_unsubscribe else None
    for step in sequence.steps:
        context = build_context(sequence.sample, mailbox, sequence, step, unsubscribe_url, today, calendar)
        renders: list[Callable[[Mapping[str, Any]], object]] = [
            partial(render_step, store, sequence, step, variant) for variant in step.variants
        ]
        if step.is_task:
            renders = [partial(render_task_text, store, sequence, step)]
        for render in renders:
            for exc in render_errors(render, context):
                problem = template_problem(store, exc)
                problems.append(Problem(problem.path, problem.line, f"{problem.message} (rendering step {step.number} with the sample)"))
    return problems


MAX_MISSING = 20


def render_errors(
    render: Callable[[Mapping[str, Any]], object], context: Mapping[str, Any]
) -> list[TemplateError]:
    """Every missing variable of one render, not only the first Jinja stops at.

    Each one found is stood in for by a placeholder and the render repeated, so a
    template with three gaps is reported as three problems in one ``validate``.
    """
    errors: list[TemplateError] = []
    trial = dict(context)
    for _ in range(MAX_MISSING):
        try:
            render(trial)
            return errors
        except TemplateError as exc:
            errors.append(exc)
            if exc.variable is None or exc.variable in trial:
                return errors  # not a missing top-level name: a placeholder cannot get past it
            trial[exc.variable] = f"<{exc.variable}>"
    return errors
