"""Named queries of the inbox poller's own bookkeeping: folder cursors, the poll watermark,
stored verdicts.

Storing a verdict is idempotent on (mailbox, folder, UIDVALIDITY, UID), so re-polling the
same messages is harmless and a fixed bug can replay stored verdicts (``inbound retry``).
None of these commit: the caller's ``Database.session()`` does, when it closes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sequencer.db.models import (
    Enrollment,
    FolderState,
    InboundMessage,
    MailboxState,
    Message,
    Prospect,
)


def _insert(s: Session) -> Any:
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert


# --- folder cursors and the poll watermark ------------------------------------------------


def folder_cursor(s: Session, mailbox: str, folder: str) -> FolderState | None:
    return s.get(FolderState, (mailbox, folder))


def save_folder_cursor(
    s: Session,
    mailbox: str,
    folder: str,
    *,
    uidvalidity: int,
    last_uid: int,
    highestmodseq: int | None,
    now: datetime,
) -> None:
    """Record how far a poll read a folder: one upsert that only ever moves forward.

    Two workers polling the same folder both read "no cursor yet" on their first poll;
    a read-then-insert made the second one's whole store transaction fail on the primary
    key. And a slower poll finishing after a faster one must not move the cursor back
    (the next poll would fetch again what was already stored). So: ``INSERT .. ON
    CONFLICT DO UPDATE`` keeping the larger UID and mod-sequence, unless the server
    renumbered the folder (a new UIDVALIDITY), which starts over from the new cursor.
    """
    upsert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = FolderState.__table__
    stmt = upsert(table).values(
        mailbox=mailbox, folder=folder, uidvalidity=uidvalidity, last_uid=last_uid,
        highestmodseq=highestmodseq, last_poll_at=now,
    )
    new, old = stmt.excluded, table.c
    same = old.uidvalidity == new.uidvalidity

    def furthest(column: str) -> Any:
        kept, offered = old[column], new[column]
        return case((and_(same, kept.is_not(None), or_(offered.is_(None), kept > offered)), kept), else_=offered)

    s.execute(
        stmt.on_conflict_do_update(
            index_elements=[old.mailbox, old.folder],
            set_={
                "uidvalidity": new.uidvalidity,
                "last_uid": furthest("last_uid"),
                "highestmodseq": furthest("highestmodseq"),
                "last_poll_at": new.last_poll_at,
            },
        )
    )
    cached = s.identity_map.get(s.identity_key(FolderState, (mailbox, folder)))
    if cached is not None:  # a cursor this session read earlier is now stale
        s.expire(cached)


def record_poll(s: Session, mailbox: str, *, now: datetime | None, error: str | None) -> None:
    """The one writer of the poll watermark ``mailbox_state.last_poll_at``.

    A successful poll (``error=None``) passes ``now``: the moment before it fetched, so
    every message that landed before ``now`` has been read (and applied). Follow-ups due
    up to the watermark may go out (the reply race, ``db/outbox._poll_condition``). It only
    ever moves forward: a slower, older poll finishing late never lowers it. A failed
    poll passes ``error`` and leaves the watermark where it was.

    One ``UPDATE`` does the compare and the write, so it holds the row lock (PostgreSQL)
    or the write lock (SQLite) while it decides: two workers finishing polls at once
    cannot interleave. Does not commit.
    """
    if error is None and now is None:
        raise ValueError("a successful poll needs the time it read up to (now)")
    s.execute(_insert(s)(MailboxState).values(name=mailbox).on_conflict_do_nothing())
    mark = MailboxState.last_poll_at
    if error is None:
        polled = literal(now, type_=MailboxState.__table__.c.last_poll_at.type)
        values: dict[str, Any] = {
            "last_poll_at": case((or_(mark.is_(None), mark < polled), polled), else_=mark),
            "last_poll_error": None,
        }
    else:
        values = {"last_poll_error": error}
    s.execute(
        update(MailboxState)
        .where(MailboxState.name == mailbox)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


# --- storing verdicts (phase 1) ----------------------------------------------------------


def known_message_ids(
    s: Session, mailbox: str, folder: str, message_ids: Iterable[str]
) -> set[str]:
    """Message-IDs already stored for this folder (dedupes a rescan after UIDVALIDITY changed)."""
    ids = list({m for m in message_ids if m})
    if not ids:
        return set()
    rows = s.scalars(
        select(InboundMessage.message_id).where(
            InboundMessage.mailbox == mailbox,
            InboundMessage.folder == folder,
            InboundMessage.message_id.in_(ids),
        )
    )
    return set(rows)


_STORE: dict[str, Any] = {}  # dialect name -> the INSERT, built once (compiled once, cached)


def _store_statement(dialect: str) -> Any:
    """One INSERT ... ON CONFLICT DO NOTHING RETURNING id for the dialect, built once.

    Executed with a list of parameter sets (``insertmanyvalues``): SQLAlchemy compiles it
    once and batches the rows itself, where ``.values(rows)`` built and compiled a new
    statement with every row's values inlined for each chunk.
    """
    stmt = _STORE.get(dialect)
    if stmt is None:
        make = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            make(InboundMessage.__table__)
            .on_conflict_do_nothing(index_elements=["mailbox", "folder", "uidvalidity", "uid"])
            .returning(InboundMessage.__table__.c.id)
        )
        _STORE[dialect] = stmt
    return stmt


def store_inbound(s: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert verdict rows, skipping any whose (mailbox, folder, uidvalidity, uid) exists."""
    if not rows:
        return 0
    stmt = _store_statement(s.get_bind().dialect.name)
    return len(s.execute(stmt, [dict(r) for r in rows]).all())


# --- applying verdicts (phase 2) ---------------------------------------------------------


def pending_inbound(
    s: Session, mailbox: str, sent_folder: str | None, limit: int
) -> list[InboundMessage]:
    """Stored, not yet applied, not set aside; the Sent folder last so replies come first."""
    sent_last = (InboundMessage.folder == (sent_folder or "")).label("sent_last")
    return list(
        s.scalars(
            select(InboundMessage)
            .where(
                InboundMessage.mailbox == mailbox,
                InboundMessage.applied.is_(False),
                InboundMessage.error.is_(None),
            )
            .order_by(sent_last, InboundMessage.id)
            .limit(limit)
        )
    )


_T = InboundMessage.__table__
# Built once: per-message statements are executed with parameters only, so SQLAlchemy's
# compiled cache serves them (building one per message cost more than running it).
_TAKE = (
    update(_T)
    .where(_T.c.id == bindparam("row_id"), _T.c.applied.is_(False), _T.c.error.is_(None))
    .values(applied=True)
    .returning(_T.c.id)
)
_MARK = (
    update(_T)
    .where(_T.c.id == bindparam("row_id"))
    .values(applied=True, error=None, enrollment_id=bindparam("enrollment_id"))
)
_SET_ASIDE = (
    update(_T)
    .where(_T.c.id == bindparam("row_id"), _T.c.applied.is_(False))
    .values(error=bindparam("error"))
)


def take_for_apply(s: Session, row_id: int) -> bool:
    """Mark the row applied before its effect runs (same transaction); False when another
    poller applied it meanwhile, so the loser of that race does nothing at all.

    On PostgreSQL the UPDATE waits for the winner's row lock and then sees it applied.
    """
    return s.execute(_TAKE, {"row_id": row_id}).first() is not None


def take_many_for_apply(s: Session, row_ids: Sequence[int]) -> set[int]:
    """``take_for_apply`` for rows with no effect at all (own mail, unrelated), in one UPDATE.

    Returns the ids this poller took; the rest another poller applied meanwhile.
    """
    if not row_ids:
        return set()
    stmt = (
        update(_T)
        .where(_T.c.id.in_(bindparam("ids", expanding=True)))
        .where(_T.c.applied.is_(False), _T.c.error.is_(None))
        .values(applied=True)
        .returning(_T.c.id)
    )
    return set(s.scalars(stmt, {"ids": list(row_ids)}))


def mark_applied(s: Session, row_id: int, *, enrollment_id: int | None) -> None:
    s.execute(_MARK, {"row_id": row_id, "enrollment_id": enrollment_id})


def mark_many_applied(s: Session, pairs: Sequence[tuple[int, int | None]]) -> None:
    """``mark_applied`` for (row id, enrollment id) pairs, in one executemany."""
    if pairs:
        s.execute(_MARK, [{"row_id": r, "enrollment_id": e} for r, e in pairs])


def set_aside(s: Session, row_id: int, error: str) -> None:
    """Quarantine one message with its error; ``inbound retry`` puts it back."""
    s.execute(_SET_ASIDE, {"row_id": row_id, "error": error[:2000]})


def release_set_aside(s: Session, mailbox: str | None = None) -> int:
    """Clear the error of set-aside messages so the next apply phase retries them."""
    stmt = update(InboundMessage).where(
        InboundMessage.applied.is_(False), InboundMessage.error.is_not(None)
    )
    if mailbox:
        stmt = stmt.where(InboundMessage.mailbox == mailbox)
    result = s.execute(stmt.values(error=None).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- trust (bounces and complaints) -------------------------------------------------------


def touch_ids_sent_to_prospect(s: Session, prospect_id: int, refs: Sequence[str]) -> list[str]:
    """Those of ``refs`` that are Message-IDs of touches (or filed threads) we sent this prospect."""
    ids = [r for r in refs if r]
    if not ids:
        return []
    found = set(
        s.scalars(
            select(Message.message_id)
            .join(Enrollment, Enrollment.id == Message.enrollment_id)
            .where(Enrollment.prospect_id == prospect_id, Message.message_id.in_(ids))
        )
    )
    threads = s.execute(
        select(Enrollment.thread_root_id, Enrollment.last_message_id).where(
            Enrollment.prospect_id == prospect_id,
            or_(Enrollment.thread_root_id.in_(ids), Enrollment.last_message_id.in_(ids)),
        )
    ).all()
    for root, last in threads:
        found.update(x for x in (root, last) if x)
    return [r for r in ids if r in found]


def set_trust(s: Session, row_id: int, trust: str, details: Mapping[str, Any]) -> None:
    """Record the trust decision (and its evidence in ``details``) on one stored verdict."""
    s.execute(
        update(InboundMessage)
        .where(InboundMessage.id == row_id)
        .values(trust=trust, details=dict(details))
        .execution_options(synchronize_session=False)
    )


def complaints_for_mailbox(s: Session, mailbox: str, since: datetime) -> int:
    """Complaint reports received by this mailbox since ``since`` (a deliverability signal).

    Counted whatever their trust: a complaint about our mail is a warning about the mailbox
    even when it names nobody we can stop. Rejected ones (a person said it is bogus) are not.
    """
    return int(
        s.scalar(
            select(func.count(InboundMessage.id)).where(
                InboundMessage.mailbox == mailbox,
                InboundMessage.kind == "complaint",
                InboundMessage.received_at >= since,
                or_(InboundMessage.trust.is_(None), InboundMessage.trust != "rejected"),
            )
        )
        or 0
    )


def list_inbound(
    s: Session,
    *,
    kinds: Sequence[str] = (),
    mailbox: str | None = None,
    set_aside_only: bool = False,
    limit: int = 100,
    trust: str | None = None,
) -> list[tuple[InboundMessage, str | None]]:
    """Newest first, with the attributed prospect's address."""
    stmt = (
        select(InboundMessage, Prospect.email)
        .outerjoin(Enrollment, Enrollment.id == InboundMessage.enrollment_id)
        .outerjoin(Prospect, Prospect.id == Enrollment.prospect_id)
        .order_by(InboundMessage.id.desc())
        .limit(limit)
    )
    if kinds:
        stmt = stmt.where(InboundMessage.kind.in_(list(kinds)))
    if mailbox:
        stmt = stmt.where(InboundMessage.mailbox == mailbox)
    if set_aside_only:
        stmt = stmt.where(InboundMessage.error.is_not(None))
    if trust:
        stmt = stmt.where(InboundMessage.trust == trust)
    return [(row, email) for row, email in s.execute(stmt).all()]


def prospect_emails(s: Session, enrollment_ids: Iterable[int]) -> dict[int, str]:
    """enrollment id -> its prospect's address (the enrollment a held message would act on)."""
    ids = sorted(set(enrollment_ids))
    if not ids:
        return {}
    stmt = (
        select(Enrollment.id, Prospect.email)
        .join(Prospect, Prospect.id == Enrollment.prospect_id)
        .where(Enrollment.id.in_(ids))
    )
    return {eid: email for eid, email in s.execute(stmt).all()}


__all__ = [
    "complaints_for_mailbox",
    "folder_cursor",
    "known_message_ids",
    "list_inbound",
    "mark_applied",
    "mark_many_applied",
    "pending_inbound",
    "prospect_emails",
    "record_poll",
    "release_set_aside",
    "save_folder_cursor",
    "set_aside",
    "set_trust",
    "store_inbound",
    "touch_ids_sent_to_prospect",
]
