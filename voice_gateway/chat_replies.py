"""What a web chat window is sent: the agent's replies made into messages meant for a resident.

Pure functions, no web framework: :func:`for_resident` takes one turn of the agent's REST replies
(Rasa's shapes: ``text``, ``text`` + ``buttons``, and hint-only ``custom`` payloads read through
:class:`ooh.contracts.ChannelHints`) and returns what the chat window shows. Hints never become
bubbles; a question that expects yes/no or one of some choices gets buttons (they can still be
typed); every message has text; UK phone numbers become ``tel:`` links (:func:`phone_parts`), and
helplines (999, 111, 116 xxx, free 080x numbers) are listed first as large links to tap.
"""

from __future__ import annotations

import re
from typing import Any

from ooh.contracts import ChannelHints, Expect

CHOOSE = "Choose one of these, or type your answer."
"""Said with buttons that arrived without words of their own (never an empty bubble)."""

NEXT_STEPS = {
    "referred": (
        "The on-call officer has been sent your request with this conversation. "
        "Keep your phone with you: they may call you, possibly from a withheld number."
    ),
    "placed": "Go to the place we gave you. If anything changes, contact us again and give your reference.",
    "daytime": "Your request is recorded. The daytime team will pick it up when they are next open.",
    "signposted": "Contact the service we gave you. Your reference is a record that you asked us.",
    "transferred": (
        "A person will take this on. If you have not heard from anyone, contact us again with your reference."
    ),
    "resolved": "There is nothing more you need to do.",
    "status_given": "If you need more help, contact us again and give your reference.",
    "out_of_scope": "We could not help with this, but your reference is a record that you asked us.",
}
"""What happens next, by outcome (``Finished.outcome``): shown under the reference at the end."""

_UK_NUMBER = re.compile(
    r"(?<![\w+/-])"
    r"(?P<number>"
    r"(?:\+44\s?(?:\(0\)\s?)?|0)\d(?:[ -]?\d){8,9}"  # national and mobile numbers: 0xxx... or +44
    r"|0800\s?\d{4}"  # Childline's 0800 1111 and other short freephone numbers
    r"|116\s?\d{3}"  # harmonised European helplines: 116 123, 116 000, 116 111
    r"|999|111"  # emergency, NHS 111 (other short numbers read too often as house numbers)
    r")"
    r"(?![\w-])"
)
_SHORT = {"999", "111"}


def tel_href(number: str) -> str | None:
    """The ``tel:`` address of a UK number as written in text, or None when it is not one.

    >>> tel_href("0808 800 5000")
    'tel:+448088005000'
    """
    digits = re.sub(r"\D", "", number)
    if number.startswith("+44"):
        digits = "0" + digits[2:].removeprefix("0")
    if digits in _SHORT or re.fullmatch(r"116\d{3}", digits):
        return f"tel:{digits}"
    if digits.startswith("0800") and len(digits) == 8:
        return f"tel:+44{digits[1:]}"
    if digits.startswith("0") and len(digits) in (10, 11) and not digits.startswith("00"):
        return f"tel:+44{digits[1:]}"
    return None


def is_helpline(href: str) -> bool:
    """Emergency, NHS 111, 116 helplines and free (0800/0808) numbers."""
    number = href.removeprefix("tel:")
    return number in ("999", "111") or number.startswith(("116", "+44800", "+44808"))


def phone_parts(text: str) -> list[dict[str, str]]:
    """The text split into plain parts and phone numbers: ``[{"text"}, {"text", "tel"}, ...]``.

    The window renders each part as a text node or a link, never as HTML, so the agent's text
    cannot inject markup.
    """
    parts: list[dict[str, str]] = []
    at = 0
    for match in _UK_NUMBER.finditer(text):
        written = match.group("number")
        href = tel_href(written)
        if href is None:
            continue
        if match.start() > at:
            parts.append({"text": text[at : match.start()]})
        parts.append({"text": written, "tel": href})
        at = match.end()
    if at < len(text):
        parts.append({"text": text[at:]})
    return parts


def helplines(parts: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each helpline in a message once, in order, to show first as a link to tap."""
    seen: dict[str, dict[str, str]] = {}
    for part in parts:
        href = part.get("tel")
        if href and is_helpline(href) and href not in seen:
            seen[href] = {"text": part["text"], "tel": href}
    return list(seen.values())


def _buttons_for(expect: Expect | None) -> list[dict[str, str]]:
    """Buttons for a question the agent says wants yes/no or one of some choices."""
    if expect is None:
        return []
    if expect.type == "yes_no":
        return [{"title": "Yes", "payload": "Yes"}, {"title": "No", "payload": "No"}]
    if expect.type == "choice":
        return [{"title": c.label[:1].upper() + c.label[1:], "payload": c.label} for c in expect.choices]
    return []


def _button(raw: Any) -> dict[str, str] | None:
    if not isinstance(raw, dict):
        return None
    title, payload = raw.get("title"), raw.get("payload")
    if not isinstance(title, str) or not title.strip():
        return None
    return {"title": title.strip(), "payload": payload if isinstance(payload, str) and payload else title.strip()}


def message(text: str, buttons: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """One message of the agent's as the window shows it."""
    parts = phone_parts(text)
    return {"from": "agent", "text": text, "parts": parts, "helplines": helplines(parts), "buttons": buttons or []}


def for_resident(replies: list[dict[str, Any]]) -> dict[str, Any]:
    """One turn of the agent's replies as the chat window is sent it.

    Returns:
        ``{"messages": [...], "finished": {"reference", "outcome", "next"} | None}``. Every message
        has text; hint-only replies are read, never shown.
    """
    hints = ChannelHints.read(replies)
    messages: list[dict[str, Any]] = []
    for reply in replies:
        text = reply.get("text")
        text = text.strip() if isinstance(text, str) else ""
        raw_buttons = reply.get("buttons")
        buttons = [b for b in map(_button, raw_buttons if isinstance(raw_buttons, list) else []) if b]
        if not text and not buttons:
            continue  # a hint (custom payload), an image or an empty reply: nothing to show
        messages.append(message(text or CHOOSE, buttons))
    offered = _buttons_for(hints.expect)
    if offered and messages and not any(m["buttons"] for m in messages):
        messages[-1]["buttons"] = offered
    elif offered and not messages:
        messages.append(message(CHOOSE, offered))
    transfer = hints.transfer
    if transfer is not None and transfer.number and not any(transfer.number in m["text"] for m in messages):
        messages.append(message(f"You can call {transfer.number} to speak to someone now."))
    finished = None
    if hints.finished is not None:
        outcome = hints.finished.outcome
        finished = {
            "reference": hints.finished.reference,
            "outcome": outcome,
            "next": NEXT_STEPS.get(outcome, "If you need more help, contact us again and give your reference."),
        }
    return {"messages": messages, "finished": finished}
