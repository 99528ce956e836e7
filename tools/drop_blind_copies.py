"""Drop training messages that nearly copy a blind or held-out item (prints counts only).

A blind set is written by someone who has not read the training data, but two people can still
write nearly the same sentence; a training message that does (word-set Jaccard 0.6 or more) would
inflate the blind figure. This removes such lines from ``nlu_data/`` and ``safeguarding/`` and
says how many per file, never which: the blind items stay unread. ``tests/nlu/test_data.py``
fails while any remain. Retrain afterwards (``make train``).

    .venv/bin/python tools/drop_blind_copies.py
"""

from __future__ import annotations

import re

import yaml

from harness.eval_blind import BLIND
from harness.eval_nlu import Example, heldout_files, load_examples, near_duplicates
from ooh.risk_model import load_corpus
from ooh.settings import PROJECT_ROOT

NLU_DATA = PROJECT_ROOT / "nlu_data"
CORPUS = PROJECT_ROOT / "safeguarding"
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def protected() -> list[Example]:
    """Every blind and held-out item (their texts are compared, never shown)."""
    items = [
        Example(str(case["text"]), path.stem)
        for path in sorted(BLIND.glob("*/*.yml"))
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    ]
    for path in heldout_files():
        items += load_examples([path])
    return items


def line_text(line: str) -> str | None:
    """The training text a YAML line holds, as the loaders read it (None for other lines)."""
    stripped = line.strip()
    if not stripped.startswith("- "):
        return None
    body = stripped[2:]
    if body.startswith("{"):
        try:
            item = yaml.safe_load(body)
        except yaml.YAMLError:
            return None
        return str(item.get("text")) if isinstance(item, dict) and "text" in item else None
    return _ANNOTATION.sub(r"\1", body).strip()


def main() -> int:
    """Remove the near-copies and print how many went from each file."""
    corpus_texts, _ = load_corpus(CORPUS)
    train = load_examples(sorted(NLU_DATA.rglob("*.yml"))) + [Example(t, "corpus") for t in corpus_texts]
    copies = {training for _, training, _ in near_duplicates(train, protected())}
    total = 0
    for path in sorted(NLU_DATA.rglob("*.yml")) + sorted(CORPUS.glob("*.yml")):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if line_text(line) not in copies]
        if len(kept) != len(lines):
            path.write_text("".join(kept), encoding="utf-8")
            print(f"{path.relative_to(PROJECT_ROOT)}: {len(lines) - len(kept)} removed")
            total += len(lines) - len(kept)
    print(f"{total} training messages removed ({len(copies)} distinct texts)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
