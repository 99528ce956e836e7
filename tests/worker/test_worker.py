"""The worker and its outbox, against a real SMTP server and real worker processes killed for real.

What an on-call officer and a council's IT team would notice: every referral waiting when the
worker starts is sent; two workers never send one referral twice; a worker killed with SIGKILL in
the middle of sending leaves a referral that is sent again after its lease runs out, with the
possible duplicate written on the request and the same Message-ID on both emails; a failure inside
a try is recorded and the referral tried again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from harness.mailbox import Mailbox
from harness.stack import stop_process as stop
from ooh.jobs import Jobs
from ooh.records.store import RecordStore, ServiceRequestView
from ooh.runtime import build_runtime
from ooh.settings import PROJECT_ROOT, Settings
from worker import loop

SAT_NIGHT = datetime(2026, 11, 21, 23, 30, tzinfo=ZoneInfo("Europe/London"))


def environment(tmp_path: Path, smtp_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "OOH_DATABASE_URL": f"sqlite:///{tmp_path / 'records.db'}",
        "OOH_SECRETS_DIR": str(tmp_path / "secrets"),
        "OOH_SMTP_PORT": str(smtp_port),
        "OOH_SMTP_RETRY_DELAY_SECONDS": "0",
        "OOH_SMTP_TIMEOUT_SECONDS": "30",
        "OOH_WORKER_POLL_SECONDS": "0.2",
        "OOH_WORKER_LEASE_SECONDS": "3",
        "OOH_REFERRAL_RETRY_INTERVAL_SECONDS": "1",
    }


def worker_setting(tmp_path: Path, smtp_port: int) -> tuple[dict[str, str], RecordStore]:
    """A worker's environment and its (migrated) records database."""
    env = environment(tmp_path, smtp_port)
    store = RecordStore(env["OOH_DATABASE_URL"])
    store.migrate()
    return env, store


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "worker"], cwd=PROJECT_ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def waiting_referral(store: RecordStore, details: str = "water through the ceiling") -> ServiceRequestView:
    """A request whose referral is due, as a finished conversation leaves it."""
    return store.create_request(
        po="enfield",
        prefix="ENF",
        service_option="housing_repairs",
        call_outcome="referred",
        now=SAT_NIGHT,
        details=details,
        referral_status="pending",
    )


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_referrals_waiting_when_the_worker_starts_are_all_sent_once(
    tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    """Referrals left unsent by a restart are sent as soon as a worker runs, each exactly once."""
    box, port = mailbox
    env, store = worker_setting(tmp_path, port)
    made = [waiting_referral(store).reference for _ in range(6)]
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        wait_until(lambda: all(store.get(r).referral_status == "sent" for r in made), 60, "every referral sent")  # type: ignore[union-attr]
    finally:
        stop(worker)
    assert sorted(box.references()) == sorted(made)
    assert Jobs(store).waiting("referral") == 0
    assert Jobs(store).waiting("escalate") == 6, "each sent referral waits for its acknowledgement"


def test_two_workers_share_the_work_and_never_send_one_referral_twice(
    tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    env, store = worker_setting(tmp_path, port)
    workers = [start_worker(env, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        made = [waiting_referral(store).reference for _ in range(30)]
        wait_until(lambda: len(box.references()) >= 30, 90, "thirty referrals")
        time.sleep(4)  # past a lease: a second send would have happened by now
    finally:
        for worker in workers:
            stop(worker)
    assert sorted(box.references()) == sorted(made), "each referral exactly once"
    history = [u for r in made for u in store.get(r).updates]  # type: ignore[union-attr]
    assert not any((u.data or {}).get("possible_duplicate") for u in history)


@pytest.mark.parametrize("mailbox", [True], indirect=True)
def test_a_worker_killed_mid_send_leaves_the_referral_sent_again_with_the_duplicate_recorded(
    tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    """SIGKILL while the mail server holds the message: after the lease, a new worker sends it again."""
    box, port = mailbox
    env, store = worker_setting(tmp_path, port)
    reference = waiting_referral(store).reference
    first = start_worker(env, tmp_path / "first.log")
    try:
        assert box.holding.wait(30), "the first try reached the mail server"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop(first)
    box.release.set()
    assert len(box.messages) == 1, "the message landed, but the dead worker never heard so"
    assert store.get(reference).referral_status == "pending"  # type: ignore[union-attr]
    second = start_worker(env, tmp_path / "second.log")
    try:
        wait_until(lambda: store.get(reference).referral_status == "sent", 60, "the referral sent again")  # type: ignore[union-attr]
    finally:
        stop(second)
    assert len(box.messages) == 2
    assert box.messages[0]["Message-ID"] == box.messages[1]["Message-ID"], "mail programs show one message"
    history = store.get(reference).updates  # type: ignore[union-attr]
    assert any((u.data or {}).get("possible_duplicate") for u in history), "the possible duplicate is recorded"
    assert [u.kind for u in history].count("sending") == 2
    assert Jobs(store).waiting("referral") == 0


def test_a_failure_inside_a_try_is_recorded_and_the_referral_tried_again(
    tmp_path: Path, mailbox: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anything raised inside a try (here: building the email) is caught, written down, retried."""
    box, port = mailbox
    settings = Settings(  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'records.db'}",
        smtp_port=port,
        smtp_retry_delay_seconds=0,
        worker_poll_seconds=0.1,
        referral_retry_interval_seconds=0.5,
    )
    runtime = build_runtime(settings)
    reference = waiting_referral(runtime.store).reference
    real = runtime.mailer.build_message
    calls = {"n": 0}

    def broken_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise UnicodeEncodeError("utf-8", "\ufffd", 0, 1, "surrogates not allowed")
        return real(*args, **kwargs)

    monkeypatch.setattr(runtime.mailer, "build_message", broken_once)

    async def run() -> None:
        stop_event = asyncio.Event()
        task = asyncio.create_task(loop.work(runtime, stop_event, owner="test-worker"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and runtime.store.get(reference).referral_status != "sent":  # type: ignore[union-attr]
            await asyncio.sleep(0.1)
        stop_event.set()
        await task

    asyncio.run(run())
    request = runtime.store.get(reference)
    assert request is not None and request.referral_status == "sent"
    failed = [u for u in request.updates if (u.data or {}).get("error") == "UnicodeEncodeError"]
    assert failed and "will be tried again" in failed[0].text
    assert box.references() == [reference]


def test_a_lone_surrogate_from_a_chat_is_stored_and_referred(tmp_path: Path, mailbox: tuple[Mailbox, int]) -> None:
    """Finding: a message with a lone surrogate once stayed pending forever. Now it is cleaned and sent."""
    from ooh.finish import CallContext, Ending, finish

    box, port = mailbox
    settings = Settings(  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'records.db'}",
        smtp_port=port,
        smtp_retry_delay_seconds=0,
        worker_poll_seconds=0.1,
    )
    runtime = build_runtime(settings)
    org = runtime.registry.get("enfield")
    assert org is not None
    context = CallContext(
        org=org,
        now=SAT_NIGHT,
        channel="rest",
        sender_id="surrogate",
        transcript=[{"at": SAT_NIGHT.isoformat(), "speaker": "resident", "text": "leak \ud800 everywhere"}],
        started_at=SAT_NIGHT - timedelta(minutes=3),
    )
    ending = Ending(service_option="housing_repairs", outcome="referred", answers={"details": "leak \ud800\x00"})
    result = asyncio.run(finish(runtime, context, ending))
    assert result.request is not None

    async def run() -> None:
        stop_event = asyncio.Event()
        task = asyncio.create_task(loop.work(runtime, stop_event, owner="test-worker"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not box.messages:
            await asyncio.sleep(0.1)
        stop_event.set()
        await task

    asyncio.run(run())
    assert box.references() == [result.request.reference]
    assert "leak \ufffd\ufffd" in str(box.messages[0].get_payload(decode=True), "utf-8")
