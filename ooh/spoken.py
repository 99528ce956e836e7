"""Text for the ear: what a phone line says must be spelt out where the eye would read at a glance.

Used by the voice gateway for every reply, and by the outbound referral call that reads a referral
to an on-call officer: one rule for both.
"""

from __future__ import annotations

import re

from ooh.records.references import respell_references

_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})\b")
_PHONE = re.compile(r"(?<![\w-])(\+?\d[\d ]{5,}\d)(?![\w-])")


def spell(text: str) -> str:
    """Characters one by one, separated by pauses ("E, N, F")."""
    return ", ".join(ch for ch in text if not ch.isspace())


def speakable(text: str) -> str:
    """Rewrite a reply for the ear: references, postcodes and phone numbers spelt out slowly."""
    text = respell_references(text, lambda prefix, day, number: f"{spell(prefix)}. {spell(day)}. {spell(number)}.")
    text = _POSTCODE.sub(lambda m: f"{spell(m.group(1))}. {spell(m.group(2))}", text)
    text = _PHONE.sub(lambda m: ". ".join(spell(part) for part in m.group(1).split()), text)
    return text
