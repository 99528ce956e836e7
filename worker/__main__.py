"""``python -m worker``: run the outbox's jobs until stopped (SIGTERM finishes the jobs in hand)."""

from __future__ import annotations

import asyncio
import logging
import signal

from ooh.logredact import install as redact_logs
from ooh.runtime import build_runtime
from ooh.secrets import private_files
from worker.loop import work


async def main() -> None:
    """Build the runtime once and work until a signal."""
    runtime = build_runtime()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await work(runtime, stop)


if __name__ == "__main__":
    redact_logs()
    private_files()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main())
