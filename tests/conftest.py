"""Shared fixtures: one running stack (Rasa + actions + SMTP) for all end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The real agent on free localhost ports, with a trained (cached) model."""
    yield from running_stack()


import csv  # noqa: E402
import re  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

SCRIPTS = Path(__file__).resolve().parents[1] / "service_scripts"


def _houses(po: str, tenure: str | None = None) -> list[dict[str, str]]:
    """Houses (not flats) of an organisation's sample address file, as a resident would give them."""
    with (SCRIPTS / po / "addresses.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    houses = []
    for row in rows:
        first = row["address"].split(",")[0].strip()
        if not re.match(r"^\d+[A-Za-z]? ", first) or (tenure and row["tenure"] != tenure):
            continue
        houses.append({**row, "query": f"{first} {row['postcode']}"})
    return houses


@pytest.fixture(scope="session")
def any_address() -> Callable[..., dict[str, str]]:
    """A house from an organisation's address file: ``any_address(po, index=0)``."""

    def pick(po: str, index: int = 0) -> dict[str, str]:
        houses = [h for h in _houses(po) if h["tenure"] != "non_residential"]
        return houses[index % len(houses)]

    return pick


@pytest.fixture(scope="session")
def address_with_tenure() -> Callable[[str, str], dict[str, str]]:
    """A house of a given tenure: ``address_with_tenure(po, "leaseholder")``."""

    def pick(po: str, tenure: str) -> dict[str, str]:
        houses = _houses(po, tenure)
        assert houses, f"no {tenure} house in {po}'s sample addresses"
        return houses[0]

    return pick


@pytest.fixture(scope="session")
def tenant_address() -> dict[str, dict[str, str]]:
    """For each organisation, a house let to its own tenant (where it has any)."""
    found = {}
    for po_dir in sorted(SCRIPTS.iterdir()):
        if po_dir.name.startswith("_") or not (po_dir / "addresses.csv").exists():
            continue
        houses = _houses(po_dir.name, "tenant")
        if houses:
            found[po_dir.name] = houses[len(houses) // 2]
    return found
