"""Audio plumbing shared by every protocol: codecs, resampling, end-of-utterance detection.

Everything inside the gateway is 16-bit little-endian mono PCM. Telephony arrives as 8 kHz
(μ-law for Twilio, signed linear for AudioSocket), web calls as 16 kHz; speech synthesis comes
out at the synthesiser's own rate. Resampling uses a polyphase filter (scipy), not
``audioop.ratecv``, whose linear interpolation aliases and costs recognition accuracy.
"""

from __future__ import annotations

import audioop
import math
import wave
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

SAMPLE_WIDTH = 2
FRAME_MS = 20


def ulaw_to_pcm(data: bytes) -> bytes:
    """G.711 μ-law (Twilio Media Streams) to 16-bit PCM."""
    return audioop.ulaw2lin(data, SAMPLE_WIDTH)


def pcm_to_ulaw(pcm: bytes) -> bytes:
    """16-bit PCM to G.711 μ-law."""
    return audioop.lin2ulaw(pcm, SAMPLE_WIDTH)


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample a whole piece of audio with an anti-aliasing polyphase filter."""
    if from_rate == to_rate or not pcm:
        return pcm
    common = gcd(from_rate, to_rate)
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
    out = resample_poly(samples, to_rate // common, from_rate // common)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16).tobytes()


class StreamResampler:
    """Resample a stream chunk by chunk, carrying filter context across chunk boundaries.

    Each chunk is resampled together with the tail of the previous one, and only the new part of
    the output is kept, so a stream of 20 ms frames sounds (and recognises) like the whole.
    """

    CONTEXT = 64

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._tail = b""

    def __call__(self, pcm: bytes) -> bytes:
        """Resample the next chunk."""
        if self.from_rate == self.to_rate:
            return pcm
        joined = self._tail + pcm
        out = resample(joined, self.from_rate, self.to_rate)
        skip = len(self._tail) // SAMPLE_WIDTH * self.to_rate // self.from_rate
        self._tail = joined[-self.CONTEXT * SAMPLE_WIDTH :]
        return out[skip * SAMPLE_WIDTH :]


def frames(pcm: bytes, sample_rate: int, frame_ms: int = FRAME_MS) -> list[bytes]:
    """Split audio into frames of ``frame_ms`` (the last one padded with silence)."""
    size = sample_rate * frame_ms // 1000 * SAMPLE_WIDTH
    out = [pcm[i : i + size] for i in range(0, len(pcm), size)]
    if out and len(out[-1]) < size:
        out[-1] = out[-1] + b"\0" * (size - len(out[-1]))
    return out


def level_dbfs(pcm: bytes) -> float:
    """Loudness of a frame in dB below full scale (-96 for digital silence)."""
    if not pcm:
        return -96.0
    rms = audioop.rms(pcm, SAMPLE_WIDTH)
    return 20 * math.log10(rms / 32768) if rms else -96.0


@dataclass
class EndOfUtterance:
    """Decides when a caller has started and finished speaking, from frame loudness.

    The noise floor is learnt from the quiet frames of the line itself, so a hissy mobile and a
    clean web microphone both work: speech is a frame ``margin_db`` above the floor (and above
    ``min_speech_dbfs``). The utterance ends after ``silence_ms`` of non-speech, or is cut at
    ``max_ms``.

    Attributes:
        silence_ms: Quiet time that ends an utterance.
        max_ms: Longest utterance.
        speech_ms: Loud time needed to count as speech (ignores clicks), also what triggers barge-in.
    """

    silence_ms: int = 700
    max_ms: int = 15000
    speech_ms: int = 120
    margin_db: float = 12.0
    min_speech_dbfs: float = -45.0
    floor_db: float = -70.0
    started: bool = False
    ended: bool = False
    _loud_ms: int = 0
    _quiet_ms: int = 0
    _speech_total_ms: int = 0
    _history: list[bool] = field(default_factory=list)

    def is_speech(self, frame: bytes) -> bool:
        """Whether one frame is louder than the line's noise."""
        level = level_dbfs(frame)
        loud = level > max(self.floor_db + self.margin_db, self.min_speech_dbfs)
        if not loud:
            # Track the floor slowly upward and quickly downward.
            self.floor_db = (
                min(level, self.floor_db + 0.5) if level > self.floor_db else 0.8 * self.floor_db + 0.2 * level
            )
        return loud

    def feed(self, frame: bytes, frame_ms: int = FRAME_MS) -> None:
        """Account for one frame."""
        loud = self.is_speech(frame)
        if not self.started:
            self._loud_ms = self._loud_ms + frame_ms if loud else 0
            if self._loud_ms >= self.speech_ms:
                self.started = True
                self._speech_total_ms = self._loud_ms
            return
        self._speech_total_ms += frame_ms
        self._quiet_ms = 0 if loud else self._quiet_ms + frame_ms
        if self._quiet_ms >= self.silence_ms or self._speech_total_ms >= self.max_ms:
            self.ended = True

    def reset(self) -> None:
        """Start listening for the next utterance (the noise floor is kept)."""
        self.started = self.ended = False
        self._loud_ms = self._quiet_ms = self._speech_total_ms = 0


def write_wav(path: Path, pcm: bytes, sample_rate: int, channels: int = 1) -> None:
    """Write 16-bit PCM as a WAV file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(SAMPLE_WIDTH)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm)


def read_wav(path: Path) -> tuple[bytes, int, int]:
    """PCM, sample rate and channel count of a 16-bit WAV file."""
    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != SAMPLE_WIDTH:
            raise ValueError(f"{path}: expected 16-bit audio")
        return handle.readframes(handle.getnframes()), handle.getframerate(), handle.getnchannels()
