"""Live rotas in the records database: the rota at a moment, changes made and withdrawn, and gaps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ooh.orgs.live_rota import (
    LiveRota,
    RotaChangeError,
    add_change,
    effective_rota,
    list_changes,
    organisation_gaps,
    parse_change,
    rota_gaps,
    withdraw_change,
)
from ooh.orgs.loader import load_registry
from ooh.orgs.rota import Rota
from ooh.records.store import RecordStore
from ooh.settings import PROJECT_ROOT
from tests.rota.conftest import OPTIONS, at, make_rota, shift


def change(**fields: Any) -> dict[str, Any]:
    """A change for housing repairs, all day every day, officer B first, with overrides."""
    data = {
        "service_option": "housing_repairs",
        "from": "00:00",
        "to": "24:00",
        "stage1": "officer_b",
        "stage2": "manager",
        "reason": "Officer A is on leave",
    }
    data.update(fields)
    return data


def who(store: RecordStore, rota: Rota, option: str, when: Any, sub: str | None = None, po: str = "enfield") -> str:
    """Stage 1 on call at ``when`` by the live rota (``-`` for nobody)."""
    on_call = effective_rota(store, po, rota, when).on_call(option, sub, when)
    return on_call.stage1_key if on_call else "-"


def test_a_pre_dated_change_applies_exactly_from_its_start_and_until_its_end(
    store: RecordStore, rota: Rota, staff_id: int
) -> None:
    start, end = at("2026-12-24T17:00"), at("2026-12-27T08:00")
    made = add_change(
        store, "enfield", rota, OPTIONS, change(starts_at=start.isoformat(), ends_at="2026-12-27T08:00"),
        made_by=staff_id, now=at("2026-12-01T10:00"),
    )  # fmt: skip
    assert (made.starts_at, made.ends_at) == (start, end)
    assert made.state(at("2026-12-01T10:00")) == "upcoming"
    assert who(store, rota, "housing_repairs", start - timedelta(microseconds=1)) == "officer_a"
    assert who(store, rota, "housing_repairs", start) == "officer_b"
    assert who(store, rota, "housing_repairs", at("2026-12-26T03:00")) == "officer_b"
    assert who(store, rota, "housing_repairs", end - timedelta(seconds=1)) == "officer_b"
    assert who(store, rota, "housing_repairs", end) == "officer_a"


def test_a_change_outranks_file_shifts_of_its_own_level_only(store: RecordStore, rota: Rota, staff_id: int) -> None:
    """A repairs change replaces the file's repairs shift, not its more specific plumbing one."""
    now = at("2026-11-23T10:00")
    add_change(store, "enfield", rota, OPTIONS, change(), made_by=staff_id, now=now)
    assert who(store, rota, "housing_repairs", now) == "officer_b"
    assert who(store, rota, "housing_repairs", now, sub="electrician") == "officer_b"
    assert who(store, rota, "housing_repairs", now, sub="plumber") == "plumber"
    assert who(store, rota, "housing_repairs/plumber", now) == "plumber"
    assert who(store, rota, "homeless_families", now) == "duty"
    add_change(
        store, "enfield", rota, OPTIONS, change(service_option="housing_repairs/plumber"), made_by=staff_id, now=now
    )
    assert who(store, rota, "housing_repairs/plumber", now) == "officer_b"
    add_change(store, "enfield", rota, OPTIONS, change(service_option="*", stage1="manager"), made_by=staff_id, now=now)
    assert who(store, rota, "homeless_families", now) == "manager"
    assert who(store, rota, "housing_repairs", now) == "officer_b"


def test_the_newest_change_wins_and_contacts_stay_the_files(store: RecordStore, rota: Rota, staff_id: int) -> None:
    now = at("2026-11-23T10:00")
    add_change(store, "enfield", rota, OPTIONS, change(days=["mon"]), made_by=staff_id, now=now)
    add_change(
        store, "enfield", rota, OPTIONS, change(stage1="manager"), made_by=staff_id, now=now + timedelta(minutes=1)
    )
    live = effective_rota(store, "enfield", rota, now + timedelta(minutes=2))
    on_call = live.on_call("housing_repairs", None, now + timedelta(minutes=2))
    assert on_call is not None and on_call.stage1_key == "manager"
    assert live.contacts == rota.contacts and live.escalation == rota.escalation


def test_a_withdrawn_change_stops_applying_from_its_withdrawal(store: RecordStore, rota: Rota, staff_id: int) -> None:
    now = at("2026-11-23T10:00")
    made = add_change(store, "enfield", rota, OPTIONS, change(), made_by=staff_id, now=now)
    assert who(store, rota, "housing_repairs", now + timedelta(hours=1)) == "officer_b"
    gone = withdraw_change(store, "enfield", made.id, by=staff_id, reason="A is back", now=now + timedelta(hours=2))
    assert gone is not None and gone.withdrawn_at == now + timedelta(hours=2) and gone.withdrawn_reason == "A is back"
    assert who(store, rota, "housing_repairs", now + timedelta(hours=2)) == "officer_a"
    assert who(store, rota, "housing_repairs", now + timedelta(days=3)) == "officer_a"
    assert who(store, rota, "housing_repairs", now + timedelta(hours=1)) == "officer_b", "history is kept"
    kept = list_changes(store, "enfield")
    assert [(c.id, c.state(now + timedelta(hours=3))) for c in kept] == [(made.id, "withdrawn")]
    with pytest.raises(RotaChangeError, match="already withdrawn"):
        withdraw_change(store, "enfield", made.id, by=staff_id, reason="", now=now + timedelta(hours=3))
    assert withdraw_change(store, "barnet", made.id, by=staff_id, reason="", now=now) is None


def test_a_pre_dated_change_withdrawn_before_it_starts_never_applies(
    store: RecordStore, rota: Rota, staff_id: int
) -> None:
    now = at("2026-11-23T10:00")
    made = add_change(store, "enfield", rota, OPTIONS, change(starts_at="2026-11-30T00:00"), made_by=staff_id, now=now)
    withdraw_change(store, "enfield", made.id, by=staff_id, reason="plans changed", now=now + timedelta(days=1))
    assert who(store, rota, "housing_repairs", at("2026-11-30T12:00")) == "officer_a"


def test_a_change_crossing_midnight_belongs_to_the_night_it_starts(
    store: RecordStore, rota: Rota, staff_id: int
) -> None:
    """Saturday 22:00 to 02:00: covers Sunday 01:30, not Sunday 02:30 (the file's noise shift again)."""
    night = change(service_option="noise", days=["sat"], stage1="officer_a", **{"from": "22:00", "to": "02:00"})
    night.update(starts_at="2026-11-21T00:00", ends_at="2026-11-23T00:00")
    add_change(store, "enfield", rota, OPTIONS, night, made_by=staff_id, now=at("2026-11-20T12:00"))
    assert who(store, rota, "noise", at("2026-11-21T21:00")) == "officer_b"  # before the change's window
    assert who(store, rota, "noise", at("2026-11-21T23:00")) == "officer_a"
    assert who(store, rota, "noise", at("2026-11-22T01:30")) == "officer_a"  # Sunday, the Saturday night's window
    assert who(store, rota, "noise", at("2026-11-22T02:30")) == "officer_b"  # the file's shift runs to 03:00
    assert who(store, rota, "noise", at("2026-11-20T23:00")) == "officer_b"  # Friday: before the change starts


def test_a_change_whose_period_ends_mid_window_stops_at_its_end(store: RecordStore, rota: Rota, staff_id: int) -> None:
    night = change(service_option="noise", days=["sat"], stage1="officer_a", **{"from": "22:00", "to": "02:00"})
    night.update(starts_at="2026-11-21T00:00", ends_at="2026-11-22T01:00")
    add_change(store, "enfield", rota, OPTIONS, night, made_by=staff_id, now=at("2026-11-20T12:00"))
    assert who(store, rota, "noise", at("2026-11-22T00:59")) == "officer_a"
    assert who(store, rota, "noise", at("2026-11-22T01:00")) == "officer_b"


def test_changes_stay_with_their_organisation(store: RecordStore, rota: Rota, staff_id: int) -> None:
    now = at("2026-11-23T10:00")
    add_change(store, "barnet", rota, OPTIONS, change(), made_by=staff_id, now=now)
    assert effective_rota(store, "enfield", rota, now) is rota, "no change: the file rota itself"
    assert who(store, rota, "housing_repairs", now, po="barnet") == "officer_b"
    assert list_changes(store, "enfield") == []


def test_a_wrong_change_names_every_field_and_nothing_is_kept(store: RecordStore, rota: Rota, staff_id: int) -> None:
    now = at("2026-11-23T10:00")
    wrong = {
        "service_option": "parking",
        "days": ["mon", "funday"],
        "from": "25:00",
        "to": "08:00",
        "stage1": "nobody",
        "stage2": "",
        "starts_at": "2026-11-22T10:00",
        "ends_at": "yesterday",
        "reason": " ",
    }
    with pytest.raises(RotaChangeError) as refused:
        add_change(store, "enfield", rota, OPTIONS, wrong, made_by=staff_id, now=now)
    assert refused.value.problems == [
        "service_option: 'parking' is not one of this organisation's options",
        "stage1: no contact 'nobody' in this organisation's rota",
        "stage2: say which contact of the rota",
        "ends_at: 'yesterday' is not a date and time (e.g. 2026-12-24T17:00)",
        "starts_at: is in the past; a change can start now or later",
        "reason: say why (it is kept with the change), e.g. 'Asha off sick, Ben covers'",
    ]
    with pytest.raises(RotaChangeError) as times:
        parse_change(rota, OPTIONS, change(days=["mon", "funday"], **{"from": "25:00"}), now=now)
    assert times.value.problems == [
        "days[1]: 'funday' is not a day (use mon, tue, wed, thu, fri, sat, sun)",
        "from: '25:00' is not a time of day as HH:MM",
    ]
    with pytest.raises(RotaChangeError, match="ends_at: must be after starts_at"):
        parse_change(rota, OPTIONS, change(starts_at="2026-11-24T10:00", ends_at="2026-11-24T09:00"), now=now)
    with pytest.raises(RotaChangeError, match="a sub-category needs a specific service_option"):
        parse_change(rota, OPTIONS, change(service_option="*", sub_category="plumber"), now=now)
    assert list_changes(store, "enfield") == []


# -- gaps ------------------------------------------------------------------------------------------


def noise_and_repairs() -> Rota:
    """No '*' shift: repairs all the time, noise on Friday and Saturday nights only."""
    return make_rota(
        shift("housing_repairs", "officer_a"),
        shift("noise", "officer_b", days=["fri", "sat"], **{"from": "20:00", "to": "03:00"}),
    )


def spans(gaps: list[Any]) -> list[tuple[str, str, str]]:
    return [(g.service_option, f"{g.start:%a %H:%M}", f"{g.end:%a %d %H:%M}") for g in gaps]


def test_gaps_are_the_periods_with_nobody_on_call_merged_per_option() -> None:
    gaps = rota_gaps(noise_and_repairs(), ["housing_repairs", "noise"], at("2026-11-16T00:00"), days=7)
    assert spans(gaps) == [
        ("noise", "Mon 00:00", "Fri 20 20:00"),
        ("noise", "Sat 03:00", "Sat 21 20:00"),
        ("noise", "Sun 03:00", "Mon 23 00:00"),
    ]
    assert gaps[0].hours == 4 * 24 + 20
    assert gaps[0].describe() == "noise: Mon 16 Nov 2026 00:00 to Fri 20 Nov 2026 20:00 (116 hours)"


def test_a_shift_ending_inside_an_hour_leaves_a_gap_from_that_minute() -> None:
    rota = make_rota(shift("noise", "officer_b", **{"from": "08:00", "to": "17:30"}))
    gaps = rota_gaps(rota, ["noise"], at("2026-11-16T08:00"), days=1)
    assert spans(gaps) == [("noise", "Mon 17:30", "Tue 17 08:00")]


def test_a_covered_rota_has_no_gaps_and_hours_when_closed_do_not_count(rota: Rota) -> None:
    assert rota_gaps(rota, OPTIONS, at("2026-11-16T00:00")) == []

    def evenings(option: str, moment: Any) -> bool:
        return moment.hour >= 20 or moment.hour < 3

    gaps = rota_gaps(noise_and_repairs(), ["noise"], at("2026-11-16T12:00"), days=2, is_open=evenings)
    assert spans(gaps) == [("noise", "Mon 20:00", "Tue 17 03:00"), ("noise", "Tue 20:00", "Wed 18 03:00")]


def test_a_change_fills_a_gap_for_its_period_only(store: RecordStore, staff_id: int) -> None:
    rota = noise_and_repairs()
    cover = change(service_option="noise", starts_at="2026-11-17T12:00", ends_at="2026-11-18T12:00")
    add_change(store, "enfield", rota, OPTIONS, cover, made_by=staff_id, now=at("2026-11-16T00:00"))
    start = at("2026-11-16T00:00")
    live = LiveRota.load(store, "enfield", rota, start, start + timedelta(days=3))
    assert spans(rota_gaps(live, ["noise"], start, days=3)) == [
        ("noise", "Mon 00:00", "Tue 17 12:00"),
        ("noise", "Wed 12:00", "Thu 19 00:00"),
    ]


def test_every_shipped_organisation_has_someone_on_call_for_the_next_14_days(store: RecordStore) -> None:
    """The shipped rotas all have a '*' shift: the daily report has nothing to say about them."""
    registry = load_registry(PROJECT_ROOT / "service_scripts")
    for po, organisation in registry.organisations.items():
        assert organisation_gaps(store, organisation, at("2026-11-21T07:00")) == [], po
