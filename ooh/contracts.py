"""What the agent tells a channel beside its words: one typed schema both sides import.

A chat window shows the agent's text; a phone call also needs to know what kind of answer the
question wants (to listen for yes/no, digits or the choices, and to offer the keypad), when the
conversation should be put through to a person, and when the resident's request is settled (so it
can offer "anything else?" and say goodbye with the reference). The agent sends these as one
``custom`` payload on a reply with no text (Rasa's ``json_message``); channels read them with
:meth:`ChannelHints.read`, never by scraping the reply text for references or question marks.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

VOICE_CHANNEL = "voice"
"""The Rasa channel phone calls come in by (``bot/channels.py``): the only one that can put a
caller through to a number, so the only one ever told an on-call officer's direct number."""


class Choice(BaseModel):
    """One option of a choice question; keypad digit = position in the list, from 1."""

    value: str
    label: str
    #: Other words residents use for it (bias speech recognition towards them).
    says: list[str] = []


class Expect(BaseModel):
    """The kind of answer the agent's current question wants."""

    #: The question's validator type (``yes_no``, ``choice``, ``address``, ``phone``, ``free_text``...).
    type: str
    #: What is being asked (a script slot, ``address_confirm``, ``risk_check``, ``anything_else``).
    slot: str = ""
    choices: list[Choice] = []


class Transfer(BaseModel):
    """Put the conversation through to a person."""

    #: The number a phone call goes to (none: the channel ends the call after the words).
    number: str | None = None
    #: The request recorded for the hand-over, with the transcript.
    reference: str | None = None


class Finished(BaseModel):
    """The resident's request is settled: a record exists and the reply told them the outcome."""

    reference: str | None = None
    outcome: str


class ChannelHints(BaseModel):
    """Everything a channel may need to know about one turn, beyond the words."""

    expect: Expect | None = None
    transfer: Transfer | None = None
    finished: Finished | None = None

    def payload(self) -> dict[str, Any]:
        """The ``custom`` payload the agent sends (only what is set)."""
        return self.dict(exclude_none=True)

    @classmethod
    def read(cls, messages: list[dict[str, Any]]) -> ChannelHints:
        """Merge the hints of one turn's replies (later ones win); malformed hints are ignored."""
        merged = cls()
        for message in messages:
            custom = message.get("custom")
            if not isinstance(custom, dict):
                continue
            try:
                hints = cls.parse_obj(custom)
            except ValidationError:
                continue
            for name in ("expect", "transfer", "finished"):
                if getattr(hints, name) is not None:
                    setattr(merged, name, getattr(hints, name))
        return merged
