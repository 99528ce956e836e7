"""Finishing a conversation from Rasa: the tracker in, the core's typed context out, events back.

The work itself (record, duplicates, referral, reply) is :func:`ooh.finish.finish`; this module
only reads what the core needs off Rasa's tracker and turns the result into the reply, the channel
hints and the slots the README's contract promises.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from ooh.contracts import VOICE_CHANNEL, ChannelHints, Finished, Transfer
from ooh.finish import CallContext, Ending, FinishResult, finish
from ooh.orgs.loader import Organisation
from ooh.records.recordings import is_recording_id
from ooh.runtime import Runtime

REPAIR_OPTIONS = ("housing_repairs", "lift_repairs")


def current_po(tracker: Tracker) -> str | None:
    """The organisation of this conversation, fixed by its first message that named a known one.

    Once set (the ``po`` slot), a message's metadata cannot move the conversation to another
    organisation: switching ``po`` mid-conversation once copied an Enfield resident's name and
    address into Barnet requests. Before that, the message's metadata says which it is.
    """
    fixed = tracker.get_slot("po")
    if fixed:
        return str(fixed)
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    po = metadata.get("po") if isinstance(metadata, dict) else None
    return str(po) if po else None


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


def say_result(dispatcher: CollectingDispatcher, result: FinishResult) -> None:
    """Tell the resident the outcome; for a transfer, also tell the channel where to put the call."""
    dispatcher.utter_message(text=result.message)
    reference = result.request.reference if result.request else None
    transfer = Transfer(number=result.transfer_to, reference=reference) if result.transfer_to else None
    finished = Finished(reference=reference, outcome=result.outcome)
    dispatcher.utter_message(json_message=ChannelHints(transfer=transfer, finished=finished).payload())


def call_context(runtime: Runtime, tracker: Tracker, org: Organisation) -> CallContext:
    """What the core needs to know about this conversation, read off the tracker."""
    voice = tracker.get_latest_input_channel() == VOICE_CHANNEL
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    recording = metadata.get("recording_id") if isinstance(metadata, dict) else None
    return CallContext(
        org=org,
        sender_id=tracker.sender_id,
        channel=tracker.get_latest_input_channel() or "rest",
        transcript=transcript(tracker),
        started_at=started_at(tracker, runtime),
        now=runtime.now(clock_override(tracker)),
        can_transfer=voice,
        recording_id=recording if voice and is_recording_id(recording) else None,
    )


async def finish_call(runtime: Runtime, tracker: Tracker, org: Organisation, **ending: Any) -> FinishResult:
    """Finish this conversation with the core's one ``finish`` step (``ending``: :class:`Ending`'s fields)."""
    given = {name: value for name, value in ending.items() if value is not None}  # None: Ending's default
    return await finish(runtime, call_context(runtime, tracker, org), Ending(**given))


def result_slots(result: FinishResult) -> list[EventType]:
    """The tracker slots the outside contract promises after a call finishes."""
    reference = result.reference
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
