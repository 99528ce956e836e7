"""Completing a script: decide, record, refer and tell the resident the reference."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.agent.finishing import finish_call, result_slots, say_result
from actions.agent.form import run_for
from actions.agent.options import start_option
from ooh.runtime import get_runtime
from ooh.scripts.engine import Decision, Halt, ScriptRun, State

SAFETY_FLAGS = frozenset({"safeguarding", "possible_risk", "risk_ruled_out", "hazard"})
"""Flags that follow the resident into the next script when one script hands over to another."""


def _contact_answers(state: State) -> dict[str, Any]:
    answers = dict(state.get("answers") or {})
    for key in ("caller_name", "contact_number"):
        if answers.get(key) == "unknown":
            answers[key] = None
    return answers


def _outcome_message(run: ScriptRun, decision: Decision) -> str | None:
    """The resident's message: the rule's, plus the signpost, placement and hours where relevant."""
    parts = [decision.message] if decision.message else []
    if decision.outcome == "signposted" and decision.signpost is not None:
        signpost = decision.signpost
        if not decision.message:
            parts.append(f"The best people to help are {signpost.describe()}.")
        elif signpost.phone and signpost.phone not in decision.message:
            # Every signpost names its number and hours, even where the rule has its own wording.
            parts.append(f"You can contact {signpost.describe()}.")
    if decision.outcome == "placed" and decision.placement is not None:
        provider = decision.placement
        parts.append(
            f"I've made a provisional booking for tonight at {provider.name}, {provider.address} "
            f"(phone {provider.phone}). The on-call housing officer will confirm it and call you."
        )
    if decision.outcome == "transferred" and decision.signpost is not None and not decision.message:
        parts.append(f"I'm transferring you to {decision.signpost.describe()}.")
    return " ".join(parts) if parts else None


def _final_option(run: ScriptRun, decision: Decision) -> str:
    """A trade-specific canonical option (``housing_repairs/plumber``) where the organisation has one."""
    specific = f"{run.option_id}/{decision.sub_category}" if decision.sub_category else ""
    return specific if specific in run.org.options else run.option_id


class ActionCompleteScript(Action):
    """Runs after ``script_form`` finishes: the script's decision becomes a recorded action."""

    def name(self) -> str:
        """Action name used in the form-completion rule."""
        return "action_complete_script"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        """Decide, record, refer and reply; or switch script when safeguarding interrupted."""
        runtime = get_runtime()
        state: State | None = tracker.get_slot("script_state")
        run = run_for(state)
        if run is None or state is None:
            return []
        halt: Halt = state.get("halt") or {}
        events: list[EventType] = [SlotSet("script_state", None), SlotSet("script_answer", None)]
        if halt.get("outcome") == "cancelled":
            dispatcher.utter_message(
                text="OK, I've stopped and nothing has been reported. If you need us, just message again."
            )
            return [*events, SlotSet("call_outcome", None)]
        if halt.get("outcome") == "ruled_out":
            # The resident said no one is in danger: thank them, record the check, ask what they need.
            result = await finish_call(
                runtime,
                tracker,
                run.org,
                service_option="out_of_scope",
                outcome="resolved",
                message=(
                    "Thank you for telling me. If anyone is in danger later, please call 999. "
                    "If there's something else we can help with tonight, just tell me."
                ),
                answers={"details": (tracker.latest_message or {}).get("text") or ""},
                flags=list(state.get("flags") or []),
                check_duplicates=False,
            )
            say_result(dispatcher, result)
            return events + result_slots(result)
        if halt.get("switch_to"):
            # Keep what was already reported before switching: nothing is ever lost.
            if state.get("answers") and halt.get("safeguarding"):
                await self._record(runtime, tracker, run, state, partial=True)
            flags = [f for f in state.get("flags") or [] if f.split(":")[0] in SAFETY_FLAGS]
            if halt.get("safeguarding"):
                flags.append(f"safeguarding:{halt['safeguarding']}")
            flags = list(dict.fromkeys(flags))
            return events + await start_option(runtime, dispatcher, tracker, run.org, halt["switch_to"], flags=flags)
        result = await self._record(runtime, tracker, run, state, partial=False)
        say_result(dispatcher, result)
        return events + result_slots(result)

    async def _record(self, runtime: Any, tracker: Tracker, run: ScriptRun, state: State, *, partial: bool) -> Any:
        halt: Halt = state.get("halt") or {}
        if halt.get("outcome") == "transferred" or partial:
            decision = Decision(outcome="daytime" if partial else "transferred", sub_category=run.config.sub_category)
            if not partial:
                decision.message = (
                    "I'm passing you to a call handler now, with everything you've told me. "
                    "They will call you back on the number you gave, or you can call "
                    f"{run.org.profile.public_phone}."
                )
        else:
            decision = run.decide(state)
        flags = list(state.get("flags") or [])
        if partial:
            flags.append("interrupted_by_safeguarding")
            if halt.get("safeguarding"):
                # The switch is on record at once, not only when the safeguarding script ends.
                flags.append(f"safeguarding:{halt['safeguarding']}")
        summary = run.summary(state)
        extra = [summary] if summary else []
        extra += decision.notes
        return await finish_call(
            runtime,
            tracker,
            run.org,
            service_option=_final_option(run, decision),
            outcome=decision.outcome,
            message=_outcome_message(run, decision),
            priority=decision.priority,
            sub_category=decision.sub_category,
            answers=_contact_answers(state),
            address=state.get("address"),
            flags=flags,
            details_extra=extra,
            transfer_to=decision.signpost.phone if decision.signpost and decision.outcome == "transferred" else None,
        )
