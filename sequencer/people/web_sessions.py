"""Dashboard sessions kept server side, and login throttling counted in the database.

The cookie carries a random secret; the database keeps its SHA-256 with the user, so
logout, a new password or ``sequencer user disable`` end a session at once, and a
copied cookie is worth nothing after that. A session also ends after ``idle`` without
use and ``absolute`` after login, whichever comes first.

Throttling charges an attempt to the account and to the client address *before* the
password is checked, in one locked row each, so parallel guesses from several workers
queue up: the first ``backoff_after`` failures are free, then each waits twice as long
as the last (1 s, 2 s, 4 s, ...), and ``lock_after`` failures lock for ``lock``. A
success clears the account's counter; a quiet spell of ``lock`` clears any counter.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sequencer.db import users as q
from sequencer.db.session import Database
from sequencer.people.users import Viewer, viewer_of

TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often per session


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open_session(db: Database, viewer: Viewer, *, now: datetime) -> str:
    """A new session for ``viewer``; returns the secret for the cookie (never stored)."""
    secret = secrets.token_urlsafe(32)
    with db.session() as s:
        q.add_session(s, digest=_digest(secret), user_id=viewer.user_id, name=viewer.name, now=now)
    return secret


def load_session(
    db: Database,
    secret: str,
    *,
    now: datetime,
    idle: timedelta,
    absolute: timedelta,
    bootstrap: bool,
) -> Viewer | None:
    """The viewer of a live session, else None (unknown, revoked, timed out, user disabled,
    or a bootstrap session once real managers exist)."""
    digest = _digest(secret)
    with db.read_session() as s:
        found = q.session_with_user(s, digest)
        if found is None:
            return None
        ws, user = found
        if ws.revoked_at is not None or now - ws.created_at >= absolute or now - ws.last_seen_at >= idle:
            return None
        if user is None:
            viewer = Viewer(name=ws.name, role="manager") if bootstrap else None
        else:
            viewer = viewer_of(user) if user.disabled_at is None else None
        stale = now - ws.last_seen_at >= TOUCH_EVERY
    if viewer is not None and stale:
        with db.session() as s:
            found = q.session_with_user(s, digest)
            if found:
                found[0].last_seen_at = now
    return viewer


def close_session(db: Database, secret: str, *, now: datetime) -> None:
    with db.session() as s:
        q.revoke_session(s, _digest(secret), now)


@dataclass(frozen=True)
class Throttle:
    backoff_after: int = 5
    lock_after: int = 20
    lock: timedelta = timedelta(minutes=15)

    def wait_after(self, failures: int) -> timedelta:
        """How long the next attempt must wait after ``failures`` charged attempts."""
        if failures >= self.lock_after:
            return self.lock
        if failures < self.backoff_after:
            return timedelta(0)
        return min(self.lock, timedelta(seconds=2 ** (failures - self.backoff_after)))


def charge_attempt(db: Database, keys: list[str], throttle: Throttle, *, now: datetime) -> int | None:
    """Charge a login attempt to every key; the seconds to wait when one of them is throttled
    (nothing is charged then), else None (go on and check the password)."""
    with db.session() as s:
        rows = [q.lock_throttle(s, key, now) for key in sorted(set(keys))]
        for row in rows:
            if row.next_allowed_at is None and now - row.last_attempt_at >= throttle.lock:
                row.failures = 0  # a quiet spell forgives
            elif row.next_allowed_at is not None and now - row.next_allowed_at >= throttle.lock:
                row.failures = 0
        waits = [row.next_allowed_at - now for row in rows if row.next_allowed_at and row.next_allowed_at > now]
        if waits:
            return max(1, math.ceil(max(waits).total_seconds()))
        for row in rows:
            row.failures += 1
            row.last_attempt_at = now
            wait = throttle.wait_after(row.failures)
            row.next_allowed_at = now + wait if wait else None
    return None


def succeeded(
    db: Database, *, clear: str, refund: list[str], throttle: Throttle, now: datetime
) -> None:
    """A successful login clears the account's counter and takes back the attempt charged
    to the address (whose earlier failures still count: they may be guesses at others)."""
    with db.session() as s:
        q.clear_throttle(s, clear)
        for key in refund:
            row = q.lock_throttle(s, key, now)
            row.failures = max(0, row.failures - 1)
            wait = throttle.wait_after(row.failures)
            row.next_allowed_at = row.last_attempt_at + wait if wait else None
