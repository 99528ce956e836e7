"""The gateway's client of the chat agent: Rasa's ``voice`` REST channel (``bot/channels.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp

from ooh.contracts import ChannelHints, Expect, Finished, Transfer


@dataclass
class AgentTurn:
    """What the agent answered to one utterance."""

    texts: list[str] = field(default_factory=list)
    #: The kind of answer the agent's last question expects.
    expect: Expect | None = None
    #: Set when the agent hands the call to a person.
    transfer: Transfer | None = None
    #: Set when the caller's request is settled (recorded, outcome said).
    finished: Finished | None = None


class AgentClient:
    """Posts recognised speech to the agent and collects its replies."""

    def __init__(self, base_url: str, timeout_seconds: float = 30.0) -> None:
        self._url = base_url.rstrip("/") + "/webhooks/voice/webhook"
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> AgentTurn:
        """One turn of the conversation ``sender``."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        payload = {"sender": sender, "message": text, "metadata": metadata}
        async with self._session.post(self._url, json=payload) as response:
            response.raise_for_status()
            messages = await response.json()
        hints = ChannelHints.read(list(messages or []))
        texts = [str(message["text"]) for message in messages or [] if message.get("text")]
        return AgentTurn(texts, hints.expect, hints.transfer, hints.finished)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
