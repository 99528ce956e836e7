"""Fixtures for the record store: a file SQLite database, and a real PostgreSQL when installed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ooh.records.store import RecordStore

LONDON = ZoneInfo("Europe/London")


def at(text: str) -> datetime:
    """A London local time from ``YYYY-MM-DDTHH:MM``."""
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite file (in a folder that does not exist yet, as in production)."""
    return f"sqlite:///{tmp_path / 'var' / 'records.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[RecordStore]:
    """A store with its tables created."""
    records = RecordStore(db_url)
    records.migrate()
    yield records
    records.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a free port; skipped when PostgreSQL is not installed.

    PostgreSQL refuses to run as root, so under root the cluster is run as the ``postgres`` user.
    """
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.skip("psycopg2 is not installed")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed")
    prefix: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="ooh-pg-"))
    if os.geteuid() == 0:
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser")
        shutil.chown(workdir, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = workdir / "data", _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    try:
        subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"], **run)
        options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(workdir / "pg.log")
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", log, "-w", "start"], **run)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {exc}")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(workdir, ignore_errors=True)
