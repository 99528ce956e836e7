"""Asterisk AudioSocket: so a council with its own PBX can send calls straight to the gateway.

AudioSocket is a TCP protocol of framed messages: one byte kind, two bytes big-endian length,
payload. Kinds: ``0x01`` the call's UUID (16 bytes, first), ``0x10`` audio (16-bit signed linear,
8 kHz mono, little-endian), ``0x03`` a DTMF digit (one ASCII byte), ``0x00`` hang-up, ``0xff``
an error. The gateway answers with ``0x10`` audio and ``0x00`` to hang up.

AudioSocket carries no dialled number, so the dialplan puts it in the UUID's last group (the
number's digits, zero-padded to 12), and reads the transfer target back over HTTP after the
socket closes::

    exten => _X.,1,Set(CALL=00000000-0000-4000-8000-${EXTEN:-12})   ; e.g. ...-002079460101
     same => n,AudioSocket(${CALL},gateway.example:9092)
     same => n,Set(TARGET=${CURL(http://gateway.example:8080/audiosocket/${CALL}/transfer)})
     same => n,GotoIf($["${TARGET}" = ""]?done)
     same => n,Dial(PJSIP/${TARGET}@council-trunk)
     same => n(done),Hangup()
"""

from __future__ import annotations

import asyncio
import logging
import struct
import uuid as uuid_module

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from voice_gateway.call import CallSink
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


def dialled_from_uuid(call_uuid: str) -> str | None:
    """The dialled number the dialplan put in the UUID's last group (UK numbers start with 0)."""
    last = call_uuid.rsplit("-", 1)[-1]
    if not last.isdigit() or not last.strip("0"):
        return None
    return "0" + last.lstrip("0")


class AudioSocketSink(CallSink):
    """Plays audio back down the socket; a transfer is left for the dialplan to pick up."""

    def __init__(self, writer: asyncio.StreamWriter, gateway: Gateway, call_uuid: str) -> None:
        self.writer = writer
        self.gateway = gateway
        self.call_uuid = call_uuid
        self.open = True

    async def send_audio(self, pcm: bytes) -> None:
        """One frame of signed linear audio."""
        if self.open:
            self.writer.write(frame(KIND_AUDIO, pcm))
            await self.writer.drain()

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


async def _read(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readexactly(3)
    kind, length = struct.unpack(">BH", header)
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
    sink = AudioSocketSink(writer, gateway, call_uuid)
    call = gateway.new_call(
        sink,
        protocol="audiosocket",
        sample_rate=AUDIOSOCKET_RATE,
        dialled=dialled_from_uuid(call_uuid),
        call_id=call_uuid,
    )
    runner = asyncio.create_task(call.run())
    try:
        while not runner.done():
            read = asyncio.create_task(_read(reader))
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
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        sink.open = False
        call.push_hangup()
        await runner
        writer.close()


async def serve(gateway: Gateway, port: int, host: str = "0.0.0.0") -> asyncio.Server:  # noqa: S104
    """Listen for AudioSocket connections."""
    return await asyncio.start_server(lambda r, w: handle(gateway, r, w), host, port)


@router.get("/audiosocket/{call_uuid}/transfer", response_class=PlainTextResponse)
async def transfer_target(call_uuid: str, gateway: GatewayDep) -> str:
    """Where the dialplan should put a call through after the socket closed (empty: nowhere)."""
    return gateway.transfers.pop(call_uuid, "")
