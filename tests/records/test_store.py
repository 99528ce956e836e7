"""The record store against real databases: a SQLite file, and PostgreSQL when it is installed."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from harness.requests import typical_request
from ooh.records.models import Base
from ooh.records.references import find_reference, normalise_reference
from ooh.records.store import RecordStore, ServiceRequestView
from tests.records.conftest import LONDON, at

NOW = at("2026-11-22T21:15")


def make(store: RecordStore, **overrides: Any) -> ServiceRequestView:
    """Create a typical referred housing-repairs request, with overrides."""
    times = {"started_at": at("2026-11-22T21:10"), "ended_at": NOW, "flags": []}
    return typical_request(store, NOW, **{**times, **overrides})


# -- references ---------------------------------------------------------------------------------


def test_reference_format_and_sequence(store: RecordStore) -> None:
    """References read ``PREFIX-YYYYMMDD-NNNN`` and count up, so residents can quote them."""
    first, second = make(store), make(store)
    assert first.reference == "ENF-20261122-0001"
    assert second.reference == "ENF-20261122-0002"
    assert re.fullmatch(r"[A-Z]+-\d{8}-\d{4}", first.reference)


def test_counter_is_per_prefix_and_per_local_day(store: RecordStore) -> None:
    """Each organisation's numbering restarts every London day, even across BST."""
    make(store)
    assert make(store, prefix="PEA", po="peabody").reference == "PEA-20261122-0001"
    assert make(store, now=at("2026-11-23T00:05")).reference == "ENF-20261123-0001"
    # 23:30 UTC on 1 July is 00:30 on 2 July in London (BST): the reference uses the local day.
    summer = datetime(2026, 7, 1, 23, 30, tzinfo=timezone.utc)
    view = make(store, now=summer)
    assert view.reference == "ENF-20260702-0001"
    assert view.created_at.tzinfo is not None and view.created_at.hour == 0


def test_naive_times_are_taken_as_local(store: RecordStore) -> None:
    """A time without a zone is London time, not UTC, so the reference day is right."""
    view = make(store, now=datetime(2026, 7, 1, 23, 30))
    assert view.reference == "ENF-20260701-0001"
    assert store.get(view.reference).created_at == datetime(2026, 7, 1, 23, 30, tzinfo=LONDON)


def _create_concurrently(make_store: Any, writers: int = 20) -> list[str]:
    barrier = threading.Barrier(writers)
    references: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(index: int) -> None:
        try:
            store = make_store()
            barrier.wait(timeout=30)
            view = make(store, sender_id=f"conv-{index}")
            with lock:
                references.append(view.reference)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return references


@pytest.mark.parametrize("shared", [True, False], ids=["one-store", "store-per-writer"])
def test_references_unique_under_20_concurrent_writers_sqlite(store: RecordStore, db_url: str, shared: bool) -> None:
    """20 threads at once on one SQLite file: one engine, or one each like separate processes."""
    references = _create_concurrently(lambda: store if shared else RecordStore(db_url))
    expected = {f"ENF-20261122-{n:04d}" for n in range(1, 21)}
    assert sorted(references) == sorted(expected)
    assert make(store).reference == "ENF-20261122-0021"


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[RecordStore]:
    """A store on the throw-away PostgreSQL, with fresh tables."""
    store = RecordStore(postgres_url)
    Base.metadata.drop_all(store.engine)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    store.migrate()
    yield store
    store.dispose()


def test_references_unique_under_20_concurrent_writers_postgresql(pg_store: RecordStore, postgres_url: str) -> None:
    """The same guarantee on PostgreSQL: the counter row lock serialises writers."""
    references = _create_concurrently(lambda: RecordStore(postgres_url))
    assert sorted(references) == [f"ENF-20261122-{n:04d}" for n in range(1, 21)]
    view = pg_store.get("enf 20261122 7")
    assert view is not None and view.created_at == NOW


def test_postgresql_round_trip(pg_store: RecordStore) -> None:
    """Every store operation works on PostgreSQL by URL alone, with zone-aware times."""
    view = make(pg_store)
    assert pg_store.find_open_duplicate("enfield", "housing_repairs", "100021234567", None) == view
    pg_store.add_update(view.reference, "note", "Checked", {"by": "staff"}, now=NOW)
    pg_store.record_dispatch(view.reference, "failed", NOW)
    assert [v.reference for v in pg_store.pending_referrals()] == [view.reference]


# -- lookup -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "ENF-20261122-0001",
        "enf 20261122 0001",
        "  enf-20261122-1 ",
        "ENF 2026 1122 0001",
        "enf.20261122.0001",
        "ENF202611220001",
    ],
)
def test_get_is_tolerant_of_formatting(store: RecordStore, typed: str) -> None:
    """Residents type or say references any old way; all of these find the request."""
    made = make(store)
    found = store.get(typed)
    assert found is not None and found.reference == made.reference


@pytest.mark.parametrize("typed", ["", "ENF-20261122-0002", "HAR-20261122-0001", "hello", "42"])
def test_get_unknown_is_none(store: RecordStore, typed: str) -> None:
    """An unknown or malformed reference is simply not found, never an error."""
    make(store)
    assert store.get(typed) is None


def test_normalise_reference() -> None:
    """Short sequence numbers are padded and junk is rejected."""
    assert normalise_reference("enf 20261122 42") == "ENF-20261122-0042"
    assert normalise_reference("not a reference") is None
    assert find_reference("hi my ref is enf 20261122 0042 any news") == "ENF-20261122-0042"
    assert find_reference("call me on 07700900123") is None


def test_views_are_frozen_snapshots(store: RecordStore) -> None:
    """Callers get detached copies: changing one cannot change the database."""
    view = make(store)
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.status = "closed"  # type: ignore[misc]
    view.answers["q_water_leak"] = False
    assert store.get(view.reference).answers == {"q_water_leak": True}


def test_nothing_touches_the_database_before_use(tmp_path: Path) -> None:
    """Building a store must not create or open the database (imports stay cheap)."""
    path = tmp_path / "not-yet" / "records.db"
    store = RecordStore(f"sqlite:///{path}")
    assert not path.exists()
    store.migrate()
    assert path.exists()
    store.dispose()


def test_sqlite_file_runs_in_wal_mode(store: RecordStore) -> None:
    """WAL lets status queries read while a referral is being written."""
    make(store)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


# -- duplicates (spec 5.2.7, 7.4.2) --------------------------------------------------------------


def test_duplicate_same_uprn_same_option_open(store: RecordStore) -> None:
    """Spec 5.2.7: an open request for the same property and option is a duplicate."""
    original = make(store)
    found = store.find_open_duplicate("enfield", "housing_repairs", "100021234567", None)
    assert found is not None and found.reference == original.reference


def test_duplicate_uprn_may_be_an_int(store: RecordStore) -> None:
    """Address files give UPRNs as numbers; they match the stored text."""
    make(store)
    assert store.find_open_duplicate("enfield", "housing_repairs", 100021234567, None) is not None


def test_no_duplicate_for_other_option_property_or_organisation(store: RecordStore) -> None:
    """A different option, property or organisation is a new problem."""
    make(store)
    assert store.find_open_duplicate("enfield", "lift_repairs", "100021234567", None) is None
    assert store.find_open_duplicate("enfield", "housing_repairs", "100099999999", None) is None
    assert store.find_open_duplicate("haringey", "housing_repairs", "100021234567", None) is None
    assert store.find_open_duplicate("enfield", "housing_repairs", None, None) is None


def test_closed_request_is_not_a_duplicate(store: RecordStore) -> None:
    """Once staff close a request, a new report is a new request."""
    original = make(store)
    closed = store.close_request(original.reference, now=at("2026-11-22T23:00"))
    assert closed.status == "closed"
    assert closed.updates[-1].kind == "note"
    assert store.find_open_duplicate("enfield", "housing_repairs", "100021234567", None) is None


def test_latest_open_duplicate_wins(store: RecordStore) -> None:
    """With several open reports, the resident is told about the latest one."""
    make(store)
    later = make(store, now=at("2026-11-22T22:00"))
    found = store.find_open_duplicate("enfield", "housing_repairs", "100021234567", None)
    assert found is not None and found.reference == later.reference


def test_duplicate_by_address_text_without_uprn(store: RecordStore) -> None:
    """Unverified addresses match on their words, whatever the case, punctuation or postcode."""
    original = make(store, uprn=None, address_verified=False, address="Flat 2, 10 High Road, EN1 1AA")
    for typed in (
        "flat 2 10 high road",
        "FLAT 2, 10 HIGH ROAD, en1 1aa",
        "Flat 2 - 10 High Road EN11AA",
    ):
        found = store.find_open_duplicate("enfield", "housing_repairs", None, typed)
        assert found is not None and found.reference == original.reference, typed
    assert store.find_open_duplicate("enfield", "housing_repairs", None, "Flat 2, 10 High Road, N9 9ZZ") is None
    assert store.find_open_duplicate("enfield", "housing_repairs", None, "Flat 3, 10 High Road") is None
    assert store.find_open_duplicate("enfield", "noise", None, "Flat 2, 10 High Road") is None


# -- updates and referral state ------------------------------------------------------------------


def test_add_update_appends_to_history(store: RecordStore) -> None:
    """Updates are an audit trail, oldest first, found by any spelling of the reference."""
    view = make(store)
    store.add_update("enf 20261122 1", "duplicate_report", "Reported again", {"x": 1}, now=at("2026-11-22T22:00"))
    store.add_update(view.reference, "status_query", "Resident asked", now=at("2026-11-22T22:30"))
    updates = store.get(view.reference).updates
    assert [(u.kind, u.text, u.data) for u in updates] == [
        ("duplicate_report", "Reported again", {"x": 1}),
        ("status_query", "Resident asked", None),
    ]
    assert updates[0].at == at("2026-11-22T22:00")


def test_add_update_rejects_unknown_reference_and_kind(store: RecordStore) -> None:
    """Updates to nothing, or of an unknown kind, are programming errors."""
    view = make(store)
    with pytest.raises(KeyError):
        store.add_update("ENF-20261122-0099", "note", "x", now=NOW)
    with pytest.raises(ValueError):
        store.add_update(view.reference, "gossip", "x", now=NOW)


def test_record_dispatch_and_pending_referrals(store: RecordStore) -> None:
    """Only sent referrals get a dispatch time; unsent open ones are listed for retry."""
    sent = make(store)
    failed = make(store)
    pending = make(store)
    make(store, call_outcome="daytime", referral_status="not_required")
    closed = make(store)
    store.close_request(closed.reference, now=NOW)

    after_send = store.record_dispatch(sent.reference, "sent", at("2026-11-22T21:16"))
    assert after_send.referral_status == "sent"
    assert after_send.referral_dispatched_at == at("2026-11-22T21:16")
    after_fail = store.record_dispatch(failed.reference, "failed", at("2026-11-22T21:17"))
    assert after_fail.referral_status == "failed" and after_fail.referral_dispatched_at is None

    assert [v.reference for v in store.pending_referrals()] == [failed.reference, pending.reference]
    assert store.pending_referrals(before=NOW) == []
    with pytest.raises(ValueError):
        store.record_dispatch(sent.reference, "lost", NOW)


def test_fields_round_trip(store: RecordStore) -> None:
    """What goes in comes back out unchanged, including JSON columns and times."""
    view = make(store, flags=["address_unverified"])
    stored = store.get(view.reference)
    assert stored == view
    assert stored.transcript == [{"at": "21:14:00", "speaker": "resident", "text": "My ceiling is leaking"}]
    assert stored.flags == ["address_unverified"]
    assert stored.status == "open" and stored.referral_status == "pending"
    assert stored.started_at == at("2026-11-22T21:10")
