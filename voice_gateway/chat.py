"""Web chat on a council's own website: the embed script, the chat window, and its WebSocket.

A council pastes one tag::

    <script src="https://<gateway>/web/chat/static/widget.js" data-po="enfield" defer></script>

The script adds a launcher button; the window itself is an ``<iframe>`` of ``/web/chat/window``
(isolated from the host page's CSS and scripts), rendered here with GOV.UK Frontend from the
organisation's data (name, greeting, hours, announcement): no per-organisation code.
``/web/chat?po=<id>`` is a demo council page that embeds it.

Protocol of ``/web/chat/socket?po=<organisation id>`` (JSON text messages):

- window -> gateway: ``{"type": "hello", "token": <token or null>}`` first; then
  ``{"type": "message", "id": <client id>, "text": <what the resident sees>, "payload": <what the
  agent is sent, optional>}``;
- gateway -> window: ``{"type": "welcome", "token", "resumed"}``; for each message
  ``{"type": "reply", "id", "messages": [...], "finished": {...} | null, "repeat": bool}``
  (:func:`voice_gateway.chat_replies.for_resident`); ``{"type": "error", "text"}`` then close.

The server issues the conversation: a random sender id (``web-`` + 128 bits) and the organisation,
signed together (``itsdangerous``) into the token the window keeps. A token the server did not
sign, or signed for another organisation, starts a new conversation. A message id already answered
in this conversation is not sent to the agent again: its reply is sent again instead, so a window
that lost its connection mid-reply can safely send everything it has not seen answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader, select_autoescape

from ooh.orgs.loader import Organisation
from ooh.orgs.models import Window
from ooh.secrets import kept_secret
from ooh.settings import PROJECT_ROOT, Settings
from voice_gateway.chat_replies import for_resident, tel_href
from voice_gateway.deps import Gateway, GatewayDep

STATIC = Path(__file__).with_name("static") / "chat"
ASSETS = PROJECT_ROOT / "vendor" / "govuk-frontend" / "assets"
SECRET_NAME = "web_chat_secret"
SALT = "ooh-web-chat"
MAX_FRAME_BYTES = 16 * 1024
"""Largest message a chat window may send (the agent reads 2,000 characters of a message)."""
MAX_TEXT_CHARS = 4000
KEEP_ANSWERED = 5000
"""Replies kept (conversation, message id) for windows that send a message again."""
POLICY_VIOLATION = 1008
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PAYLOAD = re.compile(r"^/[a-z_]{1,64}$")
SORRY = (
    "Sorry, something went wrong on our side and your message did not reach us. Please send it again. "
    "If anyone is in immediate danger, call 999 now."
)
DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday"}
DAY_NAMES |= {"sat": "Saturday", "sun": "Sunday"}

logger = logging.getLogger(__name__)
router = APIRouter()

templates = Environment(
    loader=ChoiceLoader(
        [
            FileSystemLoader(Path(__file__).with_name("templates")),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    ),
    autoescape=select_autoescape(default=True),
)


# --------------------------------------------------------------------------- conversations
@dataclass(frozen=True)
class Conversation:
    """One resident's chat: the sender id the agent knows and the organisation, fixed at start."""

    sender: str
    po: str


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(kept_secret(SECRET_NAME, settings.secrets_dir), salt=SALT)


def new_conversation(settings: Settings, po: str) -> tuple[Conversation, str]:
    """A new conversation and the token the window keeps for it."""
    conversation = Conversation("web-" + secrets.token_urlsafe(16), po)
    return conversation, _serializer(settings).dumps({"s": conversation.sender, "p": po})


def read_token(settings: Settings, token: object, po: str) -> Conversation | None:
    """The conversation of a token this server issued for ``po``, else None."""
    if not isinstance(token, str) or len(token) > 300:
        return None
    try:
        data = _serializer(settings).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("p") != po or not isinstance(data.get("s"), str):
        return None
    return Conversation(data["s"], po)


class ChatAgent:
    """Posts residents' messages to the agent's REST chat webhook and remembers what it answered."""

    def __init__(self, base_url: str, timeout_seconds: float = 30.0) -> None:
        self._url = base_url.rstrip("/") + "/webhooks/rest/webhook"
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        self.answered: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, sender: str) -> asyncio.Lock:
        """One message at a time per conversation, even from two tabs."""
        if len(self._locks) > KEEP_ANSWERED:
            for key in [k for k, lock in self._locks.items() if not lock.locked()]:
                del self._locks[key]
        return self._locks.setdefault(sender, asyncio.Lock())

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """The agent's raw replies to one message."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        payload = {"sender": sender, "message": text, "metadata": metadata}
        async with self._session.post(self._url, json=payload) as response:
            response.raise_for_status()
            replies = await response.json()
        return [r for r in replies or [] if isinstance(r, dict)]

    def remember(self, key: tuple[str, str], reply: dict[str, Any]) -> None:
        """Keep a reply for a window that sends the same message id again."""
        self.answered[key] = reply
        while len(self.answered) > KEEP_ANSWERED:
            self.answered.popitem(last=False)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def chat_agent(gateway: Gateway) -> ChatAgent:
    """The gateway's chat agent client (made on first use)."""
    agent: ChatAgent | None = getattr(gateway, "chat_agent", None)
    if agent is None:
        agent = ChatAgent(gateway.settings.rasa_url)
        gateway.chat_agent = agent  # type: ignore[attr-defined]
    return agent


async def close_chat(gateway: Gateway) -> None:
    """On shutdown: close the chat agent's session, if one was made."""
    agent: ChatAgent | None = getattr(gateway, "chat_agent", None)
    if agent is not None:
        await agent.close()


# --------------------------------------------------------------------------- pages
def describe_hours(windows: list[Window]) -> str:
    """``Monday to Friday 17:00 to 08:00; Saturday and Sunday all day`` from an hours schedule."""
    parts = []
    for window in windows:
        days = [DAY_NAMES[d] for d in window.days]
        if (
            len(days) > 2
            and list(DAY_NAMES).index(window.days[-1]) - list(DAY_NAMES).index(window.days[0]) == len(days) - 1
        ):
            named = f"{days[0]} to {days[-1]}"
        else:
            named = " and ".join([", ".join(days[:-1]), days[-1]] if len(days) > 1 else days)
        span = (
            "all day"
            if (window.start, window.end) in (("00:00", "24:00"), ("00:00", "00:00"))
            else (f"{window.start} to {window.end}")
        )
        parts.append(f"{named} {span}")
    return "; ".join(parts)


def window_context(org: Organisation, settings: Settings) -> dict[str, Any]:
    """What the window shows, all from the organisation's data."""
    profile = org.profile
    daytime = profile.daytime_service
    return {
        "po": org.id,
        "name": profile.name,
        "short_name": profile.short_name,
        "greeting": profile.greeting,
        "notice": profile.recording_notice.replace("Calls and chats", "Chats"),
        "announcement": org.current_announcement(),
        "hours": describe_hours(profile.hours.get("out_of_hours", [])),
        "daytime": daytime,
        "daytime_tel": tel_href(daytime.phone) if daytime.phone else None,
    }


def _organisation(gateway: Gateway, po: str | None) -> Organisation:
    org = gateway.services.router.registry.get(po)
    if org is None:
        raise HTTPException(404, "No organisation has that id. If anyone is in immediate danger, call 999.")
    return org


def _page(html: str, nonce: str, framed: bool) -> HTMLResponse:
    response = HTMLResponse(html)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
        "connect-src 'self'; img-src 'self' data:; "
        f"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors {'*' if framed else 'none'}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/web/chat", response_class=HTMLResponse)
async def demo_page(request: Request, gateway: GatewayDep, po: str = "enfield") -> HTMLResponse:
    """A council's page with the chat embedded by its one ``<script>`` tag (a demo, and for tests)."""
    org = _organisation(gateway, po)
    nonce = secrets.token_urlsafe(16)
    html = templates.get_template("chat/demo.html").render(cspNonce=nonce, **window_context(org, gateway.settings))
    return _page(html, nonce, framed=False)


@router.get("/web/chat/window", response_class=HTMLResponse)
async def window_page(request: Request, gateway: GatewayDep, po: str | None = None) -> HTMLResponse:
    """The chat window, inside the launcher's iframe."""
    org = _organisation(gateway, po)
    nonce = secrets.token_urlsafe(16)
    html = templates.get_template("chat/window.html").render(cspNonce=nonce, **window_context(org, gateway.settings))
    return _page(html, nonce, framed=True)


# --------------------------------------------------------------------------- the socket
def _metadata(settings: Settings, po: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"po": po}
    if settings.allow_clock_override and settings.voice_clock:
        metadata["now"] = settings.voice_clock
    return metadata


async def answer(gateway: Gateway, conversation: Conversation, message: dict[str, Any]) -> dict[str, Any] | None:
    """The reply to one resident message (sent again, not re-asked, for a repeated id); None: ignored."""
    client_id, text, payload = message.get("id"), message.get("text"), message.get("payload")
    if not isinstance(client_id, str) or not _ID.match(client_id) or not isinstance(text, str):
        return None
    if payload is not None and not (isinstance(payload, str) and (_PAYLOAD.match(payload) or payload == text)):
        payload = None
    agent = chat_agent(gateway)
    key = (conversation.sender, client_id)
    async with agent.lock(conversation.sender):
        if key in agent.answered:
            return {**agent.answered[key], "repeat": True}
        try:
            replies = await agent.send(
                conversation.sender, (payload or text)[:MAX_TEXT_CHARS], _metadata(gateway.settings, conversation.po)
            )
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            logger.error("Chat message not answered: %s", type(error).__name__)
            failed = for_resident([{"text": SORRY}])
            return {"type": "reply", "id": client_id, **failed, "repeat": False, "failed": True}
        reply = {"type": "reply", "id": client_id, **for_resident(replies), "repeat": False}
        agent.remember(key, reply)
        return reply


async def _send(websocket: WebSocket, message: dict[str, Any]) -> None:
    await websocket.send_text(json.dumps(message))


@router.websocket("/web/chat/socket")
async def chat_socket(websocket: WebSocket, gateway: GatewayDep, po: str | None = None) -> None:
    """One chat window's connection (it reconnects as often as it needs to)."""
    await websocket.accept()
    org = gateway.services.router.registry.get(po)
    try:
        if org is None:
            await _send(websocket, {"type": "error", "text": "This chat is not set up. In an emergency, call 999."})
            await websocket.close(code=POLICY_VIOLATION)
            return
        conversation: Conversation | None = None
        while True:
            data = await websocket.receive_text()
            if len(data.encode("utf-8")) > MAX_FRAME_BYTES:
                await websocket.close(code=1009, reason="message too big")
                return
            try:
                message = json.loads(data)
            except (ValueError, RecursionError):
                continue
            if not isinstance(message, dict):
                continue
            if message.get("type") == "hello":
                conversation = read_token(gateway.settings, message.get("token"), org.id)
                token = message.get("token")
                resumed = conversation is not None
                if conversation is None:
                    conversation, token = new_conversation(gateway.settings, org.id)
                await _send(websocket, {"type": "welcome", "token": token, "resumed": resumed})
            elif message.get("type") == "message" and conversation is not None:
                reply = await answer(gateway, conversation, message)
                if reply is not None:
                    await _send(websocket, reply)
    except (WebSocketDisconnect, RuntimeError):
        pass
