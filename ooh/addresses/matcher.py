"""Match what a resident says about a location against an organisation's address file.

Residents give addresses every way: "17 cedar rd en3 6hs", "flat 4 tiverton house on the northwold
estate", "17 Ceder Raod" or just a postcode. The matcher finds the record (and its UPRN) or says why
it couldn't: several candidates (ask for the house number), outside the organisation's area (signpost
the right borough) or not found (ask again, then keep the words as given).

Recognition of street, building and estate names uses a blank spaCy English pipeline with an entity
ruler built from the organisation's own gazetteer (no downloaded model), after both sides have been
put in one canonical form ("Road" and "Rd" alike); rapidfuzz catches typos the ruler cannot.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rapidfuzz import fuzz

from ooh.addresses.postcodes import PostcodeDirectory, PostcodeInfo, find_postcode, normalise_postcode
from ooh.orgs.errors import ConfigError, format_problem

if TYPE_CHECKING:
    from spacy.language import Language

TENURES = frozenset({"tenant", "leaseholder", "private_tenant", "owner_occupier", "non_residential"})
REQUIRED_COLUMNS = ("uprn", "address", "postcode")
FUZZY_THRESHOLD = 85

# Both the address file and the resident's words are reduced to these forms before comparing.
_CANONICAL_WORDS = {
    "road": "rd",
    "street": "st",
    "saint": "st",
    "avenue": "ave",
    "av": "ave",
    "close": "cl",
    "gardens": "gdns",
    "garden": "gdns",
    "lane": "ln",
    "crescent": "cres",
    "estate": "est",
    "court": "ct",
    "terrace": "ter",
    "terr": "ter",
    "place": "pl",
    "square": "sq",
    "drive": "dr",
    "grove": "gr",
    "house": "ho",
    "mansions": "mans",
    "parade": "pde",
    "walk": "wlk",
    "way": "wy",
    "mews": "mews",
    "hill": "hl",
    "park": "pk",
    "green": "gn",
    "row": "row",
    "gate": "gt",
}
_STREET_TYPES = frozenset(_CANONICAL_WORDS.values())
_NUMBER = re.compile(r"^\d+[a-z]?$")
_FILLER = frozenset(
    {"flat", "no", "number", "apartment", "apt", "the", "at", "on", "in", "of", "its", "it's", "um", "er"}
)

Status = Literal["matched", "ambiguous", "out_of_area", "not_found"]


def canonical(text: str) -> str:
    """Lower case, punctuation gone, street words in one form: "17, Cedar Road" -> "17 cedar rd"."""
    words = re.sub(r"[^a-z0-9 ]+", " ", text.lower().replace("'", "")).split()
    return " ".join(_CANONICAL_WORDS.get(word, word) for word in words)


def one_line(address: str, postcode: str | None) -> str:
    """An address as one line with its postcode, as residents hear it and officers read it."""
    return f"{address}, {postcode}" if postcode else address


@dataclass(frozen=True)
class Address:
    """One record of an organisation's address file."""

    uprn: str
    address: str
    postcode: str
    ward: str = ""
    borough: str = ""
    estate: str = ""
    tenure: str = ""
    numbers: tuple[str, ...] = field(default=(), compare=False, repr=False)
    place: str = field(default="", compare=False, repr=False)

    @property
    def label(self) -> str:
        """How the address is read back to the resident."""
        return one_line(self.address, self.postcode)


@dataclass(frozen=True)
class AddressMatch:
    """What the matcher made of a resident's words."""

    status: Status
    candidates: list[Address] = field(default_factory=list)
    score: float = 0.0
    postcode: str | None = None
    outside: PostcodeInfo | None = None


def _place_of(address: str) -> tuple[tuple[str, ...], str]:
    """House/flat numbers and the street, building and estate words of an address line."""
    parts = [canonical(part) for part in address.split(",")]
    numbers: list[str] = []
    words: list[str] = []
    for part in parts[:3]:
        for token in part.split():
            if _NUMBER.match(token):
                numbers.append(token)
            elif token not in _FILLER:
                words.append(token)
    return tuple(numbers), " ".join(words)


class AddressBook:
    """An organisation's addresses, indexed by postcode, UPRN and street/building/estate names."""

    def __init__(self, addresses: list[Address], directory: PostcodeDirectory | None = None) -> None:
        self.addresses = addresses
        self.directory = directory
        self._by_uprn = {a.uprn: a for a in addresses}
        self._by_postcode: dict[str, list[Address]] = defaultdict(list)
        self._by_name: dict[str, list[Address]] = defaultdict(list)
        for address in addresses:
            self._by_postcode[address.postcode].append(address)
            for name in self._names_of(address):
                self._by_name[name].append(address)
        self._nlp: Language | None = None

    @staticmethod
    def _names_of(address: Address) -> set[str]:
        """Canonical street, building and estate names an address can be found by."""
        names = set()
        for part in address.address.split(",")[:3]:
            words = [w for w in canonical(part).split() if not _NUMBER.match(w) and w not in _FILLER]
            if words and (words[-1] in _STREET_TYPES or len(words) >= 2):
                names.add(" ".join(words))
        if address.estate:
            names.add(canonical(address.estate))
        return names

    @classmethod
    def from_csv(cls, path: Path, directory: PostcodeDirectory | None = None) -> AddressBook:
        """Load and validate an address file (``uprn,address,postcode`` plus optional columns).

        Raises:
            ConfigError: naming the file, line and field of every problem.
        """
        if not path.exists():
            raise ConfigError([format_problem(path, "", "address file is missing")])
        problems: list[str] = []
        addresses: list[Address] = []
        seen: set[str] = set()
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError([format_problem(path, "header", f"missing column(s) {', '.join(missing)}")])
            for line, row in enumerate(reader, start=2):
                uprn = (row.get("uprn") or "").strip()
                text = " ".join((row.get("address") or "").split())
                postcode = normalise_postcode(row.get("postcode") or "")
                tenure = (row.get("tenure") or "").strip()
                where = f"line {line}"
                if not uprn.isdigit() or len(uprn) > 12:
                    problems.append(format_problem(path, f"{where}.uprn", f"'{uprn}' is not a UPRN (up to 12 digits)"))
                elif uprn in seen:
                    problems.append(format_problem(path, f"{where}.uprn", f"'{uprn}' appears twice"))
                if not text:
                    problems.append(format_problem(path, f"{where}.address", "is empty"))
                if postcode is None:
                    problems.append(
                        format_problem(path, f"{where}.postcode", f"'{row.get('postcode')}' is not a postcode")
                    )
                if tenure and tenure not in TENURES:
                    problems.append(
                        format_problem(
                            path, f"{where}.tenure", f"'{tenure}' is not one of {', '.join(sorted(TENURES))}"
                        )
                    )
                if len(problems) > 50:
                    break
                if problems:
                    continue
                seen.add(uprn)
                numbers, place = _place_of(text)
                addresses.append(
                    Address(
                        uprn=uprn,
                        address=text,
                        postcode=postcode or "",
                        ward=(row.get("ward") or "").strip(),
                        borough=(row.get("borough") or "").strip(),
                        estate=(row.get("estate") or "").strip(),
                        tenure=tenure,
                        numbers=numbers,
                        place=place,
                    )
                )
        if problems:
            raise ConfigError(problems)
        if not addresses:
            raise ConfigError([format_problem(path, "", "has no addresses")])
        return cls(addresses, directory)

    # ------------------------------------------------------------------ look-ups
    def by_uprn(self, uprn: str) -> Address | None:
        """The address with this UPRN."""
        return self._by_uprn.get(uprn)

    @property
    def boroughs(self) -> set[str]:
        """Boroughs the organisation's addresses are in: its area."""
        return {a.borough for a in self.addresses if a.borough}

    def gazetteer(self) -> list[str]:
        """Street, building, estate and ward names as written in the file (for recognisers' vocabularies)."""
        names: set[str] = set()
        for address in self.addresses:
            for part in address.address.split(",")[:3]:
                words = [w for w in part.split() if not _NUMBER.match(w.lower()) and w.lower() not in _FILLER]
                if words:
                    names.add(" ".join(words))
            for extra in (address.estate, address.ward):
                if extra:
                    names.add(extra)
        return sorted(names)

    # ------------------------------------------------------------------ matching
    def prepare(self) -> None:
        """Build the matcher now rather than on the first resident's address (see ``action_warm_up``)."""
        self._ruler()

    def _ruler(self) -> Language:
        """A blank English pipeline whose entity ruler knows every name in this book (built once)."""
        if self._nlp is None:
            import spacy  # imported here: loading spaCy is slow and only matching needs it

            nlp = spacy.blank("en")
            ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
            ruler.add_patterns([{"label": "PLACE", "pattern": name} for name in sorted(self._by_name)])  # type: ignore[attr-defined]
            self._nlp = nlp
        return self._nlp

    def _named(self, text: str) -> tuple[list[Address], float]:
        """Addresses on the streets/buildings/estates named in ``text``: exact names, then typos.

        Several names ("Fairfax House, Silwood Estate") narrow each other down; names that don't
        overlap widen the choice instead.
        """
        doc = self._ruler()(text)
        groups = [self._by_name.get(ent.text, []) for ent in doc.ents]
        score = 100.0
        if not groups:
            groups, score = self._fuzzy_names(text)
        if not groups:
            return [], 0.0
        common = set(groups[0]).intersection(*map(set, groups[1:]))
        ordered = [a for group in groups for a in group]
        chosen = [a for a in ordered if a in common] or ordered
        return list(dict.fromkeys(chosen)), score

    def _fuzzy_names(self, text: str) -> tuple[list[list[Address]], float]:
        """Names the resident misspelt.

        The distinctive words ("falcon" of "falcon pl") are compared with the same number of the
        resident's words.
        """
        tokens = [t for t in text.split() if not _NUMBER.match(t) and t not in _FILLER]
        scored: list[tuple[float, str]] = []
        for name in self._by_name:
            core = [w for w in name.split() if w not in _STREET_TYPES] or name.split()
            size = len(core)
            if len("".join(core)) < 4:
                continue
            windows = [" ".join(tokens[i : i + size]) for i in range(max(len(tokens) - size + 1, 0))]
            score = max((fuzz.ratio(" ".join(core), w) for w in windows), default=0.0)
            if score >= FUZZY_THRESHOLD - 5:
                scored.append((score, name))
        if not scored:
            return [], 0.0
        top = max(score for score, _ in scored)
        return [self._by_name[name] for score, name in scored if score >= top - 2], top

    def match(self, text: str) -> AddressMatch:
        """Find the address a resident means.

        Returns ``matched`` with one candidate, ``ambiguous`` with several (ask for the number),
        ``out_of_area`` with the borough the postcode is in, or ``not_found``.
        """
        found = find_postcode(text)
        postcode, rest = found if found else (None, text)
        words = canonical(rest)
        numbers = [t for t in words.split() if _NUMBER.match(t)]
        score = 100.0
        if postcode and postcode in self._by_postcode:
            pool = self._by_postcode[postcode]
            named, _ = self._named(words) if words else ([], 0.0)
            narrowed = [a for a in pool if a in set(named)]
            pool = narrowed or pool
        else:
            if postcode and self.directory is not None:
                info = self.directory.lookup(postcode)
                if info is not None and info.borough not in self.boroughs:
                    return AddressMatch("out_of_area", [], 0.0, postcode, info)
            pool, score = self._named(words)
            if not pool:
                return AddressMatch("not_found", [], 0.0, postcode)
        if numbers:
            with_number = [a for a in pool if set(numbers) & set(a.numbers)]
            if len(with_number) > 1:
                # "Flat 3, Tiverton House" and "3 Cedar Road" share a postcode: all numbers must fit.
                exact = [a for a in with_number if set(numbers) <= set(a.numbers)]
                with_number = exact or with_number
            if not with_number:
                return AddressMatch("ambiguous", pool[:10], score / 100, postcode)
            pool = with_number
        if len(pool) == 1:
            return AddressMatch("matched", pool, score / 100, postcode or pool[0].postcode)
        return AddressMatch("ambiguous", pool[:10], score / 100, postcode)
