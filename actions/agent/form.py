"""The one Rasa form that runs every script: ``script_form``.

Its required slots come from the script: while the script has a question left, the form requires
``script_answer``; each answer is validated by the script engine and stored in the ``script_state``
slot, then ``script_answer`` is emptied so the form asks the next question. Because the questions
are read from data on every turn, staff can change a question without retraining the model.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.agent.safety import latest_intent, risk_check, risks, say_hazards, say_risks, screen
from ooh.contracts import ChannelHints
from ooh.runtime import get_runtime
from ooh.safeguarding import CERTAIN, Detection
from ooh.scripts.asides import TRUSTED_INTENT, asks_for_person, asks_to_repeat, wants_to_stop
from ooh.scripts.engine import Halt, ScriptRun, State
from ooh.scripts.validators import yes_or_no


def run_for(state: State | None) -> ScriptRun | None:
    """Rebuild the script run a saved state belongs to (``None`` if it no longer exists)."""
    if not state:
        return None
    registry = get_runtime().registry
    org = registry.get(state.get("po"))
    if org is None or state.get("option") not in org.options:
        return None
    return ScriptRun.for_option(registry, org, state["option"])


def interruption(
    state: State, found: list[Detection], text: str, intent: str | None, confidence: float
) -> Halt | None:
    """Whether the answer is really a request to leave the script (a certain risk, a person, stop).

    A risk whose own option is already running, or which the running script handles itself
    (``stay_in``), does not interrupt: its help numbers were given and it is recorded.
    """
    option = state.get("option")
    for detection in risks(found):
        kind = detection.kind
        if detection.tier == CERTAIN and kind.option and kind.option != option and option not in kind.stay_in:
            return {"switch_to": kind.option, "safeguarding": kind.name}
    if asks_for_person(text, intent, confidence):
        return {"outcome": "transferred", "reason": "asked_for_person"}
    if wants_to_stop(text, intent, confidence):
        return {"outcome": "cancelled", "reason": "resident_stopped"}
    return None


def settle_risk_check(
    state: State, found: list[Detection], text: str, intent: str | None
) -> tuple[State, Halt | None]:
    """Apply the answer to the direct question about a possible risk.

    A clear "no" clears it and goes back to what the resident asked for; anything else ("yes",
    "not sure", silence, a new detail) is taken as yes: a false alarm costs a sentence, a miss
    can cost a life.
    """
    check = state["risk_check"]
    state = {key: value for key, value in state.items() if key != "risk_check"}
    flags = list(state.get("flags") or [])
    kind = get_runtime().registry.safeguarding.by_name[check["kind"]]
    certain = any(d.tier == CERTAIN for d in risks(found))
    if yes_or_no(text, intent) is False and not certain:
        state["flags"] = [*flags, f"risk_ruled_out:{kind.name}"]
        if check.get("else"):
            return state, {"switch_to": check["else"]}
        if state.get("option") == kind.option:
            return state, {"outcome": "ruled_out", "reason": "resident_said_no_danger"}
        return state, None
    state["flags"] = [*flags, f"safeguarding:{kind.name}"]
    if not kind.option or kind.option == state.get("option") or state.get("option") in kind.stay_in:
        return state, None
    return state, {"switch_to": kind.option, "safeguarding": kind.name}


class ValidateScriptForm(FormValidationAction):
    """Validates every script answer through the script engine."""

    def name(self) -> str:
        """Rasa calls ``validate_<form name>``."""
        return "validate_script_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """``script_answer`` while the script has something left to ask, else nothing."""
        state = tracker.get_slot("script_state")
        run = run_for(state)
        if run is None or (run.prompt(state) is None):
            return []
        return ["script_answer"]

    def validate_script_answer(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Apply the answer to the script (or note an interruption) and ask the next question."""
        if slot_value is None:
            # Rasa validates every slot set since the resident last spoke, including the reset that
            # starts a script: nothing has been answered yet, so there is nothing to judge.
            return {}
        state = tracker.get_slot("script_state")
        run = run_for(state)
        if run is None:
            return {"script_answer": None}
        text = str(slot_value)
        intent, confidence = latest_intent(tracker.latest_message or {})
        found = screen(get_runtime().registry.safeguarding, tracker, text)
        # Safety first, in every state: hazard advice and risk help numbers before anything else.
        flags = list(state.get("flags") or [])
        # A risk to a person's help numbers first, then any hazard's advice.
        risks_said = say_risks(dispatcher, found, flags)
        added = risks_said + say_hazards(dispatcher, found, flags + risks_said)
        state = {**state, "flags": [*flags, *added]}
        trusted = intent if confidence >= TRUSTED_INTENT else None
        if state.get("risk_check"):
            state, halt = settle_risk_check(state, found, text, trusted)
            if halt is not None:
                return {"script_answer": None, "script_state": {**state, "halt": halt}}
            if not any(d.tier == CERTAIN for d in risks(found)):
                return {"script_answer": None, "script_state": state}
        halt = interruption(state, found, text, intent, confidence)
        if halt is not None:
            return {"script_answer": None, "script_state": {**state, "halt": halt}}
        possible = [d for d in risks(found) if f"possible_risk:{d.kind.name}" in added]
        if possible and possible[0].kind.option != state.get("option"):
            # A possible risk: one direct question before the script goes on.
            return {"script_answer": None, "script_state": {**state, "risk_check": risk_check(possible[0], None)}}
        if asks_to_repeat(text, intent, confidence):
            return {"script_answer": None}
        new_state, reply = run.answer(state, text, trusted)
        if reply:
            dispatcher.utter_message(text=reply)
        return {"script_answer": None, "script_state": new_state}


class ActionAskScriptAnswer(Action):
    """Asks the script's current question (Rasa calls ``action_ask_<slot>``)."""

    def name(self) -> str:
        """Ask action for the ``script_answer`` slot."""
        return "action_ask_script_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        """Say the prompt for where the script is now."""
        state = tracker.get_slot("script_state")
        run = run_for(state)
        prompt = run.prompt(state) if run else None
        if prompt and run is not None:
            dispatcher.utter_message(text=prompt)
            # Channels that cannot show the question (voice) read what answer it expects here.
            dispatcher.utter_message(json_message=ChannelHints(expect=run.expects(state)).payload())
        return []
