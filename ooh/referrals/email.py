"""Referral emails to on-call staff: the message, and handing it to the mail server.

Which contact gets it, on which channel, and the bookkeeping of every try are
:mod:`ooh.referrals.dispatch`'s (the one way to refer a request). The body puts first what an
officer reading a phone notification needs, in the order of spec 5.2.5: name, address, contact
number, brief details, reference. Logs carry references, contact keys and error classes only,
never the caller's personal data.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from ooh.orgs.rota import OnCallContact
from ooh.records.store import ServiceRequestView
from ooh.referrals.acknowledge import ack_link
from ooh.settings import Settings

logger = logging.getLogger(__name__)

NOT_GIVEN = "not given"


def subject_line(request: ServiceRequestView) -> str:
    """``[OOH] ENF-20261122-0042 housing_repairs EMERGENCY``: sortable and readable at a glance."""
    parts = ["[OOH]", request.reference, request.service_option]
    if request.priority:
        parts.append(request.priority.upper())
    return " ".join(parts)


def _value(text: str | None) -> str:
    return text.strip() if text and text.strip() else NOT_GIVEN


def referral_body(
    request: ServiceRequestView,
    *,
    organisation_name: str,
    stage: int,
    contact: OnCallContact,
    ack_link: str | None = None,
) -> str:
    """The plain-text referral: the five 5.2.5 fields first, then context, then the transcript."""
    address = _value(request.address)
    if request.uprn:
        address += f" (UPRN {request.uprn})"
    if request.address and not request.address_verified:
        address += " [not found in the address file: as given by the caller]"
    lines = [
        f"Out-of-hours referral for {organisation_name}",
        "",
        f"Name: {_value(request.caller_name)}",
        f"Address: {address}",
        f"Contact number: {_value(request.contact_number)}",
        f"Brief details: {_value(request.details)}",
        f"Reference: {request.reference}",
        "",
        f"Priority: {request.priority.upper() if request.priority else NOT_GIVEN}",
        f"Service option: {request.service_option}",
        f"Sub-category: {request.sub_category or NOT_GIVEN}",
        f"Reported: {request.created_at:%A %d %B %Y, %H:%M}",
        f"Channel: {request.channel or NOT_GIVEN}",
    ]
    if request.flags:
        lines.append(f"Flags: {', '.join(request.flags)}")
    if stage > 1:
        lines.append(f"Escalated to you (stage {stage}): the first on-call contact could not be reached.")
    lines.append(f"Sent to: {contact.name}")
    if ack_link:
        lines += ["", f"Acknowledge that you have this referral (until then it is escalated): {ack_link}"]
    answers = {k: v for k, v in request.answers.items() if k.startswith("q_")}
    if answers:
        lines += ["", "Answers:"]
        lines += [f"  {key[2:].replace('_', ' ')}: {value}" for key, value in answers.items()]
    lines += ["", "Transcript:"]
    if request.transcript:
        for line in request.transcript:
            lines.append(f"  [{line.get('at', '')}] {line.get('speaker', '?')}: {line.get('text', '')}")
    else:
        lines.append("  (none)")
    return "\n".join(lines) + "\n"


class ReferralMailer:
    """Builds referral emails and hands them to the SMTP server.

    Args:
        settings: SMTP host, port, sender, timeout, STARTTLS and sign-in.
        clock: Source of the current time (tests); defaults to now in ``settings.timezone``.
    """

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        zone = ZoneInfo(settings.timezone)
        self._clock = clock or (lambda: datetime.now(zone))

    def build_message(
        self,
        request: ServiceRequestView,
        contact: OnCallContact,
        *,
        stage: int,
        organisation_name: str,
        key: str | None = None,
    ) -> EmailMessage:
        """The email for one contact (``key``: the rota's key for them, for their acknowledgement link)."""
        message = EmailMessage()
        message["Subject"] = subject_line(request)
        message["From"] = self.settings.smtp_from
        message["To"] = contact.email
        message["Date"] = format_datetime(self._clock())
        # The same on every try of this stage: a repeat after an interrupted send reads as one message.
        message["Message-ID"] = f"<referral.{request.reference}.stage{stage}@ooh-agent.local>"
        message["X-OOH-Reference"] = request.reference
        if request.priority:
            message["X-OOH-Priority"] = request.priority
        link = ack_link(self.settings, request.reference, key) if key else None
        body = referral_body(request, organisation_name=organisation_name, stage=stage, contact=contact, ack_link=link)
        message.set_content(body)
        return message

    def send(self, message: EmailMessage, recipient: str) -> None:
        """Hand one message to the server (blocking; run in a thread). Raises on any failure.

        With ``smtp_starttls`` the connection is upgraded (certificate and host name checked against
        the system's authorities, or ``smtp_ca_file``'s) before anything else, and a server that does not offer STARTTLS
        is an error, never a silent fall-back to clear text; with ``smtp_username`` it signs in.
        """
        settings = self.settings
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds) as client:
            if settings.smtp_starttls:
                cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
                client.starttls(context=ssl.create_default_context(cafile=cafile))
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password or "")
            refused = client.send_message(message, from_addr=self.settings.smtp_from, to_addrs=[recipient])
            if refused:  # only possible with several recipients, but never assume
                raise smtplib.SMTPRecipientsRefused(refused)
