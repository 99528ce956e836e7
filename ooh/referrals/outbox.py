"""A referral as an outbox job: what a worker does when it holds a request's ``referral`` job.

Sending is at least once, never silently twice: before each try the request's history gets a
``sending`` note; a try that starts and finds the previous one's note with no outcome after it (the
worker was killed mid-send) records that the officer may get the referral twice. The email's
``Message-ID`` is the same on every try, so mail programs show a repeat as one message.
"""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from datetime import datetime

from ooh.jobs import ClaimedJob, Jobs
from ooh.referrals.acknowledge import ack_window, acknowledged, escalation_chain
from ooh.referrals.email import describe_error, refer
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


def _interrupted(updates: tuple[object, ...]) -> bool:
    """The last ``sending`` note has no outcome of a try after it."""
    last = None
    for index, update in enumerate(updates):
        if getattr(update, "kind", None) == "sending":
            last = index
    if last is None:
        return False
    return not any(getattr(u, "kind", None) == "referral_attempt" for u in updates[last + 1 :])


async def send_referral(runtime: Runtime, job: ClaimedJob, now: datetime) -> JobOutcome:
    """Refer the request ``job.key`` to whoever is on call, recording every step.

    The rota is read at the request's own time plus however long the job has waited, so a retry
    an hour later goes to whoever is on call an hour later, and a conversation with a test clock is
    referred by that clock.
    """
    store = runtime.store
    request = await asyncio.to_thread(store.get, job.key)
    if request is None:
        return JobOutcome(True, "no such request")
    if request.referral_status not in ("pending", "failed") or request.status != "open":
        return JobOutcome(True)
    org = runtime.registry.get(request.po)
    if org is None:
        return JobOutcome(False, f"organisation {request.po} is not loaded")
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
    result = await refer(store, runtime.mailer, org.rota, request, rota_time, organisation_name=org.profile.name)
    if result.status == "sent":
        window = ack_window(runtime.settings, runtime.registry, request)
        await asyncio.to_thread(Jobs(store).schedule, "escalate", request.reference, now + window)
    return JobOutcome(result.status == "sent", result.status)


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
    chain = escalation_chain(org.rota, request, request.created_at + (now - job.created_at))
    if taken >= len(chain):
        text = "No one has acknowledged this referral after every escalation step: it needs a person to act now"
        await asyncio.to_thread(
            store.add_update, request.reference, "escalation", text, {"unacknowledged": True}, now=now
        )
        return JobOutcome(True)
    stage, key, contact = chain[taken]
    message = runtime.mailer.build_message(request, contact, stage=stage, organisation_name=org.profile.name, key=key)
    try:
        await asyncio.to_thread(runtime.mailer.send, message, contact.email)
        error = None
    except (smtplib.SMTPException, OSError) as exc:
        error = describe_error(exc)
    told = "sent" if error is None else f"could not be sent ({error})"
    text = f"Not acknowledged within {minutes} minutes: the referral {told} to {key} (escalation step {taken + 1})"
    data = {"step": taken + 1, "contact": key, "error": error}
    await asyncio.to_thread(store.add_update, request.reference, "escalation", text, data, now=now)
    return JobOutcome(False, "waiting for acknowledgement", again_at=now + window)
