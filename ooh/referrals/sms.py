"""Texts through GOV.UK Notify: referrals to on-call officers and confirmations to residents.

Notify is the UK public sector's messaging service; councils already hold accounts. A text goes
through ``notifications-python-client`` (Notify's own client: it signs each request with a JWT made
from the API key) using one SMS template whose whole text is ``((body))``, so the words stay ours.
Notify reports later whether the phone received it (a delivery receipt posted to our callback:
``ooh.referrals.notify_callbacks``); an officer's reply comes back the same way.

A referral text is short, so spec 5.2.5's order decides what survives the length limit: the caller's
name, the address, the contact number and the brief details, in that order of priority, each
shortened only when everything before it has taken the room. The reference is never cut: the
officer's "ACK" reply and every later call about the request need it whole.
"""

from __future__ import annotations

from typing import Any

from ooh.records.store import ServiceRequestView
from ooh.referrals.errors import ChannelUnavailable
from ooh.scripts.validators import normalise_phone
from ooh.settings import Settings

SMS_LIMIT = 918
"""Notify's longest text message (6 fragments); Notify refuses longer ones."""
REFERRAL_SMS_LIMIT = 459
"""A referral text's own limit (3 fragments): enough for the 5.2.5 fields, short enough to read at a glance."""
ELLIPSIS = "…"


def uk_mobile(number: str | None) -> str | None:
    """``+447700900123`` for a UK mobile number however written, else None (landlines cannot get texts)."""
    if not number:
        return None
    local = normalise_phone(number)
    if local is None or not local.startswith("07") or len(local) != 11:
        return None
    return "+44" + local[1:]


def _fit(text: str, room: int) -> str:
    if len(text) <= room:
        return text
    return text[: max(0, room - 1)].rstrip() + ELLIPSIS if room > 0 else ""


def referral_sms(
    request: ServiceRequestView, *, organisation: str, stage: int, ack_link: str | None, limit: int = REFERRAL_SMS_LIMIT
) -> str:
    """The referral as a text: 5.2.5's fields in priority order, the reference whole, how to acknowledge.

    Args:
        request: The service request.
        organisation: The organisation's short name (the officer may cover several).
        stage: 2 or more when this is an escalation.
        ack_link: The signed acknowledgement link, if any.
        limit: Longest text allowed.
    """
    head = f"{organisation} OOH {request.service_option}"
    if request.priority:
        head += f" {request.priority.upper()}"
    if stage > 1:
        head += f" (escalated, stage {stage})"
    address = request.address or "not given"
    if request.address and not request.address_verified:
        address += " (unverified)"
    fields = [
        ("Name", request.caller_name or "not given"),
        ("Addr", address),
        ("Tel", request.contact_number or "not given"),
        ("Details", request.details or "not given"),
    ]
    tail = [f"Ref {request.reference}", f"Reply ACK {request.reference} to acknowledge"]
    if ack_link:
        tail.append(f"or open {ack_link}")
    fixed = "\n".join([head, *tail])
    room = limit - len(fixed) - sum(len(label) + 3 for label, _ in fields)  # "Label: " + newline
    lines = [head]
    for label, value in fields:
        value = " ".join(value.split())
        kept = _fit(value, room)
        room -= len(kept)
        lines.append(f"{label}: {kept}")
    return "\n".join([*lines, *tail])[:limit]


def confirmation_sms(template: str | None, *, reference: str, organisation: str, what_next: str) -> str:
    """The resident's confirmation text (spec 5.2.6): the option's own words, else what happens next."""
    words = template or "{organisation}: we have your report, reference {reference}. {what_next}"
    text = words.replace("{reference}", reference).replace("{organisation}", organisation)
    text = text.replace("{what_next}", what_next)
    return _fit(" ".join(text.split()), SMS_LIMIT)


class SmsUnavailable(ChannelUnavailable):
    """Texts cannot be sent: no Notify key or template is configured, or the number is no UK mobile."""


class NotifySms:
    """Sends texts through GOV.UK Notify (blocking: run in a thread).

    Args:
        settings: The API key, base URL, SMS template and timeout.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        """Whether a key and a template are set."""
        return bool(self.settings.notify_api_key and self.settings.notify_sms_template_id)

    def send(self, phone: str, body: str, reference: str) -> str:
        """Send one text; returns Notify's notification id. Raises on any failure.

        Raises:
            SmsUnavailable: not configured, or not a UK mobile number.
            notifications_python_client.errors.APIError: Notify refused it (400, 403, 429, 5xx).
            requests.RequestException: Notify could not be reached.
        """
        from notifications_python_client.notifications import NotificationsAPIClient

        if not self.configured:
            raise SmsUnavailable("SMS is not configured (OOH_NOTIFY_API_KEY, OOH_NOTIFY_SMS_TEMPLATE_ID)")
        number = uk_mobile(phone)
        if number is None:
            raise SmsUnavailable("no UK mobile number")
        client = NotificationsAPIClient(
            self.settings.notify_api_key,
            base_url=self.settings.notify_base_url,
            timeout=self.settings.smtp_timeout_seconds,
        )
        response: Any = client.send_sms_notification(
            phone_number=number,
            template_id=self.settings.notify_sms_template_id,
            personalisation={"body": body},
            reference=reference,
        )
        return str(response["id"])


def describe_sms_error(exc: BaseException) -> str:
    """A short description of a failed text for the request's history (no message content)."""
    from notifications_python_client.errors import APIError

    if isinstance(exc, SmsUnavailable):
        return str(exc)
    if isinstance(exc, APIError):
        return f"Notify refused it: {exc.status_code} {str(exc.message)[:200]}"
    return f"{type(exc).__name__}: Notify could not be reached"
