"""UK postcodes: recognise them in what residents type, and tell which London borough each is in.

The directory is built from OS Code-Point Open (see ``service_scripts/_common/POSTCODES-LICENCE.txt``)
and answers one question for the agent: when an address is outside an organisation's area, which
borough is it in, so the resident can be signposted to the right neighbour.
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from pathlib import Path

from ooh.orgs.errors import ConfigError, format_problem

# Outward code (area letters, district digit, optional digit/letter) and inward code (digit, 2 letters).
# Residents often drop the space or type "O" for zero in the inward part; both are accepted.
_POSTCODE = re.compile(
    r"\b([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9O])\s*([ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)
_FULL = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$")


def _join(outward: str, digit: str, letters: str) -> str:
    digit = "0" if digit.upper() == "O" else digit
    return f"{outward.upper()} {digit}{letters.upper()}"


def normalise_postcode(text: str) -> str | None:
    """The canonical form ("N17 6AB") of a postcode typed any way, or None if it isn't one."""
    match = _POSTCODE.fullmatch(text.strip())
    if not match:
        return None
    postcode = _join(*match.groups())
    return postcode if _FULL.match(postcode) else None


def find_postcode(text: str) -> tuple[str, str] | None:
    """The first postcode in free text: (canonical form, the text with the postcode removed)."""
    for match in _POSTCODE.finditer(text):
        postcode = _join(*match.groups())
        if _FULL.match(postcode):
            rest = (text[: match.start()] + " " + text[match.end() :]).strip(" ,.")
            return postcode, " ".join(rest.split())
    return None


@dataclass(frozen=True)
class PostcodeInfo:
    """Where a postcode is."""

    postcode: str
    borough: str
    ward: str


class PostcodeDirectory:
    """Every London postcode with its borough and ward."""

    def __init__(self, rows: dict[str, tuple[str, str]], boroughs: dict[str, str]) -> None:
        self._rows = rows
        self._boroughs = boroughs

    @classmethod
    def from_files(cls, postcodes_gz: Path, boroughs_csv: Path) -> PostcodeDirectory:
        """Load ``postcodes.csv.gz`` (postcode,borough_code,ward) and ``boroughs.csv`` (borough_code,borough).

        Raises:
            ConfigError: a file is missing or a row is malformed, naming the file and line.
        """
        problems: list[str] = []
        boroughs: dict[str, str] = {}
        rows: dict[str, tuple[str, str]] = {}
        for path in (postcodes_gz, boroughs_csv):
            if not path.exists():
                problems.append(format_problem(path, "", "file is missing (run tools/build_sample_data.py)"))
        if problems:
            raise ConfigError(problems)
        with boroughs_csv.open(newline="", encoding="utf-8") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                code, name = (row.get("borough_code") or "").strip(), (row.get("borough") or "").strip()
                if not code or not name:
                    problems.append(format_problem(boroughs_csv, f"line {line}", "needs borough_code and borough"))
                    continue
                boroughs[code] = name
        with gzip.open(postcodes_gz, "rt", newline="", encoding="utf-8") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                postcode = normalise_postcode(row.get("postcode") or "")
                code = (row.get("borough_code") or "").strip()
                if postcode is None or code not in boroughs:
                    problems.append(
                        format_problem(postcodes_gz, f"line {line}", "needs a valid postcode and a known borough_code")
                    )
                    if len(problems) > 20:
                        break
                    continue
                rows[postcode] = (code, (row.get("ward") or "").strip())
        if problems:
            raise ConfigError(problems)
        return cls(rows, boroughs)

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def boroughs(self) -> list[str]:
        """Names of the boroughs the directory covers."""
        return sorted(self._boroughs.values())

    def lookup(self, postcode: str) -> PostcodeInfo | None:
        """Borough and ward of a postcode (any spelling), or None if it isn't a London postcode."""
        canonical = normalise_postcode(postcode)
        if canonical is None or canonical not in self._rows:
            return None
        code, ward = self._rows[canonical]
        return PostcodeInfo(canonical, self._boroughs[code], ward)
