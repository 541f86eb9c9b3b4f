"""Once-a-period jobs (the daily digest, task reminders): who runs this period's run.

The (job, period) primary key does the arbitration, so it holds across processes and
machines. Both functions work inside the caller's transaction; the caller commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sequencer.db.models import JobRun


def claim_job_run(s: Session, job: str, period: str, *, now: datetime, worker: str | None) -> None:
    """Insert the (job, period) row; raises IntegrityError when another worker claimed it first.

    The primary key does the arbitration, so it holds across processes and machines.
    """
    s.add(JobRun(job=job, period=period, at=now, worker=worker))
    s.flush()


def release_job_run(s: Session, job: str, period: str) -> None:
    """Give a claimed period back (its run failed), so a later attempt may claim it."""
    s.execute(delete(JobRun).where(JobRun.job == job, JobRun.period == period))


def has_run(s: Session, job: str, period: str) -> bool:
    """A run was claimed for this period (how digests were claimed before 0011_notifications)."""
    return s.scalar(select(JobRun.job).where(JobRun.job == job, JobRun.period == period)) is not None
