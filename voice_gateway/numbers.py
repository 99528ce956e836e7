"""Turn what a recogniser heard back into what the agent expects to read: digits, postcodes.

Recognisers write numbers as words ("twelve gosford road", "oh two oh seven nine four six"); the
address matcher and the phone validator want "12 gosford road" and "0207946".
"""

from __future__ import annotations

import re

_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())} | {"oh": 0}
_TEENS = {
    w: 10 + i
    for i, w in enumerate("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())
}
_TENS = {
    w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if w != "_"
}
_REPEAT = {"double": 2, "triple": 3}


def _number_at(words: list[str], i: int) -> tuple[int, int] | None:
    """A spoken number (not a digit run) starting at ``words[i]``: (value, words used)."""
    word = words[i]
    value: int
    used = 1
    if word in _TEENS:
        return _TEENS[word], 1
    if word in _TENS:
        value = _TENS[word]
        if i + 1 < len(words) and words[i + 1] in _UNITS and words[i + 1] not in ("zero", "oh"):
            value += _UNITS[words[i + 1]]
            used = 2
        return value, used
    if word in _UNITS and i + 1 < len(words) and words[i + 1] == "hundred":
        value, used = _UNITS[word] * 100, 2
        j = i + 2
        if j < len(words) and words[j] == "and":
            j += 1
        if j < len(words):
            rest = _number_at(words, j) if words[j] not in _UNITS else (_UNITS[words[j]], 1)
            if rest:
                value += rest[0]
                used = j - i + rest[1]
        return value, used
    return None


def words_to_digits(text: str) -> str:
    """Spoken numbers to digits; runs of single digits are joined ("oh two oh" -> "020")."""
    words = text.lower().split()
    out: list[str] = []
    i = 0
    while i < len(words):
        digits = ""
        while i < len(words):
            if words[i] in _REPEAT and i + 1 < len(words) and words[i + 1] in _UNITS:
                digits += str(_UNITS[words[i + 1]]) * _REPEAT[words[i]]
                i += 2
            elif words[i] in _UNITS and not (i + 1 < len(words) and words[i + 1] == "hundred"):
                digits += str(_UNITS[words[i]])
                i += 1
            else:
                break
        if digits:
            out.append(digits)
            continue
        number = _number_at(words, i)
        if number:
            out.append(str(number[0]))
            i += number[1]
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


_SPELT = re.compile(r"\b((?:(?:[a-z]|\d+)\s+){3,}(?:[a-z]|\d+))\b")


def join_spelt(text: str) -> str:
    """Join a spelt-out run of letters and digits ("e n 3 6 h s" -> "EN36HS") for postcodes."""
    return _SPELT.sub(lambda m: m.group(1).replace(" ", "").upper(), text)


def for_agent(text: str, answer_type: str | None) -> str:
    """What to send the agent for a recognised utterance, given the kind of answer expected."""
    if answer_type in ("address", "phone"):
        text = words_to_digits(text)
        if answer_type == "address":
            text = join_spelt(text)
    return text
