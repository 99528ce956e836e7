"""The records schema evolves by Alembic migrations, which must say exactly what the models say."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from ooh.accounts import models as accounts_models  # noqa: F401 - its tables are in the same schema
from ooh.records.models import Base, Job, ReferenceCounter, RequestUpdate, ServiceRequest
from ooh.records.store import RecordStore
from tests.records.conftest import at


def schema_drift(store: RecordStore) -> list[object]:
    """What Alembic's autogenerate would add or change to make the database match the models."""
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_migrations_build_exactly_the_models_schema_on_sqlite(tmp_path: Path) -> None:
    store = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    store.migrate()
    store.migrate()  # a second start finds nothing to do
    assert schema_drift(store) == []
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0006"
    tables = {"staff_users", "staff_memberships", "staff_sessions", "audit_events", "jobs", "rota_changes"}
    tables |= {"lone_worker_visits", "lone_worker_events"}
    assert tables <= set(inspect(store.engine).get_table_names())
    store.dispose()


@pytest.fixture
def pg_fresh(postgres_url: str) -> Iterator[RecordStore]:
    """An empty PostgreSQL database."""
    store = RecordStore(postgres_url)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    yield store
    store.dispose()


def test_migrations_build_exactly_the_models_schema_on_postgresql(pg_fresh: RecordStore) -> None:
    pg_fresh.migrate()
    assert schema_drift(pg_fresh) == []


def test_a_database_from_before_migrations_keeps_its_requests(tmp_path: Path) -> None:
    """A database made by ``create_all`` (no version table) is adopted, not recreated or broken."""
    url = f"sqlite:///{tmp_path / 'records.db'}"
    old = RecordStore(url)
    # The tables create_all made then: the records' three (staff accounts and the outbox came later).
    records_tables = [model.__table__ for model in (ServiceRequest, RequestUpdate, ReferenceCounter, Job)]
    Base.metadata.create_all(old.engine, tables=records_tables)
    made = old.create_request(
        po="enfield", prefix="ENF", service_option="noise", call_outcome="referred", now=at("2026-11-21T23:30")
    )
    with old.engine.begin() as connection:  # as create_all made it, before recordings had their own ids
        connection.exec_driver_sql("ALTER TABLE service_requests DROP COLUMN recording_id")
        connection.exec_driver_sql("DROP TABLE jobs")  # nor was there an outbox
    old.dispose()
    store = RecordStore(url)
    store.migrate()
    assert "alembic_version" in inspect(store.engine).get_table_names()
    kept = store.get(made.reference)
    assert kept is not None and kept.service_option == "noise"
    from ooh.jobs import Jobs

    assert Jobs(store).waiting("referral") == 1, "its unsent referral is queued for the worker"
    assert store.create_request(
        po="enfield", prefix="ENF", service_option="noise", call_outcome="referred", now=at("2026-11-21T23:40")
    ).reference.endswith("-0002"), "numbering carries on from the adopted database"
    store.dispose()


def test_processes_starting_together_migrate_once_on_postgresql(pg_fresh: RecordStore, postgres_url: str) -> None:
    """The action server, the gateway and a worker may all start at once on an empty database."""
    from concurrent.futures import ThreadPoolExecutor

    def start() -> None:
        store = RecordStore(postgres_url)
        try:
            store.migrate()
        finally:
            store.dispose()

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(start) for _ in range(4)]:
            future.result()
    assert schema_drift(pg_fresh) == []
