"""Which enrollment an inbound message is about, and which touch it answers.

Phase 2 of the inbox poller asks this first for every classified message (reply,
auto-reply, bounce, unsubscribe); the answer says what the effect applies to
(``inbound/effects.py``) and how we know, which the timeline records. Read-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from sqlalchemy.orm import Session

from sequencer.db import attribution as q
from sequencer.db.models import Enrollment, InboundMessage, Message
from sequencer.inbound.context import ApplyContext

RECENTLY_FINISHED = timedelta(days=30)  # sender attribution also looks at these


def evidence(row: InboundMessage) -> list[str]:
    """Every Message-ID the message carries that could name one of our touches."""
    refs = [*(row.returned_refs or []), *(row.thread_refs or []), *(row.refs or [])]
    return list(dict.fromkeys(r for r in refs if r))


class Lookups:
    """The ref questions of one apply batch (attribution's and trust's), answered in bulk.

    A question about refs not looked up yet prefetches them together with those of the
    next ``WINDOW`` rows (``db/attribution.prefetch_touches`` / ``prefetch_threads``), so a
    batch costs a few queries where each message cost three to five. Answers are those of
    the per-message queries as of the prefetch. The apply phase adds no touches, but some
    effects add or move thread ids (a reply's intent plans a re-engagement; filing, the Sent
    folder and leads): after a reply it calls ``after_reply``, after the others ``forget``,
    and the next thread question asks the database again.
    """

    WINDOW = 50

    def __init__(self, s: Session, rows: Sequence[InboundMessage]) -> None:
        self._s = s
        self._rows = list(rows)
        self._next = 0  # the row being applied: a prefetch covers it and the WINDOW after it
        self._touched: set[str] = set()  # refs whose touches are known
        self._touches: dict[str, Message] = {}
        self._threaded: set[str] = set()  # refs whose thread enrollments are known
        self._threads: dict[int, q.ThreadKeys] = {}
        self._newest: int | None = None  # the newest enrollment when the thread keys were read
        self._keep: list[Enrollment] = []  # the session's identity map holds objects weakly

    def at(self, index: int) -> None:
        """The apply loop is at row ``index``."""
        self._next = index

    def forget_threads(self) -> None:
        """An effect may have added or moved thread ids: ask the database again."""
        self._threaded.clear()
        self._threads.clear()
        self._newest = None

    def after_reply(self) -> None:
        """A reply's effects change no thread id of an existing enrollment, but its intent
        may plan new ones (a re-engagement continues the thread): forget the thread keys
        only when an enrollment was added. One cheap query instead of a refill per reply."""
        if not self._threaded:
            return
        newest = q.last_enrollment_id(self._s)
        if newest != self._newest:
            self.forget_threads()

    def forget(self) -> None:
        """Start afresh (after a rollback, or an effect that may have changed anything)."""
        self.forget_threads()
        self._touched.clear()
        self._touches.clear()
        self._keep = []

    def _wanted(self, refs: Iterable[str], known: set[str]) -> set[str]:
        ids = {r for r in refs if r}
        if ids <= known:
            return set()
        for row in self._rows[self._next : self._next + self.WINDOW]:
            ids.update(evidence(row))
        return ids - known

    def _cover_touches(self, refs: Iterable[str]) -> None:
        ids = self._wanted(refs, self._touched)
        if ids:
            touches, owners = q.prefetch_touches(self._s, ids)
            self._touches.update(touches)
            self._keep += owners
            self._touched |= ids

    def _cover_threads(self, refs: Iterable[str]) -> None:
        ids = self._wanted(refs, self._threaded)
        if ids:
            if self._newest is None:
                self._newest = q.last_enrollment_id(self._s)
            for keys in q.prefetch_threads(self._s, ids):
                self._threads[keys[0]] = keys
            self._threaded |= ids

    def _thread_keys(self) -> list[q.ThreadKeys]:
        return [self._threads[k] for k in sorted(self._threads)]

    def touches(self, refs: Sequence[str]) -> dict[str, Message]:
        """``touches_by_message_ids``."""
        self._cover_touches(refs)
        return {r: self._touches[r] for r in refs if r and r in self._touches}

    def threads(self, mailbox: str, refs: Sequence[str]) -> dict[str, Enrollment]:
        """``enrollments_by_thread_ids``."""
        self._cover_threads(refs)
        ids = [m for m in refs if m]
        found: dict[str, int] = {}
        for eid, in_mailbox, _prospect, root, last in self._thread_keys():
            if in_mailbox != mailbox:
                continue
            for key in (root, last):
                if key in ids:
                    found.setdefault(key, eid)  # type: ignore[arg-type]
        out: dict[str, Enrollment] = {}
        for key, eid in found.items():
            e = self._s.get(Enrollment, eid)
            if e is not None:
                out[key] = e
        return out

    def sent_to_prospect(self, prospect_id: int, refs: Sequence[str]) -> list[str]:
        """``db/inbound.touch_ids_sent_to_prospect``."""
        ids = [r for r in refs if r]
        self._cover_touches(ids)
        self._cover_threads(ids)
        found: set[str] = set()
        for r in ids:
            touch = self._touches.get(r)
            if touch is not None:
                owner = self._s.get(Enrollment, touch.enrollment_id)
                if owner is not None and owner.prospect_id == prospect_id:
                    found.add(r)
        for _eid, _mailbox, prospect, root, last in self._thread_keys():
            if prospect == prospect_id and (root in ids or last in ids):
                found.update(x for x in (root, last) if x)
        return [r for r in ids if r in found]


def attribute(
    s: Session, ctx: ApplyContext, row: InboundMessage, lookups: Lookups | None = None
) -> tuple[Enrollment | None, int | None, str]:
    """Which enrollment a message is about, which touch it answers, and how we know.

    In order: a ref (In-Reply-To/References, or a bounce's embedded original) naming one
    of our touches, or the first email of a filed thread; the opt-out token; then the
    failed recipient (bounces) or the sender / Reply-To (everything else) against the
    address's open, then recently finished, enrollments in this mailbox.
    """
    refs = list(row.refs or [])
    touches = lookups.touches(refs) if lookups else q.touches_by_message_ids(s, refs)
    for ref in refs:
        touch = touches.get(ref)
        if touch is not None and touch.mailbox == ctx.mailbox.name:
            found = q.enrollment(s, touch.enrollment_id)
            if found is not None:
                return found, touch.step, f"refers to touch {touch.step} ({ref})"
    threads = (
        lookups.threads(ctx.mailbox.name, refs)
        if lookups
        else q.enrollments_by_thread_ids(s, ctx.mailbox.name, refs)
    )
    for ref in refs:
        found = threads.get(ref)
        if found is not None:
            step = (
                0 if ref == found.thread_root_id and found.source == "filing" else found.steps_done
            )
            return found, step, f"refers to the thread of enrollment {found.id} ({ref})"
    token = (row.details or {}).get("token")
    if token:
        found = q.enrollment_by_token(s, token)
        if found is not None:
            return found, found.steps_done, "opt-out token"
    if row.kind == "bounce":
        candidates = list(row.recipients or [])
    elif row.kind == "complaint":
        candidates = [row.complainant] if row.complainant else list(row.recipients or [])
    else:
        candidates = [a for a in [row.from_addr, *((row.details or {}).get("reply_to") or [])] if a]
    for address in dict.fromkeys(a.lower() for a in candidates):
        if address in ctx.own:
            continue
        found_list = q.recent_enrollments_of_address(
            s, address, mailbox=ctx.mailbox.name, finished_since=ctx.now - RECENTLY_FINISHED
        )
        if found_list:
            found = found_list[0]
            return (
                found,
                found.steps_done,
                f"{_who(row.kind)} {address}",
            )
    return None, None, "no enrollment matches"


def _who(kind: str) -> str:
    return {"bounce": "failed recipient", "complaint": "complainant"}.get(kind, "sender")


__all__ = ["RECENTLY_FINISHED", "Lookups", "attribute", "evidence"]
