"""CI's check on the newest blind set, through the running agent: figures only, never the messages.

The blind sets (``eval/blind/<date>/``) were written by someone who had not read the training data.
``harness/eval_blind.py`` scores them; here the same code runs against the session's stack, and CI
fails when a figure falls below its floor (``FLOORS`` there: what the agent reaches now, raised as
it improves; the issue's targets are ``TARGETS``). Assertion messages carry rates, not texts.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from harness.eval_blind import FLOORS, newest_set, run_diagnosis, run_safeguarding
from harness.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def blind(stack: Stack) -> dict[str, Any]:
    """The newest blind set scored through the running agent."""
    safeguarding = yaml.safe_load((newest_set("safeguarding") / "safeguarding.yml").read_text(encoding="utf-8"))
    diagnosis = yaml.safe_load((newest_set("diagnosis") / "diagnosis.yml").read_text(encoding="utf-8"))
    return {
        "safeguarding": run_safeguarding(stack, safeguarding["cases"]),
        "diagnosis": run_diagnosis(stack, diagnosis["cases"]),
    }


def test_risks_to_a_person_are_caught(blind: dict[str, Any]) -> None:
    """Risk recall (help numbers or the direct question) at or above the floor."""
    recall = blind["safeguarding"]["risk_recall"]
    assert recall >= FLOORS["risk_recall"], f"blind risk recall {recall:.1%}"


def test_hazards_get_their_safety_advice(blind: dict[str, Any]) -> None:
    """Hazard recall (gas, fire, CO, electrics, trapped) at or above the floor."""
    recall = blind["safeguarding"]["hazard_recall"]
    assert recall >= FLOORS["hazard_recall"], f"blind hazard recall {recall:.1%}"


def test_look_alikes_rarely_raise_an_alarm(blind: dict[str, Any]) -> None:
    """False alarms on look-alike messages at or below the ceiling."""
    rate = blind["safeguarding"]["false_alarm"]
    assert rate <= FLOORS["false_alarm_max"], f"blind false alarms {rate:.1%}"


def test_first_messages_reach_the_right_option(blind: dict[str, Any]) -> None:
    """First-turn diagnosis at or above the floor, and no further below the baseline than the floor allows.

    The target (above the TF-IDF baseline in the same run) is not met yet: on the 2026-11-30 set the
    agent and the baseline are level, so a change that puts the agent clearly below it fails.
    """
    diagnosis = blind["diagnosis"]
    assert diagnosis["accuracy"] >= FLOORS["diagnosis_accuracy"], f"blind diagnosis {diagnosis['accuracy']:.1%}"
    gap = diagnosis["baseline_accuracy"] - diagnosis["accuracy"]
    assert gap <= FLOORS["below_baseline_max"], (
        f"agent {diagnosis['accuracy']:.1%} vs baseline {diagnosis['baseline_accuracy']:.1%}"
    )
