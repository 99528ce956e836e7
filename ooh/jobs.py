"""The outbox: jobs with a due time, claimed with a lease, done once or tried again later.

Any number of worker processes share the ``jobs`` table. A claim takes due jobs nobody holds (or
whose holder's lease ran out: it died, or hung) and stamps them with the claimer's name and a lease
end, in one transaction: ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE``
on SQLite. A job is finished or put back only by the holder of its lease, so a worker that comes back
after its lease was taken over cannot undo the new holder's work.

There is no hand-rolled queue server and no second database: the embedded default (SQLite) and a
PostgreSQL deployment run the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ooh.records.models import Job
from ooh.records.store import RecordStore


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds until ``lease_until``."""

    id: int
    kind: str
    key: str
    #: This is the n-th claim of the job (1 the first time); more means an earlier try failed or died.
    attempt: int
    owner: str
    created_at: datetime
    lease_until: datetime


class Jobs:
    """The outbox in the records database."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store

    def schedule(self, kind: str, key: str, due_at: datetime) -> None:
        """Make sure a job exists for ``(kind, key)`` (idempotent: a second call keeps the first)."""

        def work(session: Session) -> None:
            exists = session.scalar(select(Job.id).where(Job.kind == kind, Job.key == key))
            if exists is None:
                session.add(Job(kind=kind, key=key, due_at=due_at, created_at=datetime.now(timezone.utc)))

        self.store.write(work, retry_integrity=True)

    def reopen(self, kind: str, key: str, due_at: datetime) -> None:
        """Make the job ``(kind, key)`` due again at ``due_at``, creating it if it never existed.

        For work that was finished and must happen again: a referral whose text Notify later reports
        undelivered goes out again by its next channel. A job that is still waiting keeps its place.
        """

        def work(session: Session) -> None:
            row = session.scalar(select(Job).where(Job.kind == kind, Job.key == key))
            if row is None:
                session.add(Job(kind=kind, key=key, due_at=due_at, created_at=datetime.now(timezone.utc)))
            elif row.done_at is not None:
                row.done_at, row.due_at, row.last_error = None, due_at, None

        self.store.write(work, retry_integrity=True)

    def claim(self, owner: str, now: datetime, *, lease: timedelta, limit: int) -> list[ClaimedJob]:
        """Take up to ``limit`` due jobs nobody holds, oldest due first, until ``now + lease``."""

        def work(session: Session) -> list[ClaimedJob]:
            statement = (
                select(Job)
                .where(
                    Job.done_at.is_(None),
                    Job.due_at <= now,
                    or_(Job.lease_until.is_(None), Job.lease_until < now),
                )
                .order_by(Job.due_at, Job.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            claimed = []
            for job in session.scalars(statement).all():
                job.lease_owner = owner
                job.lease_until = now + lease
                job.attempts = (job.attempts or 0) + 1
                claimed.append(
                    ClaimedJob(job.id, job.kind, job.key, job.attempts, owner, job.created_at, job.lease_until)
                )
            return claimed

        return self.store.write(work)

    def _held(self, session: Session, job: ClaimedJob) -> Job | None:
        row = session.get(Job, job.id)
        return row if row is not None and row.lease_owner == job.owner and row.done_at is None else None

    def done(self, job: ClaimedJob, now: datetime) -> bool:
        """Mark the job done; False if this worker no longer held it (someone else took over)."""

        def work(session: Session) -> bool:
            row = self._held(session, job)
            if row is None:
                return False
            row.done_at, row.lease_owner, row.lease_until, row.last_error = now, None, None, None
            return True

        return self.store.write(work)

    def later(self, job: ClaimedJob, due_at: datetime, error: str) -> bool:
        """Give the job back to be tried again at ``due_at``, saying why (no personal data)."""

        def work(session: Session) -> bool:
            row = self._held(session, job)
            if row is None:
                return False
            row.due_at, row.lease_owner, row.lease_until, row.last_error = due_at, None, None, error[:300]
            return True

        return self.store.write(work)

    def waiting(self, kind: str | None = None) -> int:
        """How many jobs are not done yet (for health checks and tests)."""

        def work(session: Session) -> int:
            statement = select(func.count(Job.id)).where(Job.done_at.is_(None))
            if kind is not None:
                statement = statement.where(Job.kind == kind)
            return int(session.scalar(statement) or 0)

        return self.store.read(work)


def backoff(attempt: int, base_seconds: float, cap_seconds: float = 300.0) -> timedelta:
    """How long to wait before try ``attempt + 1``: doubling from ``base``, never more than ``cap``."""
    return timedelta(seconds=min(cap_seconds, base_seconds * 2 ** max(0, attempt - 1)))
