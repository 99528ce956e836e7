"""Answer validators: what residents type and say, and what they are told when it doesn't fit."""

from __future__ import annotations

import pytest

from ooh.orgs.loader import Registry
from ooh.orgs.models import Question
from ooh.scripts.engine import ScriptRun
from ooh.scripts.validators import (
    MAX_TEXT,
    has_words,
    is_dont_know,
    normalise_phone,
    validate_choice,
    validate_free_text,
    validate_name,
    validate_yes_no,
)

YES_NO = Question(slot="q_x", ask="?", type="yes_no")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("07700 900123", "07700900123"),
        ("+44 7700 900123", "07700900123"),
        ("020 7946 0000", "02079460000"),
        ("oh seven seven double oh nine oh oh one two three", "07700900123"),
        ("12345", None),
        ("call me maybe", None),
    ],
)
def test_phone_numbers_typed_or_spoken(text: str, expected: str | None) -> None:
    """UK numbers however spaced or spoken; anything else is rejected."""
    assert normalise_phone(text) == expected


@pytest.mark.parametrize(
    ("text", "value"), [("yes", True), ("yeah it is", True), ("Nope", False), ("1", True), ("2", False)]
)
def test_yes_no(text: str, value: bool) -> None:
    """Yes and no in words or by keypad."""
    assert validate_yes_no(YES_NO, text, None).value is value


def test_yes_no_by_intent_and_unclear_answer() -> None:
    """The NLU's affirm/deny count; an unclear answer says what is wanted."""
    assert validate_yes_no(YES_NO, "absolutely", "affirm").value is True
    result = validate_yes_no(YES_NO, "the cat", None)
    assert not result.ok and "yes or no" in (result.problem or "")


def test_choice_by_word_fuzzy_and_number() -> None:
    """Choices are picked by the resident's words, by near misses, or by number."""
    question = Question.parse_obj(
        {
            "slot": "q_p",
            "ask": "?",
            "type": "choice",
            "choices": {
                "heating": {"label": "no heating", "says": ["boiler", "radiator"]},
                "leak": {"label": "a leak", "says": ["flood"]},
            },
        }
    )
    assert validate_choice(question, "the boiler's packed in", None).value == "heating"
    assert validate_choice(question, "there's a flod", None).value == "leak"
    assert validate_choice(question, "2", None).value == "leak"
    unclear = validate_choice(question, "purple", None)
    assert not unclear.ok and "no heating" in (unclear.problem or "")


def test_free_text_keeps_long_answers_cut_and_flagged() -> None:
    """A 10,000-character answer is kept (cut) and flagged, never refused."""
    question = Question(slot="details", ask="?", type="free_text")
    result = validate_free_text(question, "word " * 2000, None)
    assert result.ok and len(result.value) == MAX_TEXT and "details_truncated" in result.flags
    assert not validate_free_text(question, "😡😡", None).ok


def test_names_and_cannot_answer() -> None:
    """'My name is' is dropped; 'I don't know' is recognised; emoji-only has no words."""
    question = Question(slot="caller_name", ask="?", type="name")
    assert validate_name(question, "my name is Amina Yusuf", None).value == "Amina Yusuf"
    assert is_dont_know("I'm not sure to be honest") and is_dont_know("dunno")
    assert not is_dont_know("twelve cedar road")
    assert not has_words("🔥🔥 !!") and has_words("моя квартира")


@pytest.mark.parametrize(
    ("text", "value"),
    [("my mum lives with us, she's 81", True), ("we have a newborn", True), ("flat 72", None), ("no", False)],
)
def test_a_description_answers_the_vulnerability_question(text: str, value: bool | None) -> None:
    """To "is anyone elderly, disabled, very young...", an age or a condition means yes."""
    question = Question(slot="q_vulnerable", ask="Is anyone in the home elderly?", type="yes_no")
    result = validate_yes_no(question, text, None)
    assert (result.value if result.ok else None) == value


@pytest.mark.parametrize("answer", ["²", "³", "9" * 5000, "0" * 100, "٣"])
def test_odd_numbers_as_a_choice_are_asked_again_never_an_error(registry: Registry, answer: str) -> None:
    """Finding 10: "²" or thousands of digits raised inside the validator and the resident got nothing."""
    org = registry.get("enfield")
    assert org is not None
    run = ScriptRun.for_option(registry, org, "housing_repairs")
    state, reply = run.answer(run.new_state(), answer)
    assert reply and "Is it one of these" in reply
    assert state["answers"] == {}, "nothing was taken as an answer"
