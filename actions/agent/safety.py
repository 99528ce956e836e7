"""Safety first in every state: what the agent says and does when a message shows a risk or hazard.

Detection itself is in :mod:`ooh.safeguarding` (no Rasa); this module turns what was found
into the conversation's next step, the same way whether the message opened the conversation or
answered a question in the middle of a script:

- a **hazard** (gas, fire...): its safety advice at once, the hazard recorded, then carry on;
- a **certain risk** to a person: the risk's help numbers first, then its own escalation (or, where
  the organisation does not take that option, a hand-over to a person: never a signpost list);
- a **possible risk**: the help numbers first, then one direct question ("Is someone in danger
  right now?"); anything but a clear "no" is treated as yes.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from ooh.safeguarding import (
    CERTAIN,
    HAZARD,
    RISK,
    SAFEGUARDING_INTENT,
    Detection,
    Safeguarding,
    scores_from_entities,
)
from ooh.scripts.engine import RiskCheck


def latest_intent(message: dict[str, Any]) -> tuple[str | None, float]:
    """The classifier's best real intent and its confidence, past ``nlu_fallback`` and the screen."""
    for candidate in [message.get("intent") or {}, *(message.get("intent_ranking") or [])]:
        name = candidate.get("name")
        if name and name not in ("nlu_fallback", SAFEGUARDING_INTENT):
            return name, float(candidate.get("confidence") or 0.0)
    return None, 0.0


def screen(safeguarding: Safeguarding, tracker: Tracker, text: str | None = None) -> list[Detection]:
    """Everything the latest message shows, most urgent first (rules, model scores, classifier)."""
    message = tracker.latest_message or {}
    intent, confidence = latest_intent(message)
    scores = scores_from_entities(message.get("entities"))
    return safeguarding.screen(text if text is not None else message.get("text") or "", intent, confidence, scores)


def say_hazards(dispatcher: CollectingDispatcher, found: list[Detection], flags: list[str]) -> list[str]:
    """Give each new hazard's safety advice once; return the flags to record."""
    added = []
    for detection in found:
        flag = f"hazard:{detection.kind.name}"
        if detection.kind.group == HAZARD and flag not in flags and flag not in added:
            dispatcher.utter_message(text=detection.kind.message)
            added.append(flag)
    return added


def risks(found: list[Detection]) -> list[Detection]:
    """The risks to a person among what was found, most urgent first."""
    return [d for d in found if d.kind.group == RISK]


def say_risks(dispatcher: CollectingDispatcher, found: list[Detection], flags: list[str]) -> list[str]:
    """The help numbers of every risk found (each kind's own message, once); the flags to record.

    Certain risks are recorded as ``safeguarding:<kind>``, possible ones as ``possible_risk:<kind>``.
    """
    added: list[str] = []
    said: set[str] = set()
    for detection in risks(found):
        prefix = "safeguarding" if detection.tier == CERTAIN else "possible_risk"
        flag = f"{prefix}:{detection.kind.name}"
        if flag in flags or flag in added:
            continue
        if detection.kind.message and detection.kind.message not in said:
            dispatcher.utter_message(text=detection.kind.message)
            said.add(detection.kind.message)
        added.append(flag)
    return added


def risk_check(detection: Detection, otherwise: str | None) -> RiskCheck:
    """The script state's pending direct question about a possible risk."""
    return {"kind": detection.kind.name, "question": detection.kind.question, "else": otherwise}
