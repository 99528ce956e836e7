"""The condition language staff write decision tables in."""

from __future__ import annotations

import pytest

from ooh.scripts.conditions import check_condition, holds, in_named_list


@pytest.mark.parametrize(
    ("condition", "facts", "expected"),
    [
        ({}, {}, True),
        ({"q_children": True}, {"q_children": True}, True),
        ({"q_children": True}, {"q_children": False}, False),
        ({"q_children": True}, {}, False),
        ({"q_problem": ["leak", "heating"]}, {"q_problem": "Heating"}, True),
        ({"q_problem": ["leak", "heating"]}, {"q_problem": "electrics"}, False),
        ({"address.tenure": {"not": ["tenant"]}}, {"address.tenure": "leaseholder"}, True),
        ({"address.tenure": {"not": ["tenant"]}}, {"address.tenure": "tenant"}, False),
        ({"details": {"contains": ["gas"]}}, {"details": "I can smell GAS in the hall"}, True),
        ({"details": {"contains": ["gas"]}}, {"details": "the garden gate"}, False),
        ({"q_agency": {"present": True}}, {"q_agency": "unknown"}, False),
        ({"any": [{"a": 1}, {"b": 2}]}, {"b": 2}, True),
        ({"all": [{"a": 1}, {"b": 2}]}, {"b": 2}, False),
    ],
)
def test_conditions(condition: dict, facts: dict, expected: bool) -> None:
    """Each operator decides the way the documentation says."""
    assert holds(condition, facts) is expected


def test_in_list_matches_names_despite_typos_and_word_order() -> None:
    """'do place' lists match how a caller actually says the agency's name."""
    entries = ["Enfield Children's Services Emergency Duty Team", "North Middlesex Hospital social work team"]
    assert in_named_list("children's services emergency duty team enfield", entries) == entries[0]
    assert in_named_list("North Middlesx Hospital social work team", entries) == entries[1]
    assert in_named_list("Example Lettings", entries) is None
    assert holds(
        {"q_agency": {"in_list": "do_place"}},
        {"q_agency": "north middlesex hospital social work team"},
        {"do_place": entries},
    )


def test_unknown_operator_is_reported_with_its_place() -> None:
    """A misspelt operator is caught when the data is checked, naming where it is."""
    problems = check_condition({"q_x": {"contians": ["a"]}}, "rules[2].when")
    assert problems and "rules[2].when.q_x" in problems[0] and "contians" in problems[0]
