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
    """The offline engine, optionally biased by a domain vocabulary.

    Loading the acoustic model takes ~0.7 s and holds the GIL (the whole gateway stops), so
    decoders are kept and shared: each carries every vocabulary it has been asked for as a named
    search (``add_lm_file``/``add_jsgf_file``, loaded once per decoder), and a stream switches to
    its search in microseconds. A few decoders are built at start-up; when all are busy, one more
    is built in the background for the next caller.
    """

    name = "pocketsphinx"

    def __init__(self, cache_dir: Path, decoders: int = 3) -> None:
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._idle: list[Decoder] = []
        self._searches: dict[int, set[str]] = {}
        self._building = False
        for _ in range(decoders):
            self._idle.append(self._new_decoder())

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

    def _new_decoder(self) -> Decoder:
        decoder = Decoder(samprate=MODEL_RATE, loglevel="FATAL", remove_noise=False)
        self._searches[id(decoder)] = {"_default"}
        return decoder

    def _use(self, decoder: Decoder, vocabulary: Vocabulary | None) -> None:
        """Switch a decoder to the vocabulary's search, loading it the first time."""
        if vocabulary is None or not vocabulary.sentences:
            decoder.activate_search("_default")
            return
        path = self.model_file(vocabulary)
        name = path.name
        loaded = self._searches[id(decoder)]
        if name not in loaded:
            if vocabulary.closed:
                decoder.add_jsgf_file(name, str(path))
            else:
                decoder.add_lm_file(name, str(path))
            loaded.add(name)
        decoder.activate_search(name)

    def _take(self) -> Decoder:
        with self._lock:
            decoder = self._idle.pop() if self._idle else None
            build = not self._idle and not self._building
            self._building = self._building or build
        if build:
            threading.Thread(target=self._grow, daemon=True).start()
        return decoder if decoder is not None else self._new_decoder()

    def _grow(self) -> None:
        """One more decoder for the next busy moment (its searches load as they are first used)."""
        decoder = self._new_decoder()
        with self._lock:
            self._idle.append(decoder)
            self._building = False

    def prepare(self, vocabulary: Vocabulary | None) -> None:
        """Load a vocabulary into every idle decoder ahead of the first call that needs it."""
        with self._lock:
            idle = list(self._idle)
        for decoder in idle:
            self._use(decoder, vocabulary)

    def stream(self, sample_rate: int, vocabulary: Vocabulary | None = None) -> RecognitionStream:
        """A decoder for one utterance, biased to the vocabulary when one is given."""
        decoder = self._take()
        self._use(decoder, vocabulary)

        def release() -> None:
            with self._lock:
                self._idle.append(decoder)

        return PocketSphinxStream(decoder, sample_rate, release)
