"""The one script engine: runs any organisation's script for any Service Option.

A script is data (a template from ``_scripts`` plus the organisation's settings for the option).
The engine is a pure state machine over a JSON-able ``state`` dict, so the Rasa form, the voice
gateway and the tests all drive it the same way and a conversation survives a server restart
(the state lives in a tracker slot)::

    run = ScriptRun.for_option(registry, org, "housing_repairs")
    state = run.new_state()
    prompt = run.prompt(state)                   # what to ask now (None when finished)
    state, reply = run.answer(state, "12 cedar rd", intent="inform")
    decision = run.decide(state)                 # outcome, priority, sub-category, signpost
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field
from typing import Any, TypedDict

from ooh.addresses.matcher import Address, AddressMatch, one_line
from ooh.contracts import Choice, Expect
from ooh.orgs.loader import Organisation, Registry
from ooh.orgs.models import Contact, OptionConfig, Provider, Question, Rule, ScriptDef
from ooh.scripts.conditions import holds
from ooh.scripts.validators import (
    VALIDATORS,
    choice_named,
    has_words,
    is_dont_know,
    normalise_phone,
    validate_free_text,
)

logger = logging.getLogger(__name__)

#: Attempts at a question before the engine takes what it has and moves on, flagged for the officer.
MAX_ATTEMPTS = 2
CLOSING_SLOTS = ("caller_name", "contact_number")

State = dict[str, Any]
"""A script run's state, saved in the ``script_state`` slot (plain JSON, so a restart loses nothing):
``po``, ``option``, ``answers``, ``attempts``, ``pending`` (an address awaiting confirmation),
``address``, ``flags``, ``risk_check`` (:class:`RiskCheck`) and ``halt`` (:class:`Halt`)."""


class Halt(TypedDict, total=False):
    """Why a script stops before its last question (``state["halt"]``)."""

    #: Start another option instead (a certain risk to a person found mid-script).
    switch_to: str
    #: The risk kind behind a switch or a hand-over, recorded as a flag.
    safeguarding: str
    #: Finish now with this outcome: ``transferred``, ``cancelled``, ``ruled_out``, ``signposted``.
    outcome: str
    #: Why, for the record (``asked_for_person``, ``resident_stopped``, ``out_of_area``...).
    reason: str
    #: What to tell the resident, when the outcome's own words do not fit.
    message: str
    #: The decision-table rule (its index) that settled the outcome before the last question.
    rule: int


RiskCheck = TypedDict("RiskCheck", {"kind": str, "question": str, "else": "str | None"})
"""A direct question about a possible risk, pending in ``state["risk_check"]``: the kind, its
question, and the option to start instead when the answer rules the risk out (``else``)."""


@dataclass
class Decision:
    """What the script decided: the outcome and what the resident and officer are told."""

    outcome: str
    priority: str | None = None
    sub_category: str | None = None
    message: str | None = None
    signpost: Contact | None = None
    placement: Provider | None = None
    notes: list[str] = field(default_factory=list)


def address_to_dict(address: Address) -> dict[str, Any]:
    """Serialise an address for the tracker state."""
    return {
        "uprn": address.uprn,
        "address": address.address,
        "postcode": address.postcode,
        "ward": address.ward,
        "borough": address.borough,
        "estate": address.estate,
        "tenure": address.tenure,
    }


def format_address(data: dict[str, Any]) -> str:
    """An address as one line, with its postcode."""
    return one_line(str(data["address"]), data.get("postcode"))


class ScriptRun:
    """One organisation's script for one Service Option."""

    def __init__(
        self, registry: Registry, org: Organisation, option_id: str, script: ScriptDef, config: OptionConfig
    ) -> None:
        self.registry = registry
        self.org = org
        self.option_id = option_id
        self.script = script
        self.config = config
        self.questions = self._merge_questions()

    @classmethod
    def for_option(cls, registry: Registry, org: Organisation, option_id: str) -> ScriptRun:
        """Build the run for an option the organisation takes."""
        config = org.options[option_id]
        return cls(registry, org, option_id, registry.scripts[config.script], config)

    def _merge_questions(self) -> list[Question]:
        questions = [q.copy() for q in self.script.questions]
        cut = next((i for i, q in enumerate(questions) if q.slot in CLOSING_SLOTS), len(questions))
        questions[cut:cut] = [q.copy() for q in self.config.extra_questions]
        for question in questions:
            if question.slot in self.config.ask:
                question.ask = self.config.ask[question.slot]
        return questions

    # ----------------------------------------------------------------- state
    def new_state(self) -> State:
        """A fresh state for this option."""
        return {
            "po": self.org.id,
            "option": self.option_id,
            "answers": {},
            "attempts": {},
            "pending": None,
            "address": None,
            "flags": [],
            "halt": None,
        }

    def facts(self, state: State) -> dict[str, Any]:
        """What conditions can test: answers, address facts, the option and sub-category."""
        facts: dict[str, Any] = dict(state["answers"])
        address = state.get("address") or {}
        facts["address.tenure"] = address.get("tenure")
        facts["address.status"] = address.get("status", "none")
        facts["address.estate"] = address.get("estate")
        facts["service_option"] = self.option_id
        facts["sub_category"] = self.config.sub_category
        return facts

    def current(self, state: State) -> Question | None:
        """The question being asked now, or ``None`` when the script has finished."""
        if state.get("halt"):
            return None
        facts = self.facts(state)
        for question in self.questions:
            if question.slot not in state["answers"] and holds(question.when, facts, self.config.lists):
                return question
        return None

    def prefill(self, state: State, text: str) -> State:
        """Answer from the opening message what it already says, so the resident is not asked again.

        Only what the words settle without doubt: a choice exactly one of whose words is named
        ("no hot water" -> heating), the description when the message describes (four words or
        more), and a phone number written in full. Everything else is asked as usual.
        """
        state = copy.deepcopy(state)
        if not has_words(text):
            return state
        for question in self.questions:
            facts = self.facts(state)
            if question.slot in state["answers"] or not holds(question.when, facts, self.config.lists):
                continue
            value: Any = None
            if question.type == "choice":
                value = choice_named(question, text)
            elif question.type == "free_text" and question.slot == "details" and len(text.split()) >= 4:
                value = validate_free_text(question, text, None).value
            elif question.type == "phone" and re.search(r"\d{5}", text.replace(" ", "")):
                value = normalise_phone(text)
            if value is not None:
                state["answers"][question.slot] = value
                state.setdefault("prefilled", []).append(question.slot)
        self._check_early_rules(state)
        return state

    def opening(self) -> str | None:
        """What to say before the first question (safety numbers come first for suicide calls)."""
        return self.config.opening or self.script.opening

    def prompt(self, state: State) -> str | None:
        """What the agent should say now to move the script on."""
        if state.get("risk_check"):
            # A possible risk to a person: one direct question before anything else.
            return str(state["risk_check"]["question"])
        pending = state.get("pending")
        if pending and pending.get("confirm"):
            return f"I have the address as {format_address(pending['confirm'])}. Is that right?"
        question = self.current(state)
        if question is None:
            return None
        if state["attempts"].get(question.slot) and question.reprompt:
            return question.reprompt
        return question.ask

    def expects(self, state: State) -> Expect | None:
        """What kind of answer the current prompt wants, for channels that need to know.

        A voice call listens for exactly these words (a yes/no grammar, digits, the choices), and a
        keypad can stand in for speech: choices are numbered in the order given here.
        """
        if state.get("risk_check"):
            return Expect(type="yes_no", slot="risk_check")
        pending = state.get("pending")
        if pending and pending.get("confirm"):
            return Expect(type="yes_no", slot="address_confirm")
        question = self.current(state)
        if question is None:
            return None
        choices = [
            Choice(value=key, label=choice.label, says=list(choice.says)) for key, choice in question.choices.items()
        ]
        return Expect(type=question.type, slot=question.slot, choices=choices if question.type == "choice" else [])

    # ---------------------------------------------------------------- answers
    def answer(self, state: State, text: str, intent: str | None = None) -> tuple[State, str | None]:
        """Apply the resident's answer to the current question.

        Returns:
            The new state and, when the answer was not accepted, what to tell the resident
            before asking again.
        """
        before = copy.deepcopy(state)
        state = copy.deepcopy(state)
        question = self.current(state)
        if question is None and not state.get("pending"):
            return state, None
        try:
            if state.get("pending", {}) and state["pending"].get("confirm"):
                reply = self._confirm_address(state, text, intent)
            elif question is not None and question.type == "address":
                reply = self._answer_address(state, question, text, intent)
            else:
                assert question is not None
                reply = self._answer_simple(state, question, text, intent)
        except Exception as error:  # noqa: BLE001 - an answer we cannot read is asked again, never silence
            logger.error("Answer to %s not understood: %s", question.slot if question else "?", type(error).__name__)
            return before, "Sorry, I didn't catch that."
        self._check_early_rules(state)
        return state, reply

    def _give_up(self, state: State, question: Question, raw: str) -> None:
        """Take what we have: the resident cannot answer, so act anyway and tell the officer."""
        state["answers"][question.slot] = "unknown"
        state["flags"].append(f"could_not_answer:{question.slot}")
        if raw.strip():
            state["answers"][f"{question.slot}_said"] = raw.strip()[:500]

    def _retry_or_give_up(self, state: State, question: Question, raw: str, problem: str) -> str | None:
        attempts = state["attempts"].get(question.slot, 0) + 1
        state["attempts"][question.slot] = attempts
        if attempts >= MAX_ATTEMPTS:
            self._give_up(state, question, raw)
            return "That's fine, I'll pass on what you've told me."
        return problem

    def _answer_simple(self, state: State, question: Question, text: str, intent: str | None) -> str | None:
        if not has_words(text):
            return self._retry_or_give_up(state, question, "", "Sorry, I didn't catch that.")
        if is_dont_know(text, intent):
            if question.essential and state["attempts"].get(question.slot, 0) == 0:
                state["attempts"][question.slot] = 1
                return "This helps the officer a lot. Even a rough answer is fine."
            self._give_up(state, question, "")
            return None
        result = VALIDATORS[question.type](question, text, intent)
        if result.ok:
            state["answers"][question.slot] = result.value
            state["flags"].extend(flag for flag in result.flags if flag not in state["flags"])
            return None
        return self._retry_or_give_up(state, question, text, result.problem or "Sorry, I didn't follow.")

    def _answer_address(self, state: State, question: Question, text: str, intent: str | None) -> str | None:
        if is_dont_know(text, intent) or not has_words(text):
            return self._address_not_found(state, question, text)
        partial = (state.get("pending") or {}).get("partial")
        query = f"{text} {partial}" if partial else text
        match: AddressMatch = self.org.addresses.match(query)
        state["pending"] = None
        if match.status == "matched":
            state["pending"] = {"confirm": address_to_dict(match.candidates[0])}
            return None
        if match.status == "out_of_area" and match.outside is not None:
            self._halt_out_of_area(state, query, match)
            return None
        if match.status == "ambiguous" and not partial:
            state["pending"] = {"partial": query}
            return "I found a few addresses there. What is the house or flat number?"
        return self._address_not_found(state, question, query)

    def _address_not_found(self, state: State, question: Question, text: str) -> str | None:
        attempts = state["attempts"].get(question.slot, 0) + 1
        state["attempts"][question.slot] = attempts
        if attempts >= MAX_ATTEMPTS:
            kept = " ".join(text.split())[:300]
            state["answers"]["address"] = kept or "unknown"
            state["address"] = {"address": kept or "unknown", "postcode": "", "status": "unverified"}
            state["flags"].append("address_unverified")
            state["pending"] = None
            return "I couldn't find that in our records, so I've noted it as you said it for the officer."
        return (
            "I couldn't find that address. Please tell me the house or flat number and the postcode, "
            "or the street name."
        )

    def _confirm_address(self, state: State, text: str, intent: str | None) -> str | None:
        candidate = state["pending"]["confirm"]
        verdict = VALIDATORS["yes_no"](self.questions[0], text, intent)
        if verdict.ok and verdict.value:
            candidate = dict(candidate, status="matched")
            state["address"] = candidate
            state["answers"]["address"] = format_address(candidate)
            state["pending"] = None
            return None
        if verdict.ok:
            state["pending"] = None
            state["attempts"]["address"] = state["attempts"].get("address", 0)
            return "Sorry about that. Please tell me the address again, with the postcode if you know it."
        return "Please say yes if that's the right address, or no if it isn't."

    def _halt_out_of_area(self, state: State, text: str, match: AddressMatch) -> None:
        outside = match.outside
        assert outside is not None
        others = [o for o in self.registry.organisations_for_borough(outside.borough) if o.id != self.org.id]
        taker = next((o for o in others if self.option_id in o.options), None)
        if taker is not None:
            phone = taker.profile.public_phone
            message = (
                f"That address is in {outside.borough}, which {self.org.profile.short_name} doesn't cover. "
                f"Please contact {taker.profile.name} on {phone}."
            )
        else:
            message = (
                f"That address is in {outside.borough}, which {self.org.profile.short_name} doesn't cover. "
                f"Please contact {outside.borough} Council directly; its out-of-hours number is on its website."
            )
        state["address"] = {
            "address": " ".join(text.split())[:300],
            "postcode": match.postcode or "",
            "status": "out_of_area",
            "borough": outside.borough,
        }
        state["halt"] = {"outcome": "signposted", "message": message, "reason": "out_of_area"}

    def _check_early_rules(self, state: State) -> None:
        if state.get("halt"):
            return
        facts = self.facts(state)
        for rule in self._rules():
            if rule.early and rule.outcome and holds(rule.when, facts, self.config.lists):
                state["halt"] = {"outcome": rule.outcome, "rule": self._rules().index(rule)}
                return

    # --------------------------------------------------------------- decision
    def _rules(self) -> list[Rule]:
        first = [rule for rule in self.script.rules if rule.before_organisation]
        rest = [rule for rule in self.script.rules if not rule.before_organisation]
        return [*first, *self.config.rules, *rest]

    def _contact(self, key: str | None) -> Contact | None:
        if not key:
            return None
        if key == "daytime_service":
            return self.org.profile.daytime_service
        return self.org.profile.contacts.get(key)

    def decide(self, state: State) -> Decision:
        """Decide the outcome from the answers, the organisation's table and the template's."""
        halt = state.get("halt")
        if halt and "rule" not in halt:
            return Decision(outcome=halt["outcome"], message=halt.get("message"), sub_category=self.config.sub_category)
        facts = self.facts(state)
        decision = Decision(outcome=self.script.default_outcome, sub_category=self.config.sub_category)
        decided = False
        for rule in self._rules():
            if not holds(rule.when, facts, self.config.lists):
                continue
            if rule.priority and decision.priority is None:
                decision.priority = rule.priority
            if rule.sub_category and decision.sub_category is None:
                decision.sub_category = rule.sub_category
            if rule.outcome and not decided:
                decided = True
                decision.outcome = rule.outcome
                decision.message = rule.message
                decision.signpost = self._contact(rule.signpost or self.config.signpost)
        if not decided:
            decision.signpost = self._contact(self.config.signpost)
        if decision.outcome == "placed":
            self._place(decision, state)
        if decision.outcome == "transferred" and decision.signpost is None:
            decision.signpost = self._contact(self.config.transfer_to)
        return decision

    def _place(self, decision: Decision, state: State) -> None:
        provider = next((p for p in self.config.providers if p.rooms_available > 0), None)
        if provider is None:
            decision.outcome = "referred"
            decision.notes.append("No emergency accommodation available on the provider list.")
            return
        decision.placement = provider
        decision.notes.append(
            f"Provisional booking with {provider.name} ({provider.phone}), {provider.address}: "
            "awaiting officer confirmation."
        )

    def summary(self, state: State) -> str:
        """The answers as short lines for the officer's email and the record."""
        lines = []
        for question in self.questions:
            value = state["answers"].get(question.slot)
            if value is None or question.slot in {"caller_name", "contact_number", "address"}:
                continue
            if isinstance(value, bool):
                value = "yes" if value else "no"
            elif question.type == "choice" and value in question.choices:
                value = question.choices[value].label
            label = re.sub(r"\s+", " ", question.ask).strip()
            lines.append(f"{label} {value}")
        return "\n".join(lines)
