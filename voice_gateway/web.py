"""The "talk to us" button on a council's web page: a WebSocket of 16 kHz PCM, and the page.

Protocol (``/web/call?po=<organisation id>``):

- browser -> gateway: binary messages of 16-bit little-endian mono PCM at 16 kHz (any length);
  text messages ``{"type": "dtmf", "digit": "1"}`` (the page's keypad) and ``{"type": "hangup"}``;
- gateway -> browser: binary PCM at 16 kHz to play; text messages ``{"type": "start", "call_id"}``,
  ``{"type": "caption", "who": "agent"|"caller", "text"}``, ``{"type": "clear"}`` (stop playing:
  the caller spoke over the agent), ``{"type": "transfer", "number"}`` and ``{"type": "hangup"}``.

Bounds: a message over ``voice_max_frame_bytes`` closes the socket with 1009 (message too big) and
ends the call; when ``voice_max_live_calls`` calls are in progress, the page gets
``{"type": "busy", "text"}`` and the socket is closed with 1013 (try again later).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse

from voice_gateway.call import BUSY_WORDS, Call, CallSink, FrameTooBig, LineBusy
from voice_gateway.deps import GatewayDep

WEB_RATE = 16000
TOO_BIG = 1009
"""WebSocket close code: message too big."""
TRY_AGAIN_LATER = 1013
"""WebSocket close code: try again later (every line is busy)."""
PAGE = Path(__file__).with_name("static") / "talk.html"

logger = logging.getLogger(__name__)
router = APIRouter()


class WebSink(CallSink):
    """Plays audio and sends captions over the browser's WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.open = True

    async def _send(self, message: dict[str, Any]) -> None:
        """Send, unless the line is gone; if it has just gone, from now on send nothing.

        A line that drops (or is closed for a too-big message) while the agent speaks is the
        caller hanging up, not an error: the call goes on to hear, record and end as a hang-up.
        """
        if not self.open:
            return
        try:
            await self.websocket.send(message)
        except (WebSocketDisconnect, RuntimeError, OSError):  # uvicorn's ClientDisconnected is an OSError
            self.open = False

    async def _send_json(self, message: dict[str, str | None]) -> None:
        await self._send({"type": "websocket.send", "text": json.dumps(message)})

    async def send_audio(self, pcm: bytes) -> None:
        """One frame to play."""
        await self._send({"type": "websocket.send", "bytes": pcm})

    async def clear(self) -> None:
        """Tell the page to drop what it has queued."""
        await self._send_json({"type": "clear"})

    async def transfer(self, number: str) -> None:
        """A web call cannot be put through: the page shows the number to call instead."""
        await self._send_json({"type": "transfer", "number": number})
        await self.hang_up()

    async def hang_up(self) -> None:
        """End the call."""
        await self._send_json({"type": "hangup"})
        await self._send({"type": "websocket.close", "code": 1000})
        self.open = False

    async def event(self, kind: str, text: str) -> None:
        """Captions for the page."""
        await self._send_json({"type": "caption", "who": kind, "text": text})


async def receive_message(websocket: WebSocket, limit: int) -> str | bytes | None:
    """The next message from a WebSocket (None: the other end closed it).

    Raises:
        FrameTooBig: It was longer than ``limit`` bytes, or the server already refused it for that
            (uvicorn's ``ws_max_size``, reported as 1009 by ``python -m voice_gateway``). The
            caller closes the socket with :data:`TOO_BIG` (unless the server has).
    """
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        if message.get("code") == TOO_BIG:
            raise FrameTooBig(None, limit)
        return None
    data: str | bytes | None = message.get("bytes")
    if data is None:
        data = message.get("text")
    if data is None:
        return b""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8"))
    if size > limit:
        raise FrameTooBig(size, limit)
    return data


def parse_json(text: str) -> dict[str, Any] | None:
    """A JSON object, or None for anything else (malformed, too deeply nested, not an object)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


async def close_too_big(websocket: WebSocket, call: Call | None, error: FrameTooBig) -> None:
    """Say why in the call log and close the socket with 1009 (unless the server already has)."""
    if call is not None:
        call.log.add("frame_too_big", str(error), size=error.size, limit=error.limit)
    if error.size is not None:
        try:
            await websocket.close(code=TOO_BIG, reason="message too big")
        except RuntimeError:  # already closed
            pass


@router.get("/web/talk", response_class=HTMLResponse)
async def talk_page() -> str:
    """The page a council embeds or links to ("talk to us")."""
    return PAGE.read_text(encoding="utf-8")


@router.websocket("/web/call")
async def web_call(websocket: WebSocket, gateway: GatewayDep, po: str | None = None) -> None:
    """One web call."""
    await websocket.accept()
    sink = WebSink(websocket)
    limit = gateway.settings.voice_max_frame_bytes
    try:
        call = gateway.new_call(
            sink, protocol="web", sample_rate=WEB_RATE, dialled=None, po=po, call_id=f"web-{uuid.uuid4().hex}"
        )
    except LineBusy:
        logger.warning("Web call refused: %d calls in progress, the most allowed", gateway.calls_in_progress())
        try:
            await websocket.send_text(json.dumps({"type": "busy", "text": BUSY_WORDS}))
            await websocket.close(code=TRY_AGAIN_LATER, reason="all lines are busy")
        except (WebSocketDisconnect, RuntimeError):
            pass
        return
    runner: asyncio.Task[None] | None = None
    try:
        await websocket.send_text(json.dumps({"type": "start", "call_id": call.call_id}))
        runner = asyncio.create_task(call.run())
        while not runner.done():
            receive = asyncio.create_task(receive_message(websocket, limit))
            done, _ = await asyncio.wait({receive, runner}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                break
            data = receive.result()
            if data is None:
                break
            if isinstance(data, bytes):
                if data:
                    call.push_audio(data)
                continue
            message = parse_json(data) or {}
            if message.get("type") == "dtmf":
                call.push_dtmf(str(message.get("digit", "")))
            elif message.get("type") == "hangup":
                break
    except FrameTooBig as error:
        sink.open = False
        await close_too_big(websocket, call, error)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        sink.open = False
        call.push_hangup()
        try:
            if runner is not None:
                await runner
        finally:
            gateway.end_call(call)
