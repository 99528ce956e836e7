"""A referral as an outbox job: what a worker does when it holds a request's ``referral`` job.

Sending is at least once, never silently twice: before each try the request's history gets a
``sending`` note; a try that starts and finds the previous one's note with no outcome after it (the
worker was killed mid-send) records that the officer may get the referral twice. The email's
``Message-ID`` is the same on every try, so mail programs show a repeat as one message.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from ooh.jobs import ClaimedJob, Jobs
from ooh.orgs.live_rota import effective_rota
from ooh.orgs.loader import Organisation
from ooh.records.store import RequestUpdateView, ServiceRequestView
from ooh.referrals.acknowledge import ack_window, acknowledged, escalation_chain
from ooh.referrals.dispatch import RESIDENT, SEND_ERRORS, describe_error, notify_reference, refer
from ooh.referrals.sms import SmsUnavailable, confirmation_sms, uk_mobile
from ooh.runtime import Runtime

INTERRUPTED = (
    "The previous try stopped part-way (the worker was stopped mid-send): the officer may receive this referral twice"
)


@dataclass(frozen=True)
class JobOutcome:
    """Whether the job is finished, and if not, why and (optionally) when to run it again.

    ``why`` goes in the job row: no personal data.
    """

    done: bool
    why: str = ""
    again_at: datetime | None = None


def _finished_unrecorded(request: ServiceRequestView) -> RequestUpdateView | None:
    """A try that succeeded after the last ``sending`` note while the status still says unsent.

    The worker was stopped between the server accepting the referral and the status being written:
    the referral went, so it is recorded as sent now rather than sent again.
    """
    if request.referral_status not in ("pending", "failed"):
        return None
    last = None
    for update in request.updates:
        if update.kind == "sending":
            last = None
        elif update.kind == "referral_attempt" and update.data and update.data.get("contact"):
            if not update.data.get("error"):
                last = update
    if last is None or last.data is None:
        return None
    pair = (str(last.data.get("contact")), str(last.data.get("channel", "email")))
    return None if pair in undelivered(request) else last


def _interrupted(updates: tuple[object, ...]) -> bool:
    """The last ``sending`` note has no outcome of a try after it."""
    last = None
    for index, update in enumerate(updates):
        if getattr(update, "kind", None) == "sending":
            last = index
    if last is None:
        return False
    return not any(getattr(u, "kind", None) == "referral_attempt" for u in updates[last + 1 :])


def undelivered(request: ServiceRequestView) -> set[tuple[str, str]]:
    """``(contact key, channel)`` pairs that accepted the referral but reported it undelivered."""
    return {
        (str(u.data.get("contact")), str(u.data.get("channel")))
        for u in request.updates
        if u.kind == "delivery" and u.data and u.data.get("failed")
    }


def needs_sending(request: ServiceRequestView) -> bool:
    """Open, and not yet sent, or sent by a channel that later reported it undelivered."""
    if request.status != "open":
        return False
    if request.referral_status in ("pending", "failed"):
        return True
    if request.referral_status != "sent":
        return False
    sent = [
        u
        for u in request.updates
        if u.kind == "referral_attempt" and u.data and u.data.get("contact") and not u.data.get("error")
    ]
    if not sent:
        return False
    last = sent[-1].data or {}
    return (str(last.get("contact")), str(last.get("channel", "email"))) in undelivered(request)


async def send_referral(runtime: Runtime, job: ClaimedJob, now: datetime) -> JobOutcome:
    """Refer the request ``job.key`` to whoever is on call, recording every step.

    The rota is read at the request's own time plus however long the job has waited, so a retry
    an hour later goes to whoever is on call an hour later, and a conversation with a test clock is
    referred by that clock. The option's channels are tried in order, less any that accepted the
    referral before and then reported it undelivered.
    """
    store = runtime.store
    request = await asyncio.to_thread(store.get, job.key)
    if request is None:
        return JobOutcome(True, "no such request")
    if not needs_sending(request):
        return JobOutcome(True)
    org = runtime.registry.get(request.po)
    if org is None:
        return JobOutcome(False, f"organisation {request.po} is not loaded")
    finished = _finished_unrecorded(request)
    if finished is not None:
        await asyncio.to_thread(store.record_dispatch, request.reference, "sent", finished.at)
        await after_sent(runtime, org, request, now)
        return JobOutcome(True, "sent by an earlier try")
    if _interrupted(request.updates):
        await asyncio.to_thread(
            store.add_update, request.reference, "referral_attempt", INTERRUPTED, {"possible_duplicate": True}, now=now
        )
    await asyncio.to_thread(
        store.add_update,
        request.reference,
        "sending",
        f"Sending the referral (try {job.attempt})",
        {"try": job.attempt},
        now=now,
    )
    rota_time = request.created_at + (now - job.created_at)
    exclude = undelivered(request)
    rota = await asyncio.to_thread(effective_rota, store, request.po, org.rota, rota_time)
    result = await refer(
        store,
        runtime.senders,
        rota,
        request,
        rota_time,
        organisation_name=org.profile.name,
        channels=org.referral_channels(request.service_option),
        exclude=exclude,
    )
    if result.status == "sent" or (exclude and not result.attempts):
        await after_sent(runtime, org, request, now, confirm=result.status == "sent")
    if result.status != "sent" and exclude and not result.attempts:
        text = "Every channel has failed to deliver this referral: it goes on to the escalation contacts"
        exhausted = {"exhausted": True}
        await asyncio.to_thread(store.add_update, request.reference, "referral_attempt", text, exhausted, now=now)
        return JobOutcome(True, "every channel undelivered")
    return JobOutcome(result.status == "sent", result.status)


async def after_sent(
    runtime: Runtime, org: Organisation, request: ServiceRequestView, now: datetime, *, confirm: bool = True
) -> None:
    """What follows a sent referral: the acknowledgement timer, and the resident's text if asked for."""
    jobs = Jobs(runtime.store)
    window = ack_window(runtime.settings, runtime.registry, request)
    await asyncio.to_thread(jobs.schedule, "escalate", request.reference, now + window)
    config = org.options.get(request.service_option) or org.options.get(request.service_option.split("/")[0])
    if confirm and config is not None and config.confirm_by_sms:
        await asyncio.to_thread(jobs.schedule, "confirm", request.reference, now)


async def escalate_referral(runtime: Runtime, job: ClaimedJob, now: datetime) -> JobOutcome:
    """Nobody acknowledged in time: tell the next person in the chain, and wait again.

    Stage 1 gets the referral again, then stage 2, then the rota's escalation contact; after the
    last, the request says that no one acknowledged it (and the job ends: a person must act).
    """
    store = runtime.store
    request = await asyncio.to_thread(store.get, job.key)
    if request is None or request.status != "open" or acknowledged(request):
        return JobOutcome(True)
    org = runtime.registry.get(request.po)
    if org is None:
        return JobOutcome(False, f"organisation {request.po} is not loaded")
    window = ack_window(runtime.settings, runtime.registry, request)
    minutes = f"{window.total_seconds() / 60:g}"
    taken = sum(1 for u in request.updates if u.kind == "escalation" and (u.data or {}).get("step"))
    rota_time = request.created_at + (now - job.created_at)
    rota = await asyncio.to_thread(effective_rota, store, request.po, org.rota, rota_time)
    chain = escalation_chain(rota, request, rota_time)
    if taken >= len(chain):
        text = "No one has acknowledged this referral after every escalation step: it needs a person to act now"
        await asyncio.to_thread(
            store.add_update, request.reference, "escalation", text, {"unacknowledged": True}, now=now
        )
        return JobOutcome(True)
    stage, key, contact = chain[taken]
    attempts = await runtime.senders.reach(
        request,
        [(stage, key, contact)],
        org.referral_channels(request.service_option),
        organisation=org.profile.name,
        exclude=undelivered(request),
    )
    last = attempts[-1] if attempts else None
    error = None if last is not None and last.ok else (last.error if last else "no channel left for this contact")
    told = f"sent by {last.channel}" if last is not None and last.ok else f"could not be sent ({error})"
    text = f"Not acknowledged within {minutes} minutes: the referral {told} to {key} (escalation step {taken + 1})"
    data = {"step": taken + 1, "contact": key, "error": error, "channel": last.channel if last else None}
    await asyncio.to_thread(store.add_update, request.reference, "escalation", text, data, now=now)
    return JobOutcome(False, "waiting for acknowledgement", again_at=now + window)


WHAT_NEXT = "It has been passed to the on-call officer, who will contact you if they need to. In an emergency call 999."


async def send_confirmation(runtime: Runtime, job: ClaimedJob, now: datetime) -> JobOutcome:
    """Text the resident what happens next and their reference (spec 5.2.6), once, if their option asks.

    Only after the referral was sent, so the text is true; only to a UK mobile (the number they
    gave); a failure Notify may recover from is tried again, one that cannot be mended is written
    on the request and ends the job.
    """
    store = runtime.store
    request = await asyncio.to_thread(store.get, job.key)
    org = runtime.registry.get(request.po) if request else None
    if request is None or org is None or any(u.kind == "confirmation" for u in request.updates):
        return JobOutcome(True)
    config = org.options.get(request.service_option) or org.options.get(request.service_option.split("/")[0])
    if config is None or not config.confirm_by_sms:
        return JobOutcome(True)
    if uk_mobile(request.contact_number) is None:
        text = "No confirmation text: " + (
            "the number the resident gave is not a UK mobile" if request.contact_number else "no number was given"
        )
        await asyncio.to_thread(store.add_update, request.reference, "confirmation", text, {"sent": False}, now=now)
        return JobOutcome(True)
    body = confirmation_sms(
        config.confirmation, reference=request.reference, organisation=org.profile.short_name, what_next=WHAT_NEXT
    )
    sms = runtime.senders.sms
    try:
        notification_id = await asyncio.to_thread(
            sms.send, str(request.contact_number), body, notify_reference(request.reference, RESIDENT, 0)
        )
    except SEND_ERRORS as exc:
        error = describe_error(exc)
        if isinstance(exc, SmsUnavailable):
            text = f"No confirmation text: {error}"
            await asyncio.to_thread(store.add_update, request.reference, "confirmation", text, {"sent": False}, now=now)
            return JobOutcome(True)
        return JobOutcome(False, error[:200])
    data = {"sent": True, "notification_id": notification_id}
    text = "Confirmation texted to the resident"
    await asyncio.to_thread(store.add_update, request.reference, "confirmation", text, data, now=now)
    return JobOutcome(True)
