"""Twilio Media Streams: the phone line most councils' numbers can be diverted to.

1. Twilio requests ``POST /twilio/voice`` when a call arrives (form fields ``CallSid``, ``To``,
   ``From``); we answer with TwiML ``<Connect><Stream>`` pointing back at ``/twilio/media``, with
   the dialled number as a stream parameter.
2. Twilio opens that WebSocket and sends JSON events: ``connected``, ``start`` (``streamSid``,
   ``callSid``, ``customParameters``), ``media`` (base64 μ-law 8 kHz, 20 ms), ``dtmf``, ``mark``
   and ``stop``. We send ``media`` back to play, ``mark`` to learn when it has played, and
   ``clear`` to drop queued audio when the caller talks over the agent.
3. A transfer redirects the live call through Twilio's REST API (``Calls/{CallSid}.json`` with
   ``<Dial>`` TwiML) to the on-call number from the rota.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from html import escape

import aiohttp
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response

from voice_gateway.audio import pcm_to_ulaw, ulaw_to_pcm
from voice_gateway.call import CallSink
from voice_gateway.deps import Gateway, GatewayDep

TWILIO_RATE = 8000
logger = logging.getLogger(__name__)

router = APIRouter()


@router.post("/twilio/voice")
async def incoming_call(request: Request) -> Response:
    """TwiML for a new call: stream its audio to this gateway."""
    form = await request.form()
    dialled = str(form.get("To") or "")
    caller = str(form.get("From") or "")
    host = request.headers.get("host", "localhost")
    scheme = "wss" if request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https" else "ws"
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        f'<Stream url="{scheme}://{escape(host)}/twilio/media">'
        f'<Parameter name="to" value="{escape(dialled)}"/><Parameter name="from" value="{escape(caller)}"/>'
        "</Stream></Connect></Response>"
    )
    return Response(content=twiml, media_type="application/xml")


class TwilioSink(CallSink):
    """Plays audio into a Twilio stream and redirects the call for a transfer."""

    def __init__(self, websocket: WebSocket, gateway: Gateway, stream_sid: str, call_sid: str) -> None:
        self.websocket = websocket
        self.gateway = gateway
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.open = True

    async def _send(self, message: dict[str, object]) -> None:
        if self.open:
            await self.websocket.send_text(json.dumps({"streamSid": self.stream_sid, **message}))

    async def send_audio(self, pcm: bytes) -> None:
        """One frame as base64 μ-law."""
        await self._send({"event": "media", "media": {"payload": base64.b64encode(pcm_to_ulaw(pcm)).decode()}})

    async def clear(self) -> None:
        """Drop audio Twilio has buffered."""
        await self._send({"event": "clear"})

    async def transfer(self, number: str) -> None:
        """Redirect the live call to a ``<Dial>`` of the number (Twilio REST API)."""
        settings = self.gateway.settings
        if not settings.twilio_account_sid:
            logger.error("Call %s: transfer to the on-call number needs OOH_TWILIO_ACCOUNT_SID", self.call_sid)
            await self.hang_up()
            return
        twiml = f"<Response><Dial>{escape(number)}</Dial></Response>"
        url = f"{settings.twilio_api_base}/2010-04-01/Accounts/{settings.twilio_account_sid}/Calls/{self.call_sid}.json"
        auth = aiohttp.BasicAuth(settings.twilio_account_sid or "", settings.twilio_auth_token or "")
        async with aiohttp.ClientSession() as session, session.post(url, data={"Twiml": twiml}, auth=auth) as response:
            response.raise_for_status()
        await self.hang_up()

    async def hang_up(self) -> None:
        """Close the stream (Twilio ends the call when the ``<Connect>`` finishes)."""
        if self.open:
            self.open = False
            await self.websocket.close()


@router.websocket("/twilio/media")
async def media_stream(websocket: WebSocket, gateway: GatewayDep) -> None:
    """One call's media stream."""
    await websocket.accept()
    call = None
    runner: asyncio.Task[None] | None = None
    sink: TwilioSink | None = None
    try:
        while True:
            message = json.loads(await websocket.receive_text())
            event = message.get("event")
            if event == "start":
                start = message["start"]
                parameters = start.get("customParameters") or {}
                sink = TwilioSink(websocket, gateway, message.get("streamSid") or start["streamSid"], start["callSid"])
                call = gateway.new_call(
                    sink,
                    protocol="twilio",
                    sample_rate=TWILIO_RATE,
                    dialled=parameters.get("to"),
                    call_id=start["callSid"],
                )
                runner = asyncio.create_task(call.run())
            elif call is None:
                continue
            elif event == "media":
                call.push_audio(ulaw_to_pcm(base64.b64decode(message["media"]["payload"])))
            elif event == "dtmf":
                call.push_dtmf(str(message["dtmf"]["digit"]))
            elif event == "stop":
                break
    except (WebSocketDisconnect, RuntimeError, json.JSONDecodeError, KeyError):
        pass
    finally:
        if sink is not None:
            sink.open = False
        if call is not None and runner is not None:
            call.push_hangup()
            await runner
