"""The agent's doors in Rasa: the chat webhook and the phone gateway's, both checked at the door.

Chat posts to ``/webhooks/rest/webhook``; the voice gateway (``voice_gateway``) posts each
recognised utterance to ``/webhooks/voice/webhook``. Same contract, different names, so records say
a request came by phone (``channel: voice``) and every script works unchanged.

Rasa's stock REST channel takes whatever JSON arrives: a ``message`` sent as a number, or
``metadata`` as a string, got ``200 []`` and the message was silently lost (a suicide disclosure
included), and a 1 MB message stalled every conversation for most of a minute. Here each request is
checked first: wrong types get ``400`` with the reason; the sender id must be a plain id (it names
files and conversations); a message longer than :data:`MAX_MESSAGE_CHARS` is shortened, the
resident is told so, and any sentence of the cut part that a safeguarding phrase rule matches is
kept, so a disclosure at the end of a long message still reaches safeguarding.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint
from sanic.exceptions import InvalidUsage
from sanic.request import Request

from ooh.contracts import VOICE_CHANNEL
from ooh.safeguarding import RISK, Safeguarding
from ooh.settings import get_settings
from ooh.text import clean

MAX_MESSAGE_CHARS = 2000
"""Longest message read in full (a page of text; residents' longest real messages are far shorter)."""
MAX_KEPT_RISK_CHARS = 500
"""At most this much of a cut message's risk sentences is kept beside the first part."""
SHORTENED = "Your message was very long, so I've read the first part of it."
FAILED = (
    "Sorry, something went wrong on our side and I couldn't take that in. Please send it again. "
    "If anyone is in danger, call 999 now."
)
logger = logging.getLogger(__name__)
_SENDER = re.compile(r"^[A-Za-z0-9._:@+-]{1,128}$")
_SENTENCE = re.compile(r"(?<=[.!?\n])\s+")


@cache
def _rules() -> Safeguarding:
    return Safeguarding.from_file(get_settings().service_scripts_dir / "_common" / "safeguarding.yaml")


def shorten(text: str) -> str:
    """The first :data:`MAX_MESSAGE_CHARS` characters, plus the cut part's risk sentences."""
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    kept, rest = text[:MAX_MESSAGE_CHARS], text[MAX_MESSAGE_CHARS:]
    risky: list[str] = []
    budget = MAX_KEPT_RISK_CHARS
    for sentence in _SENTENCE.split(rest):
        if any(d.kind.group == RISK for d in _rules().screen(sentence[:MAX_KEPT_RISK_CHARS])):
            piece = sentence[:budget]
            risky.append(piece)
            budget -= len(piece)
            if budget <= 0:
                break
    return " ".join([kept, *risky])


def checked(request: Request) -> tuple[str, str, dict[str, Any] | None]:
    """Sender, text and metadata of a webhook request, or a ``400`` saying what is wrong."""
    body = request.json
    if not isinstance(body, dict):
        raise InvalidUsage("The request body must be a JSON object with 'sender' and 'message'.")
    sender, text, metadata = body.get("sender"), body.get("message"), body.get("metadata")
    if not isinstance(sender, str) or not _SENDER.match(sender):
        raise InvalidUsage("'sender' must be an id of 1-128 letters, digits or . _ : @ + -")
    if not isinstance(text, str):
        raise InvalidUsage("'message' must be text.")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidUsage("'metadata' must be a JSON object.")
    return sender, text, metadata


class ChatInput(RestInput):
    """Rasa's REST channel (``rest``) with every request checked and long messages shortened."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's webhook routes; a shortened message is owned up to before the agent answers."""

        async def noting(message: UserMessage) -> None:
            if (message.metadata or {}).get("shortened_from"):
                await message.output_channel.send_text_message(message.sender_id, SHORTENED)
            try:
                await on_new_message(message)
            except Exception as error:  # noqa: BLE001 - Rasa would log the message text and answer []
                logger.error("Message could not be handled: %s", type(error).__name__)
                await message.output_channel.send_text_message(message.sender_id, FAILED)

        return super().blueprint(noting)

    async def _extract_sender(self, req: Request) -> str | None:
        return checked(req)[0]

    def _extract_message(self, req: Request) -> str | None:
        return shorten(clean(checked(req)[1]))

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        """The metadata, noting a shortened message so the agent can say so."""
        _, text, metadata = checked(request)
        if len(text) > MAX_MESSAGE_CHARS:
            return {**(metadata or {}), "shortened_from": len(text)}
        return metadata


class VoiceInput(ChatInput):
    """The same checked channel, named ``voice``."""

    @classmethod
    def name(cls) -> str:
        """The channel name stored with every message and service request."""
        return VOICE_CHANNEL
