"""Referral emails to on-call staff, with retries and escalation; the one way to refer a request.

A referral must reach someone tonight, so :class:`ReferralMailer` tries the rota's stage 1 contact
``smtp_attempts_per_stage`` times, then the stage 2 (escalation) contact, and reports every
attempt. :func:`refer` wraps that with the bookkeeping (one ``referral_attempt`` update per
attempt, the referral status, the time it was sent) so every caller refers the same way; a request
whose referral failed stays ``failed`` and is listed by ``RecordStore.pending_referrals()`` for the
retry loop.

The body puts first what an officer reading a phone notification needs, in the order of spec
5.2.5: name, address, contact number, brief details, reference. Logs carry references, contact
keys and error classes only, never the caller's personal data.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal
from zoneinfo import ZoneInfo

from ooh.orgs.rota import OnCall, OnCallContact, Rota
from ooh.records.store import RecordStore, ServiceRequestView
from ooh.referrals.acknowledge import ack_link
from ooh.settings import Settings

logger = logging.getLogger(__name__)

NOT_GIVEN = "not given"


@dataclass(frozen=True)
class Attempt:
    """One try at handing a referral to the mail server.

    Attributes:
        at: When the attempt finished.
        stage: 1 for the rota's first contact, 2 for the escalation contact.
        contact_key: The rota key of the contact it was addressed to.
        error: ``None`` when the server accepted the message, else what went wrong.
    """

    at: datetime
    stage: int
    contact_key: str
    error: str | None

    @property
    def ok(self) -> bool:
        """Whether the server accepted the message on this attempt."""
        return self.error is None


@dataclass(frozen=True)
class DispatchResult:
    """The outcome of dispatching one referral.

    Attributes:
        status: ``sent`` when a contact's mail server accepted it, else ``failed``.
        stage: Stage of the contact that received it (``None`` when failed).
        contact_key: Rota key of that contact (``None`` when failed).
        contact: That contact (``None`` when failed).
        at: When it was accepted, or when the last attempt failed (``None`` if none was made).
        attempts: Every attempt, in order, the successful one last.
    """

    status: Literal["sent", "failed"]
    stage: int | None
    contact_key: str | None
    contact: OnCallContact | None
    at: datetime | None
    attempts: tuple[Attempt, ...]


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
    """Sends referral emails over SMTP with per-stage retries and escalation.

    Args:
        settings: SMTP host, port, sender, timeout, attempts per stage and delay between attempts.
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
        """Hand one message to the server (blocking; run in a thread). Raises on any failure."""
        with smtplib.SMTP(
            self.settings.smtp_host,
            self.settings.smtp_port,
            timeout=self.settings.smtp_timeout_seconds,
        ) as client:
            refused = client.send_message(message, from_addr=self.settings.smtp_from, to_addrs=[recipient])
            if refused:  # only possible with several recipients, but never assume
                raise smtplib.SMTPRecipientsRefused(refused)

    async def dispatch(self, request: ServiceRequestView, on_call: OnCall, *, organisation_name: str) -> DispatchResult:
        """Email the referral to stage 1, retrying, then to stage 2; report every attempt.

        A refused recipient, a 4xx/5xx reply, a refused connection or a timeout all count as a
        failed attempt: the next attempt follows after ``smtp_retry_delay_seconds``, and when a
        stage's attempts are used up the next stage is tried.
        """
        attempts: list[Attempt] = []
        per_stage = self.settings.smtp_attempts_per_stage
        for stage, key, contact in on_call.stages():
            message = self.build_message(request, contact, stage=stage, organisation_name=organisation_name, key=key)
            for number in range(1, per_stage + 1):
                if attempts:
                    await asyncio.sleep(self.settings.smtp_retry_delay_seconds)
                try:
                    await asyncio.to_thread(self.send, message, contact.email)
                except (smtplib.SMTPException, OSError) as exc:
                    error = describe_error(exc)
                    attempts.append(Attempt(self._clock(), stage, key, error))
                    logger.warning(
                        "Referral %s to %s (stage %d, try %d/%d) failed: %s",
                        request.reference,
                        key,
                        stage,
                        number,
                        per_stage,
                        type(exc).__name__,
                    )
                    continue
                at = self._clock()
                attempts.append(Attempt(at, stage, key, None))
                logger.info("Referral %s sent to %s (stage %d)", request.reference, key, stage)
                return DispatchResult("sent", stage, key, contact, at, tuple(attempts))
        logger.error("Referral %s could not be sent to anyone on call", request.reference)
        last = attempts[-1].at if attempts else None
        return DispatchResult("failed", None, None, None, last, tuple(attempts))


def describe_error(exc: BaseException) -> str:
    """A short description of an SMTP or network failure for the request's history."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [f"{code} {_text(reply)}" for code, reply in exc.recipients.values()]
        return "recipient refused: " + "; ".join(codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


async def refer(
    store: RecordStore,
    mailer: ReferralMailer,
    rota: Rota,
    request: ServiceRequestView,
    now: datetime,
    *,
    organisation_name: str | None = None,
) -> DispatchResult:
    """Refer a request to whoever is on call, and record what happened. The one way to refer.

    Looks up the rota at ``now``, dispatches, adds one ``referral_attempt`` update per attempt and
    sets the request's ``referral_status`` (and ``referral_dispatched_at`` when sent). When no one
    is on call the request is marked ``failed`` with a note, so it is retried and visible rather
    than silently dropped. Database calls run in a thread so the event loop is never blocked.

    Args:
        store: Where the request lives.
        mailer: Sends the email.
        rota: The organisation's rota.
        request: The request to refer.
        now: The time of the referral (decides who is on call).
        organisation_name: Shown in the email; defaults to the organisation id.
    """
    name = organisation_name or request.po
    on_call = rota.on_call(request.service_option, request.sub_category, now)
    if on_call is None:
        logger.error("No one on call for %s (%s/%s)", request.reference, request.po, request.service_option)
        text = f"No one is on call for {request.service_option} in the rota at {now:%Y-%m-%d %H:%M}"
        await asyncio.to_thread(
            store.add_update,
            request.reference,
            "referral_attempt",
            text,
            {"error": "no_one_on_call"},
            now=now,
        )
        await asyncio.to_thread(store.record_dispatch, request.reference, "failed", now)
        return DispatchResult("failed", None, None, None, None, ())
    result = await mailer.dispatch(request, on_call, organisation_name=name)
    for attempt in result.attempts:
        text = (
            f"Referral emailed to {attempt.contact_key} (stage {attempt.stage})"
            if attempt.ok
            else f"Referral to {attempt.contact_key} (stage {attempt.stage}) failed: {attempt.error}"
        )
        data = {"stage": attempt.stage, "contact": attempt.contact_key, "error": attempt.error}
        await asyncio.to_thread(store.add_update, request.reference, "referral_attempt", text, data, now=attempt.at)
    await asyncio.to_thread(store.record_dispatch, request.reference, result.status, result.at or now)
    return result
