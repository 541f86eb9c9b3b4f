"""YAML loading that remembers where every value came from.

PyYAML's ``safe_load`` forgets positions, so validation errors could only say
"somewhere in the file". We compose the node tree once and build both the
plain Python data and a map from each key path to its 1-based line, so a
pydantic error at ``("mailboxes", 0, "smtp", "port")`` becomes ``file:17``.
Duplicate keys, which PyYAML silently accepts, are reported too.

Files are written by people but read by every command and the worker, so a hostile
or broken one must fail fast rather than hang them: a file over ``MAX_YAML_BYTES``
is refused before it is read, and a document whose aliases expand to more than
``MAX_YAML_VALUES`` values (the "billion laughs" bomb: 600 bytes that expand to
billions of values) is refused while it is being expanded, so the cost is bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sequencer.errors import ConfigError, Problem

PathKey = tuple[str | int, ...]

MAX_YAML_BYTES = 1_000_000
MAX_YAML_VALUES = 200_000


@dataclass
class Located:
    """Parsed YAML plus a line lookup for any key path inside it."""

    path: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)
    duplicates: list[Problem] = field(default_factory=list)
    values: int = 0

    def line_of(self, loc: Sequence[str | int]) -> int:
        """Line of the deepest known prefix of ``loc`` (pydantic locs may go deeper)."""
        key = tuple(loc)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), 1)


def _walk(node: yaml.Node, loader: yaml.SafeLoader, prefix: PathKey, out: Located) -> Any:
    out.values += 1
    if out.values > MAX_YAML_VALUES:
        raise ConfigError.at(
            out.path, node.start_mark.line + 1,
            f"the document expands to more than {MAX_YAML_VALUES:,} values "
            "(aliases nested too deeply: an alias bomb?)",
        )
    out.lines.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                raise ConfigError.at(out.path, key_node.start_mark.line + 1, "a key must be a plain value")
            if key in result:
                out.duplicates.append(
                    Problem(out.path, key_node.start_mark.line + 1, f"duplicate key {key!r}")
                )
            key_path = (*prefix, str(key) if not isinstance(key, int) else key)
            out.lines[key_path] = key_node.start_mark.line + 1
            result[key] = _walk(value_node, loader, key_path, out)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, loader, (*prefix, i), out) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_yaml(text: str, path: str | Path) -> Located:
    """Parse ``text`` (the contents of ``path``); syntax errors become ConfigError with file:line."""
    out = Located(path=str(path), data=None)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        out.data = {} if node is None else _walk(node, loader, (), out)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        msg = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ConfigError.at(path, line, f"invalid YAML: {msg}") from None
    except yaml.YAMLError as exc:
        raise ConfigError.at(path, 0, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError.at(path, 0, "invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()
    return out


def read_yaml_text(p: Path) -> str:
    """The file's text, refusing files over MAX_YAML_BYTES before reading them."""
    try:
        size = p.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError.at(
                p, 0, f"file is {size:,} bytes, more than the limit of {MAX_YAML_BYTES:,}"
            )
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError.at(p, 0, "file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError.at(p, 0, f"not UTF-8 text ({exc.reason})") from None


def load_yaml_file(path: str | Path) -> Located:
    p = Path(path)
    return load_yaml(read_yaml_text(p), p)


# a list's items as a person counts them: ``steps.0`` is "step 1", as preview and messages say
LIST_ITEM = {"steps": "step", "variants": "variant", "mailboxes": "mailbox"}
PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def dotted(loc: Sequence[str | int]) -> str:
    """A location in a YAML document for a message: ``step 2.wait``, ``mailbox 1.smtp.port``."""
    out: list[str] = []
    for part in loc:
        if isinstance(part, int):
            key = out.pop() if out else ""
            out.append(f"{LIST_ITEM.get(key, (key + ' item').strip())} {part + 1}")
        else:
            out.append(str(part))
    return ".".join(out) or "(top level)"


def _keys_at(model: type | None, loc: Sequence[str | int]) -> list[str]:
    """The keys a pydantic model accepts at ``loc`` (for "did you mean"); [] when unknown."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        current = _model_in(fields[part].annotation)
    fields = getattr(current, "model_fields", None) or {}
    return [info.alias or name for name, info in fields.items() if not name.startswith("_")]


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside ``X | None``, ``list[X]`` or ``dict[str, X]``, if any."""
    if hasattr(annotation, "model_fields"):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def pydantic_problems(
    located: Located, exc: Exception, prefix: PathKey = (), model: type | None = None
) -> list[Problem]:
    """Turn a pydantic ValidationError into file:line problems, one per error.

    Locations count list items from 1 (``step 1``), pydantic's own wording ("Value
    error, ...") is dropped, and an unknown key gets the closest known one of ``model``
    as a suggestion.
    """
    from difflib import get_close_matches

    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return [Problem(located.path, 0, str(exc))]
    problems = []
    for err in exc.errors(include_url=False):
        loc = (*prefix, *err["loc"])
        where = dotted(loc)
        msg = err["msg"]
        for noise in PYDANTIC_PREFIXES:
            msg = msg.removeprefix(noise)
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            msg = f"unknown key {key!r}"
            close = get_close_matches(key, _keys_at(model, err["loc"][:-1]), n=1, cutoff=0.6)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
            where = dotted(loc[:-1])
        elif err["type"] == "missing":
            msg = f"missing required key {str(loc[-1])!r}"
            where = dotted(loc[:-1])
        line = located.line_of(loc)
        problems.append(Problem(located.path, line, f"{where}: {msg}"))
    return problems


def load_yaml_file_recovering(path: str | Path, max_errors: int = 10) -> tuple[Located, list[Problem]]:
    """Like load_yaml_file, but keeps going past syntax errors.

    Each syntax error is recorded, its line blanked out, and the text parsed
    again, so one bad indentation does not hide the unknown key further down.
    """
    p = Path(path)
    text = read_yaml_text(p)
    lines = text.splitlines()
    syntax: list[Problem] = []
    for _ in range(max_errors):
        try:
            return load_yaml("\n".join(lines) + "\n", p), syntax
        except ConfigError as exc:
            problem = exc.problems[0]
            syntax.append(problem)
            if not (1 <= problem.line <= len(lines)) or not lines[problem.line - 1].strip():
                break
            lines[problem.line - 1] = ""
    return Located(path=str(p), data={}), syntax
