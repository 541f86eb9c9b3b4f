"""Limits on one template render: wall time, output size, and the expressions that allocate.

Templates are written by sales ops and rendered by ``validate``, ``preview`` and the
worker's ``tick``; a template that loops ``range(99999)`` inside ``range(99999)``, or
prints ``"x" * 10**9``, must fail with its name and line instead of hanging or
exhausting them. Jinja's sandbox already bounds ``range``; this module adds:

- ``RENDER_SECONDS``: a per-render deadline. Pure-Python loops cannot be interrupted
  from inside, so one daemon watchdog thread raises ``RenderTimeout`` in the
  rendering thread (``PyThreadState_SetAsyncExc``) once the deadline passes. The
  check costs a dict insert per render. This is a resource limit measured on the
  monotonic timer, not business time, so it is the one place core looks at a timer.
- ``MAX_RENDER_CHARS``: the output of one part (subject, text or html) is collected
  chunk by chunk and abandoned as soon as it passes the limit.
- ``check_binop``/``bounded``: ``*``, ``**``, ``%`` and the padding/replacing filters
  refuse results that would be larger than the output limit before allocating them.
"""

from __future__ import annotations

import contextlib
import ctypes
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

RENDER_SECONDS = 2.0
MAX_RENDER_CHARS = 1_000_000
MAX_TEMPLATE_BYTES = 1_000_000
MAX_EXPONENT = 1_000
_POLL_SECONDS = 0.05
_WIDE = re.compile(r"\d{7,}|\*")  # a width of a million or more, or one taken from the args


class RenderTimeout(Exception):
    """Raised inside a render that ran past its deadline (by the watchdog)."""


class OutputTooLarge(Exception):
    """A render produced more than MAX_RENDER_CHARS."""


class _Watchdog:
    """One daemon thread that interrupts renders past their deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[int, tuple[int, float]] = {}
        self._fired: set[int] = set()
        self._thread: threading.Thread | None = None
        self._next = 0

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="template-watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(_POLL_SECONDS)
            now = time.monotonic()
            with self._lock:
                for token, (tid, deadline) in self._active.items():
                    if deadline <= now and token not in self._fired:
                        self._fired.add(token)
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(
                            ctypes.c_ulong(tid), ctypes.py_object(RenderTimeout)
                        )

    @contextlib.contextmanager
    def guard(self, seconds: float) -> Iterator[None]:
        tid = threading.get_ident()
        with self._lock:
            if self._thread is None:
                self._start()
            self._next += 1
            token = self._next
            self._active[token] = (tid, time.monotonic() + seconds)
        try:
            yield
        finally:
            with self._lock:
                del self._active[token]
                if token in self._fired:
                    self._fired.discard(token)
                    # the exception may still be pending if the render ended meanwhile
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), None)


_WATCHDOG = _Watchdog()


def collect(chunks: Iterable[str], limit: int = MAX_RENDER_CHARS) -> str:
    """Join a render's chunks, stopping as soon as they pass ``limit`` characters."""
    out: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise OutputTooLarge(f"the output is larger than {limit:,} characters")
        out.append(chunk)
    return "".join(out)


def render_bounded(
    generate: Callable[[], Iterable[str]], seconds: float = RENDER_SECONDS,
    limit: int = MAX_RENDER_CHARS,
) -> str:
    """Run one render under the deadline and the output limit."""
    with _WATCHDOG.guard(seconds):
        return collect(generate(), limit)


def _too_big(what: str) -> SecurityError:
    return SecurityError(f"{what} would be larger than the limit of {MAX_RENDER_CHARS:,} characters")


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``*``, ``**`` and ``%`` whose result would be huge, before computing it."""
    if operator == "*":
        for seq, n in ((left, right), (right, left)):
            if (
                isinstance(seq, (str, list, tuple))
                and isinstance(n, int)
                and len(seq) * n > MAX_RENDER_CHARS
            ):
                raise _too_big("the repeated value")
    elif operator == "**":
        if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT and left not in (0, 1, -1):
            raise SecurityError(f"exponents above {MAX_EXPONENT} are not allowed in templates")
    elif operator == "%" and isinstance(left, str) and _WIDE.search(left):
        raise _too_big("the formatted value")


def check_format(text: str) -> None:
    """A ``.format``/``format`` string with a huge field width."""
    if _WIDE.search(text):
        raise _too_big("the formatted value")


def bounded(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a padding or replacing filter so its result is checked before it is built."""

    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        numbers = [a for a in (*args, *kwargs.values()) if isinstance(a, int)]
        if any(n > MAX_RENDER_CHARS for n in numbers):
            raise _too_big(f"the {name} filter's result")
        if name == "replace" and len(args) >= 2:
            text, old, new = str(value), str(args[0]), str(args[1])
            count = text.count(old) if old else len(text) + 1
            if len(text) + count * max(0, len(new) - len(old)) > MAX_RENDER_CHARS:
                raise _too_big("the replace filter's result")
        if name == "format":
            check_format(str(value))
        return original(value, *args, **kwargs)

    return wrapper


class BoundedSandbox(SandboxedEnvironment):
    """The sandbox, also refusing operators that would build huge values."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def format_string(self, s: str, args: Any, kwargs: Any, format_func: Any = None) -> str:
        check_format(s)
        return super().format_string(s, args, kwargs, format_func)


_BOUNDED_FILTERS = ("center", "indent", "replace", "format", "wordwrap", "truncate")


def bound_filters(env: SandboxedEnvironment) -> None:
    """Replace the padding and replacing filters by checked ones."""
    for name in _BOUNDED_FILTERS:
        env.filters[name] = bounded(name, env.filters[name])


__all__ = [
    "BoundedSandbox",
    "bound_filters",
    "MAX_RENDER_CHARS",
    "MAX_TEMPLATE_BYTES",
    "RENDER_SECONDS",
    "OutputTooLarge",
    "RenderTimeout",
    "bounded",
    "check_binop",
    "check_format",
    "collect",
    "render_bounded",
]
