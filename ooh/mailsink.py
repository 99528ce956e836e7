"""``python -m ooh.mailsink``: a local SMTP server that keeps every message as a ``.eml`` file.

A fresh machine has no mail server, so without this every referral of ``make run`` would fail and a
new user would see nothing of the path from a resident's words to the on-call officer's inbox.
``make run`` starts it on the configured SMTP port when that port is on this machine and free (turn
it off with ``OOH_MAIL_SINK=false``); each message lands in ``var/mail/`` as a file any mail
program opens, readable by its owner only. It is a sink: nothing is relayed anywhere.
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from ooh.secrets import private_files


class SaveToFolder:
    """aiosmtpd handler: write each message, as received, to ``<folder>/<time>-<random>.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        """Keep the message; 250 tells the sender it was accepted."""
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}.eml"
        path = self.folder / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            content = envelope.original_content or envelope.content
            handle.write(content if isinstance(content, bytes) else str(content).encode("utf-8"))
        return "250 Message accepted for delivery"


def serve(host: str, port: int, folder: Path) -> Controller:
    """Start the sink in a background thread (call ``stop()`` on the result to end it)."""
    controller = Controller(SaveToFolder(folder), hostname=host, port=port)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> int:
    """Run the sink in the foreground until interrupted."""
    parser = argparse.ArgumentParser(prog="ooh.mailsink", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args(argv)
    private_files()
    controller = serve(args.host, args.port, args.folder)
    print(f"Mail sink on {args.host}:{args.port}: messages are kept in {args.folder}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
