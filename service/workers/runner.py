"""Worker processes: ``hopwatch worker ingest|score|summarize``.

A worker claims one job at a time from the database (``service.workers.queue``),
runs its handler (``service.workers.tasks``), and marks it done in the handler's own
transaction. SIGTERM / SIGINT stop the loop after the current job (graceful);
SIGKILL loses at most the current job's uncommitted work, and its lease expiry
hands the job to another worker. Scale out by starting more workers anywhere
that reaches the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from ingest.errors import HopwatchError
from service.workers import queue as jobs
from service.workers.tasks import JobContext, run_ingest, run_score, run_summarize

log = logging.getLogger("hopwatch.worker")

HANDLERS = {"ingest": run_ingest, "score": run_score}


@dataclass
class Worker:
    """A job loop for one kind of job.

    Args:
        kind: ``ingest``, ``score`` or ``summarize``.
        ctx: what the handlers need.
        lease_seconds: how long a claim holds before another worker may take the job.
        poll_seconds: sleep between polls when no job is pending.
        max_attempts: claims before a job is left failed.
        name: worker id recorded on claimed jobs (default host:pid).
    """

    kind: str
    ctx: JobContext
    lease_seconds: float = 300.0
    poll_seconds: float = 1.0
    max_attempts: int = 5
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    stopping: bool = False
    done: int = 0

    def __post_init__(self) -> None:
        if self.kind not in jobs.KINDS:
            raise ValueError(f"unknown worker kind {self.kind!r}; expected one of {jobs.KINDS}")

    def stop(self, *_: Any) -> None:
        """Finish the current job, then leave the loop."""
        self.stopping = True

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the loop gracefully."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def _claim(self) -> tuple[int, dict[str, Any], bool] | None:
        """(job id, payload, whether a failure may be retried) of a claimed job."""
        with self.ctx.sessions() as session, session.begin():
            job = jobs.claim(
                session=session,
                kind=self.kind,
                worker=self.name,
                lease_seconds=self.lease_seconds,
                max_attempts=self.max_attempts,
            )
            if job is None:
                return None
            return job.id, dict(job.payload), job.attempts < self.max_attempts

    def _finisher(self, job_id: int) -> Any:
        def finish(session: Any) -> None:
            if not jobs.finish(session=session, job_id=job_id, worker=self.name):
                raise LostLease(f"job {job_id}: lease lost to another worker")

        return finish

    def _failed(self, job_id: int, attempts_left: bool, exc: BaseException) -> None:
        log.error("job %s failed: %s", job_id, exc)
        with self.ctx.sessions() as session, session.begin():
            jobs.fail(
                session=session,
                job_id=job_id,
                worker=self.name,
                error="".join(traceback.format_exception(exc))[-4000:],
                retry=attempts_left,
            )

    def run_one(self) -> bool:
        """Claim and run one job; False when none was pending."""
        claimed = self._claim()
        if claimed is None:
            return False
        job_id, payload, retry = claimed
        try:
            if self.kind == "summarize":
                asyncio.run(self._summarize_one(job_id, payload))
            else:
                HANDLERS[self.kind](self.ctx, job_id, payload, self._finisher(job_id))
            self.done += 1
        except LostLease as exc:
            log.warning("%s", exc)
        except Exception as exc:
            self._failed(job_id, retry, exc)
        return True

    async def _summarize_one(self, job_id: int, payload: dict[str, Any]) -> None:
        await run_summarize(self.ctx, payload, self._finisher(job_id))

    def run(self, *, max_jobs: int | None = None, exit_when_idle: bool = False) -> int:
        """Loop until stopped (or ``max_jobs`` done, or idle with ``exit_when_idle``).

        Returns the number of jobs completed.
        """
        log.info("worker %s (%s) started", self.name, self.kind)
        while not self.stopping and (max_jobs is None or self.done < max_jobs):
            if not self.run_one():
                if exit_when_idle:
                    break
                time.sleep(self.poll_seconds)
        log.info("worker %s stopped after %d jobs", self.name, self.done)
        return self.done


class LostLease(HopwatchError, RuntimeError):
    """The job was reclaimed by another worker before this one finished it."""


async def run_summarize_worker(worker: Worker, *, exit_when_idle: bool = False) -> int:
    """The summarize worker: one event loop, up to ``batch`` summaries in flight so
    the summarizer can batch them."""
    start = getattr(worker.ctx.summarizer, "start", None)
    if start is not None:
        await start()
    batch = int(getattr(getattr(worker.ctx.summarizer, "config", None), "batch_size", 8))
    try:
        while not worker.stopping:
            claimed = []
            for _ in range(batch):
                c = await asyncio.to_thread(worker._claim)
                if c is None:
                    break
                claimed.append(c)
            if not claimed:
                if exit_when_idle:
                    break
                await asyncio.sleep(worker.poll_seconds)
                continue
            results = await asyncio.gather(
                *(worker._summarize_one(job_id, payload) for job_id, payload, _ in claimed),
                return_exceptions=True,
            )
            for (job_id, _, retry), res in zip(claimed, results, strict=True):
                if isinstance(res, LostLease):
                    log.warning("%s", res)
                elif isinstance(res, BaseException):
                    await asyncio.to_thread(worker._failed, job_id, retry, res)
                else:
                    worker.done += 1
    finally:
        close = getattr(worker.ctx.summarizer, "aclose", None)
        if close is not None:
            await close()
    return worker.done


def context_from_settings(settings: Any, *, sessions: Any, summarizer: Any = None) -> JobContext:
    """A :class:`JobContext` from the settings tree."""
    return JobContext(
        sessions=sessions,
        data_dir=settings.data.dir,
        window_seconds=settings.data.window,
        thresholds=dict(settings.detection.thresholds),
        campaign_span=settings.detection.campaign_span,
        model_paths=settings.models.paths(),
        rules_dir=settings.detection.rules_dir,
        summarizer=summarizer,
    )
