"""Finishing a call: one way to record what happened, refer it and tell the resident.

Every path that ends in an action (a referral, a placement, a signpost, an answer from the FAQ, a
hand-over to a person, an out-of-scope request) goes through :func:`finish_call`, so every action
gets a service request and a reference, duplicates are checked in one place, and referral emails
are dispatched in one place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from ooh.contracts import ChannelHints, Finished, Transfer
from ooh.orgs.loader import Organisation
from ooh.records.store import ServiceRequestView
from ooh.referrals.email import refer
from ooh.runtime import Runtime

logger = logging.getLogger(__name__)

#: Outcomes that need someone at the organisation to act tonight.
REFERRAL_OUTCOMES = {"referred", "placed", "transferred"}
REPAIR_OPTIONS = ("housing_repairs", "lift_repairs")

DEFAULT_MESSAGES = {
    "referred": "I've passed this to {org}'s on-call officer, who will deal with it as soon as they can.",
    "placed": "I've passed this to {org}'s on-call housing officer with the booking below.",
    "daytime": "I've logged this for {org}'s daytime team, who will pick it up when they open ({hours}).",
    "transferred": "I'm handing you over to a person now, with everything you've told me.",
    "signposted": "{org} can't deal with this out of hours.",
    "resolved": "",
    "out_of_scope": "I'm sorry, that isn't something {org} can help with through this service.",
}


DUPLICATE_WINDOW = timedelta(hours=16)
"""How far back an open report of the same problem at the same property counts as tonight's."""


def current_po(tracker: Tracker) -> str | None:
    """The organisation of this conversation: message metadata first, then the slot."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    po = metadata.get("po") if isinstance(metadata, dict) else None
    return str(po) if po else tracker.get_slot("po")


def clock_override(tracker: Tracker) -> str | None:
    """A test's ``now`` from message metadata (honoured only when settings allow it)."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return metadata.get("now") if isinstance(metadata, dict) else None


def transcript(tracker: Tracker) -> list[dict[str, Any]]:
    """Both sides of the conversation so far, for the officer and the record."""
    lines = []
    for event in tracker.events:
        kind = event.get("event")
        if kind in {"user", "bot"} and event.get("text"):
            speaker = "resident" if kind == "user" else "agent"
            at = datetime.fromtimestamp(event.get("timestamp") or 0).isoformat(timespec="seconds")
            lines.append({"at": at, "speaker": speaker, "text": event["text"]})
    return lines


def started_at(tracker: Tracker, runtime: Runtime) -> datetime:
    """When this conversation (session) started."""
    for event in tracker.events:
        if event.get("event") == "user" and event.get("timestamp"):
            return datetime.fromtimestamp(event["timestamp"], runtime.now().tzinfo)
    return runtime.now()


def unknown_po_reply(runtime: Runtime, po: str | None) -> str:
    """What to say when the conversation does not say which organisation it is for."""
    names = ", ".join(sorted(org.profile.short_name for org in runtime.registry.organisations.values()))
    what = (
        f"'{po}' is not an organisation this service works for"
        if po
        else "I can't tell which organisation this chat is for"
    )
    return (
        f"Sorry, {what}, so I can't take a report here. Please use the chat or phone number on your "
        f"council's or landlord's website. This service covers: {names}. "
        "If anyone is in danger, call 999."
    )


def organisation_or_explain(
    runtime: Runtime, tracker: Tracker, dispatcher: CollectingDispatcher
) -> Organisation | None:
    """The conversation's organisation; if it has none or an unknown one, say so and return ``None``."""
    po = current_po(tracker)
    org = runtime.registry.get(po)
    if org is None:
        dispatcher.utter_message(text=unknown_po_reply(runtime, po))
    return org


@dataclass
class CallResult:
    """What a finished call produced, for the caller's reply and the tracker slots."""

    outcome: str
    message: str
    service_option: str
    request: ServiceRequestView | None = None
    duplicate_of: ServiceRequestView | None = None
    priority: str | None = None
    events: list[EventType] = field(default_factory=list)
    #: For a transfer: the number a phone call is put through to.
    transfer_to: str | None = None


def say_result(dispatcher: CollectingDispatcher, result: CallResult) -> None:
    """Tell the resident the outcome; for a transfer, also tell the channel where to put the call."""
    dispatcher.utter_message(text=result.message)
    reference = result.request.reference if result.request else None
    transfer = Transfer(number=result.transfer_to, reference=reference) if result.transfer_to else None
    finished = Finished(reference=reference, outcome=result.outcome)
    dispatcher.utter_message(json_message=ChannelHints(transfer=transfer, finished=finished).payload())


def transfer_number(org: Organisation, service_option: str, sub_category: str | None, now: datetime) -> str | None:
    """Who takes a transferred call: the on-call officer's phone from the rota, else the call handlers."""
    on_call = org.rota.on_call(service_option, sub_category, now)
    for _, _, contact in on_call.stages() if on_call else []:
        if contact.phone:
            return contact.phone
    return org.profile.phone_numbers.get("call_handlers") or org.profile.public_phone


def _in_background(runtime: Runtime, work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(work)
    runtime.background.add(task)
    task.add_done_callback(runtime.background.discard)


async def _send(runtime: Runtime, org: Organisation, request: ServiceRequestView, now: datetime) -> None:
    try:
        result = await refer(runtime.store, runtime.mailer, org.rota, request, now, organisation_name=org.profile.name)
        logger.info("Referral %s: %s", request.reference, result.status)
    except Exception:  # the request stays pending and the retry loop picks it up
        logger.exception("Referral %s could not be dispatched", request.reference)


async def retry_unsent_referrals(runtime: Runtime) -> None:
    """Forever: re-send referrals that are still pending or failed, so none is ever lost."""
    interval = runtime.settings.referral_retry_interval_seconds
    while True:
        await asyncio.sleep(interval)
        cutoff = runtime.now() - timedelta(seconds=interval)
        for request in await asyncio.to_thread(runtime.store.pending_referrals, before=cutoff):
            org = runtime.registry.get(request.po)
            if org is not None:
                await _send(runtime, org, request, runtime.now())


def _dispatch_later(runtime: Runtime, org: Organisation, request: ServiceRequestView, now: datetime) -> None:
    """Send the referral in the background: the resident gets the reference without waiting."""
    if not runtime.retry_loop_started:
        runtime.retry_loop_started = True
        _in_background(runtime, retry_unsent_referrals(runtime))
    _in_background(runtime, _send(runtime, org, request, now))


async def finish_call(
    runtime: Runtime,
    tracker: Tracker,
    org: Organisation,
    *,
    service_option: str,
    outcome: str,
    message: str | None = None,
    priority: str | None = None,
    sub_category: str | None = None,
    answers: dict[str, Any] | None = None,
    address: dict[str, Any] | None = None,
    flags: list[str] | None = None,
    details_extra: list[str] | None = None,
    check_duplicates: bool = True,
    transfer_to: str | None = None,
) -> CallResult:
    """Record the call, check duplicates, refer when needed and build the reply with the reference."""
    now = runtime.now(clock_override(tracker))
    answers = answers or {}
    address = address or {}
    profile = org.profile
    text = message if message is not None else DEFAULT_MESSAGES[outcome]
    text = text.format(org=profile.short_name, hours=profile.daytime_service.hours)
    refers = outcome in REFERRAL_OUTCOMES
    duplicate = None
    if refers and check_duplicates and service_option in org.options and address.get("uprn"):
        # Only a matched property is the same place: unmatched words ("by the park", "don't know")
        # would merge different problems. Only tonight's reports count as "already reported tonight".
        duplicate = runtime.store.find_open_duplicate(
            profile.id, service_option, address.get("uprn"), None, since=now - DUPLICATE_WINDOW
        )
    if duplicate is not None:
        runtime.store.add_update(
            duplicate.reference,
            "duplicate_report",
            str(answers.get("details") or "Reported again"),
            data={"transcript": transcript(tracker), "caller_name": answers.get("caller_name")},
            now=now,
        )
        reply = (
            f"This has already been reported tonight and passed to the on-call officer, under reference "
            f"{duplicate.reference}. I've added what you told me to that report, so there's no need to "
            "report it again."
        )
        return CallResult(outcome, reply, service_option, duplicate, duplicate, priority)
    details = str(answers.get("details") or "")
    if details_extra:
        details = "\n".join([details, *details_extra]).strip()
    request = runtime.store.create_request(
        po=profile.id,
        prefix=profile.reference_prefix,
        service_option=service_option,
        sub_category=sub_category,
        priority=priority,
        call_outcome=outcome,
        caller_name=answers.get("caller_name"),
        contact_number=answers.get("contact_number"),
        address=address.get("address")
        and (f"{address['address']}, {address['postcode']}" if address.get("postcode") else address["address"]),
        uprn=address.get("uprn"),
        address_verified=address.get("status") == "matched",
        details=details,
        answers=answers,
        transcript=transcript(tracker),
        channel=tracker.get_latest_input_channel() or "rest",
        sender_id=tracker.sender_id,
        started_at=started_at(tracker, runtime),
        ended_at=now,
        flags=flags or [],
        referral_status="pending" if refers else "not_required",
        now=now,
    )
    if refers:
        _dispatch_later(runtime, org, request, now)
    reply = f"{text} Your reference is {request.reference}.".strip()
    if outcome == "transferred":
        transfer_to = transfer_to or transfer_number(org, service_option, sub_category, now)
    return CallResult(outcome, reply, service_option, request, None, priority, transfer_to=transfer_to)


def result_slots(result: CallResult) -> list[EventType]:
    """The tracker slots the outside contract promises after a call finishes."""
    reference = (
        result.duplicate_of.reference if result.duplicate_of else (result.request.reference if result.request else None)
    )
    repair = result.service_option.startswith(REPAIR_OPTIONS)
    return [
        SlotSet("service_option", result.service_option),
        SlotSet("call_outcome", result.outcome),
        SlotSet("reference", reference),
        SlotSet("repair_priority", (result.priority or "routine") if repair else None),
    ]


async def hand_to_person(
    runtime: Runtime,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    org: Organisation,
    *,
    service_option: str,
    details: str,
    flags: list[str] | None = None,
) -> list[EventType]:
    """Hand the conversation to a person: a transferred request with the transcript, and the number.

    One way to hand over, whether the resident asked for a person or a risk to a person came up in
    an organisation that does not take the risk's option (never a signpost list for a risk to life).
    """
    phone = org.profile.public_phone
    result = await finish_call(
        runtime,
        tracker,
        org,
        service_option=service_option if service_option in runtime.registry.canonical else "out_of_scope",
        outcome="transferred",
        message=(
            "I'm passing you to a call handler now, with everything you've told me so far. "
            f"If we get cut off, call {phone}."
        ),
        answers={"details": details},
        flags=flags,
        check_duplicates=False,
    )
    say_result(dispatcher, result)
    return result_slots(result)
