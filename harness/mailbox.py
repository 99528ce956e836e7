"""A real SMTP server (aiosmtpd) on a free port that keeps what it receives, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from harness.stack import free_port


class Mailbox:
    """An SMTP server's handler that keeps messages; it can hold the first DATA until released."""

    def __init__(self, hold_first: bool = False) -> None:
        self.messages: list[Message] = []
        self.hold = hold_first
        self.holding = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        """Keep the message; when holding, delay the reply (the sender does not know it landed)."""
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        if self.hold:
            self.hold = False
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"

    def references(self) -> list[str]:
        """The reference of each message received, in order."""
        with self.lock:
            return [str(m["X-OOH-Reference"]) for m in self.messages]


@pytest.fixture
def mailbox(request: pytest.FixtureRequest) -> Iterator[tuple[Mailbox, int]]:
    """A running mailbox and its port (``indirect`` parameter True: hold the first message)."""
    box = Mailbox(hold_first=getattr(request, "param", False))
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        box.release.set()
        controller.stop()
