"""One exception hierarchy for everything a user can meet.

The CLI maps ``UserError`` (bad input: fix your file or your command) to exit
code 2 and ``OperationalError`` (the world failed: a server, the database) to
exit code 1, each as a one-line message, never a traceback. Errors carry
structured fields so callers (tests, the web UI, ``--json``) need not parse
strings; ``str()`` always says what is wrong and where.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class SequencerError(Exception):
    """Root of every error sequencer raises on purpose."""


class UserError(SequencerError, ValueError):
    """Bad input from the user: a file, an argument, a row. Exit code 2."""


class OperationalError(SequencerError, RuntimeError):
    """A server, a network or the database failed. Exit code 1."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file, at one line (1-based; 0 when unknown)."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class ConfigError(UserError):
    """One or more problems in a YAML file (config or sequence), each with file:line."""

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, path: str | Path, line: int, message: str) -> ConfigError:
        return cls(Problem(str(path), line, message))


class SequenceError(ConfigError):
    """A sequence file is invalid."""


class TemplateError(UserError):
    """A template failed to load or render; names the template, line and variable."""

    def __init__(
        self, template: str, message: str, line: int | None = None, variable: str | None = None
    ) -> None:
        self.template = template
        self.line = line
        self.variable = variable
        self.message = message
        where = f"{template}:{line}" if line else template
        super().__init__(f"{where}: {message}")


class HeaderInjectionError(TemplateError):
    """A rendered header (subject) holds CR/LF or another control character."""


class InvalidAddress(UserError):
    """An email address is not valid."""


class NotFound(UserError):
    """A prospect, enrollment, sequence or mailbox the user named does not exist."""


class Suppressed(UserError):
    """The address (or its domain) is suppressed and may never be emailed."""


class AlreadyEnrolled(UserError):
    """The prospect is already active in that (or, without --allow-parallel, another) sequence."""


class IllegalTransition(UserError):
    """An enrollment cannot move from its current state to the requested one."""


class MailboxError(OperationalError):
    """An SMTP or IMAP server of a mailbox failed."""

    def __init__(self, mailbox: str, message: str) -> None:
        self.mailbox = mailbox
        super().__init__(f"mailbox {mailbox}: {message}")


class MailboxAuthError(MailboxError, PermissionError):
    """The server refused the mailbox's credentials; the mailbox is paused."""


class SecretError(UserError):
    """A password could not be obtained from its env var or command (never printed)."""


class DatabaseError(OperationalError):
    """The database is unreachable or its schema cannot be brought up to date."""
