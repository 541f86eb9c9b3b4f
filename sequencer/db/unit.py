"""One unit of work for a service call, whatever the caller hands in.

Services take either a Session (they join the caller's transaction, the caller
commits) or a Database (they run in one transaction of their own); this keeps that
choice in one place instead of in every service module.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from sqlalchemy.orm import Session


def unit_of_work(target: Session | Any) -> Any:
    """A Session is used as is (the caller commits); a Database gets one transaction."""
    return nullcontext(target) if isinstance(target, Session) else target.session()
