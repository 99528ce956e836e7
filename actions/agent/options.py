"""Choosing the Service Option for what the resident said, and starting its script."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.agent.finishing import (
    clock_override,
    finish_call,
    hand_to_person,
    organisation_or_explain,
    result_slots,
    say_result,
)
from actions.agent.safety import latest_intent, risk_check, risks, say_hazards, say_risks, screen
from ooh.orgs.loader import Organisation, Registry
from ooh.orgs.models import FaqEntry
from ooh.runtime import Runtime, get_runtime
from ooh.safeguarding import CERTAIN
from ooh.scripts.engine import RiskCheck, ScriptRun

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
        phone = taker.profile.public_phone
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


def runs_script(runtime: Runtime, tracker: Tracker, org: Organisation, option_id: str) -> bool:
    """Whether this option, now, runs a script with questions (so a direct question can be asked)."""
    config = org.options.get(option_id)
    if config is None or option_id not in runtime.registry.canonical:
        return False
    script = runtime.registry.scripts[config.script]
    if script.answer_from_faq:
        return False
    if not org.is_open(option_id, runtime.now(clock_override(tracker))) and config.outside_hours is not None:
        return False
    return bool(ScriptRun.for_option(runtime.registry, org, option_id).questions)


async def start_option(
    runtime: Runtime,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    org: Organisation,
    option_id: str,
    flags: list[str] | None = None,
    risk_check: RiskCheck | None = None,
) -> list[EventType]:
    """Run the organisation's handling of one option: hours, FAQ, signpost or its script.

    ``flags`` (such as ``safeguarding:suicide``) go on the service request whatever the outcome.
    ``risk_check`` (a possible risk, see :mod:`actions.agent.safety`) makes the script's first
    question the direct question about that risk; the help numbers have been given already, so the
    script's own opening is not said.
    """
    flags = list(flags or [])
    registry = runtime.registry
    text = what_they_said(tracker)
    base: list[EventType] = [SlotSet("po", org.id), SlotSet("script_state", None), SlotSet("script_answer", None)]
    risky = [flag for flag in flags if flag.startswith("safeguarding:")]
    if risky and option_id not in org.options:
        # A risk to a person is never answered with a signpost list: the numbers have been given,
        # the risk is recorded, and a person takes over.
        return base + await hand_to_person(
            runtime, dispatcher, tracker, org, service_option=option_id, details=text, flags=flags
        )
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
            result = dataclasses.replace(result, message=f"{result.message} {out_of_scope_signposts(registry, org)}")
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
        number = contact.phone if contact else org.profile.daytime_service.phone
        if rule.message and number and number not in rule.message:
            message = f"{rule.message} You can contact {who}."
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
    if opening and not risk_check and not risky:
        dispatcher.utter_message(text=opening)
    state = run.prefill(run.new_state(), text)
    state["flags"] = [*state.get("flags", []), *flags]
    if risk_check:
        state["risk_check"] = risk_check
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
        intent, confidence = latest_intent(latest)
        events: list[EventType] = []
        if tracker.active_loop_name:
            events.append(ActiveLoop(None))
        found = screen(runtime.registry.safeguarding, tracker)
        # A risk to a person's help numbers come first, then any hazard's advice.
        flags = say_risks(dispatcher, found, [])
        flags += say_hazards(dispatcher, found, flags)
        option_id = resolve_option(org, intent or "out_of_scope", latest.get("entities") or [])
        at_risk = risks(found)
        if at_risk:
            top = at_risk[0]
            if top.tier == CERTAIN:
                # The risk's own escalation, unless what the resident asked for is a script that
                # handles this risk itself (a family fleeing abuse needs the homelessness script).
                if option_id not in top.kind.stay_in or option_id not in org.options:
                    option_id = top.kind.option or option_id
                return events + await start_option(runtime, dispatcher, tracker, org, option_id, flags=flags)
            # Possible: one direct question first, inside the script of what they asked for, or of
            # the risk's own option; where neither can ask, a person takes over.
            for host in (option_id, top.kind.option):
                if host and runs_script(runtime, tracker, org, host):
                    otherwise = option_id if option_id in runtime.registry.canonical else None
                    check = risk_check(top, otherwise if host != option_id else None)
                    return events + await start_option(
                        runtime, dispatcher, tracker, org, host, flags=flags, risk_check=check
                    )
            flags.append(f"safeguarding:{top.kind.name}")
            return events + await hand_to_person(
                runtime,
                dispatcher,
                tracker,
                org,
                service_option=top.kind.option or option_id,
                details=latest.get("text") or "",
                flags=flags,
            )
        if flags and option_id not in runtime.registry.canonical:
            # Only a hazard, in a message that asked for nothing else: the advice is given; record it.
            result = await finish_call(
                runtime,
                tracker,
                org,
                service_option="out_of_scope",
                outcome="signposted",
                message="I've given you the safety advice above.",
                answers={"details": latest.get("text") or ""},
                flags=flags,
            )
            say_result(dispatcher, result)
            return events + result_slots(result)
        choices = close_options(runtime, org, latest)
        if choices and not flags and not _asked_to_choose(tracker):
            # Unsure between a few options: ask, with the options as buttons, instead of guessing.
            labels = [option_label(runtime, option) for option in choices]
            question = "I want to get this to the right team. Is it about " + ", or ".join(labels) + "?"
            buttons = [{"title": label, "payload": f"/{option}"} for option, label in zip(choices, labels, strict=True)]
            buttons.append({"title": "Something else", "payload": "/out_of_scope"})
            dispatcher.utter_message(text=question, buttons=buttons)
            return events
        if (latest.get("intent") or {}).get("name") == "nlu_fallback":
            # An empty message says nothing, so it never counts as a second unclear attempt.
            if not (latest.get("text") or "").strip() or not _asked_to_rephrase(tracker):
                dispatcher.utter_message(response="utter_please_rephrase")
                return events
            # Still unclear after rephrasing: treat it as something no option covers and signpost.
            option_id = "out_of_scope"
        return events + await start_option(runtime, dispatcher, tracker, org, option_id, flags=flags)


CLARIFY_BELOW = 0.45
"""Below this confidence in the best intent, the agent asks between the close options instead of
guessing. Set once, before measuring, and not tuned on any reported set; ``make eval`` reports
how often it asks on the blind set and how often the right option was among the buttons."""
CLARIFY_RIVAL = 0.4
"""An option is a close rival when its confidence is at least this share of the best one's."""


def close_options(runtime: Runtime, org: Organisation, message: dict[str, Any]) -> list[str]:
    """Up to three options the organisation takes that the message could mean, when unsure.

    Empty when the classifier is confident, when fewer than two options compete (one option and
    "out of scope" ask about the one), or when the message was a button press already.
    """
    if str(message.get("text") or "").startswith("/"):
        return []
    ranking = [c for c in message.get("intent_ranking") or [] if c.get("name") not in ("nlu_fallback", None)]
    if not ranking or float(ranking[0].get("confidence") or 0.0) >= CLARIFY_BELOW:
        return []
    best = float(ranking[0].get("confidence") or 0.0)
    offered = [
        str(c["name"])
        for c in ranking[:4]
        if c["name"] in org.options
        and c["name"] in runtime.registry.canonical
        and float(c.get("confidence") or 0.0) >= best * CLARIFY_RIVAL
    ]
    top_is_option = ranking[0]["name"] in org.options
    if len(offered) >= 2 or (offered and not top_is_option):
        return offered[:3]
    return []


def option_label(runtime: Runtime, option_id: str) -> str:
    """A resident-facing name for an option (its row in the Service Options table)."""
    return str(runtime.registry.canonical_rows.get(option_id) or option_id.replace("_", " ")).lower()


def what_they_said(tracker: Tracker) -> str:
    """The resident's words: the latest message, or the one before a button press ("/noise")."""
    users = [e for e in tracker.events if e.get("event") == "user"]
    for event in reversed(users):
        text = str(event.get("text") or "")
        if not text.startswith("/"):
            return text
    return ""


def _asked_to_choose(tracker: Tracker) -> bool:
    """Whether the agent's last reply asked the resident to choose between options."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            buttons = (event.get("data") or {}).get("buttons") or []
            return any(str(b.get("payload", "")).startswith("/") for b in buttons)
    return False


def _asked_to_rephrase(tracker: Tracker) -> bool:
    """Whether the agent's last reply asked the resident to rephrase."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action") == "utter_please_rephrase"
    return False
