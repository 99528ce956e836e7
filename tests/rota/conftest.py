"""A migrated records database, a member of staff to make changes, and a small rota."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ooh.accounts.service import Accounts, Membership, Role
from ooh.orgs.rota import Rota
from ooh.records.store import RecordStore
from tests.staff.conftest import browser, page  # noqa: F401 - a headless Chromium for the rota page

LONDON = ZoneInfo("Europe/London")

CONTACTS = {
    "officer_a": {"name": "Officer A", "email": "a@org.example"},
    "officer_b": {"name": "Officer B", "email": "b@org.example"},
    "manager": {"name": "Manager", "email": "manager@org.example"},
    "plumber": {"name": "Plumber", "email": "plumber@org.example"},
    "duty": {"name": "Duty manager", "email": "duty@org.example"},
}
OPTIONS = ["housing_repairs", "housing_repairs/plumber", "noise", "homeless_families"]


def at(text: str) -> datetime:
    """A London local time from ``YYYY-MM-DDTHH:MM[:SS]``."""
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


def make_rota(*shifts: dict[str, Any], escalation: str | None = None) -> Rota:
    data: dict[str, Any] = {"contacts": CONTACTS, "shifts": list(shifts)}
    if escalation:
        data["escalation"] = escalation
    return Rota.from_data(data)


def shift(option: str, stage1: str, **fields: Any) -> dict[str, Any]:
    return {"service_option": option, "from": "00:00", "to": "24:00", "stage1": stage1, "stage2": "manager", **fields}


@pytest.fixture
def rota() -> Rota:
    """Any option: the duty manager; repairs: officer A, plumbing: the plumber; noise Fri/Sat nights: B."""
    return make_rota(
        shift("*", "duty", stage2="duty"),
        shift("housing_repairs", "officer_a"),
        shift("housing_repairs", "plumber", sub_category="plumber"),
        shift("noise", "officer_b", days=["fri", "sat"], **{"from": "20:00", "to": "03:00"}),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordStore]:
    records = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    records.migrate()
    yield records
    records.dispose()


@pytest.fixture
def staff_id(store: RecordStore) -> int:
    """A rota manager's user id (the change's author)."""
    made = Accounts(store).add(
        "rota.admin@enfield.example",
        "Rhea Rota",
        "a long enough password",
        [Membership("enfield", Role.ORG_ADMIN)],
        now=at("2026-11-01T09:00"),
    )
    return made.member.id
