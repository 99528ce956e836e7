"""Rasa SDK actions run on saved trackers, asserting the events they return.

These exercise the actions without Rasa: a tracker saved as JSON goes in, and the test checks the
slots set, the follow-up action and what the resident is told.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.agent.complete import ActionCompleteScript
from actions.agent.conversation import ActionCheckReference, ActionHandToPerson
from actions.agent.form import ValidateScriptForm, run_for
from actions.agent.options import ActionSelectServiceOption
from ooh.runtime import Runtime, build_runtime, set_runtime
from ooh.safeguarding import risk_entities
from ooh.settings import Settings

pytestmark = pytest.mark.anyio

TRACKERS = Path(__file__).parent / "trackers"
DOMAIN: dict[str, Any] = {"forms": {"script_form": {"required_slots": ["script_answer"]}}, "slots": {}}


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """The real organisation data with a throw-away record store and the test clock allowed."""
    db = tmp_path_factory.mktemp("records") / "records.db"
    built = build_runtime(Settings(database_url=f"sqlite:///{db}", allow_clock_override=True, smtp_port=1))
    set_runtime(built)
    yield built
    set_runtime(None)


def load(name: str, **changes: Any) -> Tracker:
    """A saved tracker, with the latest message, its channel or slots changed for the case at hand."""
    data = json.loads((TRACKERS / f"{name}.json").read_text())
    for key, value in changes.items():
        if key == "channel":
            data["latest_input_channel"] = value
            for event in data["events"]:
                if event.get("event") == "user":
                    event["input_channel"] = value
        elif key in {"text", "intent", "po"}:
            message = data["latest_message"]
            if key == "text":
                message["text"] = value
            elif key == "intent":
                message["intent"] = {"name": value, "confidence": 0.97}
            else:  # a conversation of that organisation: its first message named it
                message["metadata"]["po"] = value
                data["slots"]["po"] = value
        else:
            data["slots"][key] = value
    return Tracker.from_dict(data)


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The slots an action set, last value wins."""
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_repair_report_starts_the_script_form(runtime: Runtime) -> None:
    """A repair intent for a landlord that takes repairs starts the one script form."""
    dispatcher = CollectingDispatcher()
    events = await ActionSelectServiceOption().run(dispatcher, load("repair_reported_enfield"), DOMAIN)
    slots = slot_events(events)
    assert slots["service_option"] == "housing_repairs"
    assert slots["script_state"]["option"] == "housing_repairs"
    assert {"event": "followup", "name": "script_form"} in [
        {"event": e["event"], "name": e.get("name")} for e in events if e["event"] == "followup"
    ]


async def test_option_the_organisation_does_not_take_is_signposted(runtime: Runtime) -> None:
    """Peabody doesn't run a noise service: out_of_scope, signposted, with a reference."""
    dispatcher = CollectingDispatcher()
    tracker = load("repair_reported_enfield", intent="noise", po="peabody", text="music next door is so loud")
    slots = slot_events(await ActionSelectServiceOption().run(dispatcher, tracker, DOMAIN))
    assert slots["service_option"] == "out_of_scope"
    assert slots["call_outcome"] == "signposted"
    assert slots["reference"].startswith("PEA-")
    assert "doesn't run an out-of-hours service" in dispatcher.messages[0]["text"]


async def test_suicide_risk_says_help_numbers_before_any_question(runtime: Runtime) -> None:
    """The first message of a suicide call is 999 and Samaritans; the form then asks."""
    dispatcher = CollectingDispatcher()
    tracker = load("repair_reported_enfield", intent="suicide_risk", po="havering", text="i want to end it")
    events = await ActionSelectServiceOption().run(dispatcher, tracker, DOMAIN)
    assert "116 123" in dispatcher.messages[0]["text"] and "999" in dispatcher.messages[0]["text"]
    assert slot_events(events)["service_option"] == "suicide_risk"


async def test_form_applies_an_answer_and_completion_gives_a_reference(runtime: Runtime) -> None:
    """Answers move the script on; a finished script is recorded and the reference told."""
    dispatcher = CollectingDispatcher()
    events = await ActionSelectServiceOption().run(dispatcher, load("repair_reported_enfield"), DOMAIN)
    state = slot_events(events)["script_state"]
    form = ValidateScriptForm()
    for answer in ["no heating"]:
        tracker = load("repair_reported_enfield", script_state=state, text=answer, intent="housing_repairs")
        result = form.validate_script_answer(answer, dispatcher, tracker, DOMAIN)
        state = result["script_state"]
    assert state["answers"]["q_problem"] == "heating"
    finished = copy.deepcopy(state)
    finished["halt"] = {"outcome": "transferred", "reason": "asked_for_person"}
    # In chat, the hand-over names the organisation's public number and no direct number is sent.
    dispatcher = CollectingDispatcher()
    tracker = load("repair_reported_enfield", script_state=finished, service_option="housing_repairs")
    await ActionCompleteScript().run(dispatcher, tracker, DOMAIN)
    assert "transfer" not in dispatcher.messages[-1]["custom"]
    assert "020 7946 0101" in dispatcher.messages[-2]["text"], dispatcher.messages[-2]["text"]
    # On the phone, the channel is told where to put the call.
    dispatcher = CollectingDispatcher()
    tracker = load("repair_reported_enfield", script_state=finished, service_option="housing_repairs", channel="voice")
    slots = slot_events(await ActionCompleteScript().run(dispatcher, tracker, DOMAIN))
    assert slots["call_outcome"] == "transferred"
    told, transfer = dispatcher.messages[-2:]
    assert slots["reference"] in told["text"]
    assert transfer["custom"]["transfer"]["reference"] == slots["reference"]
    assert transfer["custom"]["transfer"]["number"].replace(" ", "").lstrip("+").isdigit()
    # The channel is told the request is settled by a typed hint, not by finding a reference in text.
    assert transfer["custom"]["finished"] == {"reference": slots["reference"], "outcome": "transferred"}
    stored = runtime.store.get(slots["reference"])
    assert stored is not None and stored.answers["q_problem"] == "heating"


def scored(name: str, scores: dict[str, float], **changes: Any) -> Tracker:
    """A saved tracker whose latest message carries the NLU screen's risk scores."""
    tracker = load(name, **changes)
    data = copy.deepcopy(tracker.current_state())
    data["latest_message"]["entities"] = risk_entities(scores, 0.05, "SafeguardingScreen")
    return Tracker.from_dict(data)


async def test_a_possible_risk_mid_script_gets_numbers_then_one_question_and_no_goes_back(runtime: Runtime) -> None:
    """Between the thresholds: the help numbers, the direct question, and "no" returns to the repair."""
    dispatcher = CollectingDispatcher()
    state = slot_events(await ActionSelectServiceOption().run(dispatcher, load("repair_reported_enfield"), DOMAIN))[
        "script_state"
    ]
    asked_before = run_for(state).prompt(state)  # type: ignore[union-attr]
    form, said = ValidateScriptForm(), "i feel so low i could just disappear"
    dispatcher = CollectingDispatcher()
    tracker = scored("repair_reported_enfield", {"suicide": 0.8}, script_state=state, text=said)
    state = form.validate_script_answer(said, dispatcher, tracker, DOMAIN)["script_state"]
    assert "116 123" in dispatcher.messages[0]["text"]
    assert run_for(state).prompt(state) == runtime.registry.safeguarding.by_name["suicide"].question  # type: ignore[union-attr]
    tracker = load("repair_reported_enfield", script_state=state, text="no", intent="deny")
    state = form.validate_script_answer("no", CollectingDispatcher(), tracker, DOMAIN)["script_state"]
    assert not state.get("halt") and "risk_check" not in state
    assert {"possible_risk:suicide", "risk_ruled_out:suicide"} <= set(state["flags"])
    assert run_for(state).prompt(state) == asked_before  # type: ignore[union-attr]


async def test_anything_but_no_to_the_direct_question_is_taken_as_yes(runtime: Runtime) -> None:
    """A "not sure" after the direct question switches to the risk's own escalation."""
    dispatcher = CollectingDispatcher()
    state = slot_events(await ActionSelectServiceOption().run(dispatcher, load("repair_reported_enfield"), DOMAIN))[
        "script_state"
    ]
    state = {**state, "risk_check": {"kind": "suicide", "question": "Is someone in danger?", "else": None}}
    tracker = load("repair_reported_enfield", script_state=state, text="not sure", intent="dont_know")
    halt = ValidateScriptForm().validate_script_answer("not sure", dispatcher, tracker, DOMAIN)["script_state"]["halt"]
    assert halt == {"switch_to": "suicide_risk", "safeguarding": "suicide"}


async def test_a_possible_risk_at_the_opening_asks_before_the_script(runtime: Runtime) -> None:
    """At the first message the numbers come first and the script's first prompt is the question."""
    dispatcher = CollectingDispatcher()
    tracker = scored("repair_reported_enfield", {"domestic_abuse": 0.7}, text="he gets really scary when he drinks")
    state = slot_events(await ActionSelectServiceOption().run(dispatcher, tracker, DOMAIN))["script_state"]
    assert "0808 2000 247" in dispatcher.messages[0]["text"]
    assert state["risk_check"]["kind"] == "domestic_abuse"
    assert run_for(state).prompt(state) == runtime.registry.safeguarding.by_name["domestic_abuse"].question  # type: ignore[union-attr]


async def test_the_organisation_is_fixed_by_the_conversation_not_by_each_message(runtime: Runtime) -> None:
    """Finding 7: a later message claiming Barnet once moved an Enfield resident's details to Barnet."""
    dispatcher = CollectingDispatcher()
    tracker = load("repair_reported_enfield", text="put me through to someone")
    tracker.latest_message["metadata"]["po"] = "barnet"
    slots = slot_events(await ActionHandToPerson().run(dispatcher, tracker, DOMAIN))
    stored = runtime.store.get(slots["reference"])
    assert stored is not None and stored.po == "enfield" and slots["reference"].startswith("ENF-")


async def test_a_conversation_without_an_organisation_learns_nothing_from_a_reference(runtime: Runtime) -> None:
    """Finding 7: with no organisation, a quoted reference's status was read out."""
    made = runtime.store.create_request(
        po="enfield", prefix="ENF", service_option="noise", call_outcome="referred", now=runtime.now()
    )
    dispatcher = CollectingDispatcher()
    tracker = load("repair_reported_enfield", text=f"what about {made.reference}", po=None)
    await ActionCheckReference().run(dispatcher, tracker, DOMAIN)
    said = " ".join(m.get("text") or "" for m in dispatcher.messages)
    assert "can't tell which organisation" in said and made.reference not in said
