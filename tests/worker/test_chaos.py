"""Chaos: 500 referrals across every organisation while the worker and the mail server are killed.

Real processes throughout: ``python -m worker`` and the mail sink ``python -m ooh.mailsink`` (a real
SMTP server writing each message to a file), each killed with SIGKILL at random moments and started
again, on the embedded SQLite database. Afterwards every referral must have been sent, none lost,
and any referral that reached the mail server more than once must say on its record why it may have
(the worker died mid-send, or the connection was lost part-way through a try).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path

from harness.stack import free_port
from harness.stack import stop_process as stop
from ooh.orgs.loader import load_registry
from ooh.records.store import RecordStore
from ooh.settings import PROJECT_ROOT, Settings
from tests.worker.test_worker import SAT_NIGHT

REFERRALS = 500
CHAOS_SECONDS = 40
SEED = 20261206


def referable_options() -> list[tuple[str, str, str]]:
    """``(po, reference prefix, option)``: every organisation's options that refer by email."""
    registry = load_registry(Settings().service_scripts_dir)  # type: ignore[call-arg]
    found = []
    for org in registry.organisations.values():
        for option, config in org.options.items():
            if config.script not in ("information", "daytime") and org.referral_channels(option) == ["email"]:
                found.append((org.id, org.profile.reference_prefix, option))
    return found


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_500_referrals_survive_killed_workers_and_mail_servers(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    port, mail = free_port(), tmp_path / "mail"
    env = {
        **os.environ,
        "OOH_DATABASE_URL": f"sqlite:///{tmp_path / 'records.db'}",
        "OOH_SECRETS_DIR": str(tmp_path / "secrets"),
        "OOH_SMTP_PORT": str(port),
        "OOH_SMTP_RETRY_DELAY_SECONDS": "0.1",
        "OOH_SMTP_TIMEOUT_SECONDS": "5",
        "OOH_WORKER_POLL_SECONDS": "0.2",
        "OOH_WORKER_LEASE_SECONDS": "20",
        "OOH_REFERRAL_RETRY_INTERVAL_SECONDS": "0.5",
        "OOH_ACK_MINUTES": "600",  # no escalation during the test: every email is a first send or a repeat
    }
    store = RecordStore(env["OOH_DATABASE_URL"])
    store.migrate()
    sink_command = [sys.executable, "-m", "ooh.mailsink", "--port", str(port), "--folder", str(mail)]
    worker_command = [sys.executable, "-m", "worker"]
    sink = start(sink_command, env, tmp_path / "sink.log")
    worker = start(worker_command, env, tmp_path / "worker.log")
    options = referable_options()
    assert len({po for po, _, _ in options}) == 11, "every organisation takes part"
    references = []
    for number in range(REFERRALS):
        po, prefix, option = options[number % len(options)]
        view = store.create_request(
            po=po,
            prefix=prefix,
            service_option=option,
            call_outcome="referred",
            now=SAT_NIGHT,
            details=f"chaos referral {number}",
            referral_status="pending",
        )
        references.append(view.reference)
    kills = Counter[str]()
    try:
        deadline = time.monotonic() + CHAOS_SECONDS
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(1.0, 4.0))
            if rng.random() < 0.5:
                kill(worker)
                kills["worker"] += 1
                time.sleep(rng.uniform(0.2, 1.5))
                worker = start(worker_command, env, tmp_path / "worker.log")
            else:
                kill(sink)
                kills["mail server"] += 1
                time.sleep(rng.uniform(0.2, 2.0))
                sink = start(sink_command, env, tmp_path / "sink.log")
        unsent = lambda: [r for r in references if store.get(r).referral_status != "sent"]  # type: ignore[union-attr]  # noqa: E731
        settle = time.monotonic() + 300
        while unsent() and time.monotonic() < settle:
            time.sleep(1)
        assert unsent() == [], f"{len(unsent())} referrals were never sent"
    finally:
        stop(worker)
        stop(sink)
    assert kills["worker"] >= 3 and kills["mail server"] >= 3, kills

    arrived = Counter(str(message_from_bytes(path.read_bytes())["X-OOH-Reference"]) for path in mail.glob("*.eml"))
    assert set(arrived) == set(references), "every referral reached the mail server"
    repeated = [r for r, count in arrived.items() if count > 1]
    unexplained = []
    for reference in repeated:
        view = store.get(reference)
        assert view is not None
        flags = [u.data or {} for u in view.updates if u.kind == "referral_attempt"]
        if not any(f.get("possible_duplicate") or f.get("maybe_delivered") for f in flags):
            unexplained.append(reference)
    assert unexplained == [], f"{len(unexplained)} referrals arrived twice with nothing on record to say why"
    print(f"chaos: {dict(kills)} kills, {len(repeated)} repeats, each on record")
