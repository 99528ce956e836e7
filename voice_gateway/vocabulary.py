"""What callers are expected to say at each moment of a call, to bias the recogniser.

Built from data only: the NLU training text (every Service Option and the conversation around
them), the answer a script question expects (yes/no, digits, its choices), and the
organisation's own addresses, street and estate names and postcodes.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

from ooh.contracts import Choice, Expect
from ooh.orgs.loader import Organisation
from ooh.safeguarding import Safeguarding
from ooh.settings import PROJECT_ROOT
from voice_gateway.stt.base import Vocabulary

NLU_DATA = PROJECT_ROOT / "nlu_data"
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")
YES_NO = (
    "yes",
    "yes please",
    "yeah",
    "that's right",
    "correct",
    "no",
    "no thanks",
    "no thank you",
    "nope",
    "that's wrong",
)
ANY_TIME = ("i don't know", "i want to speak to a person", "can you repeat that")
"""Said at any question: the agent handles these everywhere."""
SAFEGUARDING = PROJECT_ROOT / "service_scripts" / "_common" / "safeguarding.yaml"
DIGITS = ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "double", "triple")


@cache
def always(safeguarding: Path = SAFEGUARDING) -> tuple[str, ...]:
    """Said at any question, even a yes/no one: the agent handles these everywhere, risks first.

    The risks and hazards are the ``says`` sentences of the safeguarding data, so the phone listens
    for exactly what the agent screens for, in one place.
    """
    kinds = Safeguarding.from_file(safeguarding).kinds
    return (*ANY_TIME, *(sentence for kind in kinds for sentence in kind.says))


@cache
def yes_no_vocabulary() -> Vocabulary:
    """Yes or no, and anything that must be heard at any question."""
    return Vocabulary("yes_no", (*YES_NO, *always()), closed=True)


PHONE_VOCABULARY = Vocabulary("phone", DIGITS, closed=True, repeat=True)


@cache
def training_sentences(nlu_dir: Path = NLU_DATA) -> tuple[str, ...]:
    """Every training example in ``nlu_data/``, without entity annotations."""
    sentences: list[str] = []
    for path in sorted(nlu_dir.rglob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                text = line.strip().removeprefix("- ").strip()
                if text:
                    sentences.append(_ANNOTATION.sub(r"\1", text))
    return tuple(sentences)


EVERYDAY_SAMPLE = 200
"""Everyday sentences kept in an address model (about a tenth of the 2,084 it was measured with)."""


def evenly_spread(items: tuple[str, ...], count: int) -> list[str]:
    """``count`` items taken at even steps through ``items`` (all of them when there are fewer)."""
    if len(items) <= count:
        return list(items)
    return [items[i * len(items) // count] for i in range(count)]


def spoken_postcode(postcode: str) -> str:
    """How a postcode is said: letters one by one, digits as words ("e n 3 6 h s")."""
    return " ".join(postcode.replace(" ", "").lower())


def open_vocabulary(org: Organisation) -> Vocabulary:
    """Anything a caller to this organisation may say when asked an open question."""
    sentences = [*training_sentences(), *YES_NO, *always(), org.profile.name, *org.addresses.gazetteer()]
    return Vocabulary(f"{org.id}-open", tuple(sentences))


def address_vocabulary(org: Organisation) -> Vocabulary:
    """The organisation's addresses as callers say them, weighted far above a sample of everyday words.

    A sample of the everyday words (``EVERYDAY_SAMPLE`` training sentences, evenly spread) stays in
    so an answer like "it's my flat on the estate" is still heard, and because pocketsphinx loads a
    model of addresses alone very slowly (about 9 s, holding the GIL). The weights were chosen by
    measurement (``make bench-voice``): addresses three times over the whole training text left
    word error at 0.75; twenty times over about 200 of its sentences, 0.33 to 0.58 across runs;
    addresses alone, 0.25. The sample has a fixed size, not a fixed share, so adding chat training
    data does not tilt the model away from addresses (a tenth of 3,300 sentences did: 0.71).
    """
    places: list[str] = [*org.addresses.gazetteer()]
    for address in org.addresses.addresses:
        places += [address.address, f"{address.address} {spoken_postcode(address.postcode)}"]
        places.append(spoken_postcode(address.postcode))
    sentences = [*places * 20, *evenly_spread(training_sentences(), EVERYDAY_SAMPLE), *YES_NO, *always() * 5]
    return Vocabulary(f"{org.id}-address", tuple(sentences))


def choice_vocabulary(choices: list[Choice]) -> Vocabulary:
    """Exactly the words of a choice question (label, value, the words residents use)."""
    phrases: list[str] = [*always(), "i'm not sure"]
    for choice in choices:
        label = choice.label
        # Callers say part of a long label ("a leak" for "a leak or flood"): each part is a phrase.
        phrases += [label, *re.split(r",\s*|\s+or\s+", label), choice.value.replace("_", " ")]
        phrases += list(choice.says)
    key = "-".join(sorted(choice.value for choice in choices))[:80]
    return Vocabulary(f"choice-{key}", tuple(p for p in phrases if p.strip()), closed=True)


def vocabulary_for(org: Organisation | None, expect: Expect | None) -> Vocabulary | None:
    """The vocabulary to listen with, given the organisation and the answer the agent expects."""
    kind = expect.type if expect else None
    if kind == "yes_no":
        return yes_no_vocabulary()
    if kind == "phone":
        return PHONE_VOCABULARY
    if kind == "choice" and expect is not None and expect.choices:
        return choice_vocabulary(expect.choices)
    if org is None:
        return None
    if kind == "address":
        return address_vocabulary(org)
    return open_vocabulary(org)
