"""Dashboard users: who may log in, with which role, and which leads they may see.

A manager sees and acts on every lead; a rep only on leads whose owner is their rep
name (the dashboard applies that filter server side, ``Viewer.owner``). Passwords are
hashed with argon2id (argon2-cffi's PasswordHasher, re-hashed at login when its
parameters change); API tokens are random and only their SHA-256 is stored. The
shared password or token of ``web:`` stays the bootstrap manager until an enabled
manager exists. Every change commits; ``now`` is a parameter.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from sequencer.core.addresses import normalize
from sequencer.db import users as q
from sequencer.db.models import User
from sequencer.db.session import Database
from sequencer.errors import NotFound, UserError

ROLES = ("manager", "rep")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,59}$")
MIN_PASSWORD = 10
TOKEN_PREFIX = "sqt_"
_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the dashboard. ``owner`` is the only leads they may see (None: all)."""

    name: str
    role: str
    rep: str | None = None
    user_id: int | None = None  # None: the bootstrap manager or the no-login loopback mode

    @property
    def owner(self) -> str | None:
        return self.rep if self.role == "rep" else None

    @property
    def actor(self) -> str:
        return f"web:{self.name}"


def viewer_of(user: User) -> Viewer:
    return Viewer(name=user.name, role=user.role, rep=user.rep, user_id=user.id)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def add_user(
    db: Database,
    name: str,
    *,
    role: str,
    rep: str | None,
    password: str | None,
    now: datetime,
) -> Viewer:
    if not NAME.match(name):
        raise UserError(
            f"user name {name!r}: use 1-60 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if role == "manager" and rep:
        raise UserError("--rep is for reps: a manager sees every lead")
    rep = (rep or name).strip() if role == "rep" else None
    hashed = _check_password(password) if password else None
    with db.session() as s:
        if q.user_by_name(s, name) is not None:
            raise UserError(f"there is already a user {name!r}")
        return viewer_of(
            q.add_user(s, name=name, role=role, rep=rep, password_hash=hashed, now=now)
        )


@dataclass(frozen=True)
class UserRow:
    name: str
    role: str
    rep: str | None
    disabled: bool
    has_password: bool
    created_at: datetime


def list_users(db: Database) -> list[UserRow]:
    with db.read_session() as s:
        return [
            UserRow(u.name, u.role, u.rep, u.disabled_at is not None, bool(u.password_hash), u.created_at)
            for u in q.users(s)
        ]


def _user(s: Session, name: str) -> User:
    user = q.user_by_name(s, name)
    if user is None:
        raise NotFound(f"no user {name!r} (see `sequencer user list`)")
    return user


def disable_user(db: Database, name: str, *, now: datetime) -> int:
    """Disable the login and end its sessions and tokens at once; returns sessions ended."""
    with db.session() as s:
        user = _user(s, name)
        user.disabled_at = user.disabled_at or now
        user.updated_at = now
        q.revoke_tokens(s, user.id, now)
        return q.revoke_user_sessions(s, user.id, now)


def enable_user(db: Database, name: str, *, now: datetime) -> None:
    with db.session() as s:
        user = _user(s, name)
        user.disabled_at = None
        user.updated_at = now


def set_password(db: Database, name: str, password: str, *, now: datetime) -> int:
    """A new password ends every session of the user; returns how many were ended."""
    hashed = _check_password(password)
    with db.session() as s:
        user = _user(s, name)
        user.password_hash = hashed
        user.updated_at = now
        return q.revoke_user_sessions(s, user.id, now)


def new_token(db: Database, name: str, *, label: str | None, now: datetime) -> str:
    """A fresh API token for scripts; shown once, only its digest is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.session() as s:
        user = _user(s, name)
        q.add_token(s, user, digest=token_digest(token), label=label, now=now)
    return token


def revoke_tokens(db: Database, name: str, *, now: datetime) -> int:
    with db.session() as s:
        return q.revoke_tokens(s, _user(s, name).id, now)


def authenticate(db: Database, name: str, password: str, *, now: datetime) -> Viewer | None:
    """The enabled user with this name and password (re-hashed when outdated), else None."""
    with db.session() as s:
        user = q.user_by_name(s, name) if name else None
        encoded = user.password_hash if user and user.password_hash else _DUMMY_HASH
        try:
            _hasher.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if user is None or not user.password_hash or user.disabled_at is not None:
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
            user.updated_at = now
        return viewer_of(user)


def by_token(db: Database, token: str, *, now: datetime) -> Viewer | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    with db.session() as s:
        user = q.user_by_token(s, token_digest(token), now)
        return viewer_of(user) if user and user.disabled_at is None else None


def by_name(db: Database, name: str) -> Viewer | None:
    """The enabled user a trusted SSO header names, else None."""
    with db.read_session() as s:
        user = q.user_by_name(s, name)
        return viewer_of(user) if user and user.disabled_at is None else None


def may_act_on(db: Database, viewer: Viewer, enrollment_id: int) -> bool:
    """A rep may act on an enrollment they own or whose prospect they own; a manager on any."""
    if viewer.owner is None:
        return True
    with db.read_session() as s:
        owners = q.enrollment_owners(s, enrollment_id)
    return owners is not None and viewer.owner in owners


def may_act_on_prospect(db: Database, viewer: Viewer, email: str) -> bool:
    """A rep may act on a prospect they own or one of whose enrollments they own."""
    if viewer.owner is None:
        return True
    with db.read_session() as s:
        owners = q.prospect_owners(s, normalize(email))
    return owners is not None and viewer.owner in owners


@dataclass(frozen=True)
class Mode:
    """Which logins the dashboard takes right now (read per request: users come and go)."""

    users: bool  # any user exists: a login is required even without a shared secret
    bootstrap: bool  # no enabled manager: the shared password/token is the manager


def mode(db: Database) -> Mode:
    with db.read_session() as s:
        return Mode(users=q.any_user_exists(s), bootstrap=not q.enabled_manager_exists(s))
