"""The chat socket's own rules: the server issues conversations, fixes the organisation, answers each message once."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from typing import Any

import pytest
import websockets.client

from harness.stack import Stack, VoiceGateway, http_json

pytestmark = pytest.mark.e2e


def socket_url(gateway: VoiceGateway, po: str) -> str:
    return gateway.url.replace("http://", "ws://") + f"/web/chat/socket?po={po}"


async def exchange(gateway: VoiceGateway, po: str, *messages: dict[str, Any]) -> list[dict[str, Any]]:
    """Send each message and read one answer to each."""
    answers = []
    async with websockets.client.connect(socket_url(gateway, po)) as socket:
        for message in messages:
            await socket.send(json.dumps(message))
            answers.append(json.loads(await asyncio.wait_for(socket.recv(), 90)))
    return answers


def user_texts(stack: Stack, sender: str) -> list[str]:
    tracker = http_json(stack.api(f"/conversations/{urllib.parse.quote(sender)}/tracker"))
    return [e.get("text") for e in tracker["events"] if e.get("event") == "user"]


def sender_in(token: str) -> str:
    from itsdangerous import URLSafeSerializer

    return str(URLSafeSerializer("not the key").loads_unsafe(token)[1]["s"])


def test_the_server_issues_the_conversation_and_refuses_forged_or_moved_tokens(gateway: VoiceGateway) -> None:
    """A new token names a 128-bit random sender; a forged token, or one for another organisation, starts afresh."""
    (welcome,) = asyncio.run(exchange(gateway, "enfield", {"type": "hello", "token": None}))
    assert welcome["type"] == "welcome" and welcome["resumed"] is False
    sender = sender_in(welcome["token"])
    assert sender.startswith("web-") and len(sender) >= 4 + 22  # 16 random bytes, base64
    (again,) = asyncio.run(exchange(gateway, "enfield", {"type": "hello", "token": welcome["token"]}))
    assert again["resumed"] is True and again["token"] == welcome["token"]
    forged = welcome["token"][:-3] + ("AAA" if not welcome["token"].endswith("AAA") else "BBB")
    (refused,) = asyncio.run(exchange(gateway, "enfield", {"type": "hello", "token": forged}))
    assert refused["resumed"] is False and sender_in(refused["token"]) != sender
    (moved,) = asyncio.run(exchange(gateway, "barnet", {"type": "hello", "token": welcome["token"]}))
    assert moved["resumed"] is False and sender_in(moved["token"]) != sender


def test_a_repeated_message_id_reaches_the_agent_once(gateway: VoiceGateway, stack: Stack) -> None:
    """A window that sends a message again (it lost the reply) gets the same reply; the agent hears it once."""
    hello = {"type": "hello", "token": None}
    message = {"type": "message", "id": "m-1", "text": "my toilet is blocked"}
    welcome, first, second = asyncio.run(exchange(gateway, "enfield", hello, message, message))
    assert first["type"] == "reply" and first["id"] == "m-1" and first["repeat"] is False
    assert second["repeat"] is True and second["messages"] == first["messages"]
    assert all(m["text"] for m in first["messages"])
    assert user_texts(stack, sender_in(welcome["token"])).count("my toilet is blocked") == 1


def test_an_unknown_organisation_is_told_999_and_closed(gateway: VoiceGateway) -> None:
    """No organisation, no conversation: the window is told 999 and the socket closed."""
    (error,) = asyncio.run(exchange(gateway, "nowhere", {"type": "hello", "token": None}))
    assert error["type"] == "error" and "999" in error["text"]
