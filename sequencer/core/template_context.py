"""What a template sees and what it cannot render without.

``build_context`` turns a prospect, the sending mailbox, the sequence and the step into
the variables of a touch; ``required_variables`` reads a template's AST for the prospect
fields it needs unguarded, so a CSV import can ask for the missing columns up front.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from jinja2 import meta, nodes

from sequencer.core.schedule import WEEKDAY_FULL_NAMES, BusinessCalendar
from sequencer.core.sequences import Sequence, Step
from sequencer.core.templates import TemplateStore, first_name, last_name

# Variables build_context supplies from the mailbox, sequence and clock rather than
# from the prospect; required_variables leaves them out so a CSV import only asks
# for prospect columns.
CONTEXT_VARIABLES = frozenset({
    "rep", "mailbox", "signature", "sequence", "step", "unsubscribe_url", "today",
    "next_business_day_name", "prospect",
})


def next_business_day_namer(today: date, calendar: BusinessCalendar) -> Callable[[], str]:
    """``next_business_day_name()`` for templates: "Monday" on a Friday, "Friday" before a holiday Thursday."""
    def next_business_day_name() -> str:
        return WEEKDAY_FULL_NAMES[calendar.next_business_day(today).weekday()]

    return next_business_day_name


_NESTED_FIELD_KEYS = ("fields", "custom", "custom_fields")


def build_context(
    prospect: Mapping[str, Any],
    mailbox: Mapping[str, Any],
    sequence: Sequence | None,
    step: Step | None,
    unsubscribe_url: str | None,
    today: date,
    calendar: BusinessCalendar,
) -> dict[str, Any]:
    """The variables a template sees.

    Prospect fields are flattened to top level (``{{ company }}``, ``{{ quote_number }}``),
    custom fields from a nested ``fields``/``custom``/``custom_fields`` mapping included;
    top-level keys win. Empty values (None, "") are left out so ``default(...)`` applies,
    as a blank CSV cell means "unknown", not "empty string". ``first_name``/``last_name``
    are derived from ``name`` when not given. The whole record is also ``prospect``
    (for keys that are not identifiers: ``prospect["Quote #"]``). ``rep`` and ``mailbox``
    are the sending mailbox as a mapping (config keys: ``name``, ``address``,
    ``display_name``, ``signature``; ``rep.first_name`` derived from the display name);
    ``signature`` is its signature. Names in CONTEXT_VARIABLES win over prospect fields.
    ``unsubscribe_url`` is only defined when the sequence has one.
    """
    fields: dict[str, Any] = {}
    for key in _NESTED_FIELD_KEYS:
        nested = prospect.get(key)
        if isinstance(nested, Mapping):
            fields.update({str(k): v for k, v in nested.items()})
    fields.update({str(k): v for k, v in prospect.items() if k not in _NESTED_FIELD_KEYS})
    ctx: dict[str, Any] = {k: v for k, v in fields.items() if v is not None and v != ""}
    if "name" not in ctx:
        joined = " ".join(str(ctx[k]) for k in ("first_name", "last_name") if k in ctx)
        if joined:
            ctx["name"] = joined
    if "name" in ctx:
        if "first_name" not in ctx and first_name(ctx["name"]):
            ctx["first_name"] = first_name(ctx["name"])
        if "last_name" not in ctx and last_name(ctx["name"]):
            ctx["last_name"] = last_name(ctx["name"])
    rep = dict(mailbox)
    display = rep.get("display_name") or rep.get("from_name") or rep.get("name")
    if display and "first_name" not in rep:
        rep["first_name"] = first_name(display)
    if "address" in rep and "email" not in rep:
        rep["email"] = rep["address"]
    ctx["prospect"] = dict(fields)
    ctx["rep"] = rep
    ctx["mailbox"] = rep
    ctx["signature"] = rep.get("signature") or ""
    ctx["today"] = today
    ctx["next_business_day_name"] = next_business_day_namer(today, calendar)
    if sequence is not None:
        ctx["sequence"] = {"id": sequence.id, "name": sequence.name, "total_steps": sequence.total_steps}
    if step is not None:
        ctx["step"] = {
            "number": step.number,
            "total": sequence.total_steps if sequence is not None else None,
            "new_thread": step.starts_thread,
        }
    if unsubscribe_url:
        ctx["unsubscribe_url"] = unsubscribe_url
    else:
        ctx.pop("unsubscribe_url", None)
    return ctx


_GUARD_FILTERS = frozenset({"default", "d"})


def _unguarded(node: nodes.Node, guarded: frozenset[str], out: set[str]) -> None:
    if isinstance(node, nodes.Name):
        if node.ctx == "load" and node.name not in guarded:
            out.add(node.name)
        return
    if isinstance(node, nodes.Filter) and node.name in _GUARD_FILTERS and isinstance(node.node, nodes.Name):
        for child in (*node.args, *node.kwargs):
            _unguarded(child, guarded, out)
        return
    if isinstance(node, nodes.Test) and node.name in ("defined", "undefined") and isinstance(node.node, nodes.Name):
        return
    if isinstance(node, nodes.If) and isinstance(node.test, nodes.Test) and isinstance(node.test.node, nodes.Name):
        test, var = node.test, node.test.node.name
        if test.name in ("defined", "undefined"):
            body_guard = guarded | {var} if test.name == "defined" else guarded
            else_guard = guarded | {var} if test.name == "undefined" else guarded
            for child in node.body:
                _unguarded(child, body_guard, out)
            for child in node.elif_:
                _unguarded(child, guarded, out)
            for child in node.else_:
                _unguarded(child, else_guard, out)
            return
    for child in node.iter_child_nodes():
        _unguarded(child, guarded, out)


def unguarded_variables(ast: nodes.Template) -> set[str]:
    """Undeclared variables of one parsed template that no default/defined guard protects."""
    found: set[str] = set()
    _unguarded(ast, frozenset(), found)
    return found & meta.find_undeclared_variables(ast)


def required_variables(store: TemplateStore, template_name: str, *, include_subject: bool = True) -> set[str]:
    """Prospect variables a template cannot render without.

    Names guarded by ``| default(...)`` or ``{% if x is defined %}`` are optional and left
    out, as are CONTEXT_VARIABLES (supplied by the mailbox/sequence, not the prospect).
    ``first_name``/``last_name`` may appear: a row satisfies them with a ``name`` column.
    For a whole sequence (step subjects included) use ``sequence_checks.sequence_required_variables``.
    """
    needed: set[str] = set()
    for kind, ast in store.parsed(template_name):
        if kind == "subject" and not include_subject:
            continue
        needed |= unguarded_variables(ast)
    return needed - CONTEXT_VARIABLES - set(store.env.globals)
