"""Named queries of dashboard users, their tokens and sessions, and the login throttle.

Nothing here commits: the caller's session does. The throttle row is locked for the
caller's transaction (as the mailbox pacing row is), so several web workers charging
attempts to the same account or address queue up instead of all slipping past.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sequencer.db.models import ApiToken, Enrollment, LoginThrottle, Prospect, User, WebSession


def user_by_name(s: Session, name: str) -> User | None:
    return s.scalar(select(User).where(func.lower(User.name) == name.lower()))


def users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.name)))


def add_user(
    s: Session, *, name: str, role: str, rep: str | None, password_hash: str | None, now: datetime
) -> User:
    user = User(
        name=name, role=role, rep=rep, password_hash=password_hash, created_at=now, updated_at=now
    )
    s.add(user)
    s.flush()
    return user


def enabled_manager_exists(s: Session) -> bool:
    found = s.scalar(
        select(User.id).where(User.role == "manager", User.disabled_at.is_(None)).limit(1)
    )
    return found is not None


def any_user_exists(s: Session) -> bool:
    return s.scalar(select(User.id).limit(1)) is not None


# -- tokens ---------------------------------------------------------------------------------
def add_token(s: Session, user: User, *, digest: str, label: str | None, now: datetime) -> None:
    s.add(ApiToken(user_id=user.id, digest=digest, label=label, created_at=now))
    s.flush()


def user_by_token(s: Session, digest: str, now: datetime) -> User | None:
    row = s.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.digest == digest, ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    token, user = row
    token.last_used_at = now
    return user


def revoke_tokens(s: Session, user_id: int, now: datetime) -> int:
    result = s.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


# -- sessions --------------------------------------------------------------------------------
def add_session(
    s: Session, *, digest: str, user_id: int | None, name: str, now: datetime
) -> None:
    s.add(WebSession(id=digest, user_id=user_id, name=name, created_at=now, last_seen_at=now))
    s.flush()


def session_with_user(s: Session, digest: str) -> tuple[WebSession, User | None] | None:
    ws = s.get(WebSession, digest)
    if ws is None:
        return None
    return ws, (s.get(User, ws.user_id) if ws.user_id is not None else None)


def revoke_session(s: Session, digest: str, now: datetime) -> None:
    s.execute(
        update(WebSession)
        .where(WebSession.id == digest, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_user_sessions(s: Session, user_id: int, now: datetime) -> int:
    result = s.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


# -- throttle --------------------------------------------------------------------------------
def lock_throttle(s: Session, key: str, now: datetime) -> LoginThrottle:
    """The counter for ``key``, created if missing and locked for this transaction."""
    row = s.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    if row is None:
        if s.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        s.execute(
            insert(LoginThrottle)
            .values(key=key, failures=0, last_attempt_at=now)
            .on_conflict_do_nothing()
        )
        row = s.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def clear_throttle(s: Session, key: str) -> None:
    s.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key)
        .values(failures=0, next_allowed_at=None)
    )


def prospect_owners(s: Session, email: str) -> set[str | None] | None:
    """The prospect's owner and every owner of its enrollments; None when there is no such prospect."""
    prospect = s.execute(select(Prospect.id, Prospect.owner).where(Prospect.email == email)).first()
    if prospect is None:
        return None
    rows = s.execute(select(Enrollment.owner).where(Enrollment.prospect_id == prospect[0])).scalars()
    return {prospect[1], *rows}


def enrollment_owners(s: Session, enrollment_id: int) -> tuple[str | None, str | None] | None:
    """(enrollment owner, prospect owner) of an enrollment, None when there is none."""
    row = s.execute(
        select(Enrollment.owner, Prospect.owner)
        .join(Prospect, Prospect.id == Enrollment.prospect_id)
        .where(Enrollment.id == enrollment_id)
    ).first()
    return (row[0], row[1]) if row else None
