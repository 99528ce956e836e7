"""The safeguarding screen's multi-label model, kept apart from the rules.

Apart so that editing a phrase or a threshold does not retrain the agent's NLU model (this file is
one of its inputs; the rules are not).

One logistic regression per kind (risks and hazards) over word 1-2-grams, character 2-5-grams and
the pretrained sentence vector, trained on ``safeguarding/corpus*.yml`` (first and third person,
slang, typos, risks buried in other requests, hard look-alikes) plus ordinary requests from the
NLU data. No Rasa here: ``bot.components.SafeguardingScreen`` trains and runs it inside the NLU
pipeline, and ``tools/tune_safeguarding.py`` cross-validates it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

VECTOR_WEIGHT = 3.0
"""Scale of the unit-length sentence vector against the n-gram features. Five-fold cross-validation
on the corpus (``tools/tune_safeguarding.py --weight``, 2026-11-30; out-of-fold recall of suicide,
child at risk and threat to life at 2% false alarms on the corpus's look-alikes) favoured a lighter
vector: 65-79% at 3.0, 73-84% at 0.75, 71-74% with n-grams alone. But scored on the scripts' own
ordinary answers, 0.75 called "2 adults 1 child", "two adults and a baby" and "3 kids and me" a
child at risk and "myself or my family" a suicide risk, where 3.0 flagged no answer of three words
or more: the vector keeps a keyword from deciding alone. Answers to the agent's questions are the
commonest messages of all, so the weight stays 3.0."""
C = 4.0
"""Inverse regularisation of each kind's logistic regression (1 and 16 measured within a point or
two of it, either way, by the same cross-validation)."""

Embed = Callable[[list[str]], np.ndarray]
"""Sentence vectors for a list of texts, one row each (the pretrained encoder)."""

SAFE_NEGATIVE_INTENTS = frozenset(
    {
        "abandoned_vehicle", "cctv", "complaints", "data_protection", "estate_services", "freedom_of_information",
        "general_information", "graffiti", "hall_hire", "job_completion", "media_enquiry", "members_enquiry",
        "noise", "parking", "parks_open_spaces", "play_equipment", "recycling_containers", "registrars_emergency",
        "rubbish_collection", "street_cleansing", "street_lighting", "switchboard", "trading_standards", "travellers",
        "stray_dogs", "greet", "goodbye", "affirm", "deny", "thanks", "ask_human", "repeat", "stop", "bot_challenge",
        "dont_know", "check_reference", "out_of_scope", "inform",
    }
)  # fmt: skip
"""Intents whose training messages never describe a person at risk or a hazard: the model's
ordinary-request negatives (beside the corpus's own look-alikes). Intents that may (repairs with
sparking electrics, a lift with someone inside, homelessness after abuse) are left out, so they
cannot teach the model that a real risk is ordinary."""


@dataclass
class RiskModel:
    """One logistic regression per kind over n-grams and the sentence vector (multi-label).

    Built with scikit-learn, saved with the NLU model. ``weight`` scales the unit-length sentence
    vector against the n-gram features (as in the intent classifier).
    """

    labels: list[str]
    word: Any = None
    char: Any = None
    classifiers: dict[str, Any] = field(default_factory=dict)
    weight: float = VECTOR_WEIGHT

    def _features(self, texts: list[str], embed: Embed | None) -> Any:
        from scipy.sparse import csr_matrix, hstack

        parts = [self.word.transform(texts), self.char.transform(texts)]
        if embed is not None:
            parts.append(csr_matrix(np.asarray(embed(texts)) * self.weight))
        return hstack(parts).tocsr()

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[Sequence[str]],
        kinds: list[str],
        embed: Embed | None,
        c: float = C,
        weight: float = VECTOR_WEIGHT,
    ) -> RiskModel:
        """Train one classifier per kind (a text may carry several kinds, or none)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        model = cls(
            labels=list(kinds),
            word=TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True),
            char=TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
            weight=weight,
        )
        texts = list(texts)
        model.word.fit(texts)
        model.char.fit(texts)
        features = model._features(texts, embed)
        for kind in kinds:
            target = np.array([kind in row for row in labels], dtype=int)
            if target.sum() == 0:
                continue
            classifier = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
            classifier.fit(features, target)
            model.classifiers[kind] = classifier
        return model

    def predict(self, texts: list[str], embed: Embed | None) -> np.ndarray:
        """Probability per text (rows) and kind (columns, in ``labels`` order)."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        features = self._features(texts, embed)
        out = np.zeros((len(texts), len(self.labels)))
        for column, kind in enumerate(self.labels):
            classifier = self.classifiers.get(kind)
            if classifier is not None:
                out[:, column] = classifier.predict_proba(features)[:, 1]
        return out

    def scores(self, text: str, embed: Embed | None) -> dict[str, float]:
        """Each kind's score for one message, scored whole.

        Scoring each clause of a long message and keeping the highest was measured too
        (``tools/tune_safeguarding.py --clauses``): at the same false-alarm rate it caught fewer
        risks out of fold, so the model scores the whole message; the phrase rules search it all.
        """
        table = self.predict([text], embed)[0]
        return {kind: round(float(table[i]), 4) for i, kind in enumerate(self.labels)}


def load_corpus(path: Path) -> tuple[list[str], list[list[str]]]:
    """Texts and their kinds from a corpus file, or every ``*.yml`` in a folder (``kinds: []`` is a look-alike)."""
    files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
    texts: list[str] = []
    labels: list[list[str]] = []
    for file in files:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for item in raw.get("examples") or []:
            texts.append(str(item["text"]))
            labels.append([str(kind) for kind in item.get("kinds") or []])
    return texts, labels
