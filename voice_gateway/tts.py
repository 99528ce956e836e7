"""Text to speech: pyttsx3 (espeak-ng on Linux) rendered to PCM, with the gateway's reading rules.

Engines sit behind :class:`SpeechSynthesizer`; :class:`Pyttsx3Synthesizer` is the one we ship.
Prompts repeat a lot (greetings, script questions), so rendered audio is cached per text and rate.
References, phone numbers and postcodes are read slowly, character by character, because a
caller writing down ``ENF-20261122-0042`` at 2 a.m. must get it right first time.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import tempfile
import threading
import wave
from abc import ABC, abstractmethod
from collections import OrderedDict
from pathlib import Path

from ooh.spoken import speakable
from voice_gateway.audio import read_wav, resample

_SENTENCE = re.compile(r"(?<=[.?!])\s+")
SENTENCE_PAUSE_MS = 150
RENDER_ATTEMPTS = 3
MIN_SECONDS_PER_LETTER = 0.02
"""Shorter than this the rendering was cut off (espeak at 165 words a minute takes about 0.06 s a
letter); such a rendering is retried like a missing one."""


class SpeechSynthesizer(ABC):
    """A text-to-speech engine producing 16-bit mono PCM."""

    @abstractmethod
    def render(self, text: str) -> tuple[bytes, int]:
        """Speech for ``text`` and its sample rate (blocking)."""

    def __init__(self, cache_size: int = 256) -> None:
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._render_lock = threading.Lock()

    def speech(self, text: str, sample_rate: int) -> bytes:
        """Speech for a reply at ``sample_rate``, read by the gateway's rules; cached (blocking)."""
        key = (text, sample_rate)
        cached = self._cached(key)
        if cached is not None:
            return cached
        with self._render_lock:
            # Several calls asking for the same new prompt at once render it once.
            cached = self._cached(key)
            if cached is not None:
                return cached
            pcm, rate = self.render(speakable(text))
        pcm = resample(pcm, rate, sample_rate)
        with self._cache_lock:
            self._cache[key] = pcm
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return pcm

    def _cached(self, key: tuple[str, int]) -> bytes | None:
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        return None

    async def aspeech(self, text: str, sample_rate: int) -> bytes:
        """:meth:`speech` off the event loop."""
        return await asyncio.to_thread(self.speech, text, sample_rate)


class Pyttsx3Synthesizer(SpeechSynthesizer):
    """pyttsx3 with its espeak driver, rendered to a file (one engine per process, so serialised)."""

    def __init__(self, words_per_minute: int = 165, cache_size: int = 256) -> None:
        super().__init__(cache_size)
        import pyttsx3

        self._engine = pyttsx3.init("espeak")
        self._engine.setProperty("rate", words_per_minute)
        self._lock = threading.Lock()

    def render(self, text: str) -> tuple[bytes, int]:
        """Speak ``text`` sentence by sentence (pyttsx3 2.99's espeak driver drops long texts)."""
        pieces: list[bytes] = []
        rate = 22050
        for sentence in _SENTENCE.split(text.strip()):
            if sentence.strip():
                pcm, rate = self._render_sentence(sentence)
                pieces.append(pcm)
        pause = b"\0\0" * (rate * SENTENCE_PAUSE_MS // 1000)
        return pause.join(pieces), rate

    def _render_sentence(self, sentence: str) -> tuple[bytes, int]:
        """One sentence; the driver now and then writes no file, or a cut-off one: try again, then in pieces.

        A cut-off rendering is as bad as none: the caller would hear half a question.
        """
        for _ in range(RENDER_ATTEMPTS):
            try:
                pcm, rate = self._render_one(sentence)
            except (OSError, EOFError, wave.Error):
                continue
            if len(pcm) / 2 / rate >= MIN_SECONDS_PER_LETTER * sum(c.isalnum() for c in sentence):
                return pcm, rate
        parts = [self._render_one(part) for part in sentence.split(",") if part.strip()]
        return b"".join(pcm for pcm, _ in parts), parts[0][1]

    def _render_one(self, text: str) -> tuple[bytes, int]:
        """Speak ``text`` into a temporary WAV file and read it back."""
        with self._lock, tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "speech.wav"
            with contextlib.redirect_stdout(io.StringIO()):  # pyttsx3 prints "Audio saved to ..."
                self._engine.save_to_file(text, str(path))
                self._engine.runAndWait()
            pcm, rate, channels = read_wav(path)
        if channels != 1:
            raise ValueError("expected mono speech from the synthesiser")
        return pcm, rate
