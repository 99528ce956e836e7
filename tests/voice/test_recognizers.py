"""The offline recogniser on real (synthesised) speech: domain biasing is what makes it usable.

Web-call audio (16 kHz) with a little line hiss, streamed in 100 ms chunks as the gateway does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.callers import hiss
from harness.speech import synthesise
from ooh.contracts import Choice
from ooh.orgs.loader import Registry
from voice_gateway.stt.base import SpeechRecognizer, Vocabulary
from voice_gateway.stt.metrics import word_error_rate
from voice_gateway.stt.pocketsphinx_engine import PocketSphinxRecognizer
from voice_gateway.vocabulary import PHONE_VOCABULARY, choice_vocabulary, open_vocabulary, yes_no_vocabulary

OPEN_UTTERANCES = [
    "my boiler has broken down",
    "there is water coming through my ceiling",
    "my toilet is blocked",
    "no hot water",
    "the street lights are out",
]


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory: pytest.TempPathFactory) -> SpeechRecognizer:
    return PocketSphinxRecognizer(Path(tmp_path_factory.mktemp("lm")))


def hear(recognizer: SpeechRecognizer, text: str, vocabulary: Vocabulary | None, rate: int = 16000) -> str:
    """Recognise synthesised speech with line hiss around and under it."""
    rng = np.random.default_rng(3)
    speech = np.frombuffer(synthesise(text, rate), dtype=np.int16).astype(float)
    noisy = np.clip(speech + rng.normal(0, 20, len(speech)), -32768, 32767).astype(np.int16).tobytes()
    audio = hiss(rate // 5, rng) + noisy + hiss(rate // 3, rng)
    stream = recognizer.stream(rate, vocabulary)
    chunk = rate // 10 * 2
    for start in range(0, len(audio), chunk):
        stream.accept(audio[start : start + chunk])
    return stream.finish()


@pytest.mark.parametrize("answer", ["yes", "no", "yes please", "that's right"])
def test_yes_and_no_are_heard_with_the_yes_no_grammar(recognizer: SpeechRecognizer, answer: str) -> None:
    assert yes_no_vocabulary().answer(hear(recognizer, answer, yes_no_vocabulary())) == answer


@pytest.mark.parametrize("said", ["i want to kill myself", "i can smell gas"])
def test_a_risk_or_hazard_is_heard_even_at_a_yes_no_question(recognizer: SpeechRecognizer, said: str) -> None:
    """The yes/no grammar includes the safeguarding data's ``says`` sentences, hazards too."""
    heard = hear(recognizer, said, yes_no_vocabulary())
    assert yes_no_vocabulary().answer(heard) == said


def test_a_fragment_of_a_phrase_is_not_taken_as_an_answer() -> None:
    assert yes_no_vocabulary().answer("someone is") == ""
    assert yes_no_vocabulary().answer("no") == "no"


def test_a_choice_is_heard_from_part_of_its_label(recognizer: SpeechRecognizer) -> None:
    choices = [
        Choice(value="leak", label="a leak or flood", says=["leak", "burst"]),
        Choice(value="heating", label="no heating or hot water", says=["boiler"]),
    ]
    vocabulary = choice_vocabulary(choices)
    assert vocabulary.answer(hear(recognizer, "a leak", vocabulary)) == "a leak"
    assert vocabulary.answer(hear(recognizer, "no heating", vocabulary)) == "no heating"


def test_the_digit_grammar_hears_digits_where_the_stock_model_hears_words(recognizer: SpeechRecognizer) -> None:
    """Better, not good: spoken numbers stay unreliable offline, hence the keypad for numbers."""
    spoken = "oh seven seven double oh nine double oh one two three"
    biased = hear(recognizer, spoken, PHONE_VOCABULARY)
    plain = hear(recognizer, spoken, None)
    assert PHONE_VOCABULARY.answer(biased) == biased != ""
    assert word_error_rate(spoken, biased) < word_error_rate(spoken, plain)


def test_the_organisations_vocabulary_beats_the_stock_model(recognizer: SpeechRecognizer, registry: Registry) -> None:
    org = registry.get("enfield")
    assert org is not None
    vocabulary = open_vocabulary(org)
    biased = sum(word_error_rate(u, hear(recognizer, u, vocabulary)) for u in OPEN_UTTERANCES) / len(OPEN_UTTERANCES)
    plain = sum(word_error_rate(u, hear(recognizer, u, None)) for u in OPEN_UTTERANCES) / len(OPEN_UTTERANCES)
    assert biased < 0.35 and biased < plain / 2, (biased, plain)
