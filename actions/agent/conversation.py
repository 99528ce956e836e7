"""Actions around the scripts: session start, greeting, reference look-up, hand-over."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.agent.finishing import hand_to_person, organisation_or_explain
from ooh.contracts import ChannelHints, Finished
from ooh.records import ServiceRequestView, find_reference, make_reference
from ooh.runtime import get_runtime

OUTCOME_WORDS = {
    "daytime": "has been logged for the daytime team, who will pick it up when they open",
    "signposted": "was answered with who can help, and no one from this service will call back",
    "resolved": "was answered during the conversation",
    "out_of_scope": "was not something this service could deal with",
}
"""What happened to a request that was never referred, in the resident's words, by its outcome."""


def status_words(request: ServiceRequestView, phone: str) -> str:
    """Where a request really is: its referral state when referred, else its recorded outcome."""
    if any(flag.startswith("duplicate_of:") for flag in request.flags):
        return "was added to an earlier report of the same problem, which was passed to the on-call officer"
    if request.referral_status == "not_required":
        return OUTCOME_WORDS.get(request.call_outcome or "", "was recorded")
    if request.referral_status == "sent":
        if any(update.kind == "acknowledged" for update in request.updates):
            return "has been sent to the on-call officer, who has acknowledged it"
        return "has been sent to the on-call officer"
    if request.referral_status == "failed":
        return f"has not reached the on-call officer yet. We are still trying; if it is urgent, please call {phone}"
    return "is waiting to be sent to the on-call officer"


class ActionSessionStart(Action):
    """Starts a conversation, keeping the organisation the website said this chat is for."""

    def name(self) -> str:
        """Rasa's session-start hook."""
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        """Start the session and carry ``po`` over from the first message's metadata."""
        metadata = tracker.get_slot("session_started_metadata") or {}
        po = metadata.get("po") if isinstance(metadata, dict) else None
        events: list[EventType] = [SessionStarted()]
        if po:
            events.append(SlotSet("po", str(po)))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionGreet(Action):
    """Greets in the organisation's own words, with any announcement staff have set."""

    def name(self) -> str:
        """Action name used in rules."""
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        """Say the greeting, or explain the organisation is unknown."""
        runtime = get_runtime()
        org = organisation_or_explain(runtime, tracker, dispatcher)
        if org is None:
            return [SlotSet("po", None)]
        dispatcher.utter_message(text=org.profile.greeting)
        announcement = org.current_announcement()
        if announcement:
            dispatcher.utter_message(text=announcement)
        dispatcher.utter_message(text="If anyone is in immediate danger, please call 999.")
        return [SlotSet("po", org.id)]


class ActionCheckReference(Action):
    """Tells a resident the status of a reference they quote."""

    def name(self) -> str:
        """Action name used in rules."""
        return "action_check_reference"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        """Look the reference up for this organisation and say where it is."""
        runtime = get_runtime()
        # Only within this conversation's organisation: with none, nothing is looked up at all.
        org = organisation_or_explain(runtime, tracker, dispatcher)
        if org is None:
            return []
        text = (tracker.latest_message or {}).get("text") or ""
        reference = find_reference(text)
        if reference is None:
            # The example is this organisation's own, dated today: an Enfield reference shown to a
            # Peabody resident suggests the wrong place.
            example = make_reference(org.profile.reference_prefix, runtime.now(), 42)
            dispatcher.utter_message(text=f"Please give me the reference exactly as we gave it, for example {example}.")
            return []
        request = await asyncio.to_thread(runtime.store.get, reference)
        if request is None or request.po != org.id:
            dispatcher.utter_message(
                text=(
                    f"I can't find reference {reference}. "
                    "Please check it, or tell me what the problem is and I'll help."
                )
            )
            return []
        status = status_words(request, org.profile.public_phone or "999 if anyone is in danger")
        option = runtime.registry.canonical_rows.get(request.service_option, request.service_option)
        when = request.created_at.strftime("%d %B at %H:%M") if request.created_at else "earlier"
        reply = f"Reference {request.reference} ({option}, reported {when}) {status}."
        if request.status != "open":
            reply = f"Reference {request.reference} ({option}) has been closed by the team."
        note = "Resident asked for the status"
        await asyncio.to_thread(runtime.store.add_update, request.reference, "status_query", note, now=runtime.now())
        dispatcher.utter_message(text=reply)
        finished = Finished(reference=request.reference, outcome="status_given")
        dispatcher.utter_message(json_message=ChannelHints(finished=finished).payload())
        return [SlotSet("reference", request.reference)]


class ActionHandToPerson(Action):
    """Hands the conversation to a person, with a record and the transcript."""

    def name(self) -> str:
        """Action name used in rules."""
        return "action_hand_to_person"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        """Record a transfer (referred with the transcript) and tell the resident what happens."""
        runtime = get_runtime()
        org = organisation_or_explain(runtime, tracker, dispatcher)
        if org is None:
            return []
        # Before any Service Option is known, a hand-over is a switchboard call (a canonical id).
        option = tracker.get_slot("service_option") or "switchboard"
        return await hand_to_person(
            runtime, dispatcher, tracker, org, service_option=option, details="Resident asked to speak to a person."
        )
