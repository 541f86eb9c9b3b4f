"""Who commits: one rule for every service that changes or reads state.

A service takes ``target: Session | Database``. A ``Session`` joins the caller's
transaction: the caller commits or rolls back, so several services can make one
change together. A ``Database`` gives the call one transaction of its own: the
service commits on success and rolls back on an error. ``unit_of_work`` is that choice in one place
instead of in every service; ``reading`` is its read-only twin, which on a Database
opens a read session that never commits and takes no write lock on SQLite.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from sqlalchemy.orm import Session

from sequencer.db.session import Database


def unit_of_work(target: Session | Database) -> AbstractContextManager[Session]:
    """A Session is used as is (the caller commits); a Database gets one transaction that
    commits when the block ends without an exception."""
    return nullcontext(target) if isinstance(target, Session) else target.session()


def reading(target: Session | Database) -> AbstractContextManager[Session]:
    """For services that only read: a Session is used as is; a Database opens a read session."""
    return nullcontext(target) if isinstance(target, Session) else target.read_session()
