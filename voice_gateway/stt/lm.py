"""A small back-off bigram language model in ARPA format, built from the domain's own text.

Why: the stock pocketsphinx model expects general American English and turns synthetic or
telephone speech into nonsense; a model of what residents say to *this* organisation (its
Service Options' training text, the answers its scripts expect, its street and estate names)
makes the same audio come out close to right.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable

_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
DISCOUNT = 0.5


def number_words(number: int) -> list[str]:
    """How a house number is said: 12 -> twelve, 105 -> one hundred and five."""
    if number < 10:
        return [_DIGITS[number]]
    if number < 20:
        return [_TEENS[number - 10]]
    if number < 100:
        return [_TENS[number // 10], *([_DIGITS[number % 10]] if number % 10 else [])]
    if number < 1000:
        rest = number % 100
        return [_DIGITS[number // 100], "hundred", *(["and", *number_words(rest)] if rest else [])]
    rest = number % 1000
    return [*number_words(number // 1000), "thousand", *(["and", *number_words(rest)] if rest else [])]


def words_of(text: str) -> list[str]:
    """Lower-case words of a sentence as they are spoken.

    Short numbers are said as numbers ("12" -> "twelve"); long digit strings (phone numbers) and
    digits inside codes (postcodes like "en3") digit by digit.
    """
    out: list[str] = []
    for token in re.findall(r"[a-z]+(?:'[a-z]+)?|\d+", text.lower()):
        if not token.isdigit():
            out.append(token)
        elif len(token) <= 3 and not token.startswith("0"):
            out.extend(number_words(int(token)))
        else:
            out.extend(_DIGITS[int(digit)] for digit in token)
    return out


def build_arpa(sentences: Iterable[str], known: Callable[[str], bool]) -> str:
    """An ARPA bigram model (absolute discounting with back-off) over the words ``known`` accepts."""
    unigrams: Counter[str] = Counter()
    bigrams: Counter[tuple[str, str]] = Counter()
    for sentence in sentences:
        words = [w for w in words_of(sentence) if known(w)]
        if not words:
            continue
        padded = ["<s>", *words, "</s>"]
        unigrams.update(padded)
        bigrams.update(zip(padded, padded[1:], strict=False))
    total = sum(count for word, count in unigrams.items() if word != "<s>")
    if not total:
        raise ValueError("no known words to build a language model from")
    uni_prob = {word: count / total for word, count in unigrams.items() if word != "<s>"}
    history: Counter[str] = Counter()
    followers: Counter[str] = Counter()
    seen_mass: dict[str, float] = {}
    for (first, second), count in bigrams.items():
        history[first] += count
        followers[first] += 1
        seen_mass[first] = seen_mass.get(first, 0.0) + uni_prob.get(second, 0.0)
    lines = ["\\data\\", f"ngram 1={len(unigrams)}", f"ngram 2={len(bigrams)}", "", "\\1-grams:"]
    for word in sorted(unigrams):
        logp = -99.0 if word == "<s>" else math.log10(uni_prob[word])
        backoff = ""
        if history[word]:
            # The probability mass discounted from seen bigrams, spread over unseen followers.
            mass = DISCOUNT * followers[word] / history[word]
            unseen = max(1e-6, 1.0 - seen_mass[word])
            backoff = f"\t{math.log10(mass / unseen):.4f}"
        lines.append(f"{logp:.4f}\t{word}{backoff}")
    lines += ["", "\\2-grams:"]
    for (first, second), count in sorted(bigrams.items()):
        lines.append(f"{math.log10((count - DISCOUNT) / history[first]):.4f}\t{first} {second}")
    lines += ["", "\\end\\", ""]
    return "\n".join(lines)


def build_jsgf(name: str, phrases: Iterable[str], known: Callable[[str], bool], repeat: bool = False) -> str:
    """A JSGF grammar accepting exactly ``phrases`` (or a sequence of them with ``repeat``)."""
    alternatives = sorted({" ".join(words) for p in phrases if (words := words_of(p)) and all(map(known, words))})
    if not alternatives:
        raise ValueError(f"no phrase of grammar {name!r} uses only known words")
    rule = "(" + " | ".join(alternatives) + ")" + ("+" if repeat else "")
    safe = re.sub(r"[^a-z0-9_]", "_", name.lower())
    return f"#JSGF V1.0;\ngrammar {safe};\npublic <{safe}> = {rule};\n"
