"""Driving the outbox in tests.

The worker's loop until something happens, organisation data with an escalation contact, and the
GOV.UK Notify fake wired to a staff site's callbacks.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from harness.stack import ROOT, free_port
from ooh.notifyfake import FakeNotify, serve
from ooh.runtime import Runtime
from worker import loop

CALLBACK_TOKEN = "callback-token-for-tests-0123456789"  # noqa: S105 - the tests' own Notify callbacks
"""The bearer token the Notify fake shows a test staff site (set as ``OOH_NOTIFY_CALLBACK_TOKEN``)."""


def work_until(runtime: Runtime, done: Callable[[], bool], timeout: float) -> None:
    """Run the worker's loop in this process until ``done()`` or ``timeout`` seconds."""

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(loop.work(runtime, stop, owner="test-worker"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done():
            await asyncio.sleep(0.1)
        stop.set()
        await task

    asyncio.run(run())


def scripts_with_escalation(folder: Path) -> Path:
    """A copy of the organisations' data with an escalation contact (a director) in Enfield's rota."""
    root = folder / "service_scripts"
    shutil.copytree(ROOT / "service_scripts", root)
    rota = root / "enfield" / "rota.yaml"
    text = rota.read_text(encoding="utf-8").replace(
        "contacts:\n", 'contacts:\n  director: {name: "Director on call", email: director@enfield.example}\n', 1
    )
    rota.write_text(text + "\nescalation: director\n", encoding="utf-8")
    return root


def notify_fake(folder: Path, api_key: str, site_url: str | None) -> FakeNotify:
    """The Notify fake, posting its callbacks to the staff site at ``site_url`` (None: nowhere)."""
    base = site_url.replace("localhost", "127.0.0.1") if site_url else "http://127.0.0.1:1"
    return serve(
        "127.0.0.1",
        free_port(),
        api_key=api_key,
        folder=folder / "sms",
        delivery_callback=f"{base}/notify/delivery-receipts",
        inbound_callback=f"{base}/notify/received-text-messages",
        callback_token=CALLBACK_TOKEN,
        delivery_delay=0.1,
    )
