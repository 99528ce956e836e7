"""Validators for answers to script questions (yes/no, phone, choice, name, free text).

Each validator takes what the resident said (and the NLU intent when there is one) and either
returns a clean value or says, in words a resident understands, what was wrong. Address answers are
validated by the engine itself because they need the organisation's address book.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from ooh.orgs.models import Question

#: Longest free-text answer kept; longer text is cut and the record flagged, never rejected.
MAX_TEXT = 2000

_DONT_KNOW = re.compile(
    r"\b(don'?t|do not|dont|dunno|not) (know|sure)\b|\bno idea\b|\bcan'?t (remember|say)\b|"
    r"\bnot sure\b|\bdunno\b|\bi'?m not certain\b|\bno clue\b",
    re.IGNORECASE,
)
_YES = re.compile(
    r"^\s*(y|yes|yeah|yea|yep|yup|aye|correct|right|that'?s right|that is right|sure|"
    r"of course|definitely|i am|i do|there is|there are|it is|they are|please do|ok|okay)\b",
    re.IGNORECASE,
)
_NO = re.compile(
    r"^\s*(n|no|nope|nah|not really|negative|wrong|that'?s wrong|i'?m not|i am not|i don'?t|"
    r"there isn'?t|there aren'?t|it isn'?t|none)\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}


@dataclass(frozen=True)
class Validation:
    """Result of validating one answer.

    Attributes:
        ok: The answer was understood.
        value: The clean value to store (``None`` when not ok).
        problem: Why it was not understood, to say to the resident.
        flags: Things to tell the officer (e.g. ``details_truncated``).
    """

    ok: bool
    value: Any = None
    problem: str | None = None
    flags: tuple[str, ...] = ()


def has_words(text: str) -> bool:
    """Whether a message carries any letters or digits (not only emoji, spaces or punctuation)."""
    return any(unicodedata.category(ch)[0] in {"L", "N"} for ch in text)


def is_dont_know(text: str, intent: str | None = None) -> bool:
    """Whether the resident is saying they cannot answer."""
    return intent == "dont_know" or bool(_DONT_KNOW.search(text))


def yes_or_no(text: str, intent: str | None = None) -> bool | None:
    """``True`` for yes, ``False`` for no (in words, by NLU intent, or keypad 1/2), else ``None``."""
    stripped = text.strip()
    if intent == "affirm" or _YES.match(stripped) or stripped == "1":
        return True
    if intent == "deny" or _NO.match(stripped) or stripped == "2":
        return False
    return None


_VULNERABLE = re.compile(
    r"\b(aged? |is |'s |she'?s |he'?s |they'?re |turned )(6[5-9]|[7-9]\d|1[01]\d)\b(?! ?(%|percent|pounds|quid|min))"
    r"|\b(6[5-9]|[7-9]\d|1[01]\d) ?(years?|yrs?)\b"
    r"|\b(elderly|pensioner|pregnant|expecting|disabled|disability|wheelchair|dementia|alzheimer|frail|poorly|unwell|"
    r"ill|sick|asthma|copd|cancer|chemo|dialysis|oxygen|baby|babies|newborn|toddler|infant|blind|deaf|carer|"
    r"mobility|bedbound|bed bound|can'?t walk|learning disabilit)\w*",
    re.IGNORECASE,
)
"""A natural answer to "is anyone elderly, disabled, very young, pregnant or unwell?" that means yes."""


def validate_yes_no(question: Question, text: str, intent: str | None) -> Validation:
    """Accept yes/no in words, by NLU intent, or by keypad (1 = yes, 2 = no).

    To the vulnerability question, a description is an answer: "my mum lives with us, she's 81"
    means yes, so the resident is not told to answer yes or no.
    """
    answer = yes_or_no(text, intent)
    if answer is None and "vulnerab" in question.slot and _VULNERABLE.search(text):
        answer = True
    if answer is None:
        return Validation(False, problem="Please answer yes or no.")
    return Validation(True, answer)


def normalise_phone(text: str) -> str | None:
    """Turn a spoken or typed UK number into ``07700900123`` form, or ``None`` if it is not one."""
    words = re.findall(r"[a-z]+|\d+|\+", text.lower())
    digits = ""
    for word in words:
        if word.isdigit() or word == "+":
            digits += word
        elif word in _NUMBER_WORDS:
            digits += _NUMBER_WORDS[word]
        elif word in {"double", "triple"}:
            digits += f"<{word}>"
    digits = re.sub(r"<double>(\d)", r"\1\1", digits)
    digits = re.sub(r"<triple>(\d)", r"\1\1\1", digits)
    digits = re.sub(r"<\w+>", "", digits)
    if digits.startswith("+44"):
        digits = "0" + digits[3:]
    elif digits.startswith("0044"):
        digits = "0" + digits[4:]
    elif digits.startswith("44") and len(digits) == 12:
        digits = "0" + digits[2:]
    if re.fullmatch(r"0[1-9]\d{8,9}", digits):
        return digits
    return None


def validate_phone(question: Question, text: str, intent: str | None) -> Validation:
    """Accept a UK landline or mobile number, however it is spaced or spoken."""
    number = normalise_phone(text)
    if number:
        return Validation(True, number)
    return Validation(
        False,
        problem="That doesn't look like a UK phone number. Please give it with the area code, "
        "for example 020 7946 0000 or 07700 900123.",
    )


_NAME_LEAD = re.compile(r"^\s*(my name is|my name's|name'?s|it'?s|i am|i'?m|this is|call me)\s+", re.I)


def validate_name(question: Question, text: str, intent: str | None) -> Validation:
    """Accept a name, without the 'my name is' in front of it."""
    name = _NAME_LEAD.sub("", text).strip(" .,!")
    if not name or not any(ch.isalpha() for ch in name) or len(name) > 120:
        return Validation(False, problem="Please tell me your name.")
    return Validation(True, name[:120])


def validate_free_text(question: Question, text: str, intent: str | None) -> Validation:
    """Accept any text with words in it, cutting (never refusing) very long answers."""
    cleaned = " ".join(text.split())
    if not has_words(cleaned):
        return Validation(False, problem="Please describe it in a few words.")
    if len(cleaned) > MAX_TEXT:
        return Validation(True, cleaned[:MAX_TEXT], flags=("details_truncated",))
    return Validation(True, cleaned)


def validate_choice(question: Question, text: str, intent: str | None) -> Validation:
    """Pick the choice whose words the answer uses (exact word, then fuzzy, then by number)."""
    lowered = text.lower().strip()
    keys = list(question.choices)
    # A keypad digit or a typed number picks by position: ASCII digits only ("²" and "٣" are
    # digits to str.isdigit but not to int()), and few of them (int() refuses 4,300 or more).
    if re.fullmatch(r"[0-9]{1,3}", lowered) and 1 <= int(lowered) <= len(keys):
        return Validation(True, keys[int(lowered) - 1])
    best: tuple[float, str] | None = None
    for key, choice in question.choices.items():
        phrases = [choice.label.lower(), key.replace("_", " "), *[s.lower() for s in choice.says]]
        for phrase in phrases:
            if re.search(rf"\b{re.escape(phrase)}\b", lowered):
                score = 100.0 + len(phrase)
            else:
                score = fuzz.partial_ratio(phrase, lowered) if len(phrase) > 3 else 0.0
            if best is None or score > best[0]:
                best = (score, key)
    if best and best[0] >= 88:
        return Validation(True, best[1])
    options = ", ".join(choice.label for choice in question.choices.values())
    return Validation(False, problem=f"Sorry, I didn't follow. Is it one of these: {options}?")


def choice_named(question: Question, text: str) -> str | None:
    """The one choice whose words the text names exactly, or ``None`` if none or several are named."""
    lowered = text.lower()
    named = {
        key
        for key, choice in question.choices.items()
        if key != "other"
        and any(re.search(rf"\b{re.escape(p.lower())}\b", lowered) for p in [choice.label, *choice.says])
    }
    return named.pop() if len(named) == 1 else None


VALIDATORS = {
    "yes_no": validate_yes_no,
    "phone": validate_phone,
    "name": validate_name,
    "free_text": validate_free_text,
    "choice": validate_choice,
}
