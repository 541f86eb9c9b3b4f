"""Sequence and Step values: what a sequence is, independent of the file it came from.

Loading and validating sequence files is ``sequence_files``; checks against templates
are ``sequence_checks``; rendering a step with the threading rule is ``planning``.

Threading rule: step 1 and every ``new_thread: true`` step start a thread and need a
subject (on the step, on a variant, or in the template's front matter). Every other step
replies in the current thread with ``Re: <subject of the touch that started it>``; a
``subject:`` on such a step is an error (it would silently break threading in Gmail,
which threads by subject as well as by headers), and a template's own subject is ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from sequencer.core.schedule import SendWindow, Wait, parse_wait

OWNER_MAILBOX = "owner"


# --- public values --------------------------------------------------------------------


class Policies(BaseModel):
    """What happens to an enrollment when the world answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    on_reply: Literal["stop"] = "stop"
    on_auto_reply: str = "continue"
    on_bounce: Literal["stop"] = "stop"
    stop_on_reply_from_domain: bool = True
    on_manual_email: Literal["delay", "continue", "stop"] = "delay"
    on_task_overdue: str = "wait"

    @field_validator("on_task_overdue", mode="before")
    @classmethod
    def _task_overdue(cls, value: Any) -> str:
        text = " ".join(str(value).lower().split())
        if text == "wait":
            return text
        if text.startswith("skip_after "):
            try:
                wait = parse_wait(text.removeprefix("skip_after "))
            except ValueError:
                wait = None
            if wait is not None and wait.amount > 0:
                return f"skip_after {wait}"
        raise ValueError(
            f"on_task_overdue must be 'wait' or like 'skip_after 2 business days', not {value!r}"
        )

    @property
    def task_skip_after(self) -> Wait | None:
        """How long an overdue task may hold the sequence before it is skipped; None = wait for the rep."""
        if self.on_task_overdue.startswith("skip_after "):
            return parse_wait(self.on_task_overdue.removeprefix("skip_after "))
        return None

    @field_validator("on_auto_reply", mode="before")
    @classmethod
    def _auto_reply(cls, value: Any) -> str:
        text = " ".join(str(value).lower().split())
        if text == "continue":
            return text
        if text.startswith("pause "):
            wait = parse_wait(text.removeprefix("pause "))
            if wait.amount > 0:
                return f"pause {wait}"
        raise ValueError(f"on_auto_reply must be 'continue' or like 'pause 3 days', not {value!r}")

    @property
    def auto_reply_pause(self) -> Wait | None:
        """How long to hold the next touch after an out-of-office; None = carry on as planned."""
        if self.on_auto_reply.startswith("pause "):
            return parse_wait(self.on_auto_reply.removeprefix("pause "))
        return None


@dataclass(frozen=True)
class Variant:
    """One alternative of a step; ``name`` is what gets recorded on the sent message."""

    name: str
    template: str
    weight: int = 1
    subject: str | None = None
    line: int = 0


TASK_KINDS = ("email", "call", "other")


@dataclass(frozen=True)
class Step:
    """One touch of a sequence. ``number`` is 1-based; ``line`` is where it starts in the file.

    A task step (``kind == "task"``) sends nothing: it gives the enrollment's owner a task
    (``task`` text, ``task_kind`` email | call | other) and the sequence waits for it.
    """

    number: int
    wait: Wait
    variants: tuple[Variant, ...]
    subject: str | None = None
    new_thread: bool = False
    send_window: SendWindow | None = None
    name: str | None = None
    kind: Literal["email", "task"] = "email"
    line: int = 0
    subject_line: int = 0  # of ``subject:``; of ``task:`` for a task step
    task: str | None = None
    task_kind: str | None = None

    @property
    def is_task(self) -> bool:
        return self.kind == "task"

    @property
    def starts_thread(self) -> bool:
        """Step 1 and ``new_thread`` emails open a thread (the first email after leading tasks
        is loaded with ``new_thread``); the others reply in it. A task never starts one."""
        return not self.is_task and (self.number == 1 or self.new_thread)

    @property
    def template(self) -> str:
        """The template of a single-template step (the first variant's otherwise)."""
        return self.variants[0].template

    @property
    def label(self) -> str:
        if self.is_task:
            return self.name or f"{self.task_kind} task: {self.task}"
        return self.name or self.template


@dataclass(frozen=True)
class Sequence:
    id: str
    name: str
    steps: tuple[Step, ...]
    path: str
    description: str = ""
    mailbox: str = OWNER_MAILBOX
    timezone: str | None = None
    list_unsubscribe: bool = True
    send_window: SendWindow | None = None
    policies: Policies = field(default_factory=Policies)
    sample: Mapping[str, Any] = field(default_factory=dict)

    @property
    def total_steps(self) -> int:
        return len(self.steps)

    def step(self, number: int) -> Step:
        """Step by 1-based number; IndexError names the sequence when out of range."""
        if not 1 <= number <= len(self.steps):
            raise IndexError(f"sequence {self.id!r} has no step {number} (it has {len(self.steps)})")
        return self.steps[number - 1]

    def thread_start(self, step: Step) -> Step:
        """The step whose touch started the thread ``step`` replies in (itself if it starts one)."""
        for candidate in reversed(self.steps[: step.number]):
            if candidate.starts_thread:
                return candidate
        return self.steps[0]

    def window_for(self, step: Step, mailbox_window: SendWindow) -> SendWindow:
        """Send window of a step: the step's, else the sequence's, else the mailbox's."""
        return step.send_window or self.send_window or mailbox_window


def choose_variant(step: Step, key: str) -> Variant:
    """Pick a variant by weight, deterministically from ``key`` (e.g. the enrollment token).

    The same key always gives the same variant, so a retried or re-rendered touch never
    changes its copy; different keys spread by the weights. The step number is mixed in
    so one enrollment's choices across steps are independent.
    """
    if len(step.variants) == 1:
        return step.variants[0]
    total = sum(v.weight for v in step.variants)
    digest = hashlib.sha256(f"{key}\x00{step.number}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for variant in step.variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return step.variants[-1]  # unreachable: point < total
