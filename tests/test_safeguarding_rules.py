"""Safeguarding rules from data: explicit phrases and the classifier, each tested on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from ooh.orgs.errors import ConfigError
from ooh.safeguarding import CERTAIN, POSSIBLE, Safeguarding, risk_entities, scores_from_entities

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
        "this cold is killing me",
        "my mum's going to kill me when she sees the stains",
        "this is going to hurt my wallet",
        "the smoke alarm is beeping for a new battery",
        "my phone's dead",
    ],
)
def test_everyday_words_are_not_alarms(rules: Safeguarding, text: str) -> None:
    """Near misses don't switch a repair call into safeguarding."""
    assert rules.screen(text) == []


def test_a_confident_classifier_catches_what_no_phrase_covers(rules: Safeguarding) -> None:
    """A message no phrase covers is caught by a confident suicide_risk intent, not a weak one."""
    text = "everything feels pointless and heavy tonight"
    assert rules.detect(text, "housing_repairs", 0.9) is None
    assert rules.detect(text, "suicide_risk", 0.4) is None
    found = rules.detect(text, "suicide_risk", 0.7)
    assert found is not None and found.kind.option == "suicide_risk" and found.via == "classifier"


def test_the_model_scores_make_a_risk_possible_or_certain(rules: Safeguarding) -> None:
    """Between the kind's thresholds a risk is possible (numbers and a question), above them certain."""
    text = "everything feels pointless and heavy tonight"
    kind = rules.by_name["suicide"]
    assert rules.detect(text, scores={"suicide": kind.possible - 0.01}) is None
    possible = rules.detect(text, scores={"suicide": kind.possible})
    assert possible is not None and possible.tier == POSSIBLE
    certain = rules.detect(text, scores={"suicide": kind.certain})
    assert certain is not None and certain.tier == CERTAIN


def test_an_adult_at_risk_is_not_sent_to_childline(rules: Safeguarding) -> None:
    """Child and adult share the social services intent; the model's scores tell them apart."""
    text = "the lady upstairs needs help"
    found = rules.detect(text, "social_services_emergency", 0.95, {"vulnerable_adult": 0.3, "child_at_risk": 0.1})
    assert found is not None and found.kind.name == "vulnerable_adult"
    assert "Childline" not in found.kind.message and "Childline" in rules.by_name["child_at_risk"].message


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("there's a really strong smell of gas in my kitchen", "gas"),
        ("the socket by the sink is sparking", "electrics"),
        ("the carbon monoxide alarm keeps going off", "carbon_monoxide"),
        ("the bins round the back are on fire", "fire"),
        ("my neighbour's stuck in the lift and can't breathe properly", "trapped"),
    ],
)
def test_hazards_are_found_in_any_message(rules: Safeguarding, text: str, kind: str) -> None:
    """Hazards have their own safety advice; they are not risks to a person."""
    found = rules.hazards(text)
    assert [d.kind.name for d in found][:1] == [kind] and found[0].kind.message


def test_scores_travel_from_the_nlu_screen_as_entities() -> None:
    """The NLU screen's scores reach the actions as ``risk`` entities, and back."""
    entities = risk_entities({"suicide": 0.8, "gas": 0.01}, 0.05, "SafeguardingScreen")
    assert scores_from_entities([{"entity": "trade", "value": "plumber"}, *entities]) == {"suicide": 0.8}


def test_broken_rules_are_refused_naming_the_field(tmp_path: Path) -> None:
    """A bad pattern or unknown option stops the stack with the field named."""
    path = tmp_path / "safeguarding.yaml"
    path.write_text("kinds:\n  x:\n    option: nonsense\n    phrases: ['(unclosed']\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Safeguarding.from_file(path, {"suicide_risk"})
    assert "kinds.x.option" in str(caught.value) and "kinds.x.phrases[0]" in str(caught.value)


@pytest.mark.parametrize("answer", ["myself", "for myself", "my partner", "the kids", "he"])
def test_a_short_answer_is_not_a_risk_on_the_models_word_alone(rules: Safeguarding, answer: str) -> None:
    """Answers to "who is this about?" scored high on person risks; two words cannot carry one."""
    scores = {"suicide": 0.99, "domestic_abuse": 0.99, "child_at_risk": 0.99}
    assert [d for d in rules.screen(answer, scores=scores) if d.kind.group == "risk"] == []


def test_short_risks_are_still_caught_by_phrases_and_short_hazards_by_the_model(rules: Safeguarding) -> None:
    assert [d.kind.name for d in rules.screen("overdosed")] == ["suicide"]
    assert [d.kind.name for d in rules.screen("sparking", scores={"electrics": 0.99})] == ["electrics"]
    three = rules.screen("he hurts me", scores={"domestic_abuse": 0.99})
    assert [d.kind.name for d in three] == ["domestic_abuse"], "three words: the model counts again"
