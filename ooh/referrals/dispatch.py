"""Referring a request to whoever is on call: the one way to do it, on every channel.

A referral must reach someone tonight. :class:`Senders` knows how to hand it to one contact on
one channel (email over SMTP, a text through GOV.UK Notify); :func:`dispatch` goes through the
rota's stage 1 contact, then stage 2, and for each through the option's channels in order, each
tried ``smtp_attempts_per_stage`` times, and stops at the first that accepts. :func:`refer` wraps
that with the bookkeeping (one ``referral_attempt`` update per try, the referral status, the time it
was sent), so the worker's first send, a re-send after a failed delivery and every test refer the
same way.

A channel can fail after it accepted: Notify reports an undelivered text later. Such a
(contact, channel) pair is passed in ``exclude`` on the next send, so the referral moves on to the
next channel instead of repeating the one that did not arrive. Logs carry references, contact keys
and error classes only, never the caller's personal data.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

import requests
from notifications_python_client.errors import APIError

from ooh.orgs.rota import OnCall, OnCallContact, Rota
from ooh.records.store import RecordStore, ServiceRequestView
from ooh.referrals.acknowledge import ack_link, ack_token
from ooh.referrals.call import CallUnavailable, TwilioCalls, referral_twiml, referral_words
from ooh.referrals.email import ReferralMailer
from ooh.referrals.errors import ChannelRefused, ChannelUnavailable
from ooh.referrals.sms import NotifySms, SmsUnavailable, describe_sms_error, referral_sms
from ooh.settings import Settings

logger = logging.getLogger(__name__)

CHANNEL_WORDS = {"email": "emailed", "sms": "texted", "call": "phoned"}
RESIDENT = "resident"
"""The contact key in the Notify reference of a resident's own confirmation text (its delivery
receipt changes no referral)."""


def notify_reference(reference: str, contact_key: str, stage: int) -> str:
    """The ``reference`` given to Notify with a text: Notify's delivery receipt brings it back."""
    return f"{reference}/{contact_key}/{stage}"


def read_notify_reference(text: str) -> tuple[str, str, int] | None:
    """``(request reference, contact key, stage)`` from :func:`notify_reference`'s text, else None."""
    parts = text.split("/")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


@dataclass(frozen=True)
class Attempt:
    """One try at handing a referral to one contact on one channel.

    Attributes:
        at: When the attempt finished.
        stage: 1 for the rota's first contact, 2 for the escalation contact (3: the rota's last resort).
        contact_key: The rota key of the contact it was addressed to.
        error: ``None`` when the server (mail server, Notify) accepted it, else what went wrong.
        channel: ``email`` or ``sms``.
        notification_id: Notify's id for a text it accepted.
        permanent: Another try on this channel cannot mend the failure (no mobile number, SMS not
            configured), so the next channel is tried at once.
        maybe_delivered: The connection was lost part-way (not refused): the server may have taken
            the message, so a later successful try may be a repeat. Recorded so that a repeat is never
            unexplained.
    """

    at: datetime
    stage: int
    contact_key: str
    error: str | None
    channel: str = "email"
    notification_id: str | None = None
    permanent: bool = False
    maybe_delivered: bool = False

    @property
    def ok(self) -> bool:
        """Whether the server accepted the referral on this attempt."""
        return self.error is None

    def describe(self) -> str:
        """One line for the request's history."""
        if self.ok:
            return f"Referral {CHANNEL_WORDS.get(self.channel, 'sent')} to {self.contact_key} (stage {self.stage})"
        how = "" if self.channel == "email" else f" by {self.channel}"
        text = f"Referral to {self.contact_key}{how} (stage {self.stage}) failed: {self.error}"
        return text + (" (the connection was lost part-way: it may have arrived)" if self.maybe_delivered else "")

    def data(self) -> dict[str, object]:
        """The attempt as the update's data."""
        data: dict[str, object] = {"stage": self.stage, "contact": self.contact_key, "error": self.error}
        data["channel"] = self.channel
        if self.notification_id:
            data["notification_id"] = self.notification_id
        if self.maybe_delivered:
            data["maybe_delivered"] = True
        return data


@dataclass(frozen=True)
class DispatchResult:
    """The outcome of dispatching one referral.

    Attributes:
        status: ``sent`` when a contact's server accepted it, else ``failed``.
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


def describe_error(exc: BaseException) -> str:
    """A short description of an SMTP, Notify or network failure for the request's history."""
    if isinstance(exc, ChannelUnavailable | ChannelRefused):
        return str(exc)
    if isinstance(exc, APIError | requests.RequestException):
        return describe_sms_error(exc)
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


LOST_PART_WAY = (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError, TimeoutError)
"""Failures after the server may already have taken the message (a refused connection is not one)."""
SEND_ERRORS = (smtplib.SMTPException, OSError, ChannelUnavailable, ChannelRefused, APIError, requests.RequestException)
"""What a channel raises when it did not take the referral (anything else is a bug, caught above)."""


class Senders:
    """Every channel a referral can go by, behind one call.

    Args:
        settings: Retry counts and pauses, the acknowledgement link's base.
        mailer: The email channel.
        sms: The Notify text channel.
        calls: The Twilio outbound-call channel.
        clock: Source of the current time (tests); defaults to now in ``settings.timezone``.
    """

    def __init__(
        self,
        settings: Settings,
        mailer: ReferralMailer,
        sms: NotifySms,
        calls: TwilioCalls | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.mailer = mailer
        self.sms = sms
        self.calls = calls or TwilioCalls(settings)
        zone = ZoneInfo(settings.timezone)
        self._clock = clock or (lambda: datetime.now(zone))

    async def send_once(
        self,
        channel: str,
        request: ServiceRequestView,
        contact: OnCallContact,
        *,
        stage: int,
        key: str,
        organisation: str,
    ) -> Attempt:
        """One try on one channel; every failure comes back as the attempt's ``error``."""
        notification_id = None
        try:
            if channel == "call":
                if not contact.phone:
                    raise CallUnavailable("no phone number for this contact in the rota")
                token = ack_token(self.settings, request.reference, key)
                action = f"{self.settings.public_voice_url.rstrip('/')}/twilio/ack/{token}"
                twiml = referral_twiml(referral_words(request, organisation=organisation, stage=stage), action)
                notification_id = await asyncio.to_thread(self.calls.call, contact.phone, twiml)
            elif channel == "sms":
                if not contact.phone:
                    raise SmsUnavailable("no mobile number for this contact in the rota")
                link = ack_link(self.settings, request.reference, key)
                body = referral_sms(request, organisation=organisation, stage=stage, ack_link=link)
                notification_id = await asyncio.to_thread(
                    self.sms.send, contact.phone, body, notify_reference(request.reference, key, stage)
                )
            else:
                message = self.mailer.build_message(
                    request, contact, stage=stage, organisation_name=organisation, key=key
                )
                await asyncio.to_thread(self.mailer.send, message, contact.email)
        except SEND_ERRORS as exc:
            ref, reason = request.reference, type(exc).__name__
            logger.warning("Referral %s to %s by %s (stage %d) failed: %s", ref, key, channel, stage, reason)
            permanent = isinstance(exc, ChannelUnavailable)
            lost = isinstance(exc, LOST_PART_WAY)
            error = describe_error(exc)
            return Attempt(self._clock(), stage, key, error, channel, permanent=permanent, maybe_delivered=lost)
        logger.info("Referral %s sent to %s by %s (stage %d)", request.reference, key, channel, stage)
        return Attempt(self._clock(), stage, key, None, channel, notification_id)

    async def reach(
        self,
        request: ServiceRequestView,
        stages: Sequence[tuple[int, str, OnCallContact]],
        channels: Sequence[str],
        *,
        organisation: str,
        exclude: Collection[tuple[str, str]] = (),
    ) -> list[Attempt]:
        """Try each stage's contact on each channel in order, with retries; stop at the first success.

        A transient failure (a refused connection, a 4xx/5xx reply, a timeout) is tried again after
        ``smtp_retry_delay_seconds`` up to ``smtp_attempts_per_stage`` times; a channel that cannot
        work for this contact (no mobile number, SMS not configured) is tried once and passed over.
        """
        attempts: list[Attempt] = []
        per_channel = self.settings.smtp_attempts_per_stage
        for stage, key, contact in stages:
            for channel in channels:
                if (key, channel) in exclude:
                    continue
                for _ in range(per_channel):
                    if attempts and not attempts[-1].permanent:
                        await asyncio.sleep(self.settings.smtp_retry_delay_seconds)
                    attempt = await self.send_once(
                        channel, request, contact, stage=stage, key=key, organisation=organisation
                    )
                    attempts.append(attempt)
                    if attempt.ok:
                        return attempts
                    if attempt.permanent:
                        break
        return attempts


async def dispatch(
    senders: Senders,
    request: ServiceRequestView,
    on_call: OnCall,
    *,
    organisation: str,
    channels: Sequence[str] = ("email",),
    exclude: Collection[tuple[str, str]] = (),
) -> DispatchResult:
    """Send the referral to stage 1, then stage 2, on the option's channels in order; report every try."""
    attempts = await senders.reach(request, on_call.stages(), channels, organisation=organisation, exclude=exclude)
    for attempt in attempts:
        if attempt.ok:
            contact = on_call.stage1 if attempt.contact_key == on_call.stage1_key else on_call.stage2
            return DispatchResult("sent", attempt.stage, attempt.contact_key, contact, attempt.at, tuple(attempts))
    logger.error("Referral %s could not be sent to anyone on call", request.reference)
    last = attempts[-1].at if attempts else None
    return DispatchResult("failed", None, None, None, last, tuple(attempts))


async def refer(
    store: RecordStore,
    senders: Senders,
    rota: Rota,
    request: ServiceRequestView,
    now: datetime,
    *,
    organisation_name: str | None = None,
    channels: Sequence[str] = ("email",),
    exclude: Collection[tuple[str, str]] = (),
) -> DispatchResult:
    """Refer a request to whoever is on call, and record what happened. The one way to refer.

    Looks up the rota at ``now``, dispatches, adds one ``referral_attempt`` update per attempt and
    sets the request's ``referral_status`` (and ``referral_dispatched_at`` when sent). When no one
    is on call the request is marked ``failed`` with a note, so it is retried and visible rather
    than silently dropped. Database calls run in a thread so the event loop is never blocked.

    Args:
        store: Where the request lives.
        senders: The channels.
        rota: The organisation's rota.
        request: The request to refer.
        now: The time of the referral (decides who is on call).
        organisation_name: Shown in the email; defaults to the organisation id.
        channels: The option's channels, in order.
        exclude: (contact key, channel) pairs known not to deliver (an undelivered text).
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
    result = await dispatch(senders, request, on_call, organisation=name, channels=channels, exclude=exclude)
    tries = [("referral_attempt", a.describe(), a.data(), a.at) for a in result.attempts]
    await asyncio.to_thread(store.record_dispatch, request.reference, result.status, result.at or now, updates=tries)
    return result
