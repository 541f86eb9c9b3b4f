"""Sequence files -> Sequence and Step values, with every problem reported as file:line.

One sequence per YAML file in ``sequences/``; the file stem is the sequence id::

    name: Quote follow-up
    description: After a quote goes out, check in until the prospect answers.
    mailbox: owner                 # "owner" = the prospect's owner; or a mailbox name
    timezone: America/Chicago      # optional; for prospects without a time zone
    list_unsubscribe: false        # default true; see DESIGN.md (out-of-office replies)
    send_window: {days: business, start: "08:30", end: "17:00"}   # optional, per step too
    policies:
      on_reply: stop               # a human reply always stops the sequence
      on_auto_reply: continue      # or "pause 3 days": hold the next touch after an out-of-office
      on_bounce: stop
      stop_on_reply_from_domain: true   # a colleague's reply stops it as well
      on_manual_email: delay       # delay | continue | stop, when the rep emails them by hand
      on_task_overdue: wait        # or "skip_after 2 business days": move on without the rep
    sample: {email: dana@example.com, name: Dana Whitfield, company: Acme}
    steps:
      - wait: 0
        template: quote/01-sent
        subject: "Your quote for {{ company }}"
      - wait: 2 business days
        template: quote/02-checkin
      - wait: 3 business days
        new_thread: true
        subject: "Quick question about {{ company }}"
        variants:
          - {template: quote/03-a, weight: 50}
          - {template: quote/03-b, weight: 50, name: short}
      - wait: 2 business days
        task: "Call to walk through the quote"   # a task step: sends nothing (README, "Rep workflow")
        kind: call                                # email | call | other

The threading rule (``sequences``) is enforced here: a ``subject:`` on an in-thread step is
an error.

Validation collects every problem in every file before raising one SequenceError, so a
user fixes a file in one pass instead of one error per run.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sequencer.core.schedule import SendWindow, Wait, parse_wait, zone
from sequencer.core.sequence_checks import check_templates
from sequencer.core.sequences import OWNER_MAILBOX, TASK_KINDS, Policies, Sequence, Step, Variant
from sequencer.core.templates import TemplateStore
from sequencer.core.yamlsrc import Located, dotted, load_yaml_file, pydantic_problems
from sequencer.errors import ConfigError, Problem, SequenceError

SEQUENCE_SUFFIXES = (".yaml", ".yml")


# --- file models (validation only) ----------------------------------------------------


def _window(value: Any) -> SendWindow | None:
    return None if value is None else SendWindow.parse(value)


class _VariantFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(min_length=1)
    weight: int = Field(default=1, ge=1)
    name: str | None = None
    subject: str | None = None


class _StepFile(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    wait: Wait
    template: str | None = Field(default=None, min_length=1)
    variants: list[_VariantFile] | None = None
    subject: str | None = None
    new_thread: bool = False
    send_window: SendWindow | None = None
    name: str | None = None
    kind: Any = None
    task: Any = None

    @field_validator("wait", mode="before")
    @classmethod
    def _wait(cls, value: Any) -> Wait:
        return parse_wait(value)

    @field_validator("send_window", mode="before")
    @classmethod
    def _send_window(cls, value: Any) -> SendWindow | None:
        return _window(value)


class _SequenceFile(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: str = Field(min_length=1)
    description: str = ""
    mailbox: str = Field(default=OWNER_MAILBOX, min_length=1)
    timezone: str | None = None
    list_unsubscribe: bool = True
    send_window: SendWindow | None = None
    policies: Policies = Field(default_factory=Policies)
    sample: dict[str, Any] = Field(default_factory=dict)
    steps: list[Any] = Field(min_length=1)

    @field_validator("send_window", mode="before")
    @classmethod
    def _send_window(cls, value: Any) -> SendWindow | None:
        return _window(value)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value


# --- loading --------------------------------------------------------------------------


def _build_task_step(
    located: Located, loc: tuple[str | int, ...], number: int, parsed: _StepFile, raw: Mapping[str, Any],
    problems: list[Problem],
) -> Step | None:
    """A task step: text, a kind, the usual wait; nothing that only an email has."""
    where = dotted(("steps", number - 1))
    line = located.line_of(loc)
    ok = True
    text = parsed.task.strip() if isinstance(parsed.task, str) else None
    if not text:
        problems.append(Problem(
            located.path, located.line_of((*loc, "task")),
            f"{where}.task: a task step needs the task's text, e.g. task: \"Send the written proposal\"",
        ))
        ok = False
    kind = "other" if parsed.kind is None else str(parsed.kind).strip().lower()
    if kind not in TASK_KINDS:
        problems.append(Problem(
            located.path, located.line_of((*loc, "kind")),
            f"{where}.kind: unknown task kind {parsed.kind!r} (use {', '.join(TASK_KINDS)})",
        ))
        ok = False
    for key in ("template", "variants", "subject", "new_thread"):
        if key in raw:
            problems.append(Problem(
                located.path, located.line_of((*loc, key)),
                f"{where}.{key}: a task step sends nothing, so it cannot have {key!r}",
            ))
            ok = False
    if not ok:
        return None
    return Step(
        number=number, wait=parsed.wait, variants=(), send_window=parsed.send_window,
        name=parsed.name, kind="task", line=line, task=text, task_kind=kind,
        subject_line=located.line_of((*loc, "task")) or line,
    )


def _build_step(
    located: Located, index: int, raw: Any, problems: list[Problem], email_before: bool = True
) -> Step | None:
    loc: tuple[str | int, ...] = ("steps", index)
    line = located.line_of(loc)
    where = dotted(("steps", index))
    if not isinstance(raw, Mapping):
        problems.append(Problem(located.path, line, f"{where}: a step must be a mapping with wait and template"))
        return None
    try:
        parsed = _StepFile.model_validate(raw)
    except ValidationError as exc:
        problems.extend(pydantic_problems(located, exc, loc, _StepFile))
        return None
    number = index + 1
    if "task" in raw:
        return _build_task_step(located, loc, number, parsed, raw, problems)
    ok = True
    if parsed.kind is not None and parsed.kind != "email":
        problems.append(Problem(
            located.path, located.line_of((*loc, "kind")),
            f"{where}.kind: {parsed.kind!r} needs a task (task: \"...\"); an email step is kind email",
        ))
        ok = False
    # The first email after leading task steps opens the thread, as step 1 would.
    new_thread = parsed.new_thread or (number > 1 and not email_before)
    if parsed.template and parsed.variants is not None:
        problems.append(Problem(located.path, line, f"{where}: give either template or variants, not both"))
        ok = False
    if not parsed.template and not parsed.variants:
        problems.append(Problem(located.path, line, f"{where}: missing required key 'template' (or 'variants')"))
        ok = False
    starts_thread = number == 1 or new_thread
    if parsed.subject is not None and not starts_thread:
        problems.append(Problem(
            located.path, located.line_of((*loc, "subject")),
            f"{where}: step {number} replies in the thread (Re: the first subject), so it cannot "
            "have its own subject; add 'new_thread: true' to start a new thread, or remove subject",
        ))
        ok = False
    variants: list[Variant] = []
    if parsed.variants:
        seen: set[str] = set()
        for i, v in enumerate(parsed.variants):
            vloc = (*loc, "variants", i)
            name = v.name or v.template
            if name in seen:
                problems.append(Problem(
                    located.path, located.line_of(vloc),
                    f"{where}.variant {i + 1}: variant name {name!r} is used twice; give each a distinct 'name'",
                ))
                ok = False
            seen.add(name)
            if v.subject is not None and not starts_thread:
                problems.append(Problem(
                    located.path, located.line_of((*vloc, "subject")),
                    f"{where}.variant {i + 1}: a variant of an in-thread step cannot have a subject",
                ))
                ok = False
            variants.append(Variant(name, v.template, v.weight, v.subject, located.line_of(vloc)))
    elif parsed.template:
        variants.append(Variant(parsed.template, parsed.template, 1, None, located.line_of((*loc, "template"))))
    if not ok:
        return None
    return Step(
        number=number, wait=parsed.wait, variants=tuple(variants), subject=parsed.subject,
        new_thread=new_thread, send_window=parsed.send_window, name=parsed.name,
        kind="email", line=line, subject_line=located.line_of((*loc, "subject")),
    )


def _email_before(raw_steps: list[Any], index: int) -> bool:
    """Whether an email step precedes step ``index`` (else that step, if an email, opens the thread)."""
    return any(not (isinstance(r, Mapping) and "task" in r) for r in raw_steps[:index])


def _load(path: Path, store: TemplateStore | None, mailboxes: Collection[str] | None,
          problems: list[Problem]) -> Sequence | None:
    """Load one file, appending its problems to ``problems`` in file order (path, line)."""
    start = len(problems)
    sequence = _load_unsorted(path, store, mailboxes, problems)
    problems[start:] = sorted(problems[start:], key=lambda p: (p.path, p.line))
    return sequence


def _load_unsorted(path: Path, store: TemplateStore | None, mailboxes: Collection[str] | None,
                   problems: list[Problem]) -> Sequence | None:
    try:
        located = load_yaml_file(path)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None
    start = len(problems)
    problems.extend(located.duplicates)
    if not isinstance(located.data, Mapping):
        problems.append(Problem(located.path, 1, "a sequence file must be a mapping (name, steps, ...)"))
        return None
    try:
        parsed = _SequenceFile.model_validate(located.data)
    except ValidationError as exc:
        problems.extend(pydantic_problems(located, exc, (), _SequenceFile))
        # Still check the steps, so one run shows every problem in the file.
        raw_steps = located.data.get("steps")
        if isinstance(raw_steps, list):
            for i, raw in enumerate(raw_steps):
                _build_step(located, i, raw, problems, _email_before(raw_steps, i))
        return None
    steps = [
        _build_step(located, i, raw, problems, _email_before(parsed.steps, i))
        for i, raw in enumerate(parsed.steps)
    ]
    if mailboxes is not None and parsed.mailbox != OWNER_MAILBOX and parsed.mailbox not in mailboxes:
        known = ", ".join(sorted(mailboxes)) or "none configured"
        problems.append(Problem(
            located.path, located.line_of(("mailbox",)),
            f"mailbox: unknown mailbox {parsed.mailbox!r} (known: {known}; or 'owner')",
        ))
    if len(problems) > start:
        return None
    sequence = Sequence(
        id=path.stem, name=parsed.name, steps=tuple(s for s in steps if s is not None),
        path=str(path), description=parsed.description, mailbox=parsed.mailbox,
        timezone=parsed.timezone, list_unsubscribe=parsed.list_unsubscribe,
        send_window=parsed.send_window, policies=parsed.policies, sample=parsed.sample,
    )
    if store is not None:
        check_templates(sequence, store, problems)
        if len(problems) > start:
            return None
    return sequence


def load_sequence(
    path: str | Path, store: TemplateStore | None = None, mailboxes: Collection[str] | None = None
) -> Sequence:
    """Load one sequence file; raise SequenceError listing every problem with file:line.

    With a ``store``, templates must exist, compile, and give thread-starting steps a
    subject. With ``mailboxes`` (configured names), the mailbox must be one of them.
    """
    problems: list[Problem] = []
    sequence = _load(Path(path), store, mailboxes, problems)
    if problems or sequence is None:
        raise SequenceError(problems or [Problem(str(path), 0, "invalid sequence")])
    return sequence


def sequence_files(directory: str | Path) -> list[Path]:
    d = Path(directory)
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix in SEQUENCE_SUFFIXES)


def load_sequences(
    directory: str | Path, store: TemplateStore | None = None,
    mailboxes: Collection[str] | None = None,
) -> dict[str, Sequence]:
    """Every sequence in ``directory`` by id; one SequenceError with the problems of all files."""
    d = Path(directory)
    if not d.is_dir():
        raise SequenceError(Problem(str(d), 0, "sequences directory not found"))
    problems: list[Problem] = []
    result: dict[str, Sequence] = {}
    origin: dict[str, Path] = {}
    for path in sequence_files(d):
        if path.stem in origin:
            problems.append(Problem(str(path), 0, f"sequence id {path.stem!r} is also defined by {origin[path.stem]}"))
            continue
        origin[path.stem] = path
        sequence = _load(path, store, mailboxes, problems)
        if sequence is not None:
            result[sequence.id] = sequence
    if problems:
        raise SequenceError(problems)
    return result
