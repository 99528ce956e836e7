"""What a resident may say at any question instead of an answer: a person, stop, say it again.

Explicit phrases always count, whatever the intent classifier thinks ("put me through" mid-address
is not an address). The classifier's intent counts too, above a confidence that grows with what a
mistake would cost. These bars were set by judgement, not measured on a set: a wrong hand-over
costs a resident a wait for a person; a wrong stop throws their report away, so it needs more.
"""

from __future__ import annotations

import re

TRUSTED_INTENT = 0.6
"""Below this confidence an intent does not count as an answer ("our office" is not a "yes"), so
the script's own validators judge the words instead."""
ASK_HUMAN_CONFIDENCE = 0.8
"""The classifier alone hands over above this (a wrong hand-over costs a wait)."""
STOP_CONFIDENCE = 0.9
"""The classifier alone stops the script above this (a wrong stop loses the report)."""

_ASK_HUMAN = re.compile(
    r"\b(speak|talk) (to|with) (a |an |some)?(real |actual )?(person|human|someone|somebody|operator|agent|adviser"
    r"|advisor|call handler)\b|\bput me (through|thru)\b|\b(get|give) me (a|an) (person|human|operator)\b"
    r"|\b(real|actual) person\b|\bhuman being\b|\boperator\b",
    re.IGNORECASE,
)
_REPEAT = re.compile(
    r"\b(say (that|it) again|repeat( that| the question)?|pardon|come again|what was the question)\b", re.I
)
_STOP = re.compile(r"^\s*(stop|cancel|forget it|never ?mind|quit)\s*[.!]*\s*$", re.IGNORECASE)


def asks_for_person(text: str, intent: str | None, confidence: float) -> bool:
    """Whether the resident asks for a person ("put me through to somebody")."""
    return bool(_ASK_HUMAN.search(text)) or (intent == "ask_human" and confidence >= ASK_HUMAN_CONFIDENCE)


def wants_to_stop(text: str, intent: str | None, confidence: float) -> bool:
    """Whether the resident wants to stop: the whole message is "stop", or the classifier is sure."""
    return bool(_STOP.match(text)) or (intent == "stop" and confidence >= STOP_CONFIDENCE)


def asks_to_repeat(text: str, intent: str | None, confidence: float) -> bool:
    """Whether the resident asks to hear the question again."""
    return bool(_REPEAT.search(text)) or (intent == "repeat" and confidence >= TRUSTED_INTENT)
