"""Labelled samples from the reps' intent corrections (``sequencer intent export``).

Every ``sequencer intent`` / lead-page correction is kept as an ``intent_corrected``
event holding the reply's words and the label a person gave them. The export turns
those into one sample per corrected reply: the reply's new text as the classifier read
it (quotes and signature stripped, whitespace collapsed; the stored snippet, at most
300 characters), the intent the classifier read, and the last label a person gave it
(a reply corrected twice is one sample with its final label, ``corrections: 2``).
Corrections with no reply behind them (an answer given by phone) have no text to learn
from and are left out. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sequencer.db import intent_samples as q
from sequencer.db.session import Database


@dataclass(frozen=True)
class Sample:
    """One corrected reply: its words, what the rules read and what a person says it meant."""

    message_id: str
    email: str | None
    sequence: str | None
    enrollment_id: int | None
    subject: str | None
    language: str | None
    text: str
    classified: str | None  # None: the rules read no intent
    corrected: str  # the label; "none" when a person cleared the intent
    previous: str | None  # the intent just before the last correction
    received_at: datetime | None
    corrected_at: datetime
    corrected_by: str
    corrections: int

    def as_dict(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at else None

        return {
            "message_id": self.message_id, "email": self.email, "sequence": self.sequence,
            "enrollment_id": self.enrollment_id, "subject": self.subject, "language": self.language,
            "text": self.text, "classified": self.classified, "corrected": self.corrected,
            "previous": self.previous, "received_at": iso(self.received_at),
            "corrected_at": iso(self.corrected_at), "corrected_by": self.corrected_by,
            "corrections": self.corrections,
        }  # fmt: skip


def export_samples(db: Database, *, since: datetime | None = None, until: datetime | None = None) -> list[Sample]:
    """The corrected replies whose (last) correction is in [since, until), oldest first."""
    with db.read_session() as s:
        rows = q.corrections(s, since=None, until=until)
        ids = sorted({str(d["message_id"]) for *_, d in rows if d.get("message_id")})
        read = q.read_intents(s, ids)
    latest: dict[str, tuple[Any, ...]] = {}
    counts: dict[str, int] = {}
    first_from: dict[str, str | None] = {}
    for row in rows:
        data = row[-1]
        mid, text = data.get("message_id"), data.get("text")
        if not mid or not text:
            continue
        key = str(mid)
        counts[key] = counts.get(key, 0) + 1
        first_from.setdefault(key, data.get("from"))
        latest.pop(key, None)  # re-insert: the order is that of the last correction
        latest[key] = row
    out = []
    for key, (at, actor, eid, email, seq, data) in latest.items():
        if since is not None and at < since:
            continue
        classified, received = read.get(key, (None, None))
        if "classified" in data:  # recorded at correction time since the export exists
            classified = data["classified"]
        elif key not in read:
            classified = first_from[key]  # the reply row is gone: the intent before the first correction
        out.append(Sample(
            message_id=key, email=email, sequence=seq, enrollment_id=eid, subject=data.get("subject"),
            language=data.get("language"), text=str(data["text"]), classified=classified,
            corrected=str(data.get("label") or data.get("to") or "none"), previous=data.get("from"),
            received_at=received, corrected_at=at, corrected_by=actor, corrections=counts[key],
        ))  # fmt: skip
    return out


__all__ = ["Sample", "export_samples"]
