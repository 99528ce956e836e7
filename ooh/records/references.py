"""The request reference, in one place: how it is made, found in what residents say, and read out.

A reference is the organisation's prefix, the local date and a sequence number for that day:
``ENF-20261122-0042``. Residents type or say it loosely ("enf 20261122 42"), so finding one is
lenient about case, spaces and dashes and pads a short number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

NUMBER_DIGITS = 4
"""Digits of the day's sequence number (more are allowed past 9,999 requests in a day)."""

_EXACT = re.compile(r"^([A-Z]+)(\d{8})(\d{1,6})$")
_IN_TEXT = re.compile(r"\b([A-Za-z]{2,4})[\s.-]*(\d{8})[\s.-]*(\d{4,6})\b")
"""In running text the number needs its four digits: \"on 07700900123\" is a phone number, not ON-07700900-0123."""
_CANONICAL = re.compile(r"\b([A-Z]{2,4})-(\d{8})-(\d{4,6})\b")


def make_reference(prefix: str, local_day: datetime, number: int) -> str:
    """The reference of the ``number``-th request of ``local_day`` for the organisation ``prefix``."""
    return f"{prefix}-{local_day:%Y%m%d}-{number:0{NUMBER_DIGITS}d}"


def normalise_reference(text: str) -> str | None:
    """Canonical form of a reference as a resident might type or say it on its own, or ``None``.

    Case, spaces, dashes and dots are ignored and a short sequence number is padded, so
    ``"enf 20261122 42"`` and ``"ENF-20261122-0042"`` are the same reference.
    """
    compact = re.sub(r"[^A-Za-z0-9]", "", text or "").upper()
    match = _EXACT.match(compact)
    if not match:
        return None
    prefix, day, number = match.groups()
    return f"{prefix}-{day}-{int(number):0{NUMBER_DIGITS}d}"


def find_reference(text: str) -> str | None:
    """The first reference quoted anywhere in a message ("my ref is enf 20261122 0042"), normalised."""
    match = _IN_TEXT.search(text or "")
    return normalise_reference("".join(match.groups())) if match else None


def respell_references(text: str, spell: Callable[[str, str, str], str]) -> str:
    """Rewrite each canonical reference in ``text`` with ``spell(prefix, day, number)`` (for speech)."""
    return _CANONICAL.sub(lambda m: spell(m.group(1), m.group(2), m.group(3)), text)
