"""Asterisk AudioSocket: so a council with its own PBX can send calls straight to the gateway.

AudioSocket is a TCP protocol of framed messages: one byte kind, two bytes big-endian length,
payload. Kinds: ``0x01`` the call's UUID (16 bytes, first), ``0x10`` audio (16-bit signed linear,
8 kHz mono, little-endian), ``0x03`` a DTMF digit (one ASCII byte), ``0x00`` hang-up, ``0xff``
an error. The gateway answers with ``0x10`` audio and ``0x00`` to hang up.

Each call gets a random UUID from the dialplan, which first tells the gateway the dialled number
(AudioSocket carries none) and afterwards reads the transfer target, both with the PBX token.
A UUID already in a call is refused: two callers must never share a conversation or recording
(the number-in-the-UUID scheme once gave every caller to one number the same UUID)::

    exten => _X.,1,Set(CALL=${FILTER(0-9a-f-,${SHELL(cat /proc/sys/kernel/random/uuid)})})
     same => n,Set(OK=${CURL(http://127.0.0.1:8080/audiosocket/${CALL}/dialled?number=${EXTEN}&token=${PBX_TOKEN})})
     same => n,AudioSocket(${CALL},127.0.0.1:9092)
     same => n,Set(TARGET=${CURL(http://127.0.0.1:8080/audiosocket/${CALL}/transfer?token=${PBX_TOKEN})})
     same => n,GotoIf($["${TARGET}" = ""]?done)
     same => n,Dial(PJSIP/${TARGET}@council-trunk)
     same => n(done),Hangup()

Port 9092 listens on ``OOH_AUDIOSOCKET_HOST`` (loopback by default): open it to the PBX only.

Bounds: a frame longer than ``voice_max_frame_bytes`` (the length field allows 64 KiB; Asterisk
sends 320 bytes) is not read: the call is ended and hung up. When ``voice_max_live_calls`` calls
are in progress, a new connection is hung up at once.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import struct
import time
import uuid as uuid_module
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import PlainTextResponse

from ooh.secrets import pbx_token
from voice_gateway.call import CallSink, FrameTooBig, LineBusy
from voice_gateway.deps import Gateway, GatewayDep

AUDIOSOCKET_RATE = 8000
KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF

logger = logging.getLogger(__name__)
router = APIRouter()


def frame(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket message."""
    return struct.pack(">BH", kind, len(payload)) + payload


DIALLED_SECONDS = 60
"""How long a registered dialled number waits for its AudioSocket connection."""
_NUMBER = re.compile(r"^\+?[0-9]{3,15}$")


def require_pbx(request: Request, gateway: GatewayDep) -> None:
    """The dialplan's calls need the PBX token (``?token=``)."""
    given = request.query_params.get("token", "")
    if not given or not hmac.compare_digest(given.encode(), pbx_token(gateway.settings).encode()):
        raise HTTPException(401, "This needs the PBX token.")


PbxDep = Annotated[None, Depends(require_pbx)]


class AudioSocketSink(CallSink):
    """Plays audio back down the socket; a transfer is left for the dialplan to pick up."""

    def __init__(self, writer: asyncio.StreamWriter, gateway: Gateway, call_uuid: str) -> None:
        self.writer = writer
        self.gateway = gateway
        self.call_uuid = call_uuid
        self.open = True

    async def send_audio(self, pcm: bytes) -> None:
        """One frame of signed linear audio (nothing once the line is gone: the caller hung up)."""
        if self.open:
            try:
                self.writer.write(frame(KIND_AUDIO, pcm))
                await self.writer.drain()
            except ConnectionError:
                self.open = False

    async def clear(self) -> None:
        """Nothing to clear: audio is sent in real time, so stopping sending stops playback."""

    async def transfer(self, number: str) -> None:
        """Keep the target for the dialplan's ``CURL`` and hang up."""
        self.gateway.transfers[self.call_uuid] = number
        await self.hang_up()

    async def hang_up(self) -> None:
        """Send the hang-up message and close."""
        if self.open:
            self.open = False
            self.writer.write(frame(KIND_HANGUP))
            await self.writer.drain()
            self.writer.close()


async def _read(reader: asyncio.StreamReader, limit: int = 0xFFFF) -> tuple[int, bytes]:
    """One message; a payload longer than ``limit`` is not read (:class:`FrameTooBig`)."""
    header = await reader.readexactly(3)
    kind, length = struct.unpack(">BH", header)
    if length > limit:
        raise FrameTooBig(length, limit)
    return kind, await reader.readexactly(length) if length else b""


async def handle(gateway: Gateway, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One AudioSocket connection: a call."""
    try:
        kind, payload = await asyncio.wait_for(_read(reader), 10)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        writer.close()
        return
    if kind != KIND_UUID or len(payload) != 16:
        logger.warning("AudioSocket connection did not start with a UUID; closed")
        writer.close()
        return
    call_uuid = str(uuid_module.UUID(bytes=payload))
    if call_uuid in gateway.live_audiosocket:
        logger.warning("AudioSocket UUID already in a call; refused (the dialplan must make one per call)")
        writer.write(frame(KIND_HANGUP))
        writer.close()
        return
    registered = gateway.audiosocket_dialled.pop(call_uuid, None)
    dialled = registered[0] if registered and registered[1] >= time.monotonic() else None
    sink = AudioSocketSink(writer, gateway, call_uuid)
    try:
        call = gateway.new_call(
            sink,
            protocol="audiosocket",
            sample_rate=AUDIOSOCKET_RATE,
            dialled=dialled,
            call_id=call_uuid,
        )
    except LineBusy:
        logger.warning("AudioSocket call refused: %d calls in progress, the most allowed", gateway.calls_in_progress())
        writer.write(frame(KIND_HANGUP))
        writer.close()
        return
    gateway.live_audiosocket.add(call_uuid)
    limit = gateway.settings.voice_max_frame_bytes
    runner = asyncio.create_task(call.run())
    try:
        while not runner.done():
            read = asyncio.create_task(_read(reader, limit))
            done, _ = await asyncio.wait({read, runner}, return_when=asyncio.FIRST_COMPLETED)
            if read not in done:
                read.cancel()
                break
            kind, payload = read.result()
            if kind == KIND_AUDIO:
                call.push_audio(payload)
            elif kind == KIND_DTMF and payload:
                call.push_dtmf(payload[:1].decode("ascii", "replace"))
            elif kind in (KIND_HANGUP, KIND_ERROR):
                break
    except FrameTooBig as error:
        call.log.add("frame_too_big", str(error), size=error.size, limit=error.limit)
        logger.warning("AudioSocket call %s: %s; hung up", call_uuid, error)
        try:
            await sink.hang_up()
        except ConnectionError:
            pass
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        sink.open = False
        call.push_hangup()
        try:
            await runner
        finally:
            gateway.end_call(call)
            gateway.live_audiosocket.discard(call_uuid)
            writer.close()


async def serve(gateway: Gateway, port: int, host: str) -> asyncio.Server:
    """Listen for AudioSocket connections on ``host`` (the PBX's side only)."""
    return await asyncio.start_server(lambda r, w: handle(gateway, r, w), host, port)


@router.get("/audiosocket/{call_uuid}/dialled", response_class=PlainTextResponse)
async def register_dialled(call_uuid: str, number: str, gateway: GatewayDep, _: PbxDep) -> str:
    """The dialplan says which number a call to come was dialled (before its ``AudioSocket``)."""
    try:
        call_uuid = str(uuid_module.UUID(call_uuid))
    except ValueError:
        raise HTTPException(400, "Not a UUID") from None
    if not _NUMBER.match(number):
        raise HTTPException(400, "Not a phone number")
    now = time.monotonic()
    for stale in [u for u, (_, until) in gateway.audiosocket_dialled.items() if until < now]:
        del gateway.audiosocket_dialled[stale]
    gateway.audiosocket_dialled[call_uuid] = (number, now + DIALLED_SECONDS)
    return "ok"


@router.get("/audiosocket/{call_uuid}/transfer", response_class=PlainTextResponse)
async def transfer_target(call_uuid: str, gateway: GatewayDep, _: PbxDep) -> str:
    """Where the dialplan should put a call through after the socket closed (empty: nowhere)."""
    return gateway.transfers.pop(call_uuid, "")
