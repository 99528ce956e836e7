"""The worker's loop: claim due jobs, run each with bounded parallelism, finish or retry it."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

from ooh import lone_worker
from ooh.jobs import ClaimedJob, Jobs, backoff
from ooh.orgs.gap_report import report_rota_gaps, schedule_gap_reports
from ooh.referrals.outbox import JobOutcome, escalate_referral, send_confirmation, send_referral
from ooh.runtime import Runtime

logger = logging.getLogger(__name__)

Handler = Callable[[Runtime, ClaimedJob, datetime], Awaitable[JobOutcome]]
HANDLERS: dict[str, Handler] = {
    "referral": send_referral,
    "escalate": escalate_referral,
    "rota_gaps": report_rota_gaps,
    "confirm": send_confirmation,
    "lone_worker": lone_worker.visit_timer,
    "lone_worker_notice": lone_worker.visit_notice,
}
"""What each kind of job does."""


def worker_name() -> str:
    """A name no other worker has: host, process and a random part (a restarted pid is new)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"


def utcnow() -> datetime:
    """The worker's clock."""
    return datetime.now(timezone.utc)


async def run_one(runtime: Runtime, jobs: Jobs, job: ClaimedJob) -> JobOutcome:
    """Run one job; any failure inside it is caught, recorded on the request and retried later."""
    try:
        handler = HANDLERS[job.kind]
        outcome = await handler(runtime, job, utcnow())
    except Exception as exc:  # building a message, the database, anything: never lose the job
        logger.exception("Job %s (%s) failed", job.id, job.kind)
        outcome = JobOutcome(False, f"{type(exc).__name__} inside the service")
        if job.kind == "referral":
            text = f"The referral could not be sent ({type(exc).__name__} inside the service); it will be tried again"
            try:
                await asyncio.to_thread(
                    runtime.store.add_update,
                    job.key,
                    "referral_attempt",
                    text,
                    {"error": type(exc).__name__},
                    now=utcnow(),
                )
            except Exception:
                logger.exception("Could not record the failure of job %s", job.id)
    if outcome.done:
        await asyncio.to_thread(jobs.done, job, utcnow())
    else:
        due = outcome.again_at or utcnow() + backoff(job.attempt, runtime.settings.referral_retry_interval_seconds)
        await asyncio.to_thread(jobs.later, job, due, outcome.why or "not done")
    return outcome


async def work(runtime: Runtime, stop: asyncio.Event, *, owner: str | None = None) -> None:
    """Until ``stop`` is set: claim what is due (no more than there is room for), run it, repeat."""
    settings = runtime.settings
    jobs = Jobs(runtime.store)
    owner = owner or worker_name()
    lease = timedelta(seconds=settings.worker_lease_seconds)
    running: set[asyncio.Task[JobOutcome]] = set()
    logger.info("Worker %s started", owner)
    try:  # each organisation's next daily rota-gap report (then each report schedules the next)
        await asyncio.to_thread(schedule_gap_reports, jobs, runtime.registry, settings, utcnow())
    except Exception:  # the database is away: the claim loop below says so too
        logger.exception("Could not schedule the rota gap reports")
    freed = asyncio.Event()

    def finished(task: asyncio.Task[JobOutcome]) -> None:
        running.discard(task)
        freed.set()

    while not stop.is_set():
        freed.clear()  # before looking at the room: a job finishing from here on wakes the loop
        room = settings.worker_parallel - len(running)
        claimed: list[ClaimedJob] = []
        if room > 0:
            try:
                claimed = await asyncio.to_thread(jobs.claim, owner, utcnow(), lease=lease, limit=room)
            except Exception:  # the database is away: try again next round
                logger.exception("Could not claim jobs")
            for job in claimed:
                task = asyncio.create_task(run_one(runtime, jobs, job))
                running.add(task)
                task.add_done_callback(finished)
        # A full claim means more may be waiting: claim again as soon as a job finishes. Otherwise the
        # queue is empty (or the database away): look again after the poll interval.
        waiting = [asyncio.ensure_future(stop.wait())]
        if room > 0 and len(claimed) == room or room <= 0:
            waiting.append(asyncio.ensure_future(freed.wait()))
        _, pending = await asyncio.wait(
            waiting, timeout=settings.worker_poll_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for future in pending:
            future.cancel()
    if running:
        await asyncio.gather(*running, return_exceptions=True)
    logger.info("Worker %s stopped", owner)
