"""Referral by an outbound phone call: Twilio rings the officer, reads the referral, takes a keypress.

Twilio's REST API creates the call (``POST /2010-04-01/Accounts/<sid>/Calls.json`` with ``To``,
``From`` and ``Twiml``, HTTP Basic auth with the account SID and auth token). The TwiML reads the
referral twice inside a ``<Gather>`` of one digit; pressing 1 posts to the voice gateway's
``/twilio/ack/<token>``, where Twilio's signature is checked and the signed token (the same as the
email's and text's acknowledgement link) acknowledges the referral. A call Twilio accepted counts
as sent, as an email does: whether anyone pressed 1 is what the acknowledgement timer watches.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

import requests

from ooh.records.store import ServiceRequestView
from ooh.referrals.errors import ChannelRefused, ChannelUnavailable
from ooh.scripts.validators import normalise_phone
from ooh.settings import Settings
from ooh.spoken import speakable


class CallUnavailable(ChannelUnavailable):
    """A call cannot be made: Twilio is not configured, or the contact has no UK number."""


class CallRefused(ChannelRefused):
    """Twilio refused to create the call (its HTTP status and message)."""


def uk_number(number: str | None) -> str | None:
    """``+442079460000`` for any UK number (landline or mobile: both can take a call), else None."""
    local = normalise_phone(number or "")
    return "+44" + local[1:] if local else None


def referral_words(request: ServiceRequestView, *, organisation: str, stage: int) -> str:
    """What the call says: 5.2.5's fields in order, for the ear."""
    parts = [f"This is the out of hours service for {organisation}, with a referral."]
    if stage > 1:
        parts.append(f"It is escalated to you, stage {stage}.")
    what = request.service_option.replace("_", " ").replace("/", ", ")
    parts.append(f"{request.priority.capitalize() + ' ' if request.priority else ''}{what}.")
    parts.append(f"Caller: {request.caller_name or 'not given'}.")
    parts.append(f"Address: {request.address or 'not given'}.")
    parts.append(f"Contact number: {request.contact_number or 'not given'}.")
    if request.details:
        parts.append(f"Details: {request.details[:300]}.")
    parts.append(f"Reference {request.reference}.")
    return speakable(" ".join(parts))


def referral_twiml(words: str, action_url: str) -> str:
    """Read the referral twice while listening for one key; 1 acknowledges."""
    prompt = f"{words} Press 1 to acknowledge this referral."
    say = f'<Say language="en-GB">{escape(prompt)}</Say>'
    return (
        "<Response>"
        f'<Gather numDigits="1" timeout="8" method="POST" action={quoteattr(action_url)}>{say}{say}</Gather>'
        '<Say language="en-GB">No key was pressed. The referral will be escalated if it is not acknowledged.</Say>'
        "</Response>"
    )


class TwilioCalls:
    """Creates outbound calls through Twilio's REST API (blocking: run in a thread).

    Args:
        settings: Account SID, auth token, the number calls come from, the API's base URL.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def call(self, number: str, twiml: str) -> str:
        """Ring ``number`` with ``twiml``; returns the call's SID. Raises on any failure.

        Raises:
            CallUnavailable: Twilio is not configured or the number is not a UK one.
            CallRefused: Twilio answered with an error.
            requests.RequestException: Twilio could not be reached.
        """
        s = self.settings
        if not (s.twilio_account_sid and s.twilio_auth_token and s.twilio_from_number):
            raise CallUnavailable(
                "phone calls are not configured (OOH_TWILIO_ACCOUNT_SID, OOH_TWILIO_AUTH_TOKEN, OOH_TWILIO_FROM_NUMBER)"
            )
        to = uk_number(number)
        if to is None:
            raise CallUnavailable("no UK phone number")
        url = f"{s.twilio_api_base}/2010-04-01/Accounts/{s.twilio_account_sid}/Calls.json"
        response = requests.post(
            url,
            data={"To": to, "From": s.twilio_from_number, "Twiml": twiml},
            auth=(s.twilio_account_sid, s.twilio_auth_token),
            timeout=s.smtp_timeout_seconds,
        )
        if response.status_code >= 400:
            try:
                body: Any = response.json()
            except ValueError:
                body = {}
            raise CallRefused(f"Twilio refused the call: {response.status_code} {str(body.get('message', ''))[:200]}")
        return str(response.json().get("sid", ""))
