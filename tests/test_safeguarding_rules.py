"""Safeguarding rules from data: explicit phrases and the classifier, each tested on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.orgs.errors import ConfigError
from actions.safeguarding import Safeguarding

RULES = Path(__file__).resolve().parents[1] / "service_scripts" / "_common" / "safeguarding.yaml"


@pytest.fixture(scope="module")
def rules() -> Safeguarding:
    """The shipped safeguarding rules."""
    return Safeguarding.from_file(RULES)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("i want to kill myself", "suicide"),
        ("Honestly I just want to end it all", "suicide"),
        ("i've been self harming again", "suicide"),
        ("my mate says he's better off dead", "suicide"),
        ("the kids next door have been left home alone all night", "child_at_risk"),
        ("i can hear the baby being hit through the wall", "child_at_risk"),
        ("my elderly neighbour has fallen and can't get up", "vulnerable_adult"),
        ("mums carer didn't turn up and she's not eaten", "vulnerable_adult"),
        ("my boyfriend punched me and won't let me leave", "domestic_abuse"),
        ("a man outside has got a knife", "threat_to_life"),
    ],
)
def test_unambiguous_phrases_are_caught_without_the_classifier(rules: Safeguarding, text: str, kind: str) -> None:
    """Explicit phrases need no NLU at all (intent None)."""
    found = rules.detect(text)
    assert found is not None and found.kind.name == kind and found.via == "phrase"


@pytest.mark.parametrize(
    "text",
    [
        "my boiler is killing me",
        "this noise is driving me mad",
        "the kids next door are playing football",
        "end of road",
    ],
)
def test_everyday_words_are_not_alarms(rules: Safeguarding, text: str) -> None:
    """Near misses don't switch a repair call into safeguarding."""
    assert rules.detect(text) is None


def test_a_confident_classifier_catches_what_no_phrase_covers(rules: Safeguarding) -> None:
    """The phrase "I can't do this anymore" has no listed phrase; the suicide_risk intent catches it."""
    text = "i can't do this anymore"
    assert rules.detect(text, "housing_repairs", 0.9) is None
    assert rules.detect(text, "suicide_risk", 0.4) is None
    found = rules.detect(text, "suicide_risk", 0.7)
    assert found is not None and found.kind.option == "suicide_risk" and found.via == "classifier"


def test_broken_rules_are_refused_naming_the_field(tmp_path: Path) -> None:
    """A bad pattern or unknown option stops the stack with the field named."""
    path = tmp_path / "safeguarding.yaml"
    path.write_text("kinds:\n  x:\n    option: nonsense\n    phrases: ['(unclosed']\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Safeguarding.from_file(path, {"suicide_risk"})
    assert "kinds.x.option" in str(caught.value) and "kinds.x.phrases[0]" in str(caught.value)
