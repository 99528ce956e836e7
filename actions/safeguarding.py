"""Safeguarding detection: classifier and explicit phrases together, from data.

A life at risk must never depend on one NLU score. Each kind in
``service_scripts/_common/safeguarding.yaml`` is detected when the classifier is confident of its
intent OR an explicit phrase matches; the phrases are checked first and on every message, in every
organisation and in the middle of any script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from actions.orgs.errors import ConfigError, format_problem


@dataclass(frozen=True)
class Kind:
    """One safeguarding risk and how the agent handles it."""

    name: str
    option: str
    message: str = ""
    intent: str | None = None
    confidence: float = 1.0
    phrases: tuple[re.Pattern[str], ...] = ()
    stay_in: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Detection:
    """A risk found in a message, and how it was found (``phrase`` or ``classifier``)."""

    kind: Kind
    via: str


class Safeguarding:
    """All safeguarding kinds, checked in file order (suicide first)."""

    def __init__(self, kinds: list[Kind]) -> None:
        self.kinds = kinds

    @classmethod
    def from_file(cls, path: Path, known_options: set[str] | None = None) -> Safeguarding:
        """Load and validate ``safeguarding.yaml``.

        Raises:
            ConfigError: naming the file and field of each problem (bad regex, unknown option...).
        """
        problems: list[str] = []
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError([format_problem(path, "", f"cannot be read: {exc}")]) from exc
        kinds: list[Kind] = []
        for name, spec in (raw.get("kinds") or {}).items():
            spec = spec or {}
            option = str(spec.get("option") or "")
            if not option or (known_options is not None and option not in known_options):
                problems.append(format_problem(path, f"kinds.{name}.option", f"'{option}' is not a Service Option"))
            patterns = []
            for index, phrase in enumerate(spec.get("phrases") or []):
                try:
                    patterns.append(re.compile(str(phrase), re.IGNORECASE))
                except re.error as exc:
                    problems.append(format_problem(path, f"kinds.{name}.phrases[{index}]", f"bad pattern: {exc}"))
            intent = spec.get("intent") or {}
            kinds.append(
                Kind(
                    name=str(name),
                    option=option,
                    message=str(spec.get("message") or ""),
                    intent=intent.get("name"),
                    confidence=float(intent.get("confidence", 1.0)),
                    phrases=tuple(patterns),
                    stay_in=frozenset(spec.get("stay_in") or []),
                )
            )
        if not kinds:
            problems.append(format_problem(path, "kinds", "no safeguarding kinds defined"))
        if problems:
            raise ConfigError(problems)
        return cls(kinds)

    def detect(self, text: str, intent: str | None = None, confidence: float = 0.0) -> Detection | None:
        """The first risk the message shows: explicit phrases win over the classifier."""
        return self.by_phrase(text) or self.by_classifier(intent, confidence)

    def by_phrase(self, text: str) -> Detection | None:
        """The first kind one of whose explicit phrases occurs in the text."""
        for kind in self.kinds:
            if any(p.search(text) for p in kind.phrases):
                return Detection(kind, "phrase")
        return None

    def by_classifier(self, intent: str | None, confidence: float) -> Detection | None:
        """The first kind whose intent the classifier predicted confidently enough."""
        for kind in self.kinds:
            if kind.intent and intent == kind.intent and confidence >= kind.confidence:
                return Detection(kind, "classifier")
        return None
