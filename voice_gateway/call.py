"""One phone (or web) call with the virtual agent, whatever protocol carries it.

A protocol adapter (Twilio Media Streams, Asterisk AudioSocket, the web page's WebSocket) feeds
the call the caller's audio frames and keypad digits, and gives it a :class:`CallSink` to play
audio, stop playback, transfer and hang up. Everything else is here, once:

- a greeting naming the organisation, the recording notice and staff's current announcement;
- each agent reply spoken, while listening: the caller may talk over it (barge-in);
- recognition biased to what the agent's question expects (yes/no, digits, the choices, the
  organisation's addresses, or its open domain vocabulary), with the keypad as a fallback;
- silence and not-understood answers re-prompted, and after a few failures the call goes to a
  person (the agent records a referral with the transcript and says where to transfer);
- a goodbye that repeats the reference, and a two-channel recording of the whole call, stored
  under the call id, which is the conversation id of the service request (findable by reference);
- bounds on everything a caller sends: a call ends after ``max_call_seconds`` with a closing line,
  its recording can never be longer than that, audio it cannot listen to yet is held up to
  ``max_queued_frames`` (then the oldest is dropped), audio sent faster than real time is dropped,
  and keys and log entries are limited. (Frame sizes and the number of calls are the adapters' and
  the gateway's: :class:`FrameTooBig`, :class:`LineBusy`.)
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ooh.contracts import Expect, Transfer
from ooh.orgs.loader import Organisation
from ooh.records.recordings import new_recording_id, recording_path
from ooh.scripts.validators import yes_or_no
from voice_gateway.agent import AgentClient, AgentTurn
from voice_gateway.audio import FRAME_MS, EndOfUtterance, frames, write_wav
from voice_gateway.numbers import for_agent
from voice_gateway.routing import Route, Router
from voice_gateway.stt.base import RecognitionStream, SpeechRecognizer
from voice_gateway.tts import SpeechSynthesizer
from voice_gateway.vocabulary import Vocabulary, vocabulary_for

logger = logging.getLogger(__name__)

#: Keys that answer a yes/no question.
_KEY_YES_NO = {"1": "yes", "2": "no"}
ANYTHING_ELSE = "Is there anything else I can help with?"
_ALL_DONE = re.compile(r"^(that'?s|that is) (all|it|everything)\b")
"""Answers to "anything else?" that mean no."""
#: Audio kept from before speech was detected, so the first syllable is not cut off.
PREROLL_MS = 300
#: How far ahead of real time playback audio is sent (protocols buffer it).
PLAYBACK_LEAD_MS = 100
#: How far caller audio may run ahead of the clock (a real line never does: it cannot send audio
#: before it was spoken; this covers buffering at the start of a call). The rest is dropped.
AHEAD_OF_CLOCK_SECONDS = 5.0
#: Recording allowed past ``max_call_seconds``: the closing words said when a call runs out of time.
CLOSING_SECONDS = 30.0
#: Keys in one answer (a phone number has 11; a key held down must not make an endless one).
MAX_KEYS = 24
#: Keys waiting to be heard; more are ignored (no one presses 32 keys while the agent thinks).
MAX_QUEUED_KEYS = 32
KEYS = "0123456789*#"
BUSY_WORDS = (
    "Sorry, all our lines are busy. Please call again in a few minutes. "
    "If anyone is in immediate danger, hang up and call 999."
)
"""What a caller hears (or the web page shows) when :class:`LineBusy` refuses the call."""


class CallEnded(Exception):
    """The caller hung up."""


class CallTimeUp(Exception):
    """The call reached ``max_call_seconds``."""


class LineBusy(Exception):
    """As many calls are in progress as the gateway takes (``voice_max_live_calls``)."""


class FrameTooBig(Exception):
    """A caller sent a message bigger than the gateway takes (``voice_max_frame_bytes``).

    ``size`` is None when the server refused it before the message reached the adapter.
    """

    def __init__(self, size: int | None, limit: int) -> None:
        self.size = size
        self.limit = limit
        said = f"{size} bytes" if size is not None else f"over {limit} bytes"
        super().__init__(f"a message of {said}, more than the {limit} a call may send at once")


class CallSink(ABC):
    """What a protocol adapter lets the call do to the line."""

    @abstractmethod
    async def send_audio(self, pcm: bytes) -> None:
        """Play one frame of 16-bit PCM at the call's sample rate."""

    @abstractmethod
    async def clear(self) -> None:
        """Drop audio already sent but not yet played (barge-in)."""

    @abstractmethod
    async def transfer(self, number: str) -> None:
        """Put the call through to ``number`` (the adapter's way: redirect, hang-up with a transfer)."""

    @abstractmethod
    async def hang_up(self) -> None:
        """End the call."""

    async def event(self, kind: str, text: str) -> None:  # noqa: B027  # optional hook
        """Tell the far end what happened (the web page shows captions); telephony ignores it."""


@dataclass
class VoiceOptions:
    """Timing and patience of a call (from the settings).

    Attributes:
        silence_ms: Quiet time that ends an utterance.
        closed_silence_ms: Quiet time that ends a short closed answer (yes/no, a choice, digits).
        max_utterance_ms: Longest utterance before it is recognised anyway.
        no_input_ms: Quiet time after a prompt before the caller is prompted again.
        dtmf_gap_ms: Pause after the last key press that ends keypad entry.
        max_failures: Silences or unrecognised answers in a row before a person takes the call.
        max_call_seconds: Longest call; then the caller hears :meth:`Call.time_up_words` and it ends.
        max_queued_frames: Caller audio held while the call cannot listen, in 20 ms frames.
        recordings_dir: Where call recordings are stored.
        clock: A fixed "now" for the agent (tests and demos; only when the settings allow it).
    """

    silence_ms: int = 700
    closed_silence_ms: int = 400
    max_utterance_ms: int = 15000
    no_input_ms: int = 6000
    dtmf_gap_ms: int = 2500
    max_failures: int = 3
    max_call_seconds: float = 30 * 60
    max_queued_frames: int = 1500
    recordings_dir: Path = Path("var/recordings")
    clock: str | None = None


@dataclass
class VoiceServices:
    """What every call shares: routing, engines, the agent."""

    router: Router
    recognizer: SpeechRecognizer
    synthesizer: SpeechSynthesizer
    agent: AgentClient
    options: VoiceOptions


@dataclass
class Heard:
    """One answer from the caller: words, keys, or nothing."""

    text: str
    via: str  # "speech", "dtmf" or "silence"


class Recording:
    """Both sides of a call on one timeline: caller on the left channel, agent on the right.

    Each channel holds at most ``max_seconds`` of audio; what comes after is not recorded.
    """

    def __init__(self, sample_rate: int, max_seconds: float = 30 * 60 + CLOSING_SECONDS) -> None:
        self.sample_rate = sample_rate
        self.limit = int(max_seconds * sample_rate) * 2
        self.caller = bytearray()
        self.agent = bytearray()

    @property
    def full(self) -> bool:
        """Whether either channel has reached the limit."""
        return max(len(self.caller), len(self.agent)) >= self.limit

    def add_caller(self, pcm: bytes) -> None:
        """Caller audio as it arrives (the line's clock)."""
        self.caller += pcm[: max(0, self.limit - len(self.caller))]

    def add_agent(self, pcm: bytes) -> None:
        """Agent audio, placed at the current point of the caller's timeline."""
        if len(self.agent) < len(self.caller):
            self.agent += b"\0" * (len(self.caller) - len(self.agent))
        self.agent += pcm[: max(0, self.limit - len(self.agent))]

    def save(self, path: Path) -> Path:
        """Write a stereo WAV."""
        size = max(len(self.caller), len(self.agent)) // 2 * 2  # whole samples (a client may send odd bytes)
        self.caller, self.agent = self.caller[:size], self.agent[:size]
        left = np.frombuffer(bytes(self.caller) + b"\0" * (size - len(self.caller)), dtype=np.int16)
        right = np.frombuffer(bytes(self.agent) + b"\0" * (size - len(self.agent)), dtype=np.int16)
        stereo = np.column_stack([left, right]).astype(np.int16).tobytes()
        write_wav(path, stereo, self.sample_rate, channels=2)
        return path


@dataclass
class CallLog:
    """What happened on a call, in order (for operators and tests; the agent keeps the transcript)."""

    call_id: str
    protocol: str
    dialled: str | None
    po: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    recording: str | None = None
    ended: bool = False
    #: Events not kept because the log was full (:attr:`MAX_EVENTS`).
    events_dropped: int = 0

    MAX_EVENTS = 1000
    """A long call logs a few hundred events; a flood of key presses must not grow the log forever."""

    def add(self, kind: str, text: str = "", **extra: Any) -> dict[str, Any] | None:
        """Append an event (and return it), unless the log is full."""
        if len(self.events) >= self.MAX_EVENTS:
            self.events_dropped += 1
            return None
        event = {"at": round(time.time(), 3), "kind": kind, "text": text, **extra}
        self.events.append(event)
        return event


class Inbox:
    """What the caller sent that the call has not heard yet: audio, keys and a hang-up, in order.

    Bounded: at most ``max_audio`` audio messages and ``max_audio_bytes`` of audio are held; a new
    one beyond that drops the oldest audio (never a key or the hang-up). At most
    :data:`MAX_QUEUED_KEYS` keys wait; later ones are ignored. One hang-up is enough.
    """

    def __init__(self, max_audio: int, max_audio_bytes: int) -> None:
        self.max_audio = max(1, max_audio)
        self.max_audio_bytes = max(1, max_audio_bytes)
        self._items: deque[tuple[str, Any]] = deque()
        self._ready = asyncio.Event()
        self._audio = 0
        self._audio_bytes = 0
        self._keys = 0
        self._hung_up = False

    def put(self, kind: str, data: Any) -> int:
        """Queue one input; return how many were dropped (older audio, or this key)."""
        dropped = 0
        if kind == "audio":
            while self._audio and (
                self._audio >= self.max_audio or self._audio_bytes + len(data) > self.max_audio_bytes
            ):
                self._drop_oldest_audio()
                dropped += 1
            self._audio += 1
            self._audio_bytes += len(data)
        elif kind == "dtmf":
            if self._keys >= MAX_QUEUED_KEYS:
                return 1
            self._keys += 1
        elif kind == "hangup":
            if self._hung_up:
                return 0
            self._hung_up = True
        self._items.append((kind, data))
        self._ready.set()
        return dropped

    def _drop_oldest_audio(self) -> None:
        for index, (kind, data) in enumerate(self._items):
            if kind == "audio":
                del self._items[index]
                self._audio -= 1
                self._audio_bytes -= len(data)
                return

    async def get(self, timeout: float) -> tuple[str, Any] | None:
        """The next input, or None after ``timeout`` seconds without one."""
        if not self._items:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except asyncio.TimeoutError:
                return None
        kind, data = self._items.popleft()
        if kind == "audio":
            self._audio -= 1
            self._audio_bytes -= len(data)
        elif kind == "dtmf":
            self._keys -= 1
        return kind, data

    def __len__(self) -> int:
        return len(self._items)


class Call:
    """The conversation loop of one call."""

    def __init__(
        self,
        services: VoiceServices,
        sink: CallSink,
        *,
        call_id: str,
        sample_rate: int,
        protocol: str,
        dialled: str | None,
        po: str | None = None,
    ) -> None:
        self.services = services
        self.sink = sink
        self.call_id = call_id
        #: The recording's file name: issued here, never taken from anything a client sent (a call
        #: id chosen by a client once named a file outside the recordings folder).
        self.recording_id = new_recording_id()
        self.rate = sample_rate
        self.options = services.options
        self.log = CallLog(call_id, protocol, dialled)
        self.recording = Recording(sample_rate, self.options.max_call_seconds + CLOSING_SECONDS)
        frame_bytes = sample_rate * FRAME_MS // 1000 * 2
        self._inbox = Inbox(self.options.max_queued_frames, self.options.max_queued_frames * frame_bytes)
        self._started = time.monotonic()
        self._deadline = self._started + self.options.max_call_seconds
        self._received = 0
        #: Log entries counting what was dropped, updated in place (one each, not one a frame).
        self._drops: dict[str, dict[str, Any] | None] = {}
        self._playback: asyncio.Task[None] | None = None
        self._vad = EndOfUtterance(silence_ms=self.options.silence_ms, max_ms=self.options.max_utterance_ms)
        self.org: Organisation | None = None
        self._po = po
        self._residual = b""
        self._timings: dict[str, int] = {}

    # ------------------------------------------------------------------ from the adapter
    def push_audio(self, pcm: bytes) -> None:
        """Caller audio (16-bit PCM at the call's rate, any length).

        Audio running more than :data:`AHEAD_OF_CLOCK_SECONDS` ahead of the call's clock is
        dropped: no line sends audio faster than it is spoken, so only a client flooding the call
        would, and a flood must not fill the recording or the recogniser's time.
        """
        allowed = int((time.monotonic() - self._started + AHEAD_OF_CLOCK_SECONDS) * self.rate) * 2
        if self._received + len(pcm) > allowed:
            self._note_drop("audio_too_fast", "caller audio arrived faster than real time; the excess was dropped", 1)
            return
        self._received += len(pcm)
        dropped = self._inbox.put("audio", pcm)
        if dropped:
            self._note_drop(
                "audio_dropped", "caller audio came faster than the call could hear it; the oldest was dropped", dropped
            )

    def push_dtmf(self, digit: str) -> None:
        """A key the caller pressed (one of ``0-9 * #``; anything else is ignored)."""
        if len(digit) != 1 or digit not in KEYS:
            self._note_drop("bad_key", "a key that is not on a phone's keypad was ignored", 1)
            return
        if self._inbox.put("dtmf", digit):
            self._note_drop(
                "keys_dropped", "keys came faster than the call could hear them; the latest were ignored", 1
            )

    def push_hangup(self) -> None:
        """The caller hung up."""
        self._inbox.put("hangup", None)

    def _note_drop(self, kind: str, text: str, count: int) -> None:
        """Count dropped messages in one log entry per kind (a flood must not flood the log too)."""
        if kind not in self._drops:
            self._drops[kind] = self.log.add(kind, text, count=0)
            logger.warning("Call %s: %s", self.call_id, text)
        event = self._drops[kind]
        if event is not None:
            event["count"] += count

    # ------------------------------------------------------------------ speaking
    async def say(self, text: str) -> None:
        """Start speaking ``text`` (returns at once; the caller can interrupt it)."""
        await self._stop_playback(clear=False)
        await self.sink.event("agent", text)
        started = time.monotonic()
        pcm = await self.services.synthesizer.aspeech(text, self.rate)
        # Where the time between the caller's last word and our first went (operators, benchmark).
        self._timings["speech_ms"] = round((time.monotonic() - started) * 1000)
        self.log.add("agent", text, **self._timings)
        self._timings = {}
        self._playback = asyncio.create_task(self._play(pcm))

    async def say_and_wait(self, text: str) -> None:
        """Speak ``text`` to the end (goodbyes, transfers)."""
        await self.say(text)
        if self._playback is not None:
            await self._playback

    def _speaking(self) -> bool:
        return self._playback is not None and not self._playback.done()

    async def _play(self, pcm: bytes) -> None:
        start = time.monotonic()
        chunks = frames(pcm, self.rate)
        for index, frame in enumerate(chunks):
            await self.sink.send_audio(frame)
            self.recording.add_agent(frame)
            delay = start + (index + 1) * FRAME_MS / 1000 - PLAYBACK_LEAD_MS / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        remaining = start + len(chunks) * FRAME_MS / 1000 - time.monotonic()
        if remaining > 0:
            await asyncio.sleep(remaining)

    async def _stop_playback(self, clear: bool = True) -> None:
        if self._speaking():
            assert self._playback is not None
            self._playback.cancel()
            try:
                await self._playback
            except asyncio.CancelledError:
                pass
            if clear:
                await self.sink.clear()
                self.log.add("barge_in")
        self._playback = None

    # ------------------------------------------------------------------ listening
    def _whole_frames(self, data: bytes) -> list[bytes]:
        """Cut incoming audio into 20 ms frames, keeping a partial frame for the next chunk.

        Telephony sends 20 ms frames; a browser sends whatever its audio callback gives.
        """
        buffer = self._residual + data
        size = self.rate * FRAME_MS // 1000 * 2
        whole = len(buffer) // size * size
        self._residual = buffer[whole:]
        return [buffer[i : i + size] for i in range(0, whole, size)]

    async def _next_input(self, timeout: float) -> tuple[str, Any]:
        if time.monotonic() >= self._deadline:
            raise CallTimeUp
        return await self._inbox.get(timeout) or ("tick", None)

    async def listen(self, expect: Expect | None) -> Heard:
        """Hear one answer: speech (possibly over the prompt), keys, or silence after the prompt."""
        recognizer = self.services.recognizer
        vocabulary: Vocabulary | None = vocabulary_for(self.org, expect)
        self._vad.reset()
        # A yes, a choice or a digit is short and complete: end it sooner than a description.
        closed = vocabulary is not None and vocabulary.closed
        self._vad.silence_ms = self.options.closed_silence_ms if closed else self.options.silence_ms
        preroll: deque[bytes] = deque(maxlen=max(1, PREROLL_MS // FRAME_MS))
        stream: RecognitionStream | None = None
        batch: list[bytes] = []
        digits = ""
        last_key = 0.0
        quiet_since: float | None = None
        kind_expected = expect.type if expect else None
        while True:
            kind, data = await self._next_input(0.1)
            now = time.monotonic()
            if kind == "hangup":
                raise CallEnded
            if kind == "dtmf":
                await self._stop_playback()
                self.log.add("dtmf", str(data))
                if data == "#" and digits:
                    return Heard(digits, "dtmf")
                digits += str(data) if data not in ("#", "*") else ""
                last_key = now
                if (kind_expected in ("yes_no", "choice") and digits) or len(digits) >= MAX_KEYS:
                    return Heard(digits, "dtmf")
                continue
            if digits:
                if now - last_key >= self.options.dtmf_gap_ms / 1000:
                    return Heard(digits, "dtmf")
                continue
            if kind == "audio":
                self.recording.add_caller(data)
                if self.recording.full and "recording_full" not in self._drops:
                    self._note_drop("recording_full", "the recording reached the longest a call may last", 0)
                for frame in self._whole_frames(data):
                    self._vad.feed(frame)
                    if stream is None:
                        preroll.append(frame)
                        if self._vad.started:
                            await self._stop_playback()
                            opened = time.monotonic()
                            stream = await asyncio.to_thread(recognizer.stream, self.rate, vocabulary)
                            self._timings["open_ms"] = round((time.monotonic() - opened) * 1000)
                            batch = list(preroll)
                    else:
                        batch.append(frame)
                if stream is not None and (len(batch) >= 5 or self._vad.ended):
                    decoding = time.monotonic()
                    await asyncio.to_thread(stream.accept, b"".join(batch))
                    spent = round((time.monotonic() - decoding) * 1000)
                    self._timings["decode_ms"] = self._timings.get("decode_ms", 0) + spent
                    batch = []
                if stream is not None and self._vad.ended:
                    started = time.monotonic()
                    raw = await asyncio.to_thread(stream.finish)
                    self._timings["recognise_ms"] = round((time.monotonic() - started) * 1000)
                    text = vocabulary.answer(raw) if vocabulary is not None else raw
                    if raw and not text:
                        self.log.add("not_an_answer", raw)
                    return Heard(text, "speech")
            if stream is None and not self._speaking():
                quiet_since = quiet_since or now
                if now - quiet_since >= self.options.no_input_ms / 1000:
                    return Heard("", "silence")

    # ------------------------------------------------------------------ the conversation
    def _metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "po": self.org.id if self.org else None,
            "call_id": self.call_id,
            "recording_id": self.recording_id,
        }
        if self.options.clock:
            metadata["now"] = self.options.clock
        return metadata

    async def _ask_agent(self, text: str) -> AgentTurn:
        started = time.monotonic()
        turn = await self.services.agent.send(self.call_id, text, self._metadata())
        self._timings["agent_ms"] = round((time.monotonic() - started) * 1000)
        reference = turn.finished.reference if turn.finished else None
        if reference and reference not in self.log.references:
            self.log.references.append(reference)
        return turn

    def _as_text(self, heard: Heard, expect: Expect | None) -> str:
        """What to send the agent for an answer."""
        kind = expect.type if expect else None
        if heard.via == "dtmf":
            if kind == "yes_no":
                return _KEY_YES_NO.get(heard.text[:1], heard.text)
            return heard.text  # a choice by number, a phone number, a house number
        return for_agent(heard.text, kind)

    def greeting(self, org: Organisation) -> str:
        """What a caller hears first: who answered, the recording notice, any announcement."""
        parts = [f"Thank you for calling {org.profile.name}, out of hours.", org.profile.recording_notice]
        announcement = org.current_announcement()
        if announcement:
            parts.append(announcement)
        parts.append("If anyone is in immediate danger, hang up and call 999.")
        return " ".join(parts)

    async def _identify_organisation(self) -> Organisation | None:
        """A call to a number no organisation has: ask which council or landlord it is for."""
        prompt = (
            "Thank you for calling the out-of-hours service. Calls may be recorded. "
            "Which council or housing association is your call about?"
        )
        expect = Expect(type="choice", slot="organisation", choices=self.services.router.choices())
        for attempt in range(self.options.max_failures):
            await self.say(prompt if attempt == 0 else "Sorry, which council or housing association is it about?")
            heard = await self.listen(expect)
            self.log.add("caller", heard.text, via=heard.via)
            org = self.services.router.by_name(heard.text) if heard.via == "speech" else None
            if org is not None:
                return org
        return None

    async def run(self) -> None:
        """The whole call, until the caller hangs up, it is transferred, or it ends with a goodbye."""
        try:
            await self._converse()
        except CallEnded:
            self.log.add("caller_hung_up")
        except CallTimeUp:
            logger.warning("Call %s reached the longest a call may last; ended", self.call_id)
            self.log.add("time_up", f"{self.options.max_call_seconds:g} s")
            await self._last_words(self.time_up_words())
        except Exception:
            logger.exception("Call %s failed", self.call_id)
            self.log.add("error")
            await self._last_words(
                "Sorry, something went wrong on our side. Please call again, or call 999 in an emergency."
            )
        finally:
            await self._stop_playback(clear=False)
            self.log.ended = True
            path = recording_path(self.options.recordings_dir, self.recording_id)
            self.log.recording = str(await asyncio.to_thread(self.recording.save, path))

    def time_up_words(self) -> str:
        """What a caller hears when the call reaches ``max_call_seconds``."""
        reference = self.log.references[-1] if self.log.references else ""
        said = f"Your reference is {reference}. " if reference else ""
        return (
            "I'm sorry, this call has reached its time limit, so I have to end it now. "
            f"{said}If you still need help, please call again. If anyone is in immediate danger, "
            "call 999. Goodbye."
        )

    async def _last_words(self, text: str) -> None:
        """Say ``text`` and hang up, if the line is still there."""
        try:
            await self.say_and_wait(text)
            await self.sink.hang_up()
        except Exception:  # the line may already be gone
            logger.debug("Could not say the last words on call %s", self.call_id)

    async def _converse(self) -> None:
        known = self.services.router.registry.get(self._po) if self._po else None
        route = Route(known) if known is not None else self.services.router.route(self.log.dialled)
        if route is None:
            self.log.add("unknown_number")
            self.org = await self._identify_organisation()
            if self.org is None:
                await self.say_and_wait(
                    "I'm sorry, I couldn't tell which organisation you need. Please call the out-of-hours "
                    "number on your council's or landlord's website. In an emergency call 999. Goodbye."
                )
                await self.sink.hang_up()
                return
        else:
            self.org = route.org
        self.log.po = self.org.id
        if route is not None and route.option:
            # A line dedicated to one option starts its script at once (``/<intent>`` is Rasa's
            # way of saying the intent outright), greeted first.
            turn = await self._ask_agent(f"/{route.option}")
            turn.texts = [self.greeting(self.org), *turn.texts]
        else:
            turn = AgentTurn(texts=[self.greeting(self.org), "Please tell me what's happened."])
        await self._dialogue(turn)

    async def _dialogue(self, turn: AgentTurn) -> None:
        failures = 0
        while True:
            if turn.transfer:
                await self._transfer(turn)
                return
            finished = turn.finished is not None and turn.expect is None
            if finished:
                # A misheard word must not end the call: check before saying goodbye.
                turn = AgentTurn(texts=[*turn.texts, ANYTHING_ELSE], expect=Expect(type="yes_no", slot="anything_else"))
            await self.say(" ".join(turn.texts))
            heard = await self.listen(turn.expect)
            self.log.add("caller", heard.text, via=heard.via)
            if heard.text.strip():  # nothing heard is logged, not captioned as an empty line
                await self.sink.event("caller", heard.text)
            if finished:
                answer = self._as_text(heard, turn.expect).strip().lower()
                if not answer or yes_or_no(answer) is False or _ALL_DONE.match(answer):
                    await self._goodbye()
                    return
                if yes_or_no(answer):
                    turn = AgentTurn(texts=["Please tell me what's happened."])
                    continue
            if not heard.text.strip():
                failures += 1
                if failures >= self.options.max_failures:
                    await self.say_and_wait("I'm having trouble hearing you, so I'll put you through to a person.")
                    turn = await self._ask_agent("I want to speak to a person")
                    if not turn.transfer:
                        turn.transfer = Transfer()
                    continue
                why = "Sorry, I didn't hear anything." if heard.via == "silence" else "Sorry, I didn't catch that."
                keys = _keypad_hint(turn.expect)
                turn = AgentTurn(texts=[t for t in (why, keys, turn.texts[-1]) if t], expect=turn.expect)
                continue
            failures = 0
            turn = await self._ask_agent(self._as_text(heard, turn.expect))
            if not turn.texts and turn.expect is None and not turn.transfer:
                turn.texts = ["Is there anything else I can help with?"]

    async def _transfer(self, turn: AgentTurn) -> None:
        number = turn.transfer.number if turn.transfer else None
        words = " ".join(turn.texts) or "I'm putting you through to a person now."
        await self.say_and_wait(words)
        self.log.add("transfer", str(number or ""))
        if number:
            await self.sink.transfer(str(number))
        else:
            await self.sink.hang_up()

    async def _goodbye(self) -> None:
        reference = self.log.references[-1] if self.log.references else ""
        said = f"Your reference is {reference}. " if reference else ""
        await self.say_and_wait(f"{said}Thank you for calling. Goodbye.")
        self.log.add("goodbye", reference)
        await self.sink.hang_up()


def _keypad_hint(expect: Expect | None) -> str:
    """How to answer with the keypad instead."""
    kind = expect.type if expect else None
    if kind == "yes_no":
        return "You can also press 1 for yes or 2 for no."
    if kind == "choice":
        labels = [choice.label for choice in expect.choices] if expect else []
        return " ".join(f"For {label}, press {i}." for i, label in enumerate(labels, 1))
    if kind == "phone":
        return "You can also type the number on your keypad, then press hash."
    return ""
