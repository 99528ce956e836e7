"""Measure how well the agent understands residents, on a held-out set it never trains on.

``make eval`` trains the NLU pipeline of ``bot/config.yml`` on ``nlu_data/`` (cached by a hash of
its inputs, like the agent's model), then scores ``eval/heldout*.yml`` and ``eval/safeguarding.yml``
and, in the same run, a TF-IDF + logistic regression baseline trained on the same data. It prints
the figures and writes ``eval/results/results.json``, ``results.md`` and ``confusion_matrix.png``.

``--compare`` also trains and scores every pipeline in ``eval/pipelines/`` and records each one's
training time. ``--check`` exits 1 when a figure is below the thresholds the project commits to.

How predictions count: the classifier's ``nlu_fallback`` (too unsure) counts as out of scope,
because the agent then asks the resident to rephrase and signposts instead of forcing the message
into an option; for a message that belongs to an option it is simply wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from ooh.cli import BOT, MODELS, NLU_CODE, NLU_DATA, PROJECT_ROOT, inputs_hash, rasa_train
from ooh.safeguarding import Safeguarding

EVAL = PROJECT_ROOT / "eval"
RESULTS = EVAL / "results"
SCRIPTS = PROJECT_ROOT / "service_scripts"
DEFAULT_CONFIG = BOT / "config.yml"
OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
TARGETS = {"option_accuracy": 0.95, "oos_precision": 0.90, "oos_recall": 0.90, "safeguarding_recall": 1.0}
"""What the project aims for (issue 3). ``make eval`` reports every target missed."""
FLOORS = {"option_accuracy": 0.95, "oos_precision": 0.93, "oos_recall": 0.90, "safeguarding_recall": 1.0}
"""What CI enforces (``make eval ARGS=--check`` and tests/nlu): never below the targets now that they
are met, and out-of-scope precision held near its last measured figure (96%), so a change that makes
understanding worse fails. Safeguarding recall is never relaxed. Raise these whenever the figures
improve (see README, "Measurements")."""

Parse = Callable[[str], dict[str, Any]]


@dataclass
class Example:
    """One labelled message."""

    text: str
    label: str
    source: str = ""


@dataclass
class SafeguardingCase:
    """A held-out message that must switch the agent to the safeguarding path."""

    text: str
    kind: str
    context: str = "opening"


@dataclass
class Scores:
    """Figures for one classifier on the held-out set."""

    name: str
    option_accuracy: float
    overall_accuracy: float
    oos_precision: float
    oos_recall: float
    per_option: dict[str, dict[str, float]]
    predictions: list[str] = field(repr=False)
    train_seconds: float | None = None
    safeguarding: dict[str, Any] = field(default_factory=dict)


def option_ids() -> list[str]:
    """Canonical Service Option ids that are intents (``housing_repairs/<trade>`` is an entity)."""
    data = yaml.safe_load((SCRIPTS / "_common" / "service_options.yaml").read_text())
    return sorted(o for o in data["service_options"] if "/" not in o)


def load_examples(paths: list[Path]) -> list[Example]:
    """Intent examples from Rasa NLU YAML files, entity annotations removed."""
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for path in paths:
        data = load_data(str(path))
        examples += [Example(m.get("text"), m.get("intent"), path.name) for m in data.intent_examples]
    return examples


def heldout_files() -> list[Path]:
    """Every held-out set (``eval/heldout*.yml``), scored together.

    A second set was written later because the first one's mistakes had been read while tuning; its
    figures are reported on their own too, as the fresher measure.
    """
    return sorted(EVAL.glob("heldout*.yml"))


def accuracy_by_set(heldout: list[Example], predictions: list[str], options: list[str]) -> dict[str, dict[str, float]]:
    """Option accuracy and size of each held-out file, so a tuned-on set cannot hide behind a fresh one."""
    by_set: dict[str, dict[str, float]] = {}
    for source in sorted({e.source for e in heldout}):
        pairs = [(e.label, p) for e, p in zip(heldout, predictions, strict=True) if e.source == source]
        on_option = [(g, p) for g, p in pairs if g in options]
        by_set[source] = {
            "messages": len(pairs),
            "option_accuracy": sum(g == p for g, p in on_option) / len(on_option) if on_option else 0.0,
        }
    return by_set


NEAR = 0.6
"""Word-set (Jaccard) similarity at which a training message counts as a copy of a held-out one."""


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z']+", text.lower()))


def near_duplicates(train: list[Example], heldout: list[Example]) -> list[tuple[str, str, float]]:
    """Held-out messages that a training message nearly copies: (held-out, training, similarity).

    An exact-match check misses "rubbish hasn't been picked up for two weeks" against "our rubbish
    hasn't been picked up for two weeks"; such pairs would inflate the held-out figures.
    """
    held = [(e.text, _words(e.text)) for e in heldout]
    found = []
    for example in train:
        words = _words(example.text)
        if not words:
            continue
        for text, other in held:
            similarity = len(words & other) / len(words | other)
            if similarity >= NEAR:
                found.append((text, example.text, similarity))
    return found


def load_safeguarding_cases(path: Path) -> list[SafeguardingCase]:
    """The held-out safeguarding messages."""
    raw = yaml.safe_load(path.read_text())
    return [SafeguardingCase(**case) for case in raw["cases"]]


def label_of(intent: str | None) -> str:
    """What a prediction means for the resident (see the module docstring)."""
    if intent in (None, FALLBACK):
        return OUT_OF_SCOPE
    return intent


def score(name: str, gold: list[str], predicted: list[str], options: list[str]) -> Scores:
    """Option accuracy, per-option precision/recall/F1 and out-of-scope precision/recall."""
    pairs = list(zip(gold, predicted, strict=True))
    on_option = [(g, p) for g, p in pairs if g in options]
    per_option = {}
    for option in options:
        tp = sum(1 for g, p in pairs if g == option and p == option)
        predicted_n = sum(1 for _, p in pairs if p == option)
        gold_n = sum(1 for g, _ in pairs if g == option)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / gold_n if gold_n else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_option[option] = {"precision": precision, "recall": recall, "f1": f1, "support": gold_n}
    oos_tp = sum(1 for g, p in pairs if g == OUT_OF_SCOPE and p == OUT_OF_SCOPE)
    oos_pred = sum(1 for _, p in pairs if p == OUT_OF_SCOPE)
    oos_gold = sum(1 for g, _ in pairs if g == OUT_OF_SCOPE)
    return Scores(
        name=name,
        option_accuracy=sum(g == p for g, p in on_option) / len(on_option) if on_option else 0.0,
        overall_accuracy=sum(g == p for g, p in pairs) / len(pairs) if pairs else 0.0,
        oos_precision=oos_tp / oos_pred if oos_pred else 0.0,
        oos_recall=oos_tp / oos_gold if oos_gold else 0.0,
        per_option=per_option,
        predictions=predicted,
    )


def safeguarding_recall(cases: list[SafeguardingCase], parse: Parse, rules: Safeguarding) -> dict[str, Any]:
    """Share of risk messages caught: combined (what the agent does), by classifier, by phrase."""
    caught = {"combined": 0, "classifier": 0, "phrases": 0, "right_kind": 0}
    missed = []
    for case in cases:
        intent = parse(case.text).get("intent") or {}
        name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
        by_phrase = rules.by_phrase(case.text)
        by_classifier = rules.by_classifier(name, confidence)
        found = by_phrase or by_classifier
        caught["phrases"] += by_phrase is not None
        caught["classifier"] += by_classifier is not None
        caught["combined"] += found is not None
        caught["right_kind"] += found is not None and found.kind.name == case.kind
        if found is None:
            missed.append(case.text)
    total = len(cases) or 1
    figures: dict[str, Any] = {f"recall_{k}": v / total for k, v in caught.items() if k != "right_kind"}
    figures["kind_accuracy"] = caught["right_kind"] / total
    figures["cases"] = len(cases)
    figures["missed"] = missed
    return figures


def baseline_classifier(train: list[Example]) -> Callable[[list[str]], list[str]]:
    """TF-IDF (word and character n-grams) + logistic regression, trained on the same examples."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    model = make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True),
        ),
        LogisticRegression(max_iter=2000, C=10.0),
    )
    model.fit([e.text for e in train], [e.label for e in train])
    return lambda texts: [str(p) for p in model.predict(texts)]


def nlu_model(config: Path) -> tuple[Path, float | None]:
    """An NLU-only model for a pipeline, trained only when its inputs changed; (path, seconds).

    The shipped pipeline is scored with the agent's own model (the one ``make run`` serves and the
    tests use), so its figures are the agent's and it is trained once, not twice.
    """
    if config == DEFAULT_CONFIG:
        from ooh.cli import model_path, train

        if model_path().exists():
            return model_path(), None
        started = time.perf_counter()
        return train(), time.perf_counter() - started
    target = MODELS / f"nlu-{config.stem}-{inputs_hash([config, *NLU_CODE, NLU_DATA])}.tar.gz"
    if target.exists():
        return target, None
    MODELS.mkdir(exist_ok=True)
    if "SpacyNLP" in config.read_text():
        _blank_spacy_model()
    print(f"Training NLU pipeline {config.relative_to(PROJECT_ROOT)} ...", flush=True)
    started = time.perf_counter()
    rasa_train(["nlu", "--config", str(config), "--nlu", str(NLU_DATA)], target)
    seconds = time.perf_counter() - started
    (target.with_suffix(".seconds")).write_text(f"{seconds:.0f}\n")
    return target, seconds


def _blank_spacy_model() -> None:
    """The blank English spaCy pipeline the spaCy-tokeniser candidate loads from ``models/``."""
    import spacy

    target = MODELS / "spacy-blank-en"
    if not target.exists():
        spacy.blank("en").to_disk(target)


def local_parser(model: Path) -> Parse:
    """Parse messages in-process with a trained model.

    Rasa's structured logs are set to warnings first: unconfigured, they print every parsed message
    with its prediction at debug level, i.e. the whole held-out set on stdout.
    """
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))
    loop = asyncio.new_event_loop()
    return lambda text: loop.run_until_complete(agent.parse_message(text))


def evaluate(
    name: str,
    parse: Parse,
    heldout: list[Example],
    options: list[str],
    cases: list[SafeguardingCase],
    rules: Safeguarding,
) -> Scores:
    """Score one parser on the held-out set and the safeguarding cases."""
    predicted = [label_of((parse(e.text).get("intent") or {}).get("name")) for e in heldout]
    scores = score(name, [e.label for e in heldout], predicted, options)
    scores.safeguarding = safeguarding_recall(cases, parse, rules)
    return scores


def failures(scores: Scores, baseline: Scores | None, limits: dict[str, float]) -> list[str]:
    """The limits (``TARGETS`` or ``FLOORS``) a result misses; empty when it meets them all."""
    problems = [
        f"{metric} {getattr(scores, metric):.3f} < {limit}"
        for metric, limit in limits.items()
        if metric != "safeguarding_recall" and getattr(scores, metric) < limit
    ]
    recall = scores.safeguarding.get("recall_combined", 0.0)
    if recall < limits["safeguarding_recall"]:
        problems.append(f"safeguarding recall {recall:.3f} < 1.0; missed: {scores.safeguarding['missed']}")
    if baseline is not None and scores.option_accuracy <= baseline.option_accuracy:
        problems.append(
            f"option accuracy {scores.option_accuracy:.3f} not above the baseline {baseline.option_accuracy:.3f}"
        )
    return problems


def confusion_png(path: Path, gold: list[str], predicted: list[str], options: list[str], title: str) -> None:
    """Confusion matrix of options + out of scope (other intents pooled as ``other``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [*options, OUT_OF_SCOPE, "other"]
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for g, p in zip(gold, predicted, strict=True):
        matrix[index.get(g, index["other"]), index.get(p, index["other"])] += 1
    fig, ax = plt.subplots(figsize=(15, 13))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i, j in zip(*np.nonzero(matrix), strict=True):
        ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=6, color="white" if i == j else "red")
    ax.set_xlabel("predicted")
    ax.set_ylabel("held-out label")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def as_dict(scores: Scores) -> dict[str, Any]:
    """JSON form of one result."""
    return {
        "name": scores.name,
        "option_accuracy": round(scores.option_accuracy, 4),
        "overall_accuracy": round(scores.overall_accuracy, 4),
        "oos_precision": round(scores.oos_precision, 4),
        "oos_recall": round(scores.oos_recall, 4),
        "train_seconds": None if scores.train_seconds is None else round(scores.train_seconds),
        "safeguarding": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in scores.safeguarding.items()},
        "per_option": {k: {m: round(v, 4) for m, v in f.items()} for k, f in scores.per_option.items()},
    }


def markdown(results: list[Scores], heldout: list[Example], options: list[str], machine: str, when: str) -> str:
    """The human-readable results file the README links to."""
    files = ", ".join(f"`eval/{name}`" for name in sorted({e.source for e in heldout}))
    lines = [
        "# NLU evaluation on the held-out set",
        "",
        f"Run {when} on {machine}. Held-out: {len(heldout)} messages ({files}), "
        f"{results[0].safeguarding.get('cases', 0)} safeguarding messages (`eval/safeguarding.yml`). "
        "Reproduce with `make eval` (add `ARGS=--compare` for every pipeline).",
        "",
        "| Classifier | Option accuracy | Out-of-scope P | Out-of-scope R | Safeguarding recall "
        "(combined / classifier / phrases) | Training time |",
        "|---|---|---|---|---|---|",
    ]
    for s in results:
        sg = s.safeguarding
        seconds = "cached" if s.train_seconds is None else f"{s.train_seconds:.0f} s"
        lines.append(
            f"| {s.name} | {s.option_accuracy:.1%} | {s.oos_precision:.1%} | {s.oos_recall:.1%} | "
            f"{sg.get('recall_combined', 0):.1%} / {sg.get('recall_classifier', 0):.1%} / "
            f"{sg.get('recall_phrases', 0):.1%} | {seconds} |"
        )
    best = results[0]
    baseline = results[-1]
    missed = failures(best, baseline, TARGETS)
    sets = sorted({e.source for e in heldout})
    sizes = accuracy_by_set(heldout, best.predictions, options)
    lines += ["", "Option accuracy by held-out set:", ""]
    lines.append("| Classifier | " + " | ".join(f"{name} ({sizes[name]['messages']:.0f})" for name in sets) + " |")
    lines.append("|---|" + "---|" * len(sets))
    for s in results:
        by_set = accuracy_by_set(heldout, s.predictions, options)
        lines.append(f"| {s.name} | " + " | ".join(f"{by_set[name]['option_accuracy']:.1%}" for name in sets) + " |")
    lines += [
        "",
        "Targets (issue 3): option accuracy ≥ 95% and above the baseline, out-of-scope precision and "
        "recall ≥ 90%, safeguarding recall 100%. "
        + ("All met." if not missed else "Not met: " + "; ".join(missed) + "."),
        "",
        "CI floors (`harness/eval_nlu.py` `FLOORS`, enforced by `make test` and `make eval ARGS=--check`): "
        + ", ".join(f"{k} ≥ {v}" for k, v in FLOORS.items())
        + ".",
    ]
    lines += [
        "",
        f"Per option ({best.name}):",
        "",
        "| Option | Precision | Recall | F1 | Support |",
        "|---|---|---|---|---|",
    ]
    for option, f in best.per_option.items():
        lines.append(f"| {option} | {f['precision']:.2f} | {f['recall']:.2f} | {f['f1']:.2f} | {f['support']:.0f} |")
    fresh = sets[-1]
    wrong = [(e, p) for e, p in zip(heldout, best.predictions, strict=True) if e.label != p]
    shown = [(e, p) for e, p in wrong if e.source != fresh]
    lines += [
        "",
        f"Misclassified by {best.name}: {len(wrong)}, of which {len(wrong) - len(shown)} in `{fresh}`, the "
        "newest set, whose messages are not listed so that it stays a fresh measure for whoever tunes next.",
        "",
    ]
    lines += [f'- "{e.text}": {e.label} → {p}' for e, p in shown]
    lines += ["", "![confusion matrix](confusion_matrix.png)", ""]
    return "\n".join(lines)


def main() -> int:
    """Train, evaluate, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="also score every pipeline in eval/pipelines/")
    parser.add_argument("--check", action="store_true", help="exit 1 when below the CI floors")
    args = parser.parse_args()
    options = option_ids()
    train = load_examples(sorted(NLU_DATA.rglob("*.yml")))
    heldout = load_examples(heldout_files())
    cases = load_safeguarding_cases(EVAL / "safeguarding.yml")
    rules = Safeguarding.from_file(SCRIPTS / "_common" / "safeguarding.yaml", set(options))
    copies = near_duplicates(train, [*heldout, *(Example(c.text, c.kind) for c in cases)])
    if copies:
        for held, trained, similarity in copies:
            print(f"held-out {held!r} is nearly copied by training {trained!r} ({similarity:.2f})", file=sys.stderr)
        print("refusing to score: the held-out set must stay separate from the training data", file=sys.stderr)
        return 2
    configs = [DEFAULT_CONFIG]
    if args.compare:
        configs += sorted((EVAL / "pipelines").glob("*.yml"))
    results = []
    for config in configs:
        model, seconds = nlu_model(config)
        if seconds is None and model.with_suffix(".seconds").exists():
            seconds = float(model.with_suffix(".seconds").read_text())
        name = "rasa: bot/config.yml (shipped)" if config == DEFAULT_CONFIG else f"rasa: {config.stem}"
        scores = evaluate(name, local_parser(model), heldout, options, cases, rules)
        scores.train_seconds = seconds
        results.append(scores)
    started = time.perf_counter()
    classify = baseline_classifier(train)
    baseline_seconds = time.perf_counter() - started
    texts = [e.text for e in heldout]
    base_pred = [label_of(p) for p in classify(texts)]
    baseline = score("baseline: TF-IDF + logistic regression", [e.label for e in heldout], base_pred, options)
    baseline.train_seconds = baseline_seconds
    baseline.safeguarding = safeguarding_recall(
        cases, lambda t: {"intent": {"name": classify([t])[0], "confidence": 1.0}}, rules
    )
    machine = f"{platform.machine()} {platform.node()} ({_cpus()} CPUs), Python {platform.python_version()}"
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    RESULTS.mkdir(parents=True, exist_ok=True)
    shipped = results[0]
    confusion_png(
        RESULTS / "confusion_matrix.png",
        [e.label for e in heldout],
        shipped.predictions,
        options,
        f"{shipped.name}: held-out confusion matrix ({when})",
    )
    everything = [*results, baseline]
    (RESULTS / "results.json").write_text(
        json.dumps(
            {
                "run": when,
                "machine": machine,
                "targets": TARGETS,
                "floors": FLOORS,
                "results": [
                    {**as_dict(s), "by_set": accuracy_by_set(heldout, s.predictions, options)} for s in everything
                ],
            },
            indent=2,
        )
        + "\n"
    )
    (RESULTS / "results.md").write_text(markdown(everything, heldout, options, machine, when))
    for s in everything:
        sg = s.safeguarding
        print(
            f"{s.name}: option accuracy {s.option_accuracy:.1%}, out of scope P {s.oos_precision:.1%} "
            f"R {s.oos_recall:.1%}, safeguarding recall {sg['recall_combined']:.1%} "
            f"(classifier {sg['recall_classifier']:.1%}, phrases {sg['recall_phrases']:.1%})"
            + ("" if s.train_seconds is None else f", trained in {s.train_seconds:.0f} s")
        )
    print(f"results: {RESULTS.relative_to(PROJECT_ROOT)}/results.md")
    for problem in failures(shipped, baseline, TARGETS):
        print(f"target not met: {problem}", file=sys.stderr)
    problems = failures(shipped, None, FLOORS)
    for problem in problems:
        print(f"below the CI floor: {problem}", file=sys.stderr)
    return 1 if (args.check and problems) else 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
