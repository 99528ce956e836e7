"""Vosk (Kaldi) recogniser, used when ``OOH_VOSK_MODEL_DIR`` points at a downloaded model.

``tools/get_vosk_model.sh`` downloads the standard small English model and checks its checksum.
With a vocabulary, recognition is limited to the domain's words through Vosk's runtime word
list (supported by the small models, which are the ones that run in real time on 2 cores).
"""

from __future__ import annotations

import json
from pathlib import Path

from voice_gateway.stt.base import RecognitionStream, SpeechRecognizer, Vocabulary
from voice_gateway.stt.lm import words_of


class VoskStream(RecognitionStream):
    """One utterance through a ``KaldiRecognizer``."""

    def __init__(self, recognizer: object) -> None:
        self._recognizer = recognizer
        self._final: list[str] = []

    def accept(self, pcm: bytes) -> None:
        """Decode more audio; Vosk may close a segment on its own pauses."""
        if self._recognizer.AcceptWaveform(pcm):  # type: ignore[attr-defined]
            text = json.loads(self._recognizer.Result()).get("text", "")  # type: ignore[attr-defined]
            if text:
                self._final.append(text)

    def finish(self) -> str:
        """Flush and return everything heard."""
        text = json.loads(self._recognizer.FinalResult()).get("text", "")  # type: ignore[attr-defined]
        return " ".join([*self._final, text]).strip()


class VoskRecognizer(SpeechRecognizer):
    """The Vosk engine over one loaded model."""

    name = "vosk"

    def __init__(self, model_dir: Path) -> None:
        from vosk import Model, SetLogLevel

        SetLogLevel(-1)
        self._model = Model(str(model_dir))

    def stream(self, sample_rate: int, vocabulary: Vocabulary | None = None) -> RecognitionStream:
        """A recogniser for one utterance, limited to the vocabulary's words when one is given."""
        from vosk import KaldiRecognizer

        if vocabulary is not None and vocabulary.sentences:
            # Vosk's runtime grammar is a list of phrases; for an open vocabulary, its words.
            words = (
                sorted({" ".join(words_of(s)) for s in vocabulary.sentences})
                if vocabulary.closed
                else sorted({w for s in vocabulary.sentences for w in words_of(s)})
            )
            recognizer = KaldiRecognizer(self._model, sample_rate, json.dumps([*words, "[unk]"]))
        else:
            recognizer = KaldiRecognizer(self._model, sample_rate)
        return VoskStream(recognizer)
