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

Who is calling is checked (Twilio's own ``RequestValidator``, when ``OOH_TWILIO_AUTH_TOKEN`` is set;
refused without it in production): the webhook's ``X-Twilio-Signature`` over its URL and form, and
the stream handshake's over its URL. Each TwiML also carries a one-time ticket that the stream's
``start`` must echo, so a media stream belongs to a call whose webhook was checked; and a
``callSid`` must look like one (``CA`` and 32 hex digits).

Bounds: the webhook takes a body of at most :data:`WEBHOOK_MAX_BYTES`; when every line is busy
(``voice_max_live_calls``, counting calls answered whose stream has not started) it answers TwiML
that tells the caller so, and to call 999 in an emergency, and hangs up. A stream message over
``voice_max_frame_bytes`` closes the stream with 1009 and ends the call; a stream must ``start``
within :data:`START_SECONDS` and :data:`MESSAGES_BEFORE_START` messages.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import secrets
import time
from datetime import datetime, timezone
from html import escape

import aiohttp
from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.requests import HTTPConnection
from fastapi.responses import Response
from twilio.request_validator import RequestValidator

from ooh.referrals.acknowledge import acknowledge
from ooh.spoken import speakable
from voice_gateway.audio import pcm_to_ulaw, ulaw_to_pcm
from voice_gateway.call import BUSY_WORDS, Call, CallSink, FrameTooBig, LineBusy
from voice_gateway.deps import Gateway, GatewayDep
from voice_gateway.web import close_too_big, parse_json, receive_message

TWILIO_RATE = 8000
TICKET_SECONDS = 60
"""How long Twilio has to open the stream after our TwiML (it does so within a second or two)."""
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
WEBHOOK_MAX_BYTES = 64 * 1024
"""Largest webhook body taken (Twilio's are about 2 KB)."""
START_SECONDS = 10
"""How long a stream has to send ``start`` (Twilio sends ``connected`` and ``start`` at once)."""
MESSAGES_BEFORE_START = 10
BUSY_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    f'<Say language="en-GB">{escape(BUSY_WORDS)}</Say><Hangup/></Response>'
)
"""What Twilio does with a call when every line is busy: tell the caller, and hang up."""
logger = logging.getLogger(__name__)

router = APIRouter()


def public_url(connection: HTTPConnection, scheme: str) -> str:
    """The URL Twilio called, as it signed it: behind a proxy, its scheme and host, not ours."""
    proto = connection.headers.get("x-forwarded-proto")
    if proto:
        scheme = {"https": "wss", "http": "ws"}[proto] if scheme.startswith("ws") else proto
    host = connection.headers.get("x-forwarded-host") or connection.headers.get("host", "localhost")
    query = f"?{connection.url.query}" if connection.url.query else ""
    return f"{scheme}://{host}{connection.url.path}{query}"


def signed(connection: HTTPConnection, gateway: Gateway, scheme: str, params: dict[str, str]) -> bool:
    """Whether Twilio signed this request (or, with no auth token outside production, allow it)."""
    token = gateway.settings.twilio_auth_token
    if not token:
        return not gateway.settings.production
    signature = connection.headers.get("x-twilio-signature", "")
    return bool(signature) and RequestValidator(token).validate(public_url(connection, scheme), params, signature)


def issue_ticket(gateway: Gateway) -> str:
    """A one-time ticket the stream's ``start`` must bring back within :data:`TICKET_SECONDS`."""
    now = time.monotonic()
    for stale in [t for t, until in gateway.twilio_tickets.items() if until < now]:
        del gateway.twilio_tickets[stale]
    ticket = secrets.token_urlsafe(16)
    gateway.twilio_tickets[ticket] = now + TICKET_SECONDS
    return ticket


def redeem_ticket(gateway: Gateway, ticket: object) -> bool:
    """Use a ticket up; only a fresh, unused one counts."""
    until = gateway.twilio_tickets.pop(str(ticket), None) if isinstance(ticket, str) else None
    return until is not None and until >= time.monotonic()


async def signed_form(request: Request, gateway: Gateway) -> dict[str, str]:
    """A webhook's form, once its size is bounded and Twilio's signature over it checked (else 411/413/403)."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(411, "A webhook needs a Content-Length")
    if int(length) > WEBHOOK_MAX_BYTES:
        raise HTTPException(413, "Too big for a webhook")
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    if not signed(request, gateway, request.url.scheme, params):
        raise HTTPException(403, "Not signed by Twilio")
    return params


@router.post("/twilio/voice")
async def incoming_call(request: Request, gateway: GatewayDep) -> Response:
    """TwiML for a new call: stream its audio to this gateway (or, every line busy, say so)."""
    form = await signed_form(request, gateway)
    if not gateway.has_room():
        logger.warning("Twilio call refused: %d calls in progress, the most allowed", gateway.calls_in_progress())
        return Response(content=BUSY_TWIML, media_type="application/xml")
    dialled = str(form.get("To") or "")
    caller = str(form.get("From") or "")
    host = request.headers.get("host", "localhost")
    scheme = "wss" if request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https" else "ws"
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        f'<Stream url="{scheme}://{escape(host)}/twilio/media">'
        f'<Parameter name="to" value="{escape(dialled)}"/><Parameter name="from" value="{escape(caller)}"/>'
        f'<Parameter name="ticket" value="{issue_ticket(gateway)}"/>'
        "</Stream></Connect></Response>"
    )
    return Response(content=twiml, media_type="application/xml")


@router.post("/twilio/ack/{token}")
async def referral_call_keypress(token: str, request: Request, gateway: GatewayDep) -> Response:
    """The officer pressed a key during a referral call: 1 acknowledges the referral (and stops escalation)."""
    form = await signed_form(request, gateway)
    if form.get("Digits") != "1":
        words = "No acknowledgement was recorded. The referral will be escalated if it is not acknowledged."
    else:
        now = datetime.now(timezone.utc)
        found = await asyncio.to_thread(acknowledge, gateway.store, gateway.settings, token, now, "keypress")
        if found is None:
            raise HTTPException(404, "No such referral")
        words = f"Thank you. Referral {found.reference} is acknowledged."
    say = f'<Say language="en-GB">{escape(speakable(words))}</Say>'
    return Response(
        content=f'<?xml version="1.0" encoding="UTF-8"?><Response>{say}</Response>', media_type="application/xml"
    )


class TwilioSink(CallSink):
    """Plays audio into a Twilio stream and redirects the call for a transfer."""

    def __init__(self, websocket: WebSocket, gateway: Gateway, stream_sid: str, call_sid: str) -> None:
        self.websocket = websocket
        self.gateway = gateway
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.open = True

    async def _send(self, message: dict[str, object]) -> None:
        if not self.open:
            return
        try:
            await self.websocket.send_text(json.dumps({"streamSid": self.stream_sid, **message}))
        except (WebSocketDisconnect, RuntimeError, OSError):  # the line is gone: the caller hung up
            self.open = False

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
            try:
                await self.websocket.close()
            except (WebSocketDisconnect, RuntimeError, OSError):  # already gone
                pass


@router.websocket("/twilio/media")
async def media_stream(websocket: WebSocket, gateway: GatewayDep) -> None:
    """One call's media stream, from Twilio only."""
    if not signed(websocket, gateway, "wss" if websocket.url.scheme == "wss" else "ws", {}):
        await websocket.close(code=1008)
        return
    await websocket.accept()
    limit = gateway.settings.voice_max_frame_bytes
    call: Call | None = None
    runner: asyncio.Task[None] | None = None
    sink: TwilioSink | None = None
    before_start = 0
    try:
        while True:
            if call is None:
                before_start += 1
                if before_start > MESSAGES_BEFORE_START:
                    logger.warning("Media stream closed: no start in its first %d messages", MESSAGES_BEFORE_START)
                    break
                data = await asyncio.wait_for(receive_message(websocket, limit), START_SECONDS)
            else:
                data = await receive_message(websocket, limit)
            if data is None:
                break
            message = parse_json(data) if isinstance(data, str) else None
            event = message.get("event") if message else None
            if message is None or event is None:
                continue
            if event == "start" and call is None:
                start = message["start"]
                parameters = start.get("customParameters") or {}
                if not redeem_ticket(gateway, parameters.get("ticket")) or not _CALL_SID.match(str(start["callSid"])):
                    logger.warning("Media stream refused: no valid ticket or call id")
                    break
                sink = TwilioSink(websocket, gateway, message.get("streamSid") or start["streamSid"], start["callSid"])
                try:
                    call = gateway.new_call(
                        sink,
                        protocol="twilio",
                        sample_rate=TWILIO_RATE,
                        dialled=parameters.get("to"),
                        call_id=start["callSid"],
                    )
                except LineBusy:  # its ticket held its place, so only if the limit was lowered meanwhile
                    logger.warning("Media stream refused: every line is busy")
                    break
                runner = asyncio.create_task(call.run())
            elif call is None:
                continue
            elif event == "media":
                try:
                    pcm = ulaw_to_pcm(base64.b64decode(message["media"]["payload"]))
                except (KeyError, TypeError, ValueError):  # not base64 audio: ignored, like noise
                    continue
                call.push_audio(pcm)
            elif event == "dtmf":
                call.push_dtmf(str(message["dtmf"]["digit"]))
            elif event == "stop":
                break
    except FrameTooBig as error:
        if sink is not None:
            sink.open = False
        if call is None:
            logger.warning("Media stream closed: %s", error)
        await close_too_big(websocket, call, error)
    except asyncio.TimeoutError:
        logger.warning("Media stream closed: no start within %d s", START_SECONDS)
    except (WebSocketDisconnect, RuntimeError, KeyError, TypeError, AttributeError):
        pass
    finally:
        if sink is not None:
            sink.open = False
        if call is not None and runner is not None:
            call.push_hangup()
            try:
                await runner
            finally:
                gateway.end_call(call)
