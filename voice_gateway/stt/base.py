"""One interface for every speech recogniser; an adapter per engine (pocketsphinx, Vosk).

The gateway detects the end of an utterance itself (``voice_gateway.audio.EndOfUtterance``), so an
engine only has to turn a stream of 16-bit mono PCM into words, with partial results on the way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Vocabulary:
    """What callers are expected to say, to bias a recogniser towards the domain.

    Two shapes, because the two kinds of question need different biasing:

    - *open* (a free description, an address): ``sentences`` are examples of what callers say;
      engines build a statistical model of them, so unseen word orders still come through;
    - *closed* (yes/no, a phone number): ``sentences`` are the only phrases accepted, optionally
      repeated (digits); engines restrict recognition to them, which is far more accurate.

    Attributes:
        name: A key for caching what an engine builds from it (e.g. ``enfield``, ``phone``).
        sentences: Example utterances, or for a closed vocabulary the accepted phrases.
        closed: Whether only ``sentences`` may be recognised.
        repeat: For a closed vocabulary, whether a sequence of phrases is allowed ("oh seven...").
    """

    name: str
    sentences: tuple[str, ...] = field(default=(), repr=False)
    closed: bool = False
    repeat: bool = False

    def answer(self, text: str) -> str:
        """The recognised text if it is a complete answer of this vocabulary, else "".

        A grammar-bound decoder can stop part-way through a phrase ("someone is" from "someone is
        threatening..."): such a fragment is not an answer and must not be acted on. A dangling
        "or"/"and" the decoder ran into ("no heating or") is dropped first.
        """
        from voice_gateway.stt.lm import words_of

        if not self.closed:
            return text
        phrases = {" ".join(words_of(sentence)) for sentence in self.sentences}
        words = words_of(text)
        while words and words[-1] in ("or", "and"):
            words.pop()
        said = " ".join(words)
        if self.repeat:
            return said if words and all(word in phrases for word in words) else ""
        return said if said in phrases else ""


class RecognitionStream(ABC):
    """One utterance being recognised."""

    @abstractmethod
    def accept(self, pcm: bytes) -> None:
        """Feed 16-bit little-endian mono PCM at the stream's sample rate."""

    @abstractmethod
    def finish(self) -> str:
        """End the utterance and return the final text (lower case, no punctuation)."""


class SpeechRecognizer(ABC):
    """A speech-to-text engine."""

    name: str = "recognizer"

    @abstractmethod
    def stream(self, sample_rate: int, vocabulary: Vocabulary | None = None) -> RecognitionStream:
        """Start recognising one utterance of audio at ``sample_rate`` (8000 or 16000 Hz)."""

    def prepare(self, vocabulary: Vocabulary | None) -> None:  # noqa: B027  # optional for engines
        """Load what a vocabulary needs before the first call uses it (optional)."""
