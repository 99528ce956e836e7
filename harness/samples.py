"""Addresses from the shipped sample files, given the way a resident would give them."""

from __future__ import annotations

import csv
import re
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "service_scripts"


def houses(po: str, tenure: str | None = None) -> list[dict[str, str]]:
    """Houses (not flats) of an organisation's address file, each with a ``query`` like "17 Cedar Road EN3 6HS"."""
    with (SCRIPTS / po / "addresses.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    found = []
    for row in rows:
        first = row["address"].split(",")[0].strip()
        if not re.match(r"^\d+[A-Za-z]? ", first) or (tenure and row["tenure"] != tenure):
            continue
        found.append({**row, "query": f"{first} {row['postcode']}"})
    return found
