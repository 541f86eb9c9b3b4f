"""Enrollment states and the transitions between them (pure).

Every enrollment is always in exactly one state, and every state says why the
lead is where it is: ``active`` has a next touch, ``paused`` has a reason (and
maybe an until-date), every finished state has a reason. That invariant is the
"lead safety check" the manager report ends with.
"""

from __future__ import annotations

from typing import Final

from sequencer.errors import IllegalTransition

ACTIVE: Final = "active"
PAUSED: Final = "paused"
REPLIED: Final = "replied"
BOUNCED: Final = "bounced"
UNSUBSCRIBED: Final = "unsubscribed"
COMPLETED: Final = "completed"
STOPPED: Final = "stopped"
FAILED: Final = "failed"
UNENROLLED: Final = "unenrolled"

STATES: Final = (ACTIVE, PAUSED, REPLIED, BOUNCED, UNSUBSCRIBED, COMPLETED, STOPPED, FAILED, UNENROLLED)
OPEN_STATES: Final = frozenset({ACTIVE, PAUSED})
FINISHED_STATES: Final = frozenset(STATES) - OPEN_STATES

# target -> the states it may be entered from; one comment per edge.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    # resume a pause; an operator retries a failed enrollment
    ACTIVE: frozenset({PAUSED, FAILED}),
    # rep/manager pause, or an out-of-office policy pauses it
    PAUSED: frozenset({ACTIVE}),
    # a human answered (or the rep marked it): stop whatever was going on
    REPLIED: frozenset({ACTIVE, PAUSED, COMPLETED}),
    # a hard bounce can arrive after the last touch, too
    BOUNCED: frozenset({ACTIVE, PAUSED, COMPLETED}),
    # an unsubscribe wins over everything not already closed by the prospect
    UNSUBSCRIBED: frozenset({ACTIVE, PAUSED, COMPLETED, REPLIED}),
    # every step went out and nobody answered: the "finished without reply" figure
    COMPLETED: frozenset({ACTIVE}),
    # the rep or the manager ended it on purpose; counts as finished
    STOPPED: frozenset({ACTIVE, PAUSED}),
    # a touch could not be rendered/sent for good; the operator may retry (-> active)
    FAILED: frozenset({ACTIVE}),
    # taken out of the sequence as if never enrolled (a mistake); excluded from completion figures
    UNENROLLED: frozenset({ACTIVE, PAUSED, FAILED}),
}

# The event kind written for a transition into each state (resume is special-cased).
EVENT_FOR: Final = {
    ACTIVE: "resumed",
    PAUSED: "paused",
    REPLIED: "replied",
    BOUNCED: "bounced",
    UNSUBSCRIBED: "unsubscribed",
    COMPLETED: "completed",
    STOPPED: "stopped",
    FAILED: "failed",
    UNENROLLED: "unenrolled",
}


def allowed_from(target: str) -> frozenset[str]:
    if target not in TRANSITIONS:
        raise IllegalTransition(f"unknown state {target!r} (known: {', '.join(STATES)})")
    return TRANSITIONS[target]


def check_transition(current: str, target: str) -> None:
    """Raise IllegalTransition with a message a rep understands."""
    if current not in allowed_from(target):
        raise IllegalTransition(f"cannot move an enrollment from {current} to {target}")


def is_finished(state: str) -> bool:
    return state in FINISHED_STATES
