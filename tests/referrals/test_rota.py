"""Rotas: who is on call for what and when, and errors that tell staff what to fix."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from ooh.orgs.errors import ConfigError
from ooh.orgs.rota import Rota, load_rota
from ooh.settings import PROJECT_ROOT

CONTACTS = {
    "officer_a": {
        "name": "Housing on-call officer (A)",
        "email": "a@org.example",
        "phone": "+447700900101",
    },
    "officer_b": {"name": "Housing on-call officer (B)", "email": "b@org.example"},
    "manager": {"name": "Housing manager", "email": "manager@org.example"},
    "plumber": {"name": "Plumber", "email": "plumber@org.example"},
    "duty": {"name": "Duty manager", "email": "duty@org.example"},
}


def rota(*shifts: dict[str, Any]) -> Rota:
    """A rota with the standard contacts and these shifts."""
    return Rota.from_data({"contacts": CONTACTS, "shifts": list(shifts)})


def shift(**fields: Any) -> dict[str, Any]:
    """A shift for homeless_families all day every day, with overrides."""
    base = {
        "service_option": "homeless_families",
        "from": "00:00",
        "to": "24:00",
        "stage1": "officer_a",
        "stage2": "manager",
    }
    base.update(fields)
    return base


def local(text: str) -> datetime:
    """A naive local time, as the rota reads it."""
    return datetime.fromisoformat(text)


def who(r: Rota, option: str, sub: str | None, when: str) -> str | None:
    """The stage 1 contact key on call, or ``None``."""
    on_call = r.on_call(option, sub, local(when))
    return on_call.stage1_key if on_call else None


def test_enfield_rota_loads_and_routes_by_specificity() -> None:
    """The shipped Enfield rota is valid and routes repairs by trade."""
    r = load_rota(PROJECT_ROOT / "service_scripts" / "enfield" / "rota.yaml")
    on_call = r.on_call("housing_repairs", "plumber", local("2026-11-22T21:00"))
    assert on_call is not None
    assert (on_call.stage1_key, on_call.stage2_key) == ("repairs_plumber", "repairs_supervisor")
    assert on_call.stage1.email == "plumber.oncall@enfield.example"
    assert who(r, "housing_repairs", None, "2026-11-22T21:00") == "repairs_supervisor"
    assert who(r, "housing_repairs", "roofer", "2026-11-22T21:00") == "repairs_supervisor"
    assert who(r, "abandoned_vehicle", None, "2026-11-22T21:00") == "duty_manager"


def test_most_specific_shift_wins_regardless_of_order() -> None:
    """Option+sub-category beats option beats ``*``, whatever the file order."""
    r = rota(
        shift(service_option="*", stage1="duty", stage2="duty"),
        shift(service_option="housing_repairs", stage1="officer_b"),
        shift(service_option="housing_repairs", sub_category="plumber", stage1="plumber"),
    )
    assert who(r, "housing_repairs", "plumber", "2026-11-22T21:00") == "plumber"
    assert who(r, "housing_repairs", "electrician", "2026-11-22T21:00") == "officer_b"
    assert who(r, "noise", None, "2026-11-22T21:00") == "duty"
    assert who(r, "housing_repairs/plumber", None, "2026-11-22T21:00") == "plumber", "a specific option id"


def test_window_crossing_midnight_belongs_to_its_start_day() -> None:
    """A Friday 20:00-03:00 shift covers early Saturday, not early Friday."""
    r = rota(shift(days=["fri"], **{"from": "20:00", "to": "03:00"}))
    # 2026-11-20 is a Friday.
    assert who(r, "homeless_families", None, "2026-11-20T19:59") is None
    assert who(r, "homeless_families", None, "2026-11-20T20:00") == "officer_a"
    assert who(r, "homeless_families", None, "2026-11-20T23:59") == "officer_a"
    assert who(r, "homeless_families", None, "2026-11-21T02:59") == "officer_a"
    assert who(r, "homeless_families", None, "2026-11-21T03:00") is None
    assert who(r, "homeless_families", None, "2026-11-21T21:00") is None  # Saturday evening
    assert who(r, "homeless_families", None, "2026-11-20T02:00") is None  # Thursday's night


def test_weekday_and_weekend_officers() -> None:
    """Typical weekday-evening and weekend rotas hand over at the right times."""
    r = rota(
        shift(days=["mon", "tue", "wed", "thu", "fri"], **{"from": "17:00", "to": "08:00"}),
        shift(days=["sat", "sun"], stage1="officer_b"),
    )
    assert who(r, "homeless_families", None, "2026-11-23T18:00") == "officer_a"  # Monday
    assert who(r, "homeless_families", None, "2026-11-24T07:59") == "officer_a"  # Monday's night
    assert who(r, "homeless_families", None, "2026-11-24T12:00") is None  # Tuesday daytime
    assert who(r, "homeless_families", None, "2026-11-22T12:00") == "officer_b"  # Sunday
    # Saturday 07:00: Friday's night shift and Saturday's all-day shift both match; the
    # weekend one is listed later but both are limited to some days, so the first wins.
    assert who(r, "homeless_families", None, "2026-11-21T07:00") == "officer_a"


def test_dated_cover_beats_the_regular_shift_and_uses_the_start_day() -> None:
    """Holiday cover overrides the usual officer, for nights starting on its dates."""
    r = rota(
        shift(**{"from": "17:00", "to": "08:00"}),
        shift(
            stage1="officer_b",
            dates={"from": "2026-12-24", "to": "2026-12-31"},
            **{"from": "17:00", "to": "08:00"},
        ),
    )
    assert who(r, "homeless_families", None, "2026-12-23T20:00") == "officer_a"
    assert who(r, "homeless_families", None, "2026-12-24T20:00") == "officer_b"
    assert who(r, "homeless_families", None, "2027-01-01T03:00") == "officer_b"  # night of the 31st
    assert who(r, "homeless_families", None, "2027-01-01T20:00") == "officer_a"


def test_aware_times_are_converted_to_london() -> None:
    """Rota times are London times, so a UTC clock is converted (BST matters)."""
    r = rota(shift(**{"from": "17:00", "to": "08:00"}))
    # 16:30 UTC in July is 17:30 BST: on call. In November it is 16:30 GMT: not.
    assert r.on_call("homeless_families", None, datetime(2026, 7, 1, 16, 30, tzinfo=timezone.utc))
    assert r.on_call("homeless_families", None, datetime(2026, 11, 2, 16, 30, tzinfo=timezone.utc)) is None


def test_stages_list_a_repeated_contact_once() -> None:
    """Escalating to the same person again is pointless, so they are tried once."""
    same = rota(shift(stage1="duty", stage2="duty")).on_call("homeless_families", None, local("2026-11-22T21:00"))
    assert same is not None and [key for _, key, _ in same.stages()] == ["duty"]
    two = rota(shift()).on_call("homeless_families", None, local("2026-11-22T21:00"))
    assert two is not None and [(n, key) for n, key, _ in two.stages()] == [
        (1, "officer_a"),
        (2, "manager"),
    ]


# -- validation: every problem names the file and the field -------------------------------------


def write(tmp_path: Path, data: Any) -> Path:
    """Write a rota file from YAML text or data."""
    path = tmp_path / "rota.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def problems(tmp_path: Path, data: Any) -> list[str]:
    """The problems ``load_rota`` reports, without the leading file name (checked here)."""
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_rota(path)
    assert all(line.startswith(f"{path}: ") for line in caught.value.problems), caught.value.problems
    return [line[len(f"{path}: ") :] for line in caught.value.problems]


@pytest.mark.parametrize(
    ("bad_shift", "field", "words"),
    [
        ({"stage2": "nobody"}, "shifts[3].stage2", "no contact 'nobody'"),
        ({"stage1": "nobody"}, "shifts[3].stage1", "no contact 'nobody'"),
        ({"from": "25:00"}, "shifts[3].from", "not a time of day"),
        ({"to": "8am"}, "shifts[3].to", "not a time of day"),
        ({"from": "24:00"}, "shifts[3].from", "cannot start at 24:00"),
        ({"days": ["mon", "funday"]}, "shifts[3].days[1]", "'funday' is not a day"),
        ({"dates": {"from": "2026-12-31", "to": "2026-12-01"}}, "shifts[3].dates", "before"),
        ({"service_option": "*", "sub_category": "plumber"}, "shifts[3].sub_category", "specific"),
        ({"colour": "red"}, "shifts[3].colour", "extra fields not permitted"),
    ],
)
def test_bad_shift_names_the_field(tmp_path: Path, bad_shift: dict[str, Any], field: str, words: str) -> None:
    """Staff are told the exact shift and field to fix."""
    shifts = [shift(), shift(), shift(), shift(**bad_shift)]
    found = problems(tmp_path, {"contacts": CONTACTS, "shifts": shifts})
    assert any(line.startswith(f"{field}: ") and words in line for line in found), found


def test_unquoted_time_is_explained(tmp_path: Path) -> None:
    """YAML turns unquoted 17:00 into 1020; staff are told to quote it."""
    text = (
        "contacts: {duty: {name: Duty, email: duty@org.example}}\n"
        "shifts:\n  - {service_option: '*', from: 17:00, to: '08:00', stage1: duty, stage2: duty}\n"
    )
    found = problems(tmp_path, text)
    assert found == ['shifts[0].from: write the time in quotes, e.g. "17:00"']


@pytest.mark.parametrize(
    ("contact", "field", "words"),
    [
        ({"name": "No email"}, "contacts.broken.email", "field required"),
        (
            {"name": "Bad email", "email": "not-an-address"},
            "contacts.broken.email",
            "not an email address",
        ),
        ({"email": "x@org.example"}, "contacts.broken.name", "field required"),
    ],
)
def test_bad_contact_names_the_field(tmp_path: Path, contact: dict[str, Any], field: str, words: str) -> None:
    """Contacts without a usable email are caught before a referral needs them."""
    found = problems(tmp_path, {"contacts": {**CONTACTS, "broken": contact}, "shifts": [shift()]})
    assert any(line.startswith(f"{field}: ") and words in line for line in found), found


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    """Staff see every problem in one go, not one per restart."""
    data = {"contacts": CONTACTS, "shifts": [shift(stage1="x"), shift(stage2="y")]}
    assert problems(tmp_path, data) == [
        "shifts[0].stage1: no contact 'x' in contacts",
        "shifts[1].stage2: no contact 'y' in contacts",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contacts: [\n", "(file): is not valid YAML"),
        ("- just a list\n", "(file): must be a mapping"),
        ("contacts: {}\n", "shifts: field required"),
        ("contacts: {}\nshifts: []\n", "shifts: no shifts"),
        (
            "timezone: Mars/Olympus\ncontacts: {}\nshifts: []\n",
            "timezone: 'Mars/Olympus' is not a time zone",
        ),
    ],
)
def test_bad_files(tmp_path: Path, text: str, expected: str) -> None:
    """Broken or empty files are reported as such, with the file named."""
    found = problems(tmp_path, text)
    assert any(line.startswith(expected) for line in found), found


def test_missing_file(tmp_path: Path) -> None:
    """A missing rota is a clear error naming the file."""
    with pytest.raises(ConfigError) as caught:
        load_rota(tmp_path / "rota.yaml")
    assert caught.value.problems == [f"{tmp_path / 'rota.yaml'}: (file): file is missing"]
