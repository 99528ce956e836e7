"""Choosing the Service Option for what the resident said, and starting its script."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.agent.calls import clock_override, finish_call, organisation_or_explain, result_slots, say_result
from actions.orgs.loader import Organisation, Registry
from actions.orgs.models import FaqEntry
from actions.runtime import Runtime, get_runtime
from actions.scripts.engine import ScriptRun

FORM = "script_form"


def resolve_option(org: Organisation, intent: str, entities: list[dict[str, Any]]) -> str:
    """Map an intent (and a ``trade`` entity) to the organisation's canonical option id."""
    if intent == "housing_repairs":
        for entity in entities:
            if entity.get("entity") == "trade":
                specific = f"housing_repairs/{entity.get('value')}"
                if specific in org.options:
                    return specific
    return intent


def pick_faq(entries: list[FaqEntry], option_id: str, text: str) -> FaqEntry | None:
    """The FAQ entry of an option whose keywords the question uses most, else its first entry."""
    lowered = text.lower()
    candidates = [entry for entry in entries if entry.service_option == option_id]
    scored = [
        (sum(1 for word in entry.keywords if re.search(rf"\b{re.escape(word.lower())}", lowered)), index, entry)
        for index, entry in enumerate(candidates)
    ]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return scored[0][2] if scored else None


def not_offered_message(registry: Registry, org: Organisation, option_id: str) -> str:
    """Say the organisation doesn't offer it, and who does: urgent services, neighbours, daytime."""
    label = (registry.canonical_rows.get(option_id) or option_id.replace("_", " ")).lower()
    parts = [f"{org.profile.short_name} doesn't run an out-of-hours service for {label}."]
    for key in registry.not_offered.get(option_id, []):
        contact = org.profile.contacts.get(key)
        if contact:
            parts.append(f"Please contact {contact.describe()}.")
    neighbours = [registry.organisations[n] for n in org.profile.neighbours if n in registry.organisations]
    takers = [n for n in neighbours if option_id in n.options]
    for taker in takers[:3]:
        phone = taker.profile.phone_numbers.get("out_of_hours") or taker.profile.daytime_service.phone
        areas = " or ".join(taker.profile.area_boroughs)
        parts.append(f"If the problem is in {areas}, {taker.profile.name} can help on {phone}.")
    if org.profile.kind == "housing_association" and not takers:
        parts.append("Your local council's out-of-hours service may be able to help.")
    daytime = org.profile.daytime_service
    parts.append(f"You can also contact {daytime.describe()}.")
    return " ".join(parts)


def out_of_scope_signposts(registry: Registry, org: Organisation) -> str:
    """Where to go instead when no Service Option fits: the ``out_of_scope`` signposts, then daytime."""
    parts = []
    for key in registry.not_offered.get("out_of_scope", []):
        contact = org.profile.contacts.get(key)
        if contact:
            parts.append(contact.describe())
    daytime = org.profile.daytime_service.describe()
    if parts:
        return f"You may find help from {'; '.join(parts)}. For other council services, contact {daytime}."
    return f"{daytime} may be able to point you in the right direction."


async def start_option(
    runtime: Runtime,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    org: Organisation,
    option_id: str,
    flags: list[str] | None = None,
) -> list[EventType]:
    """Run the organisation's handling of one option: hours, FAQ, signpost or its script.

    ``flags`` (such as ``safeguarding:suicide``) go on the service request whatever the outcome.
    """
    flags = list(flags or [])
    registry = runtime.registry
    text = (tracker.latest_message or {}).get("text") or ""
    base: list[EventType] = [SlotSet("po", org.id), SlotSet("script_state", None), SlotSet("script_answer", None)]
    if option_id not in registry.canonical or option_id not in org.options:
        outcome = "out_of_scope" if option_id not in registry.canonical else "signposted"
        message = not_offered_message(registry, org, option_id) if outcome == "signposted" else None
        result = await finish_call(
            runtime,
            tracker,
            org,
            service_option="out_of_scope",
            outcome=outcome,
            message=message,
            answers={"details": text},
            flags=flags,
        )
        if outcome == "out_of_scope":
            result.message = f"{result.message} {out_of_scope_signposts(registry, org)}"
        say_result(dispatcher, result)
        return base + result_slots(result)
    config = org.options[option_id]
    script = registry.scripts[config.script]
    now = runtime.now(clock_override(tracker))
    if not org.is_open(option_id, now) and config.outside_hours is not None:
        rule = config.outside_hours
        contact = org.profile.contacts.get(rule.signpost or "") if rule.signpost else None
        who = contact.describe() if contact else org.profile.daytime_service.describe()
        message = rule.message or f"That service isn't running right now. Please contact {who}."
        result = await finish_call(
            runtime,
            tracker,
            org,
            service_option=option_id,
            outcome=rule.outcome or "signposted",
            message=message,
            answers={"details": text},
            flags=flags,
        )
        say_result(dispatcher, result)
        return base + result_slots(result)
    if script.answer_from_faq:
        entry = pick_faq(org.faq, option_id, text)
        answer = (
            entry.answer
            if entry
            else f"I don't have that information. {org.profile.daytime_service.describe()} can help."
        )
        result = await finish_call(
            runtime,
            tracker,
            org,
            service_option=option_id,
            outcome="resolved",
            message=answer,
            answers={"details": text},
            flags=flags,
        )
        say_result(dispatcher, result)
        return base + result_slots(result)
    run = ScriptRun.for_option(registry, org, option_id)
    if not run.questions:
        decision = run.decide(run.new_state())
        message = decision.message or (
            f"{org.profile.short_name} doesn't take reports about this out of hours. "
            f"Please contact {decision.signpost.describe()}."
            if decision.signpost
            else None
        )
        result = await finish_call(
            runtime,
            tracker,
            org,
            service_option=option_id,
            outcome=decision.outcome,
            message=message,
            answers={"details": text},
            flags=flags,
            priority=decision.priority,
        )
        say_result(dispatcher, result)
        return base + result_slots(result)
    opening = run.opening()
    if opening:
        dispatcher.utter_message(text=opening)
    state = run.new_state()
    state["flags"] = [*state.get("flags", []), *flags]
    return [
        *base,
        SlotSet("service_option", option_id),
        SlotSet("call_outcome", None),
        SlotSet("reference", None),
        SlotSet("repair_priority", None),
        SlotSet("script_state", state),
        FollowupAction(FORM),
    ]


class ActionSelectServiceOption(Action):
    """Work out which Service Option the resident needs and start handling it."""

    def name(self) -> str:
        """Action name used in rules."""
        return "action_select_service_option"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        """Resolve the option from the intent and hand over to :func:`start_option`."""
        runtime = get_runtime()
        org = organisation_or_explain(runtime, tracker, dispatcher)
        if org is None:
            return [SlotSet("po", None)]
        latest = tracker.latest_message or {}
        intent, confidence = top_intent(latest)
        events: list[EventType] = []
        if tracker.active_loop_name:
            events.append(ActiveLoop(None))
        found = runtime.registry.safeguarding.detect(latest.get("text") or "", intent, confidence)
        flags: list[str] = []
        option_id = resolve_option(org, intent or "out_of_scope", latest.get("entities") or [])
        if found is not None:
            # Safety first: the help numbers before anything else, then the risk's own escalation
            # (unless what the resident asked for is a script that handles this risk itself).
            if found.kind.message:
                dispatcher.utter_message(text=found.kind.message)
            flags.append(f"safeguarding:{found.kind.name}")
            if option_id not in found.kind.stay_in or option_id not in org.options:
                option_id = found.kind.option
        elif (latest.get("intent") or {}).get("name") == "nlu_fallback":
            # An empty message says nothing, so it never counts as a second unclear attempt.
            if not (latest.get("text") or "").strip() or not _asked_to_rephrase(tracker):
                dispatcher.utter_message(response="utter_please_rephrase")
                return events
            # Still unclear after rephrasing: treat it as something no option covers and signpost.
            option_id = "out_of_scope"
        return events + await start_option(runtime, dispatcher, tracker, org, option_id, flags=flags)


def _asked_to_rephrase(tracker: Tracker) -> bool:
    """Whether the agent's last reply asked the resident to rephrase."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action") == "utter_please_rephrase"
    return False


def top_intent(message: dict[str, Any]) -> tuple[str | None, float]:
    """The classifier's best real intent and its confidence, looking past ``nlu_fallback``."""
    for candidate in [message.get("intent") or {}, *(message.get("intent_ranking") or [])]:
        name = candidate.get("name")
        if name and name != "nlu_fallback":
            return name, float(candidate.get("confidence") or 0.0)
    return None, 0.0
