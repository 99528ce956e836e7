"""Finishing a conversation: one way to record what happened, refer it and word the reply.

Every path that ends in an action (a referral, a placement, a signpost, an answer from the FAQ, a
hand-over to a person, an out-of-scope request), from any door (chat, phone, a call handler), goes
through :func:`finish`, so every action gets a service request and a reference, duplicates are
checked in one place, and every referral is queued in one place (the worker sends it). It takes a typed
:class:`CallContext` (what the door knows about the conversation) and an :class:`Ending` (what the
script or agent decided), and never sees a channel's own objects.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ooh.orgs.loader import Organisation
from ooh.records.store import ServiceRequestView
from ooh.runtime import Runtime
from ooh.scripts.engine import format_address
from ooh.text import clean

logger = logging.getLogger(__name__)

REFERRAL_OUTCOMES = frozenset({"referred", "placed", "transferred"})
"""Outcomes that need someone at the organisation to act tonight."""

# The reply goes out before the referral is dispatched (in the background, retried until sent), so
# it says "passing ... now", never "passed": what a resident is told is true when they read it.
DEFAULT_MESSAGES = {
    "referred": "I'm passing this to {org}'s on-call officer now, who will deal with it as soon as they can.",
    "placed": "I'm passing this to {org}'s on-call housing officer now, with the booking below.",
    "daytime": "I've logged this for {org}'s daytime team, who will pick it up when they open ({hours}).",
    "transferred": "I'm handing you over to a person now, with everything you've told me.",
    "signposted": "{org} can't deal with this out of hours.",
    "resolved": "",
    "out_of_scope": "I'm sorry, that isn't something {org} can help with through this service.",
}

DUPLICATE_WINDOW = timedelta(hours=16)
"""How far back an open report of the same problem at the same property counts as tonight's."""


@dataclass(frozen=True)
class CallContext:
    """What a door knows about the conversation being finished."""

    org: Organisation
    #: The channel's conversation id (Rasa's sender id, the call id).
    sender_id: str
    #: ``rest``, ``voice``, ``socketio``...
    channel: str
    #: Both sides so far: ``{"at": iso time, "speaker": "resident"|"agent", "text": ...}``.
    transcript: list[dict[str, Any]]
    started_at: datetime
    now: datetime
    #: Whether the channel can put the resident through to a number (a phone call). Only then is
    #: the on-call officer's direct number handed to the channel: chat residents get the
    #: organisation's public number in the words instead.
    can_transfer: bool = False
    #: The call recording's server-issued id (phone calls), stored on the request.
    recording_id: str | None = None


@dataclass(frozen=True)
class Ending:
    """What was decided: the option, the outcome and what to record with it."""

    service_option: str
    outcome: str
    #: The reply before the reference; ``None`` for the outcome's default wording.
    message: str | None = None
    priority: str | None = None
    sub_category: str | None = None
    #: Script answers (``caller_name``, ``contact_number``, ``details``, ``q_*``).
    answers: dict[str, Any] = field(default_factory=dict)
    #: The address as the script state holds it (``address``, ``postcode``, ``uprn``, ``status``).
    address: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    details_extra: list[str] = field(default_factory=list)
    check_duplicates: bool = True
    transfer_to: str | None = None


@dataclass(frozen=True)
class FinishResult:
    """What finishing produced, for the resident's reply and the channel."""

    outcome: str
    message: str
    service_option: str
    request: ServiceRequestView | None = None
    duplicate_of: ServiceRequestView | None = None
    priority: str | None = None
    #: For a transfer: the number a phone call is put through to.
    transfer_to: str | None = None

    @property
    def reference(self) -> str | None:
        """The reference the resident was given (their own, for a duplicate too)."""
        return self.request.reference if self.request else None


def transfer_number(org: Organisation, service_option: str, sub_category: str | None, now: datetime) -> str | None:
    """Who takes a transferred call: the on-call officer's phone from the rota, else the call handlers."""
    on_call = org.rota.on_call(service_option, sub_category, now)
    for _, _, contact in on_call.stages() if on_call else []:
        if contact.phone:
            return contact.phone
    return org.profile.phone_numbers.get("call_handlers") or org.profile.public_phone


async def finish(runtime: Runtime, context: CallContext, ending: Ending) -> FinishResult:
    """Record the conversation, check duplicates, refer when needed and word the reply.

    Database work runs in a worker thread so one slow write never stalls other conversations.
    What the resident said is made storable first (:func:`ooh.text.clean`).
    """
    context = replace(context, transcript=clean(context.transcript))
    ending = replace(
        ending, answers=clean(ending.answers), address=clean(ending.address), details_extra=clean(ending.details_extra)
    )
    org, now = context.org, context.now
    profile = org.profile
    text = ending.message if ending.message is not None else DEFAULT_MESSAGES[ending.outcome]
    text = text.format(org=profile.short_name, hours=profile.daytime_service.hours)
    refers = ending.outcome in REFERRAL_OUTCOMES
    store = runtime.store
    uprn = ending.address.get("uprn")
    duplicate = None
    if refers and ending.check_duplicates and ending.service_option in org.options and uprn:
        # Only a matched property is the same place: unmatched words ("by the park", "don't know")
        # would merge different problems. Only tonight's reports count as "already reported tonight".
        duplicate = await asyncio.to_thread(
            store.find_open_duplicate, profile.id, ending.service_option, uprn, None, since=now - DUPLICATE_WINDOW
        )
        flags_found = duplicate.flags if duplicate else []
        earlier = [flag.split(":", 1)[1] for flag in flags_found if flag.startswith("duplicate_of:")]
        if earlier:  # a third report joins the one the officer has, not the second caller's copy
            duplicate = await asyncio.to_thread(store.get, earlier[0]) or duplicate
    details = "\n".join([str(ending.answers.get("details") or ""), *ending.details_extra]).strip()
    flags = [*ending.flags, f"duplicate_of:{duplicate.reference}"] if duplicate is not None else ending.flags
    request = await asyncio.to_thread(
        store.create_request,
        po=profile.id,
        prefix=profile.reference_prefix,
        service_option=ending.service_option,
        sub_category=ending.sub_category,
        priority=ending.priority,
        call_outcome=ending.outcome,
        caller_name=ending.answers.get("caller_name"),
        contact_number=ending.answers.get("contact_number"),
        address=format_address(ending.address) if ending.address.get("address") else None,
        uprn=uprn,
        address_verified=ending.address.get("status") == "matched",
        details=details,
        answers=ending.answers,
        transcript=context.transcript,
        channel=context.channel,
        sender_id=context.sender_id,
        recording_id=context.recording_id,
        started_at=context.started_at,
        ended_at=now,
        flags=flags,
        referral_status="pending" if refers and duplicate is None else "not_required",
        now=now,
    )
    if duplicate is not None:
        # The resident gets a reference of their own: the earlier one is another resident's, and
        # quoting it would tell a stranger that someone at this address reported it, and let them
        # ask its status. What they said is added to the earlier report, which the officer has.
        await asyncio.to_thread(
            store.add_update,
            duplicate.reference,
            "duplicate_report",
            details or "Reported again",
            data={"reference": request.reference, "transcript": context.transcript},
            now=now,
        )
        reply = (
            "This has already been reported tonight and is with the on-call team. I've added what you "
            f"told me to that report, so there's no need to report it again. Your reference is {request.reference}."
        )
        return FinishResult(ending.outcome, reply, ending.service_option, request, duplicate, ending.priority)
    # A referral's job was written with the request (``RecordStore.create_request``): the worker
    # sends it, retries it and records every try, whatever happens to this process next.
    reply = f"{text} Your reference is {request.reference}.".strip()
    transfer_to = None
    if ending.outcome == "transferred" and context.can_transfer:
        transfer_to = ending.transfer_to or transfer_number(org, ending.service_option, ending.sub_category, now)
    return FinishResult(
        ending.outcome, reply, ending.service_option, request, None, ending.priority, transfer_to=transfer_to
    )
