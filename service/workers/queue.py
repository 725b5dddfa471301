"""The job queue in the database: enqueue, claim (with a lease), finish, fail.

Claiming is one ``UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING``:
on PostgreSQL the inner select takes ``FOR UPDATE SKIP LOCKED`` so concurrent
workers never wait on or take the same job; on SQLite the statement runs under
the database's single writer lock. A job whose lease expired (its worker died)
is claimed again; a job fails for good after ``max_attempts`` claims.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from detections.store import insert_for
from detections.store.tables import Job, utcnow

KINDS = ("ingest", "score", "summarize")


def enqueue(*, session: Session, kind: str, key: str, payload: dict[str, Any]) -> int:
    """Add a job unless one with ``key`` exists; return the job id either way.

    Raises:
        ValueError: unknown kind.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}; expected one of {KINDS}")
    insert = insert_for(session)
    stmt = insert(Job).values(kind=kind, key=key, payload=payload, status="pending")
    session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
    return int(session.scalar(select(Job.id).where(Job.key == key)))


def claim(
    *, session: Session, kind: str, worker: str, lease_seconds: float, max_attempts: int = 5
) -> Job | None:
    """Claim the oldest runnable job of ``kind`` for ``worker``; None when there is none.

    Runnable: pending, or running with an expired lease. Commit right after, so
    the claim is visible to other workers before the work starts.
    """
    now = utcnow()
    runnable = or_(Job.status == "pending", and_(Job.status == "running", Job.locked_until < now))
    pick = (
        select(Job.id)
        .where(Job.kind == kind, runnable, Job.attempts < max_attempts)
        .order_by(Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(Job)
        .where(Job.id == pick)
        .values(
            status="running",
            locked_by=worker,
            locked_until=now + timedelta(seconds=lease_seconds),
            attempts=Job.attempts + 1,
            updated_at=now,
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    job_id = session.execute(stmt).scalar_one_or_none()
    if job_id is None:
        return None
    return session.get(Job, job_id, populate_existing=True)


def finish(*, session: Session, job_id: int, worker: str) -> bool:
    """Mark the job done if ``worker`` still holds it; False when it lost the lease."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker, Job.status == "running")
        .values(status="done", locked_until=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def fail(*, session: Session, job_id: int, worker: str, error: str, retry: bool) -> None:
    """Record an error; the job goes back to pending (``retry``) or to failed."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker)
        .values(
            status="pending" if retry else "failed",
            locked_until=None,
            error=error[:4000],
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


def counts(*, session: Session) -> dict[str, dict[str, int]]:
    """kind -> status -> number of jobs."""
    from sqlalchemy import func

    out: dict[str, dict[str, int]] = {}
    for kind, status, n in session.execute(
        select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
    ):
        out.setdefault(kind, {})[status] = int(n)
    return out
