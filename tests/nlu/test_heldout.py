"""The quick version of ``make eval`` that CI runs: held-out figures from the running agent's model.

The agent's own model (trained once per session) parses every held-out message over Rasa's HTTP
API and must stay at or above the CI floors (harness/eval_nlu.py ``FLOORS``: at least the issue's
targets, which are met, and above the TF-IDF baseline). Then every
held-out safeguarding message typed in the middle of a repairs or homelessness conversation is sent
to the running agent, which must switch to the safeguarding path.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from harness.eval_nlu import (
    EVAL,
    FLOORS,
    NLU_DATA,
    SCRIPTS,
    SafeguardingCase,
    Scores,
    baseline_classifier,
    evaluate,
    heldout_files,
    label_of,
    load_examples,
    load_safeguarding_cases,
    option_ids,
    score,
)
from harness.stack import Stack, http_json
from ooh.records.store import RecordStore
from ooh.safeguarding import Safeguarding
from tests.e2e.test_scripts import SAT_NIGHT, joined, sender

pytestmark = pytest.mark.e2e

CASES = load_safeguarding_cases(EVAL / "safeguarding.yml")
MID_SCRIPT = [case for case in CASES if case.context != "opening"]


@pytest.fixture(scope="module")
def figures(stack: Stack) -> tuple[Scores, Scores]:
    """(agent, baseline) scores on the held-out set."""

    @cache
    def parse(text: str) -> dict[str, Any]:
        return http_json(stack.api("/model/parse"), {"text": text})

    options = option_ids()
    heldout = load_examples(heldout_files())
    rules = Safeguarding.from_file(SCRIPTS / "_common" / "safeguarding.yaml", set(options))
    agent = evaluate("agent", parse, heldout, options, CASES, rules)
    classify = baseline_classifier(load_examples(sorted(NLU_DATA.rglob("*.yml"))))
    predicted = [label_of(p) for p in classify([e.text for e in heldout])]
    baseline = score("baseline", [e.label for e in heldout], predicted, options)
    return agent, baseline


def test_service_option_accuracy_holds_its_floor_and_keeps_up_with_the_baseline(figures: tuple[Scores, Scores]) -> None:
    agent, baseline = figures
    assert agent.option_accuracy >= FLOORS["option_accuracy"], agent.option_accuracy
    # The shipped pipeline must beat a plain TF-IDF + logistic regression trained on the same data.
    assert agent.option_accuracy > baseline.option_accuracy, (agent.option_accuracy, baseline.option_accuracy)


def test_out_of_scope_requests_are_recognised_not_forced_into_an_option(figures: tuple[Scores, Scores]) -> None:
    agent, _ = figures
    assert agent.oos_precision >= FLOORS["oos_precision"], agent.oos_precision
    assert agent.oos_recall >= FLOORS["oos_recall"], agent.oos_recall


def test_every_held_out_safeguarding_message_is_caught(figures: tuple[Scores, Scores]) -> None:
    agent, _ = figures
    assert agent.safeguarding["recall_combined"] == 1.0, agent.safeguarding["missed"]


def _start(stack: Stack, who: str, context: str) -> str:
    """Put a conversation in the middle of a repairs or homelessness script; return its po."""
    if context == "repairs":
        po = "peabody"
        stack.send(who, "my boiler has packed up and there's no heating", po=po, now=SAT_NIGHT)
        stack.send(who, "no heating at all", po=po, now=SAT_NIGHT)
    else:
        po = "enfield"
        stack.send(who, "we've lost our flat and have nowhere to go tonight", po=po, now=SAT_NIGHT)
        stack.send(who, "myself", po=po, now=SAT_NIGHT)
    assert stack.slots(who)["script_state"], "the script is under way"
    return po


@pytest.mark.parametrize("case", MID_SCRIPT, ids=[f"{c.context}-{c.kind}-{i}" for i, c in enumerate(MID_SCRIPT)])
def test_held_out_risk_typed_mid_script_switches_to_safeguarding(stack: Stack, case: SafeguardingCase) -> None:
    """The running agent gives emergency help at once and records the risk."""
    who = sender()
    po = _start(stack, who, case.context)
    replies = stack.send(who, case.text, po=po, now=SAT_NIGHT)
    assert "999" in joined(replies), replies
    records = RecordStore(stack.env["OOH_DATABASE_URL"]).for_conversation(who)
    recorded = {flag for record in records for flag in record.flags}
    state = stack.slots(who).get("script_state") or {}
    recorded |= set(state.get("flags") or [])
    assert any(flag.startswith("safeguarding:") for flag in recorded), (case.text, recorded)
