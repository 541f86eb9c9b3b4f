"""The demo's A/B step shows both variants: two prospects who reach it get different copies.

A variant is picked from the enrollment's token (``core.sequences.choose_variant``), and
tokens are random, so with only two prospects reaching the A/B step both could get the same
copy and the report would have nothing to compare. The demo draws a new random token for
a scripted prospect until it picks the variant the script wants; nothing else changes.
"""

from __future__ import annotations

from sqlalchemy import update

from sequencer.core.sequences import Sequence, choose_variant
from sequencer.db.models import Enrollment
from sequencer.db.session import Database
from sequencer.people.enroll import new_token


def token_for(sequence: Sequence, variant: str) -> str:
    """A fresh random token that picks ``variant`` on the sequence's (first) A/B step."""
    step = next(s for s in sequence.steps if len(s.variants) > 1)
    if variant not in {v.name for v in step.variants}:
        raise ValueError(f"step {step.number} has no variant {variant!r}")
    while True:
        token = new_token()
        if choose_variant(step, token).name == variant:
            return token


def assign_variant(db: Database, sequence: Sequence, enrollment_id: int, variant: str) -> None:
    """Give a just-enrolled (never-touched) enrollment a token that picks ``variant``."""
    with db.session() as s:
        s.execute(update(Enrollment).where(Enrollment.id == enrollment_id).values(token=token_for(sequence, variant)))


__all__ = ["assign_variant", "token_for"]
