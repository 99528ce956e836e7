"""The one Rasa form that runs every script: ``script_form``.

Its required slots come from the script: while the script has a question left, the form requires
``script_answer``; each answer is validated by the script engine and stored in the ``script_state``
slot, then ``script_answer`` is emptied so the form asks the next question. Because the questions
are read from data on every turn, staff can change a question without retraining the model.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.runtime import get_runtime
from actions.safeguarding import Safeguarding
from actions.scripts.engine import ScriptRun, State

#: Explicit phrases that always mean "a person, please" or "say that again", whatever NLU thinks.
_ASK_HUMAN = re.compile(
    r"\b(speak|talk) (to|with) (a |an |some)?(real |actual )?(person|human|someone|operator|agent|adviser|advisor)\b"
    r"|\b(real|actual) person\b|\bhuman being\b|\boperator\b",
    re.IGNORECASE,
)
_REPEAT = re.compile(
    r"\b(say (that|it) again|repeat( that| the question)?|pardon|come again|what was the question)\b", re.I
)
_STOP = re.compile(r"^\s*(stop|cancel|forget it|never ?mind|quit)\s*[.!]*\s*$", re.IGNORECASE)

#: Below this confidence an intent does not count as an answer ("our office" is not a "yes"), so
#: the script's own validators judge the words instead.
TRUSTED_INTENT = 0.6


def run_for(state: State | None) -> ScriptRun | None:
    """Rebuild the script run a saved state belongs to (``None`` if it no longer exists)."""
    if not state:
        return None
    registry = get_runtime().registry
    org = registry.get(state.get("po"))
    if org is None or state.get("option") not in org.options:
        return None
    return ScriptRun.for_option(registry, org, state["option"])


def _intent(tracker: Tracker) -> tuple[str | None, float]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def interruption(
    state: State, text: str, intent: str | None, confidence: float, safeguarding: Safeguarding
) -> dict[str, Any] | None:
    """Whether the answer is really a request to leave the script (safeguarding, a person, stop).

    A safeguarding risk whose own option is already running, or which the running script handles
    itself (``stay_in``), does not interrupt: the caller of this function notes it instead.
    """
    found = safeguarding.detect(text, intent, confidence)
    option = state.get("option")
    if found and found.kind.option != option and option not in found.kind.stay_in:
        return {"switch_to": found.kind.option, "safeguarding": found.kind.name, "message": found.kind.message}
    if _ASK_HUMAN.search(text) or (intent == "ask_human" and confidence >= 0.8):
        return {"outcome": "transferred", "reason": "asked_for_person"}
    if _STOP.match(text) or (intent == "stop" and confidence >= 0.9):
        return {"outcome": "cancelled", "reason": "resident_stopped"}
    return None


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
        intent, confidence = _intent(tracker)
        safeguarding = get_runtime().registry.safeguarding
        halt = interruption(state, text, intent, confidence, safeguarding)
        if halt is not None:
            return {"script_answer": None, "script_state": {**state, "halt": halt}}
        noted = safeguarding.detect(text, intent, confidence)
        if noted and f"safeguarding:{noted.kind.name}" not in state.get("flags", []):
            # The running script handles this risk itself: give the help numbers, record it, go on.
            if noted.kind.message:
                dispatcher.utter_message(text=noted.kind.message)
            state = {**state, "flags": [*state.get("flags", []), f"safeguarding:{noted.kind.name}"]}
        trusted = intent if confidence >= TRUSTED_INTENT else None
        if trusted == "repeat" or _REPEAT.search(text):
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
            dispatcher.utter_message(json_message={"expect": run.expects(state)})
        return []
