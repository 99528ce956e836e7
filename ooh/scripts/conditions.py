"""Evaluate the small condition language used by scripts and decision tables.

Conditions are YAML mappings so council staff can write them::

    {q_children: true}                      equality (strings compare case-insensitively)
    {q_problem: [leak, heating]}            any of
    {address.tenure: {not: [tenant]}}       negation
    {q_referrer: {in_list: do_not_place}}   fuzzy match against a named list of the option
    {details: {contains: [gas, smell]}}     free text mentions any of these words
    {q_agency: {present: true}}             answered at all
    {any: [{...}, {...}]} / {all: [...]}    combinations
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rapidfuzz import fuzz

#: Similarity (0-100) above which a name counts as the same entry of a list (typos, word order).
LIST_MATCH_THRESHOLD = 85


def _norm(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _equals(actual: Any, expected: Any) -> bool:
    return _norm(actual) == _norm(expected)


def in_named_list(value: Any, entries: list[str]) -> str | None:
    """Return the list entry that a given name or agency matches, if any."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.lower()
    for entry in entries:
        if fuzz.token_set_ratio(text, entry.lower()) >= LIST_MATCH_THRESHOLD:
            return entry
    return None


def _contains(actual: Any, words: list[str]) -> bool:
    if not isinstance(actual, str):
        return False
    text = actual.lower()
    return any(re.search(rf"\b{re.escape(word.lower())}", text) for word in words)


def _match_operator(actual: Any, spec: Mapping[str, Any], lists: Mapping[str, list[str]]) -> bool:
    results = []
    for op, operand in spec.items():
        if op == "not":
            results.append(not _match_value(actual, operand, lists))
        elif op == "in_list":
            results.append(in_named_list(actual, lists.get(str(operand), [])) is not None)
        elif op == "contains":
            results.append(_contains(actual, operand if isinstance(operand, list) else [operand]))
        elif op == "present":
            answered = actual is not None and actual != "unknown"
            results.append(answered == bool(operand))
        else:
            raise ValueError(f"unknown operator '{op}'")
    return all(results)


def _match_value(actual: Any, expected: Any, lists: Mapping[str, list[str]]) -> bool:
    if isinstance(expected, Mapping):
        return _match_operator(actual, expected, lists)
    if isinstance(expected, list):
        return any(_equals(actual, item) for item in expected)
    return _equals(actual, expected)


def holds(
    condition: Mapping[str, Any] | None,
    facts: Mapping[str, Any],
    lists: Mapping[str, list[str]] | None = None,
) -> bool:
    """Whether a condition holds for the facts known so far (an empty condition always holds)."""
    if not condition:
        return True
    named = lists or {}
    for key, expected in condition.items():
        if key == "all":
            if not all(holds(part, facts, named) for part in expected):
                return False
        elif key == "any":
            if not any(holds(part, facts, named) for part in expected):
                return False
        elif not _match_value(facts.get(key), expected, named):
            return False
    return True


OPERATORS = {"not", "in_list", "contains", "present"}


def check_condition(condition: Mapping[str, Any], where: str) -> list[str]:
    """Static check of a condition: unknown operators are reported with where they are."""
    problems: list[str] = []
    for key, expected in condition.items():
        if key in {"all", "any"}:
            if not isinstance(expected, list):
                problems.append(f"{where}.{key}: must be a list of conditions")
                continue
            for index, part in enumerate(expected):
                problems.extend(check_condition(part, f"{where}.{key}[{index}]"))
        elif isinstance(expected, Mapping):
            for op in expected:
                if op not in OPERATORS:
                    problems.append(f"{where}.{key}: unknown operator '{op}' (use {sorted(OPERATORS)})")
    return problems
