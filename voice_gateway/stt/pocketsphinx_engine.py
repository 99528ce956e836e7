"""Offline recogniser: pocketsphinx with its bundled US English model (no download needed).

Used when no Vosk model is configured, so the whole voice loop runs in CI. With a
:class:`~voice_gateway.stt.base.Vocabulary` it decodes against a bigram model of the domain's own
text (built once per vocabulary and cached on disk), which is what makes it usable at all.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path

from pocketsphinx import Decoder, get_model_path

from voice_gateway.audio import StreamResampler
from voice_gateway.stt.base import RecognitionStream, SpeechRecognizer, Vocabulary
from voice_gateway.stt.lm import build_arpa, build_jsgf

MODEL_RATE = 16000


@cache
def dictionary_words() -> frozenset[str]:
    """Words the bundled pronunciation dictionary knows (others cannot be recognised)."""
    path = Path(get_model_path()) / "en-us" / "cmudict-en-us.dict"
    with path.open(encoding="utf-8") as handle:
        return frozenset(line.split(" ", 1)[0] for line in handle if line.strip() and "(" not in line.split(" ", 1)[0])


class PocketSphinxStream(RecognitionStream):
    """One utterance through a pocketsphinx decoder (telephone audio is upsampled to 16 kHz)."""

    def __init__(self, decoder: Decoder, sample_rate: int, release: Callable[[], None]) -> None:
        self._decoder = decoder
        self._resample = StreamResampler(sample_rate, MODEL_RATE)
        self._release = release
        self._done = False
        self._decoder.start_utt()

    def accept(self, pcm: bytes) -> None:
        """Decode more audio."""
        self._decoder.process_raw(self._resample(pcm), False, False)

    def partial(self) -> str:
        """The decoder's current hypothesis."""
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp else ""

    def finish(self) -> str:
        """End the utterance; the final hypothesis. The decoder goes back to the pool."""
        if self._done:
            return ""
        self._done = True
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        self._release()
        return hyp.hypstr.strip() if hyp else ""


class PocketSphinxRecognizer(SpeechRecognizer):
    """The offline engine, optionally biased by a domain vocabulary."""

    name = "pocketsphinx"

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        #: Idle decoders per vocabulary: building one costs ~0.5 s (model and grammar loading).
        self._pool: dict[str, list[Decoder]] = {}

    def model_file(self, vocabulary: Vocabulary) -> Path:
        """The grammar (closed) or ARPA model (open) for a vocabulary, built once, kept by a hash."""
        key = f"{vocabulary.closed}{vocabulary.repeat}\n" + "\n".join(vocabulary.sentences)
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        path = self._cache_dir / f"{vocabulary.name}-{digest}.{'gram' if vocabulary.closed else 'arpa'}"
        with self._lock:
            if not path.exists():
                self._cache_dir.mkdir(parents=True, exist_ok=True)
                known = dictionary_words().__contains__
                text = (
                    build_jsgf(vocabulary.name, vocabulary.sentences, known, vocabulary.repeat)
                    if vocabulary.closed
                    else build_arpa(vocabulary.sentences, known)
                )
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(text, encoding="utf-8")
                tmp.replace(path)
        return path

    def _decoder(self, vocabulary: Vocabulary | None) -> tuple[str, Decoder]:
        options: dict[str, object] = {"samprate": MODEL_RATE, "loglevel": "FATAL", "remove_noise": False}
        key = "stock"
        if vocabulary is not None and vocabulary.sentences:
            path = self.model_file(vocabulary)
            options["jsgf" if vocabulary.closed else "lm"] = str(path)
            key = path.name
        with self._lock:
            idle = self._pool.setdefault(key, [])
            if idle:
                return key, idle.pop()
        return key, Decoder(**options)

    def prepare(self, vocabulary: Vocabulary | None) -> None:
        """Build a decoder for a vocabulary ahead of the first call that needs it."""
        key, decoder = self._decoder(vocabulary)
        with self._lock:
            self._pool[key].append(decoder)

    def stream(self, sample_rate: int, vocabulary: Vocabulary | None = None) -> RecognitionStream:
        """A decoder for one utterance, biased to the vocabulary when one is given."""
        key, decoder = self._decoder(vocabulary)

        def release() -> None:
            with self._lock:
                self._pool[key].append(decoder)

        return PocketSphinxStream(decoder, sample_rate, release)
