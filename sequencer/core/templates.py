"""Touch templates: sandboxed Jinja, strict about missing data, cached for speed.

Template file format (``templates/<name>.txt``; the name is the path without ``.txt``)::

    ---
    subject: Your quote for {{ company }}
    ---
    Hi {{ first_name | default("there") }},

    Plain-text body ...
    --- html ---
    <p>Optional HTML body ...</p>

* The front matter (between the first two ``---`` lines) is optional and only knows
  ``subject:``. It is read line by line, not as YAML, so ``{{ ... }}`` needs no quoting.
* Everything after the front matter is the plain-text body, up to an optional line that
  is exactly ``--- html ---``; what follows is the HTML body. The HTML body is
  autoescaped, the text body is not (it is not HTML, escaping would show ``&amp;``).
* A missing variable is an error naming the template, line and variable rather than
  an empty string: a follow-up saying "Hi ," is worse than one not sent. Use
  ``{{ x | default("...") }}`` or ``{% if x is defined %}`` for optional fields.

Templates run in Jinja's sandbox because they are written by sales ops, not
developers; an attempt to reach Python internals is a TemplateError, not an exploit.
A render is also bounded in time and output size (``render_limits``), and template
files over ``MAX_TEMPLATE_BYTES`` are refused, so a bad template fails ``validate``
with its name and line instead of hanging it or the worker.
What a template sees (``build_context``) and what it needs (``required_variables``)
live in ``template_context``.
Line numbers in errors are the file's own lines: each part is compiled with a
leading Jinja comment that spans the lines before it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from sequencer.core.render_limits import (
    MAX_RENDER_CHARS,
    MAX_TEMPLATE_BYTES,
    RENDER_SECONDS,
    BoundedSandbox,
    OutputTooLarge,
    RenderTimeout,
    bound_filters,
    render_bounded,
)
from sequencer.errors import HeaderInjectionError, TemplateError

TEMPLATE_SUFFIX = ".txt"
HTML_SEPARATOR = "--- html ---"
FRONT_MATTER_KEYS = frozenset({"subject"})

_HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam"})
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class RenderedTouch:
    """One rendered touch. ``subject`` is None when the template has none (in-thread replies)."""

    subject: str | None
    text: str
    html: str | None


def first_name(full_name: Any) -> str:
    """"Dana K. Whitfield" -> "Dana"; "Whitfield, Dana" -> "Dana"; "Dr. Dana Lee" -> "Dana".

    ALL-CAPS or all-lowercase names (common in CRM exports) are title-cased, since
    "Hi DANA" reads like shouting; mixed case ("McKenzie", "DeShawn") is kept.
    """
    text = str(full_name or "").strip()
    if "," in text:
        text = text.split(",", 1)[1].strip() or text.split(",", 1)[0].strip()
    words = [w for w in text.split() if w.strip(".").lower() not in _HONORIFICS] or text.split()
    if not words:
        return ""
    word = words[0]
    return word.capitalize() if word.isupper() or word.islower() else word


def last_name(full_name: Any) -> str:
    """"Dana K. Whitfield" -> "Whitfield"; "Whitfield, Dana" -> "Whitfield"."""
    text = str(full_name or "").strip()
    if "," in text:
        return text.split(",", 1)[0].strip()
    words = text.split()
    return words[-1] if len(words) > 1 else ""


def money(value: Any, symbol: str = "$", decimals: int = 0) -> str:
    """12500 -> "$12,500"; non-numbers are shown as given rather than breaking the email."""
    try:
        number = float(str(value).replace(",", ""))
    except (TypeError, ValueError):
        return str(value)
    return f"{symbol}{number:,.{decimals}f}"


def nl2br(value: Any) -> Markup:
    """Escape, then turn newlines into <br>: for multi-line signatures in HTML bodies."""
    return Markup("<br>\n").join(escape(line) for line in str(value).splitlines())


def make_environment() -> SandboxedEnvironment:
    env = BoundedSandbox(
        undefined=StrictUndefined,
        autoescape=lambda name: bool(name and name.endswith("#html")),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters.update(first_name=first_name, last_name=last_name, money=money, nl2br=nl2br)
    bound_filters(env)
    return env


@dataclass(frozen=True)
class _Part:
    """One piece of a template file with the file line it starts on (1-based)."""

    source: str
    line: int


@dataclass(frozen=True)
class _TemplateFile:
    subject: _Part | None
    text: _Part
    html: _Part | None


def parse_template_file(source: str, name: str) -> _TemplateFile:
    """Split a template file into subject, text and html parts, keeping line numbers."""
    lines = source.splitlines(keepends=True)
    subject: _Part | None = None
    body_start = 0
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            stripped = lines[i].strip()
            if stripped == "---":
                body_start = i + 1
                break
            if not stripped or stripped.startswith("#"):
                continue
            key, sep, value = stripped.partition(":")
            key = key.strip().lower()
            if not sep or key not in FRONT_MATTER_KEYS:
                raise TemplateError(
                    name, f"unknown front matter line {stripped!r}; only 'subject: ...' is allowed, "
                    "and the front matter ends with a '---' line", i + 1
                )
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            subject = _Part(value, i + 1)
        else:
            raise TemplateError(name, "front matter opened with '---' is never closed", 1)
    html: _Part | None = None
    text_end = len(lines)
    for i in range(body_start, len(lines)):
        if lines[i].strip() == HTML_SEPARATOR:
            text_end = i
            html = _Part("".join(lines[i + 1:]), i + 2)
            break
    text = _Part("".join(lines[body_start:text_end]), body_start + 1)
    return _TemplateFile(subject, text, html)


@dataclass
class _Compiled:
    stamp: tuple[int, int]
    path: Path
    subject: Template | None
    text: Template
    html: Template | None
    parts: _TemplateFile


class TemplateStore:
    """Templates under one directory, compiled once and re-read only when a file changes.

    Rendering the same template 100k times costs one ``stat`` per render plus Jinja's
    own rendering; edits made while a worker runs take effect on the next touch.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.env = make_environment()
        self._cache: dict[str, _Compiled] = {}
        self._strings: dict[tuple[str, str, int], Template] = {}

    def path_of(self, name: str) -> Path:
        """File of a template name (``quote/01-sent`` -> ``<dir>/quote/01-sent.txt``)."""
        relative = name if name.endswith(TEMPLATE_SUFFIX) else name + TEMPLATE_SUFFIX
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise TemplateError(name, "template names are paths inside the templates directory")
        return self.directory / relative

    def exists(self, name: str) -> bool:
        try:
            return self.path_of(name).is_file()
        except TemplateError:
            return False

    def names(self) -> list[str]:
        """All template names under the directory, sorted."""
        return sorted(
            p.relative_to(self.directory).with_suffix("").as_posix()
            for p in self.directory.rglob("*" + TEMPLATE_SUFFIX)
        )

    def _load(self, name: str) -> _Compiled:
        path = self.path_of(name)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise TemplateError(name, f"template not found (looked for {path})") from None
        if st.st_size > MAX_TEMPLATE_BYTES:
            raise TemplateError(
                name, f"template file is {st.st_size:,} bytes, more than the limit of "
                f"{MAX_TEMPLATE_BYTES:,}"
            )
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(name)
        if cached is not None and cached.stamp == stamp:
            return cached
        try:
            source = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise TemplateError(name, f"not UTF-8 text ({exc.reason})") from None
        parts = parse_template_file(source, name)
        filename = str(path)
        compiled = _Compiled(
            stamp=stamp,
            path=path,
            subject=self._compile(parts.subject, name, "subject", filename) if parts.subject else None,
            text=self._compile(parts.text, name, "text", filename),
            html=self._compile(parts.html, name, "html", filename) if parts.html else None,
            parts=parts,
        )
        self._cache[name] = compiled
        return compiled

    def _compile(self, part: _Part, name: str, kind: str, filename: str) -> Template:
        padded = _pad(part)
        try:
            code = self.env.compile(padded, name=f"{name}#{kind}", filename=filename)
        except TemplateSyntaxError as exc:
            raise TemplateError(name, f"syntax error: {exc.message}", exc.lineno) from None
        return self.env.template_class.from_code(self.env, code, self.env.make_globals(None))

    def compile_string(self, source: str, origin: str, line: int) -> Template:
        """Compile a template string found elsewhere (a step's ``subject:`` in a sequence file).

        ``origin`` and ``line`` are where the string lives, so errors point there.
        """
        key = (source, origin, line)
        template = self._strings.get(key)
        if template is None:
            template = self._compile(_Part(source, line), origin, "subject", origin)
            self._strings[key] = template
        return template

    def parsed(self, name: str) -> list[tuple[str, nodes.Template]]:
        """Jinja ASTs of every part of a template, as (subject|text|html, ast)."""
        compiled = self._load(name)
        parts = (("subject", compiled.parts.subject), ("text", compiled.parts.text),
                 ("html", compiled.parts.html))
        return [(kind, self.env.parse(_pad(p))) for kind, p in parts if p is not None]

    def has_subject(self, name: str) -> bool:
        return self._load(name).subject is not None


def _pad(part: _Part) -> str:
    # A comment spanning (line - 1) newlines renders as nothing but makes Jinja's
    # line numbers equal the file's.
    if part.line <= 1:
        return part.source
    return "{#" + "\n" * (part.line - 1) + "#}" + part.source


def _error_line(exc: BaseException, filename: str | None) -> int | None:
    """Template line of a render error: Jinja rewrites tracebacks to template frames."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if filename is not None and tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


_UNDEFINED_RE = re.compile(r"^'([^']+)' is undefined$")
_NO_ATTR_RE = re.compile(r"has no attribute '([^']+)'$")


def _render(template: Template, context: Mapping[str, Any], name: str) -> str:
    try:
        return render_bounded(lambda: template.generate(context))
    except RenderTimeout as exc:
        raise TemplateError(
            name, f"rendering took longer than {RENDER_SECONDS:g} s (a loop too large?)",
            _error_line(exc, template.filename),
        ) from None
    except OutputTooLarge as exc:
        raise TemplateError(
            name, f"the rendered text is larger than {MAX_RENDER_CHARS:,} characters",
            _error_line(exc, template.filename),
        ) from None
    except SecurityError as exc:
        raise TemplateError(
            name, f"blocked by the template sandbox: {exc}; templates may only use their variables",
            _error_line(exc, template.filename),
        ) from None
    except UndefinedError as exc:
        message = str(exc)
        m = _UNDEFINED_RE.match(message) or _NO_ATTR_RE.search(message)
        variable = m.group(1) if m else None
        hint = f'; add it to the prospect or write {{{{ {variable} | default("...") }}}}' if variable and _UNDEFINED_RE.match(message) else ""
        raise TemplateError(
            name, f"missing variable: {message}{hint}", _error_line(exc, template.filename), variable
        ) from None
    except JinjaTemplateError as exc:
        raise TemplateError(name, f"render error: {exc}", _error_line(exc, template.filename)) from None
    except Exception as exc:  # a filter called with bad data, a division by zero ...
        raise TemplateError(
            name, f"render error: {type(exc).__name__}: {exc}", _error_line(exc, template.filename)
        ) from None


def render_subject(template: Template, context: Mapping[str, Any], name: str, line: int | None) -> str:
    """Render a subject: one line, no control characters (it becomes a mail header)."""
    subject = _render(template, context, name).strip()
    bad = _CONTROL_CHARS.search(subject)
    if bad:
        raise HeaderInjectionError(
            name, f"subject contains a control character {bad.group()!r} (CR/LF would inject headers)",
            line,
        )
    if not subject:
        raise TemplateError(name, "subject rendered empty", line)
    return subject


def render_touch(
    store: TemplateStore, template_name: str, context: Mapping[str, Any], *,
    subject: str | None = None, subject_origin: str = "sequence", subject_line: int = 0,
    include_subject: bool = True,
) -> RenderedTouch:
    """Render one template. ``subject``, when given, is the step's own subject (Jinja too)
    and wins over the template's front matter; ``subject_origin``/``subject_line`` say
    where it was written so errors point at the sequence file. ``include_subject=False``
    skips the subject entirely (in-thread replies, whose subject is ``Re: ...``).
    """
    compiled = store._load(template_name)
    subject_text: str | None = None
    if not include_subject:
        pass
    elif subject is not None:
        tpl = store.compile_string(subject, subject_origin, subject_line)
        subject_text = render_subject(tpl, context, subject_origin, subject_line or None)
    elif compiled.subject is not None and compiled.parts.subject is not None:
        subject_text = render_subject(
            compiled.subject, context, template_name, compiled.parts.subject.line
        )
    text = _render(compiled.text, context, template_name).strip("\n") + "\n"
    html = None
    if compiled.html is not None:
        html = _render(compiled.html, context, template_name).strip("\n") + "\n"
    return RenderedTouch(subject_text, text, html)
