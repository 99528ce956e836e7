"""Safeguarding and hazard detection: phrase rules and a multi-label model together, from data.

A life at risk must never depend on one intent score. Detection is its own step, separate from
choosing a Service Option, and runs on every message in every state (first message, any answer
to any question, any script, any organisation):

- **Rules**: each kind in ``service_scripts/_common/safeguarding.yaml`` lists explicit phrases
  (regular expressions). A phrase match is *certain*.
- **Model** (:class:`ooh.risk_model.RiskModel`): one logistic regression per kind over character and word n-grams
  and the pretrained sentence vector, trained on ``safeguarding/corpus*.yml`` plus ordinary requests.
  Above the kind's ``certain`` threshold the risk is certain; above ``possible`` it is possible:
  the resident gets the help numbers and one direct question before anything else. Thresholds are
  chosen by cross-validation on the training data (``tools/tune_safeguarding.py``): ``possible``
  lets through 2% of the corpus's hard look-alikes per kind, because a false alarm costs a
  sentence and a miss can cost a life.

Two groups of kinds: ``risks`` (a person at risk: suicide, child, vulnerable adult, domestic
abuse, threat to life), which switch to the risk's own escalation, and ``hazards`` (gas, fire,
carbon monoxide, electrics, a person trapped), whose safety advice is given at once before the
conversation carries on. This module has no Rasa and no web framework: the NLU pipeline, the
actions and the evaluation all call it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ooh.orgs.errors import ConfigError, format_problem

CERTAIN = "certain"
POSSIBLE = "possible"
RISK = "risk"
HAZARD = "hazard"
DEFAULT_QUESTION = "Is someone in danger right now?"
"""The one direct question asked after the help numbers when a risk is possible, not certain."""


MIN_MODEL_WORDS = 3
"""Fewer words than this, and the model alone never claims a risk to a person. Scored on the
scripts' own ordinary answers (2026-11-30, 154 choice labels and replies such as "myself" or "my
partner"), short ones like "myself", "for myself", "he", "my partner" and "the kids" came out as a
possible suicide, domestic abuse or child at risk, and a direct question about suicide to "who is
this for? myself" derails a homeless family's call. Phrase rules still catch short risks
("overdosed", "kill myself"), and hazards ("gas", "sparking") still count from the model."""
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Kind:
    """One safeguarding risk or hazard, and how the agent handles it."""

    name: str
    option: str | None
    group: str = RISK
    message: str = ""
    question: str = DEFAULT_QUESTION
    intent: str | None = None
    confidence: float = 1.0
    phrases: tuple[re.Pattern[str], ...] = ()
    stay_in: frozenset[str] = field(default_factory=frozenset)
    possible: float = 0.5
    certain: float = 0.9
    #: Plain sentences callers say for this kind: a phone call listens for them at every question.
    says: tuple[str, ...] = ()


@dataclass(frozen=True)
class Detection:
    """A risk found in a message: how (``phrase``, ``model``, ``classifier``) and how sure."""

    kind: Kind
    via: str
    tier: str = CERTAIN
    score: float = 1.0


class Safeguarding:
    """All kinds, risks before hazards, checked in file order (suicide first)."""

    def __init__(self, kinds: list[Kind]) -> None:
        self.kinds = kinds
        self.by_name = {kind.name: kind for kind in kinds}

    @property
    def risks(self) -> list[Kind]:
        """The kinds that are a person at risk (they switch the conversation)."""
        return [kind for kind in self.kinds if kind.group == RISK]

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
        for group, section in ((RISK, "kinds"), (HAZARD, "hazards")):
            for name, spec in (raw.get(section) or {}).items():
                kinds.append(cls._kind(path, section, group, str(name), spec or {}, known_options, problems))
        if not any(kind.group == RISK for kind in kinds):
            problems.append(format_problem(path, "kinds", "no safeguarding kinds defined"))
        if problems:
            raise ConfigError(problems)
        return cls(kinds)

    @staticmethod
    def _kind(
        path: Path,
        section: str,
        group: str,
        name: str,
        spec: dict[str, Any],
        known_options: set[str] | None,
        problems: list[str],
    ) -> Kind:
        option = str(spec.get("option") or "") or None
        if group == RISK and (not option or (known_options is not None and option not in known_options)):
            problems.append(format_problem(path, f"{section}.{name}.option", f"'{option}' is not a Service Option"))
        if group == HAZARD and not spec.get("message"):
            problems.append(format_problem(path, f"{section}.{name}.message", "a hazard needs its safety advice"))
        patterns = []
        for index, phrase in enumerate(spec.get("phrases") or []):
            try:
                patterns.append(re.compile(str(phrase), re.IGNORECASE))
            except re.error as exc:
                problems.append(format_problem(path, f"{section}.{name}.phrases[{index}]", f"bad pattern: {exc}"))
        intent = spec.get("intent") or {}
        model = spec.get("model") or {}
        possible, certain = float(model.get("possible", 0.5)), float(model.get("certain", 0.9))
        if not 0 < possible <= certain <= 1:
            problems.append(format_problem(path, f"{section}.{name}.model", "need 0 < possible <= certain <= 1"))
        return Kind(
            name=name,
            option=option,
            group=group,
            message=str(spec.get("message") or ""),
            question=str(spec.get("question") or DEFAULT_QUESTION),
            intent=intent.get("name"),
            confidence=float(intent.get("confidence", 1.0)),
            phrases=tuple(patterns),
            stay_in=frozenset(spec.get("stay_in") or []),
            possible=possible,
            certain=certain,
            says=tuple(str(sentence) for sentence in spec.get("says") or []),
        )

    # -- detection ---------------------------------------------------------------------------------

    def screen(
        self,
        text: str,
        intent: str | None = None,
        confidence: float = 0.0,
        scores: dict[str, float] | None = None,
    ) -> list[Detection]:
        """Every kind the message shows, most urgent first: certain risks, possible risks, hazards.

        Among certain risks an explicit phrase comes first: it names the risk more surely than a
        score does ("he's getting his knife" is a threat to life before it is anything else).

        Args:
            text: what the resident wrote or said.
            intent: the intent classifier's best intent (a confident ``suicide_risk`` counts).
            confidence: its confidence.
            scores: the model's score per kind for this message (from :meth:`RiskModel.scores`),
                when the NLU pipeline has computed them.
        """
        scores = scores or {}
        found: dict[str, Detection] = {}
        words = len(_WORD.findall(text))
        for kind in self.kinds:
            if any(p.search(text) for p in kind.phrases):
                found[kind.name] = Detection(kind, "phrase")
                continue
            if kind.group == RISK and words < MIN_MODEL_WORDS:
                continue  # "myself", "my partner", "the kids": answers, not risks (phrases still count)
            score = float(scores.get(kind.name, 0.0))
            if score >= kind.certain:
                found[kind.name] = Detection(kind, "model", CERTAIN, score)
            elif score >= kind.possible:
                found[kind.name] = Detection(kind, "model", POSSIBLE, score)
        by_intent = self.by_classifier(intent, confidence, scores)
        if by_intent and by_intent.kind.name not in found:
            found[by_intent.kind.name] = by_intent
        order = {kind.name: index for index, kind in enumerate(self.kinds)}
        return sorted(
            found.values(),
            key=lambda d: (d.kind.group != RISK, d.tier != CERTAIN, d.via != "phrase", order[d.kind.name]),
        )

    def detect(
        self, text: str, intent: str | None = None, confidence: float = 0.0, scores: dict[str, float] | None = None
    ) -> Detection | None:
        """The most urgent risk to a person in the message (certain or possible), if any."""
        risks = [d for d in self.screen(text, intent, confidence, scores) if d.kind.group == RISK]
        return risks[0] if risks else None

    def hazards(self, text: str, scores: dict[str, float] | None = None) -> list[Detection]:
        """The hazards (gas, fire...) the message shows."""
        return [d for d in self.screen(text, scores=scores) if d.kind.group == HAZARD]

    def by_phrase(self, text: str) -> Detection | None:
        """The first kind one of whose explicit phrases occurs in the text."""
        for kind in self.kinds:
            if any(p.search(text) for p in kind.phrases):
                return Detection(kind, "phrase")
        return None

    def by_classifier(
        self, intent: str | None, confidence: float, scores: dict[str, float] | None = None
    ) -> Detection | None:
        """A risk whose intent the classifier predicted confidently enough.

        Several kinds share one intent (a child and a vulnerable adult both go to social services):
        the model's scores pick between them, so an adult is not sent to Childline.
        """
        matching = [k for k in self.kinds if k.intent and intent == k.intent and confidence >= k.confidence]
        if not matching:
            return None
        scores = scores or {}
        best = max(matching, key=lambda k: (scores.get(k.name, 0.0), -matching.index(k)))
        return Detection(best, "classifier")


SAFEGUARDING_INTENT = "safeguarding"
"""The intent the NLU screen gives a conversational message ("stop", "yes") that shows a risk."""

RISK_ENTITY = "risk"
"""The NLU entity that carries one kind's model score to the actions (the typed contract)."""


def risk_entities(scores: dict[str, float], above: float, extractor: str) -> list[dict[str, Any]]:
    """The model's scores as NLU entities, one per kind scoring above ``above``."""
    return [
        {"entity": RISK_ENTITY, "value": kind, "confidence_entity": score, "start": 0, "end": 0, "extractor": extractor}
        for kind, score in scores.items()
        if score >= above
    ]


def scores_from_entities(entities: list[dict[str, Any]] | None) -> dict[str, float]:
    """The model's scores per kind from a parsed message's ``risk`` entities."""
    found: dict[str, float] = {}
    for entity in entities or []:
        if entity.get("entity") == RISK_ENTITY and entity.get("value"):
            kind = str(entity["value"])
            found[kind] = max(found.get(kind, 0.0), float(entity.get("confidence_entity") or 0.0))
    return found
