"""Synthetic callers: real audio, in real time, through each protocol the gateway speaks.

A caller keeps its line open the way a phone does: a 20 ms frame every 20 ms, quiet line hiss
between words, synthesised speech (espeak-ng) when it talks, keypad presses as the protocol sends
them. What the agent said is read from the gateway's call log; the audio the agent played is
counted as it arrives, so tests can check playback, barge-in and response latency.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import struct
import time
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree
from abc import ABC, abstractmethod
from collections import deque
from typing import Any

import numpy as np
import websockets.client
import websockets.exceptions
from twilio.request_validator import RequestValidator

from harness.speech import synthesise
from harness.stack import TWILIO_AUTH_TOKEN, http_json
from ooh.accounts.service import SESSION_COOKIE
from voice_gateway.audio import frames, level_dbfs, pcm_to_ulaw, ulaw_to_pcm

HISS = 20.0  # standard deviation of the line noise, in 16-bit sample units (about -64 dBFS)


def hiss(samples: int, rng: np.random.Generator) -> bytes:
    """Quiet line noise (phone lines and microphones are never digitally silent)."""
    return np.clip(rng.normal(0, HISS, samples), -32768, 32767).astype(np.int16).tobytes()


class Caller(ABC):
    """A caller on one protocol."""

    rate: int = 8000

    def __init__(self, gateway_url: str, token: str = "") -> None:
        self.gateway_url = gateway_url
        #: A staff session token: call logs are personal data, read by signed-in staff only.
        self.token = token
        self.call_id: str | None = None
        #: Frames waiting to be sent, each marked when it is the last one with speech in it.
        self._outgoing: deque[tuple[bytes, bool]] = deque()
        self._rng = np.random.default_rng(7)
        self.agent_audio_frames = 0
        self.last_agent_audio = 0.0
        self.cleared = 0
        self.closed = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        #: (time the caller's last speech frame was sent, time the first agent audio came back)
        self.speech_ended_at = 0.0
        self.response_latencies: list[float] = []
        self._prompts_seen = 0

    # ------------------------------------------------------------- protocol
    @abstractmethod
    async def connect(self) -> None:
        """Open the call and learn its id."""

    @abstractmethod
    async def send_frame(self, pcm: bytes) -> None:
        """Send 20 ms of caller audio."""

    @abstractmethod
    async def press(self, digit: str) -> None:
        """Press a key."""

    @abstractmethod
    async def receive_loop(self) -> None:
        """Read what the gateway sends until the call ends."""

    @abstractmethod
    async def close(self) -> None:
        """Hang up."""

    # ------------------------------------------------------------- shared
    def agent_audio(self, pcm: bytes) -> None:
        """Count agent audio and time the first frame after the caller stopped speaking."""
        now = time.monotonic()
        if self.speech_ended_at:
            self.response_latencies.append(now - self.speech_ended_at)
            self.speech_ended_at = 0.0
        self.agent_audio_frames += len(pcm) // 2 // (self.rate // 50)
        self.last_agent_audio = now

    async def start(self) -> None:
        """Connect and keep the line running."""
        await self.connect()
        self._tasks = [asyncio.create_task(self._line()), asyncio.create_task(self._receive())]

    async def _receive(self) -> None:
        try:
            await self.receive_loop()
        finally:
            self.closed.set()

    async def _line(self) -> None:
        frame_bytes = self.rate // 50 * 2
        started = time.monotonic()
        sent = 0
        while not self.closed.is_set():
            if self._outgoing:
                frame, last_sound = self._outgoing.popleft()
                if last_sound:
                    self.speech_ended_at = time.monotonic()
            else:
                frame = hiss(frame_bytes // 2, self._rng)
            try:
                await self.send_frame(frame)
            except Exception:  # the gateway hung up
                self.closed.set()
                return
            sent += 1
            delay = started + sent * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def say(self, text: str) -> None:
        """Speak (queued onto the line in real time); returns when the words have been sent."""
        speech = synthesise(text, self.rate)
        samples = np.frombuffer(speech, dtype=np.int16).astype(np.float32)
        noisy = samples + self._rng.normal(0, HISS, len(samples))
        pcm = np.clip(noisy, -32768, 32767).astype(np.int16).tobytes()
        chunks = frames(pcm, self.rate)
        # The caller "finishes" at the last frame with speech in it, not at espeak's trailing quiet.
        last_sound = max((i for i, c in enumerate(chunks) if level_dbfs(c) > -45), default=len(chunks) - 1)
        self._outgoing.extend((chunk, i == last_sound) for i, chunk in enumerate(chunks))
        while self._outgoing and not self.closed.is_set():
            await asyncio.sleep(0.02)

    def log(self) -> dict[str, Any]:
        """The gateway's log of this call."""
        assert self.call_id is not None
        url = f"{self.gateway_url}/calls/{urllib.parse.quote(self.call_id)}"
        return dict(http_json(url, headers={"Cookie": f"{SESSION_COOKIE}={self.token}"}))

    def said(self, kind: str = "agent") -> list[str]:
        """Everything the agent (or the caller, as recognised) said so far."""
        return [e["text"] for e in self.log()["events"] if e["kind"] == kind]

    async def wait_for(self, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        """Wait until the call log satisfies ``predicate(log)``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = await asyncio.to_thread(self.log)
            if predicate(log):
                return log
            await asyncio.sleep(0.2)
        raise AssertionError(f"call log never matched; last events: {self.log()['events'][-8:]}")

    async def wait_for_agent(self, fragment: str, timeout: float = 60) -> str:
        """Wait until the agent says something containing ``fragment`` (case-insensitive); return it."""
        log = await self.wait_for(
            lambda log: any(fragment.lower() in e["text"].lower() for e in log["events"] if e["kind"] == "agent"),
            timeout,
        )
        return next(
            e["text"] for e in reversed(log["events"]) if e["kind"] == "agent" and fragment.lower() in e["text"].lower()
        )

    async def prompt(self, timeout: float = 60) -> str:
        """The agent's next utterance (each is returned once, in order)."""
        index = self._prompts_seen
        log = await self.wait_for(lambda log: len([e for e in log["events"] if e["kind"] == "agent"]) > index, timeout)
        self._prompts_seen += 1
        return [e["text"] for e in log["events"] if e["kind"] == "agent"][index]

    async def answer(self, text: str, *, hear_ms: int = 800) -> str:
        """Wait for the agent's next prompt, let it start, then say ``text`` (over the rest of it)."""
        prompt = await self.prompt()
        await asyncio.sleep(hear_ms / 1000)
        await self.say(text)
        return prompt

    async def stop(self) -> None:
        """Hang up and stop the line."""
        with contextlib.suppress(Exception):
            await self.close()
        self.closed.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task


class WebCaller(Caller):
    """The "talk to us" page: 16 kHz PCM over a WebSocket."""

    rate = 16000

    def __init__(self, gateway_url: str, po: str | None, token: str = "") -> None:
        super().__init__(gateway_url, token)
        self.po = po
        self.captions: list[tuple[str, str]] = []
        self.transfer_number: str | None = None
        self._ws: Any = None
        self._unsent = bytearray()

    async def connect(self) -> None:
        """Open the WebSocket; the gateway's first message gives the call id."""
        query = f"?po={self.po}" if self.po else ""
        self._ws = await websockets.client.connect(
            self.gateway_url.replace("http", "ws") + "/web/call" + query, max_size=None
        )
        start = json.loads(await self._ws.recv())
        assert start["type"] == "start"
        self.call_id = start["call_id"]

    #: A browser's audio callback delivers 4096 samples at 48 kHz: about 1365 at 16 kHz, not 20 ms.
    BROWSER_CHUNK = 1365 * 2

    async def send_frame(self, pcm: bytes) -> None:
        """Binary PCM, in the odd-sized chunks a browser sends."""
        self._unsent += pcm
        if len(self._unsent) >= self.BROWSER_CHUNK:
            chunk, self._unsent = self._unsent[: self.BROWSER_CHUNK], self._unsent[self.BROWSER_CHUNK :]
            await self._ws.send(bytes(chunk))

    async def press(self, digit: str) -> None:
        """The page's keypad."""
        await self._ws.send(json.dumps({"type": "dtmf", "digit": digit}))

    async def receive_loop(self) -> None:
        """Audio, captions, clear, transfer, hang-up."""
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            async for message in self._ws:
                if isinstance(message, bytes):
                    self.agent_audio(message)
                    continue
                data = json.loads(message)
                if data["type"] == "caption":
                    self.captions.append((data["who"], data["text"]))
                elif data["type"] == "clear":
                    self.cleared += 1
                elif data["type"] == "transfer":
                    self.transfer_number = data["number"]

    async def close(self) -> None:
        """Hang up."""
        await self._ws.send(json.dumps({"type": "hangup"}))
        await self._ws.close()


class TwilioCaller(Caller):
    """Twilio Media Streams as Twilio sends them: JSON events, base64 μ-law at 8 kHz."""

    rate = 8000

    def __init__(
        self, gateway_url: str, dialled: str, caller_number: str = "+447700900555", token: str = ""
    ) -> None:
        super().__init__(gateway_url, token)
        self.dialled = dialled
        self.caller_number = caller_number
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.call_id = "CA" + uuid.uuid4().hex
        self.marks: list[str] = []
        self._ws: Any = None
        self._sequence = 0

    def answer_webhook(self) -> tuple[str, dict[str, str]]:
        """Twilio's ``POST /twilio/voice``, signed: the stream URL and parameters of our TwiML."""
        url = f"{self.gateway_url}/twilio/voice"
        form = {"CallSid": self.call_id, "AccountSid": "AC" + "0" * 32, "To": self.dialled, "From": self.caller_number}
        signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, form)
        request = urllib.request.Request(
            url, data=urllib.parse.urlencode(form).encode(), headers={"X-Twilio-Signature": signature}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            stream = ElementTree.fromstring(response.read()).find("./Connect/Stream")
        assert stream is not None, "the TwiML connects the call to a media stream"
        parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        return stream.get("url", ""), parameters

    async def connect(self) -> None:
        """As Twilio does: the webhook, then the signed stream: ``connected`` then ``start``."""
        stream_url, parameters = await asyncio.to_thread(self.answer_webhook)
        signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(stream_url, {})
        self._ws = await websockets.client.connect(
            stream_url, max_size=None, extra_headers={"X-Twilio-Signature": signature}
        )
        await self._ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        start = {
            "accountSid": "AC" + "0" * 32,
            "streamSid": self.stream_sid,
            "callSid": self.call_id,
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": parameters,
        }
        await self._send({"event": "start", "start": start})

    async def _send(self, message: dict[str, Any]) -> None:
        self._sequence += 1
        await self._ws.send(
            json.dumps({**message, "sequenceNumber": str(self._sequence), "streamSid": self.stream_sid})
        )

    async def send_frame(self, pcm: bytes) -> None:
        """A ``media`` event."""
        payload = base64.b64encode(pcm_to_ulaw(pcm)).decode()
        await self._send(
            {"event": "media", "media": {"track": "inbound", "chunk": str(self._sequence), "payload": payload}}
        )

    async def press(self, digit: str) -> None:
        """A ``dtmf`` event."""
        await self._send({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": digit}})

    async def receive_loop(self) -> None:
        """``media``, ``mark`` and ``clear`` from the gateway."""
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            async for message in self._ws:
                data = json.loads(message)
                assert data.get("streamSid") == self.stream_sid
                if data["event"] == "media":
                    self.agent_audio(ulaw_to_pcm(base64.b64decode(data["media"]["payload"])))
                elif data["event"] == "clear":
                    self.cleared += 1
                elif data["event"] == "mark":
                    self.marks.append(data["mark"]["name"])

    async def close(self) -> None:
        """A ``stop`` event, as when the caller hangs up."""
        await self._send({"event": "stop", "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.call_id}})
        await self._ws.close()


class AudioSocketCaller(Caller):
    """Asterisk's AudioSocket as the documented dialplan drives it.

    A random UUID per call, the dialled number registered first with the PBX token, then framed
    TCP, 8 kHz signed linear.
    """

    rate = 8000

    def __init__(self, gateway_url: str, port: int, dialled: str, token: str = "", pbx_token: str = "") -> None:
        super().__init__(gateway_url, token)
        self.dialled = "".join(ch for ch in dialled if ch.isdigit())
        self.pbx_token = pbx_token
        self.call_id = str(uuid.uuid4())
        self.port = port
        self.hung_up_by_gateway = False
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def register(self) -> None:
        """The dialplan's ``CURL``: tell the gateway which number this call dialled."""
        query = urllib.parse.urlencode({"number": self.dialled, "token": self.pbx_token})
        with urllib.request.urlopen(f"{self.gateway_url}/audiosocket/{self.call_id}/dialled?{query}", timeout=10):
            pass

    def transfer_target(self) -> str:
        """The dialplan's ``CURL`` after the socket closed: where to put the call through."""
        query = urllib.parse.urlencode({"token": self.pbx_token})
        url = f"{self.gateway_url}/audiosocket/{self.call_id}/transfer?{query}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())

    async def connect(self) -> None:
        """Register the number, then connect and send the UUID, as Asterisk does."""
        await asyncio.to_thread(self.register)
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._writer.write(struct.pack(">BH", 0x01, 16) + uuid.UUID(self.call_id).bytes)
        await self._writer.drain()

    async def send_frame(self, pcm: bytes) -> None:
        """An audio message."""
        assert self._writer is not None
        self._writer.write(struct.pack(">BH", 0x10, len(pcm)) + pcm)
        await self._writer.drain()

    async def press(self, digit: str) -> None:
        """A DTMF message."""
        assert self._writer is not None
        self._writer.write(struct.pack(">BH", 0x03, 1) + digit.encode())
        await self._writer.drain()

    async def receive_loop(self) -> None:
        """Audio and hang-up messages."""
        assert self._reader is not None
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                kind, length = struct.unpack(">BH", await self._reader.readexactly(3))
                payload = await self._reader.readexactly(length) if length else b""
                if kind == 0x10:
                    self.agent_audio(payload)
                elif kind == 0x00:
                    self.hung_up_by_gateway = True
                    return

    async def close(self) -> None:
        """A hang-up message."""
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(struct.pack(">BH", 0x00, 0))
            await self._writer.drain()
            self._writer.close()


#: A caller's move: ("say", words), ("keys", digits) or ("wait", "") to stay silent.
Move = tuple[str, str]


async def follow(
    caller: Caller, moves: list[tuple[str, Move]], *, limit: int = 25, end: tuple[str, ...] = ("goodbye",)
) -> list[str]:
    """Answer each prompt by the first move whose fragment it contains, until the agent says an ``end``.

    This is how a real caller behaves on a bad line: when the agent asks again ("Sorry, I didn't
    catch that"), they answer the same question again. Returns every prompt heard.
    """
    prompts: list[str] = []
    for _ in range(limit):
        prompt = await caller.prompt()
        prompts.append(prompt)
        lowered = prompt.lower()
        if any(fragment in lowered for fragment in end):
            return prompts
        move = next((m for fragment, m in moves if fragment in lowered), None)
        if move is None:
            raise AssertionError(f"no answer planned for {prompt!r}")
        await asyncio.sleep(0.8)
        kind, value = move
        if kind == "say":
            await caller.say(value)
        elif kind == "keys":
            for digit in value:
                await caller.press(digit)
                await asyncio.sleep(0.1)
    raise AssertionError(f"the call did not end within {limit} prompts: {prompts[-3:]}")
