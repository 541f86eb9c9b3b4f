"""Who a stored prospect is for ``preview``, and where their enrollment's thread stands.

The CLI plans touches with the pure ``core.planning.plan_touches``; this service reads
what that needs from the database in one read-only session, so a preview of an
enrollment made by filing threads onto the filed email exactly as the send path will.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sequencer.core.planning import ThreadState, prospect_mapping
from sequencer.db.models import Enrollment
from sequencer.db.prospects import enrollments_of_prospect, prospects_by_emails
from sequencer.db.session import Database
from sequencer.errors import NotFound


@dataclass(frozen=True)
class PreviewSubject:
    """A stored prospect as templates see it, the thread before its step 1, its variant key,
    and the mailbox its enrollment sends from (None when it is not enrolled)."""

    prospect: dict[str, Any]
    thread: ThreadState
    variant_key: str
    mailbox: str | None = None


def stored_prospect(db: Database, email: str, sequence_id: str) -> PreviewSubject:
    """The prospect ``email`` and its latest enrollment in ``sequence_id``, if any (read only).

    With an enrollment, variants are chosen by its token and it sends from its own
    mailbox, as the send path does; without one, variants follow the address, so the
    same prospect always previews the same copy.
    """
    key = email.strip().lower()
    with db.session() as s:
        found = prospects_by_emails(s, [key]).get(key)
        if found is None:
            raise NotFound(f"no prospect {email!r} in the database")
        mine = [e for e in enrollments_of_prospect(s, found.id) if e.sequence_id == sequence_id]
        prospect = prospect_mapping(found)
        if not mine:
            return PreviewSubject(prospect, ThreadState(), str(prospect["email"]))
        latest = mine[-1]
        return PreviewSubject(prospect, thread_before_step_one(latest), latest.token, latest.mailbox)


def thread_before_step_one(e: Enrollment) -> ThreadState:
    """The thread as step 1 of ``e`` saw (or will see) it: the filed email's for filing, else none."""
    refs = tuple(e.thread_refs or ())
    if e.steps_done == 0:
        return ThreadState(e.thread_subject, e.thread_root_id, e.last_message_id, refs)
    if e.source == "filing" and e.thread_root_id:
        root = e.thread_root_id
        before = refs[: refs.index(root) + 1] if root in refs else (root,)
        return ThreadState(e.thread_subject, root, root, before)
    return ThreadState()


__all__ = ["PreviewSubject", "stored_prospect", "thread_before_step_one"]
