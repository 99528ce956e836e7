"""The NLU data itself: every Service Option is trained, and the held-out set stays held out."""

from __future__ import annotations

from harness.eval_nlu import (
    EVAL,
    NLU_DATA,
    Example,
    heldout_files,
    load_examples,
    load_safeguarding_cases,
    near_duplicates,
    option_ids,
)


def test_every_service_option_has_training_and_held_out_messages() -> None:
    train = {e.label for e in load_examples(sorted(NLU_DATA.rglob("*.yml")))}
    heldout = {e.label for e in load_examples(heldout_files())}
    missing_train = [o for o in option_ids() if o not in train]
    missing_heldout = [o for o in option_ids() if o not in heldout]
    assert not missing_train and not missing_heldout, (missing_train, missing_heldout)
    assert "out_of_scope" in train and "out_of_scope" in heldout


def test_no_held_out_message_is_copied_into_the_training_data() -> None:
    train = load_examples(sorted(NLU_DATA.rglob("*.yml")))
    heldout = load_examples(heldout_files())
    copies = near_duplicates(train, heldout)
    assert not copies, copies[:5]


def test_held_out_safeguarding_messages_are_not_training_examples() -> None:
    train = load_examples(sorted(NLU_DATA.rglob("*.yml")))
    cases = load_safeguarding_cases(EVAL / "safeguarding.yml")
    assert {"opening", "repairs", "homelessness"} <= {c.context for c in cases}
    copies = near_duplicates(train, [Example(c.text, c.kind) for c in cases])
    assert not copies, copies[:5]


def test_blind_sets_have_no_near_copies_in_any_training_data() -> None:
    """No training message (intents or the safeguarding corpus) is a near-copy of a blind item.

    The failure names a count only: the blind messages are never printed.
    """
    import yaml

    from harness.eval_blind import BLIND
    from ooh.risk_model import load_corpus

    corpus_texts, _ = load_corpus(NLU_DATA.parent / "safeguarding")
    train = load_examples(sorted(NLU_DATA.rglob("*.yml"))) + [Example(t, "corpus") for t in corpus_texts]
    blind = [
        Example(str(case["text"]), path.stem)
        for path in sorted(BLIND.glob("*/*.yml"))
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    ]
    assert blind, "no blind set found"
    count = len(near_duplicates(train, blind))  # a count, so pytest cannot print the pairs
    assert count == 0, f"{count} training messages are near-copies of blind items"
