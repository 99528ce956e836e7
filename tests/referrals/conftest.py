"""A real SMTP server (aiosmtpd) on a free localhost port, scriptable to fail on purpose."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from ooh.records.store import RecordStore


def free_port() -> int:
    """A localhost TCP port nothing listens on (at the time of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ScriptedHandler:
    """Accepts mail, except where told to refuse.

    Attributes:
        messages: ``(recipients, message)`` for every message accepted.
        refuse: Recipient address -> reply that RCPT always gets (e.g. ``550 ...``).
        rcpt_replies: Replies for the next RCPT commands, used up first to last.
        data_replies: Replies for the next DATA commands, used up first to last.
    """

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.refuse: dict[str, str] = {}
        self.rcpt_replies: list[str] = []
        self.data_replies: list[str] = []

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        """Refuse scripted recipients, else accept."""
        if address in self.refuse:
            return self.refuse[address]
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Fail scripted DATA commands, else keep the message."""
        if self.data_replies:
            return self.data_replies.pop(0)
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[ScriptedHandler, int]]:
    """A running SMTP server and its port."""
    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordStore]:
    """A record store on a fresh SQLite file."""
    records = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    records.migrate()
    yield records
    records.dispose()
