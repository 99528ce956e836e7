"""Only Twilio gets a call in: signed webhooks, signed stream handshakes, tickets, real call ids.

Findings 4 and 5 of the trust-boundary issue: the media stream accepted any client, a crafted
``callSid`` named a file outside the recordings folder, and ``POST /twilio/voice`` answered 500 to
every call (``python-multipart`` was missing and no test went through that route).
"""

from __future__ import annotations

import asyncio
import json
import struct
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping

import pytest
import websockets.client
import websockets.exceptions
from twilio.request_validator import RequestValidator

from harness.callers import AudioSocketCaller, TwilioCaller
from harness.stack import TWILIO_AUTH_TOKEN, VoiceGateway

pytestmark = pytest.mark.voice


def post_webhook(gateway: VoiceGateway, signature: str | None) -> tuple[int, str]:
    """``POST /twilio/voice`` as Twilio would, with the given signature (or none)."""
    form = {"CallSid": "CA" + uuid.uuid4().hex, "To": "+442079460552", "From": "+447700900555"}
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    request = urllib.request.Request(
        f"{gateway.url}/twilio/voice", data=urllib.parse.urlencode(form).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_webhook_answers_only_twilio(gateway: VoiceGateway) -> None:
    assert post_webhook(gateway, None)[0] == 403
    assert post_webhook(gateway, "bm90IGEgc2lnbmF0dXJl")[0] == 403
    caller = TwilioCaller(gateway.url, dialled="+44 20 7946 0552", token=gateway.token)
    stream_url, parameters = caller.answer_webhook()  # signed as Twilio signs it: through the real route
    assert stream_url.endswith("/twilio/media") and parameters["to"] == "+44 20 7946 0552"
    assert len(parameters["ticket"]) >= 16


async def _stream(gateway: VoiceGateway, signature: str | None, start: Mapping[str, object]) -> str:
    """Open the media stream and send ``start``: how it ended ("refused" or "closed" by the gateway)."""
    url = gateway.url.replace("http", "ws") + "/twilio/media"
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    try:
        async with websockets.client.connect(url, extra_headers=headers) as ws:
            await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            await ws.send(json.dumps({"event": "start", "streamSid": "MZ" + "0" * 32, "start": start}))
            await asyncio.wait_for(ws.wait_closed(), 10)
            return "closed"
    except (websockets.exceptions.InvalidStatusCode, websockets.exceptions.InvalidHandshake):
        return "refused"


def test_a_stream_needs_twilios_signature_a_ticket_and_a_real_call_id(gateway: VoiceGateway) -> None:
    url = gateway.url.replace("http", "ws") + "/twilio/media"
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, {})
    call_sid = "CA" + uuid.uuid4().hex
    start = {"streamSid": "MZ" + "0" * 32, "callSid": call_sid, "customParameters": {"to": "+442079460552"}}
    assert asyncio.run(_stream(gateway, None, start)) == "refused"
    assert asyncio.run(_stream(gateway, "bm90IGEgc2lnbmF0dXJl", start)) == "refused"
    # Signed, but no ticket from a checked webhook: closed before any call starts.
    assert asyncio.run(_stream(gateway, signature, start)) == "closed"
    # A fresh ticket, but a call id that is a path: closed too.
    caller = TwilioCaller(gateway.url, dialled="+44 20 7946 0552", token=gateway.token)
    _, parameters = caller.answer_webhook()
    crafted = {**start, "callSid": "../../../tmp/owned", "customParameters": parameters}
    assert asyncio.run(_stream(gateway, signature, crafted)) == "closed"
    for sid in (call_sid, "../../../tmp/owned"):
        url = f"{gateway.url}/calls/{urllib.parse.quote(sid, safe='')}"
        request = urllib.request.Request(url, headers=gateway.staff.cookie)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 404, "no call was started"
    assert not list(gateway.recordings.parent.glob("**/owned*"))


def test_the_pbx_token_guards_the_dialplans_calls(gateway: VoiceGateway) -> None:
    """Finding 6: the transfer look-up was open to anyone."""
    call = str(uuid.uuid4())
    for path in (f"/audiosocket/{call}/dialled?number=02079460252", f"/audiosocket/{call}/transfer"):
        for token in ("", "&token=wrong" if "?" in path else "?token=wrong"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(gateway.url + path + token, timeout=10)
            assert refused.value.code == 401


async def _second_connection_is_refused(gateway: VoiceGateway, caller: AudioSocketCaller) -> bytes:
    """While ``caller`` is in a call, connect again with its UUID: what the gateway sends back."""
    await caller.start()
    try:
        await asyncio.wait_for(caller.prompt(), 60)
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.audiosocket_port)
        writer.write(struct.pack(">BH", 0x01, 16) + uuid.UUID(caller.call_id or "").bytes)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return answer
    finally:
        await caller.stop()


def test_two_callers_never_share_one_audiosocket_call(gateway: VoiceGateway) -> None:
    """Finding 6: one UUID for every call to a number put overlapping callers in one conversation."""
    caller = AudioSocketCaller(
        gateway.url, gateway.audiosocket_port, dialled="020 7946 0252", token=gateway.token, pbx_token=gateway.pbx_token
    )
    answer = asyncio.run(_second_connection_is_refused(gateway, caller))
    assert answer == struct.pack(">BH", 0x00, 0), "the second connection is hung up at once, hearing nothing"
    log = caller.log()
    assert log["po"] == "peabody", "the registered dialled number routed the first caller"
    assert not [e for e in log["events"] if e["kind"] == "caller" and e.get("text")], "nobody else joined it"
