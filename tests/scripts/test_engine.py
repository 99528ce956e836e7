"""The script engine on real organisation data, without Rasa: questions, conditions, decisions."""

from __future__ import annotations

from collections.abc import Callable

from ooh.contracts import Expect
from ooh.orgs.loader import Registry
from ooh.scripts.engine import ScriptRun, State


def script(registry: Registry, po: str, option: str) -> ScriptRun:
    """A fresh run of one organisation's script for one option."""
    org = registry.get(po)
    assert org is not None, po
    return ScriptRun.for_option(registry, org, option)


def answer_all(run: ScriptRun, state: State, *answers: str) -> State:
    """Answer the questions in turn; every answer must be accepted."""
    for text in answers:
        state, reply = run.answer(state, text)
        assert reply is None, f"{text!r} was not accepted: {reply}"
    return state


def test_serious_leak_is_an_emergency_for_the_plumber(
    registry: Registry, tenant_address: dict[str, dict[str, str]]
) -> None:
    run = script(registry, "enfield", "housing_repairs")
    state = answer_all(run, run.new_state(), "a leak", tenant_address["enfield"]["query"])
    assert run.prompt(state).startswith("I have the address as")  # type: ignore[union-attr]
    state = answer_all(run, state, "yes")
    assert "ceiling or near electrics" in (run.prompt(state) or ""), "the leak question follows a leak"
    state = answer_all(run, state, "yes", "no", "through the kitchen light", "Amina", "07700 900123")
    assert run.prompt(state) is None
    decision = run.decide(state)
    assert (decision.outcome, decision.priority, decision.sub_category) == ("referred", "emergency", "plumber")
    assert state["answers"]["contact_number"] == "07700900123"


def test_questions_that_do_not_apply_are_not_asked(
    registry: Registry, any_address: Callable[..., dict[str, str]]
) -> None:
    run = script(registry, "peabody", "lift_repairs")
    state = answer_all(run, run.new_state(), "yes", any_address("peabody")["query"], "yes")
    assert "only lift" not in (run.prompt(state) or ""), "nobody asks about other lifts when someone is trapped"
    assert run.decide(answer_all(run, state, "stuck between floors", "Sam", "07700 900456")).outcome == "referred"


def test_gas_is_signposted_at_once_before_any_other_question(registry: Registry) -> None:
    run = script(registry, "enfield", "housing_repairs")
    state = answer_all(run, run.new_state(), "I can smell gas")
    assert run.prompt(state) is None, "no more questions"
    decision = run.decide(state)
    assert decision.outcome == "signposted" and "0800 111 999" in (decision.message or "")


def test_an_address_not_found_twice_is_kept_as_said_and_flagged(registry: Registry) -> None:
    run = script(registry, "haringey", "graffiti")
    state = run.new_state()
    while run.current(state) is not None and run.current(state).type != "address":  # type: ignore[union-attr]
        state, _ = run.answer(state, "yes")
    state, first = run.answer(state, "the flats behind the big tesco")
    assert first and "couldn't find" in first
    state, second = run.answer(state, "the flats behind the big tesco")
    assert second and "noted it as you said it" in second
    assert state["address"]["status"] == "unverified" and "address_unverified" in state["flags"]


def test_a_resident_who_cannot_answer_still_gets_action(
    registry: Registry, any_address: Callable[..., dict[str, str]]
) -> None:
    run = script(registry, "ealing", "stray_dogs")
    state = run.new_state()
    for _ in range(12):
        question = run.current(state)
        if question is None:
            break
        text = any_address("ealing")["query"] if question.type == "address" else "I don't know"
        state, _ = run.answer(state, text)
        if state.get("pending"):
            state, _ = run.answer(state, "yes")
    assert run.prompt(state) is None, "the script finishes"
    assert any(flag.startswith("could_not_answer:") for flag in state["flags"])
    assert run.decide(state).outcome in {"referred", "daytime"}


def test_the_opening_message_answers_what_it_already_says(registry: Registry) -> None:
    """A repair described in the first message is not asked again: the next question is where."""
    run = script(registry, "enfield", "housing_repairs")
    state = run.prefill(run.new_state(), "the toilet is blocked and overflowing onto the bathroom floor")
    assert state["answers"]["q_problem"] == "drainage"
    assert "overflowing" in state["answers"]["details"]
    assert "address" in (run.prompt(state) or "")


def test_an_opening_that_names_two_problems_is_asked_which(registry: Registry) -> None:
    """Only what the words settle without doubt is filled: two named problems are still asked."""
    run = script(registry, "enfield", "housing_repairs")
    state = run.prefill(run.new_state(), "no heating and the toilet is blocked")
    assert "q_problem" not in state["answers"]
    assert (run.prompt(state) or "").startswith("What is the repair problem")


def test_a_short_opening_is_not_taken_as_the_description(registry: Registry) -> None:
    """A one-word opening says which option, not what is happening: the description is still asked."""
    run = script(registry, "enfield", "noise")
    state = run.prefill(run.new_state(), "noise")
    assert "details" not in state["answers"]


def test_a_possible_risk_asks_one_direct_question_first(registry: Registry) -> None:
    """A pending risk check is the prompt, and channels are told to expect yes or no."""
    run = script(registry, "enfield", "noise")
    state = {**run.new_state(), "risk_check": {"kind": "suicide", "question": "Is someone in danger?", "else": None}}
    assert run.prompt(state) == "Is someone in danger?"
    assert run.expects(state) == Expect(type="yes_no", slot="risk_check")


def test_a_place_named_beside_the_problem_does_not_decide_it(registry: Registry) -> None:
    """Water pouring through a ceiling names a leak and a place: it is not a structural repair."""
    run = script(registry, "enfield", "housing_repairs")
    state = run.prefill(run.new_state(), "water is pouring through my kitchen ceiling")
    assert state["answers"].get("q_problem") != "structure"
