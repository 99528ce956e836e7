"""The "talk to us" button on a council's web page: a WebSocket of 16 kHz PCM, and the page.

Protocol (``/web/call?po=<organisation id>``):

- browser -> gateway: binary messages of 16-bit little-endian mono PCM at 16 kHz (any length);
  text messages ``{"type": "dtmf", "digit": "1"}`` (the page's keypad) and ``{"type": "hangup"}``;
- gateway -> browser: binary PCM at 16 kHz to play; text messages ``{"type": "start", "call_id"}``,
  ``{"type": "caption", "who": "agent"|"caller", "text"}``, ``{"type": "clear"}`` (stop playing:
  the caller spoke over the agent), ``{"type": "transfer", "number"}`` and ``{"type": "hangup"}``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse

from voice_gateway.call import CallSink
from voice_gateway.deps import GatewayDep

WEB_RATE = 16000
PAGE = Path(__file__).with_name("static") / "talk.html"

router = APIRouter()


class WebSink(CallSink):
    """Plays audio and sends captions over the browser's WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.open = True

    async def _send_json(self, message: dict[str, str | None]) -> None:
        if self.open:
            await self.websocket.send_text(json.dumps(message))

    async def send_audio(self, pcm: bytes) -> None:
        """One frame to play."""
        if self.open:
            await self.websocket.send_bytes(pcm)

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
        if self.open:
            self.open = False
            await self.websocket.close()

    async def event(self, kind: str, text: str) -> None:
        """Captions for the page."""
        await self._send_json({"type": "caption", "who": kind, "text": text})


@router.get("/web/talk", response_class=HTMLResponse)
async def talk_page() -> str:
    """The page a council embeds or links to ("talk to us")."""
    return PAGE.read_text(encoding="utf-8")


@router.websocket("/web/call")
async def web_call(websocket: WebSocket, gateway: GatewayDep, po: str | None = None) -> None:
    """One web call."""
    await websocket.accept()
    sink = WebSink(websocket)
    call = gateway.new_call(
        sink, protocol="web", sample_rate=WEB_RATE, dialled=None, po=po, call_id=f"web-{uuid.uuid4().hex}"
    )
    await websocket.send_text(json.dumps({"type": "start", "call_id": call.call_id}))
    runner = asyncio.create_task(call.run())
    try:
        while not runner.done():
            receive = asyncio.create_task(websocket.receive())
            done, _ = await asyncio.wait({receive, runner}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                break
            message = receive.result()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("bytes"):
                call.push_audio(message["bytes"])
            elif message.get("text"):
                data = json.loads(message["text"])
                if data.get("type") == "dtmf" and str(data.get("digit", "")) in "0123456789*#":
                    call.push_dtmf(str(data["digit"]))
                elif data.get("type") == "hangup":
                    break
    except (WebSocketDisconnect, RuntimeError, json.JSONDecodeError):
        pass
    finally:
        sink.open = False
        call.push_hangup()
        await runner
