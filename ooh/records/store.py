"""The service-request store: create requests with unique references, find duplicates, log updates.

:class:`RecordStore` is the only code that talks to the database. It hands out frozen
:class:`ServiceRequestView` snapshots, never ORM objects, so no caller can hold a session open or
trigger a lazy load after the session has gone.

Concurrency: references are ``<PREFIX>-<YYYYMMDD>-<NNNN>``, numbered per prefix per local day by
the ``reference_counters`` row incremented in the same transaction as the insert.

* On PostgreSQL the ``UPDATE ... SET last = last + 1`` takes a row lock, so concurrent writers queue
  on it; the very first insert of a day can race, which the unique key turns into an
  ``IntegrityError`` and the transaction is simply run again.
* On SQLite, write transactions start with ``BEGIN IMMEDIATE`` so they take the write lock before
  reading the counter (a plain deferred ``BEGIN`` would let two writers read the same value). The
  file runs in WAL mode, so readers are not blocked, with a busy timeout; if a writer still sees
  "database is locked" the whole transaction is retried with a short random back-off.

The store is synchronous, and that back-off sleeps: async callers (the actions, the gateway, the
finish step) run its methods in a worker thread with ``asyncio.to_thread``, never on the event loop.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, event, select, update
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.pool import StaticPool

from ooh.records.models import (
    REFERRAL_STATUSES,
    UPDATE_KINDS,
    Job,
    ReferenceCounter,
    RequestUpdate,
    ServiceRequest,
)
from ooh.records.references import make_reference, normalise_reference

logger = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
"""Alembic's scripts for this store's tables (``versions/`` holds one file per schema change)."""
MIGRATION_LOCK = 2026113001
"""PostgreSQL advisory lock key held while migrating (any fixed number unique to this purpose)."""
FIRST_REVISION = "0001"
"""The schema ``create_all`` made before migrations existed."""

#: Referral states that still need a successful send.
UNSENT_REFERRALS = ("pending", "failed")

_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[A-Z]{2})$")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_RETRYABLE = (
    "database is locked",
    "database table is locked",
    "database schema has changed",
    "deadlock detected",
    "could not serialize access",
)


@dataclass(frozen=True)
class RequestUpdateView:
    """A snapshot of one update of a request."""

    at: datetime
    kind: str
    text: str
    data: dict[str, Any] | None


@dataclass(frozen=True)
class ServiceRequestView:
    """A snapshot of one service request, detached from any database session.

    Datetimes are aware, in the store's local time zone. ``updates`` is oldest first.
    """

    id: int
    reference: str
    po: str
    service_option: str
    sub_category: str | None
    priority: str | None
    call_outcome: str
    status: str
    caller_name: str | None
    contact_number: str | None
    address: str | None
    uprn: str | None
    address_verified: bool
    details: str
    answers: dict[str, Any]
    transcript: list[dict[str, Any]]
    channel: str | None
    sender_id: str | None
    recording_id: str | None
    started_at: datetime | None
    ended_at: datetime | None
    referral_dispatched_at: datetime | None
    referral_status: str
    flags: list[str]
    created_at: datetime
    updates: tuple[RequestUpdateView, ...] = field(default=(), compare=False)


def split_address(address: str | None) -> tuple[str | None, str | None]:
    """Normalise address text for duplicate search: ``(words, postcode)``.

    The postcode is taken off the end because the same address is sometimes recorded with it and
    sometimes without; two addresses then match when their words match and their postcodes do
    not contradict each other.
    """
    if not address or not address.strip():
        return None, None
    text = address.strip().upper()
    postcode = None
    match = _POSTCODE.search(text)
    if match:
        postcode = f"{match.group(1)} {match.group(2)}"
        text = text[: match.start()]
    words = _NON_WORD.sub(" ", text.lower()).strip()
    return (words or None), postcode


def _is_retryable(exc: DBAPIError) -> bool:
    message = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return any(marker in message for marker in _RETRYABLE)


class RecordStore:
    """Service requests in a SQL database named by a SQLAlchemy URL (SQLite or PostgreSQL).

    The engine is created on first use, never in ``__init__``, so building a store (or importing a
    module that does) never touches the database.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///var/records.db`` or ``postgresql://...``. An
            in-memory SQLite URL shares one connection, so use it from one thread only.
        timezone: Zone of naive datetimes passed in and of datetimes handed out; reference days
            are local days in it.
        max_attempts: How many times a write transaction is tried when the database is busy.
    """

    def __init__(self, url: str, *, timezone: str = "Europe/London", max_attempts: int = 50) -> None:
        self.url = url
        self.zone = ZoneInfo(timezone)
        self.max_attempts = max_attempts
        self._engine: Engine | None = None
        self._reader: sessionmaker | None = None
        self._writer: sessionmaker | None = None
        self._lock = threading.Lock()

    # -- engine -------------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The engine, created (thread-safely) on first use."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._build_engine(make_url(self.url))
        return self._engine

    def _build_engine(self, url: URL) -> Engine:
        if url.get_backend_name() != "sqlite":
            engine = create_engine(url, future=True, pool_pre_ping=True, hide_parameters=True)
            self._reader = sessionmaker(engine, future=True, expire_on_commit=False)
            self._writer = self._reader
            return engine
        memory = url.database in (None, "", ":memory:")
        kwargs: dict[str, Any] = {"connect_args": {"timeout": 30, "check_same_thread": False}}
        if memory:
            kwargs["poolclass"] = StaticPool  # one shared in-memory database for all threads
        elif url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, future=True, hide_parameters=True, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA busy_timeout = 30000")
                cursor.execute("PRAGMA foreign_keys = ON")
                if not memory:
                    try:
                        cursor.execute("PRAGMA journal_mode = WAL")
                    except Exception as exc:  # another connection holds the lock; it persists anyway
                        logger.debug("Could not switch SQLite to WAL yet: %s", exc)
            finally:
                cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        self._reader = sessionmaker(engine, future=True, expire_on_commit=False)
        writer_engine = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._writer = sessionmaker(writer_engine, future=True, expire_on_commit=False)
        return engine

    def migrate(self) -> None:
        """Bring the database's schema up to date with Alembic (idempotent; safe from many processes).

        Runs in one write transaction (on SQLite ``BEGIN IMMEDIATE``, on PostgreSQL a transaction
        with its DDL), so two processes starting together apply each revision once: the second
        waits, then finds nothing to do. A database made before migrations existed (by
        ``create_all``: the tables are there but not Alembic's version table) is stamped at the
        first revision, whose schema it has, and upgraded from there.
        """
        from alembic import command
        from alembic.config import Config
        from sqlalchemy import inspect

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))

        def upgrade() -> None:
            with self.engine.execution_options(sqlite_begin="IMMEDIATE").begin() as connection:
                if connection.dialect.name == "postgresql":
                    # DDL on tables that do not exist yet takes no lock: serialise starters explicitly.
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                config.attributes["connection"] = connection
                tables = set(inspect(connection).get_table_names())
                if "service_requests" in tables and "alembic_version" not in tables:
                    command.stamp(config, FIRST_REVISION)
                command.upgrade(config, "head")

        self._retry(upgrade)

    def dispose(self) -> None:
        """Close pooled connections (tests, shutdown)."""
        if self._engine is not None:
            self._engine.dispose()

    # -- transactions -------------------------------------------------------------------------

    def _retry(self, work: Callable[[], T], *, retry_integrity: bool = False) -> T:
        """Run ``work`` (one whole transaction), again if the database was busy.

        Args:
            work: The transaction; it must be safe to run again from the start.
            retry_integrity: Also retry on a unique-key clash (a concurrent first insert of a
                reference counter), which the next run resolves by updating the row instead.
        """
        for attempt in range(1, self.max_attempts + 1):
            try:
                return work()
            except IntegrityError:
                if not retry_integrity or attempt == self.max_attempts:
                    raise
            except (OperationalError, DBAPIError) as exc:
                if not _is_retryable(exc) or attempt == self.max_attempts:
                    raise
            time.sleep(min(0.5, 0.005 * attempt) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")  # pragma: no cover

    def write(self, work: Callable[[Session], T], *, retry_integrity: bool = False) -> T:
        """Run ``work`` in one write transaction (retried when busy): the store's and its neighbours'.

        Other tables in the same database (staff accounts, the audit log) use this too, so every
        write gets the same locking and retry rules.
        """
        self.engine  # noqa: B018 - builds the session factories
        assert self._writer is not None

        def run() -> T:
            with self._writer() as session, session.begin():  # type: ignore[misc]
                return work(session)

        return self._retry(run, retry_integrity=retry_integrity)

    def read(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one read transaction (retried when busy)."""
        self.engine  # noqa: B018 - builds the session factories
        assert self._reader is not None

        def run() -> T:
            with self._reader() as session, session.begin():  # type: ignore[misc]
                return work(session)

        return self._retry(run)

    # -- conversions --------------------------------------------------------------------------

    def _aware(self, moment: datetime) -> datetime:
        """A datetime with a zone: naive values are taken as local time in the store's zone."""
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=self.zone)

    def _local(self, moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        if moment.tzinfo is None:  # a driver that drops the zone: stored values are UTC
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(self.zone)

    def _view(self, row: ServiceRequest, updates: Iterable[RequestUpdate] = ()) -> ServiceRequestView:
        return ServiceRequestView(
            id=row.id,
            reference=row.reference,
            po=row.po,
            service_option=row.service_option,
            sub_category=row.sub_category,
            priority=row.priority,
            call_outcome=row.call_outcome,
            status=row.status,
            caller_name=row.caller_name,
            contact_number=row.contact_number,
            address=row.address,
            uprn=row.uprn,
            address_verified=bool(row.address_verified),
            details=row.details or "",
            answers=dict(row.answers or {}),
            transcript=[dict(line) for line in row.transcript or []],
            channel=row.channel,
            sender_id=row.sender_id,
            recording_id=row.recording_id,
            started_at=self._local(row.started_at),
            ended_at=self._local(row.ended_at),
            referral_dispatched_at=self._local(row.referral_dispatched_at),
            referral_status=row.referral_status,
            flags=list(row.flags or []),
            created_at=self._local(row.created_at) or datetime.now(self.zone),
            updates=tuple(RequestUpdateView(self._local(u.at) or u.at, u.kind, u.text, u.data) for u in updates),
        )

    # -- writes -------------------------------------------------------------------------------

    @staticmethod
    def _next_number(session: Session, prefix: str, day: str) -> int:
        """Increment the day's counter inside the caller's transaction and return the new value."""
        where = (ReferenceCounter.prefix == prefix, ReferenceCounter.day == day)
        bumped = session.execute(
            update(ReferenceCounter)
            .where(*where)
            .values(last=ReferenceCounter.last + 1)
            .execution_options(synchronize_session=False)
        )
        if bumped.rowcount == 0:
            session.add(ReferenceCounter(prefix=prefix, day=day, last=1))
            session.flush()  # a concurrent first insert fails here and the transaction is rerun
            return 1
        return int(session.execute(select(ReferenceCounter.last).where(*where)).scalar_one())

    def create_request(
        self,
        *,
        po: str,
        prefix: str,
        service_option: str,
        call_outcome: str,
        now: datetime,
        sub_category: str | None = None,
        priority: str | None = None,
        caller_name: str | None = None,
        contact_number: str | None = None,
        address: str | None = None,
        uprn: str | int | None = None,
        address_verified: bool = False,
        details: str = "",
        answers: dict[str, Any] | None = None,
        transcript: Sequence[dict[str, Any]] | None = None,
        channel: str | None = None,
        sender_id: str | None = None,
        recording_id: str | None = None,
        started_at: datetime | None = None,
        ended_at: datetime | None = None,
        flags: Sequence[str] | None = None,
        referral_status: str = "pending",
    ) -> ServiceRequestView:
        """Store a new open request and give it the next reference of its prefix and local day.

        The counter increment and the insert are one transaction, so a crash cannot burn or reuse
        a number, and concurrent writers (threads or processes) always get different references.

        Args:
            po: Organisation id.
            prefix: The organisation's reference prefix (``ENF``).
            service_option: Canonical Service Option id.
            call_outcome: How the call ended (``referred``, ``daytime``, ...).
            now: When the request is created; its local date is the reference's date.
            sub_category: E.g. ``plumber`` for ``housing_repairs``.
            priority: E.g. ``emergency`` / ``urgent`` / ``routine``.
            caller_name: As given by the caller.
            contact_number: As given by the caller.
            address: Address text (with postcode when known).
            uprn: Unique Property Reference Number when the address was matched.
            address_verified: Whether the address was found in the organisation's address file.
            details: Brief details of the problem.
            answers: Every scripted answer, by slot.
            transcript: ``[{"at", "speaker", "text"}, ...]``.
            channel: Input channel (``rest``, ``voice``, ...).
            sender_id: Conversation id.
            recording_id: The call recording's server-issued id (phone calls only).
            started_at: When the conversation started.
            ended_at: When it ended.
            flags: E.g. ``address_unverified``, ``caller_could_not_answer``.
            referral_status: ``pending`` when on-call staff must be told, else ``not_required``.

        Returns:
            A snapshot of the stored request.
        """
        if referral_status not in REFERRAL_STATUSES:
            raise ValueError(f"referral_status must be one of {REFERRAL_STATUSES}, not {referral_status!r}")
        if not re.fullmatch(r"[A-Z]+", prefix):
            raise ValueError(f"reference prefix must be capital letters, not {prefix!r}")
        now = self._aware(now)
        local_now = now.astimezone(self.zone)
        day = f"{local_now:%Y%m%d}"
        address_key, postcode = split_address(address)

        def work(session: Session) -> ServiceRequestView:
            number = self._next_number(session, prefix, day)
            row = ServiceRequest(
                reference=make_reference(prefix, local_now, number),
                po=po,
                service_option=service_option,
                sub_category=sub_category,
                priority=priority,
                call_outcome=call_outcome,
                status="open",
                caller_name=caller_name,
                contact_number=contact_number,
                address=address,
                uprn=None if uprn in (None, "") else str(uprn),
                address_verified=address_verified,
                address_key=address_key,
                address_postcode=postcode,
                details=details or "",
                answers=dict(answers or {}),
                transcript=[dict(line) for line in transcript or []],
                channel=channel,
                sender_id=sender_id,
                recording_id=recording_id,
                started_at=self._aware(started_at) if started_at else None,
                ended_at=self._aware(ended_at) if ended_at else None,
                referral_status=referral_status,
                flags=list(flags or []),
                created_at=now,
            )
            session.add(row)
            if referral_status == "pending":
                # The referral's job is written with the request: one commit, so a request waiting
                # for its referral always has a worker's job, whatever dies after.
                sent_from = datetime.now(timezone.utc)
                session.add(Job(kind="referral", key=row.reference, due_at=sent_from, created_at=sent_from))
            session.flush()
            return self._view(row)

        view = self.write(work, retry_integrity=True)
        logger.info("Created service request %s (%s, %s)", view.reference, po, service_option)
        return view

    def _row(self, session: Session, reference: str) -> ServiceRequest | None:
        canonical = normalise_reference(reference)
        if canonical is None:
            return None
        statement = (
            select(ServiceRequest)
            .where(ServiceRequest.reference == canonical)
            .options(selectinload(ServiceRequest.updates))
        )
        return session.execute(statement).scalar_one_or_none()

    def add_update(
        self,
        reference: str,
        kind: str,
        text: str,
        data: dict[str, Any] | None = None,
        *,
        now: datetime,
    ) -> RequestUpdateView:
        """Append an update to a request's history.

        Args:
            reference: The request's reference (any spacing or case).
            kind: ``duplicate_report``, ``status_query``, ``referral_attempt`` or ``note``.
            text: What happened, for staff.
            data: Anything structured worth keeping (a transcript, an SMTP error).
            now: When it happened.

        Raises:
            KeyError: when no request has this reference.
            ValueError: for an unknown kind.
        """
        if kind not in UPDATE_KINDS:
            raise ValueError(f"update kind must be one of {UPDATE_KINDS}, not {kind!r}")
        at = self._aware(now)

        def work(session: Session) -> RequestUpdateView:
            row = self._row(session, reference)
            if row is None:
                raise KeyError(reference)
            row.updates.append(RequestUpdate(at=at, kind=kind, text=text or "", data=data))
            return RequestUpdateView(at.astimezone(self.zone), kind, text or "", data)

        view = self.write(work)
        logger.info("Added %s update to %s", kind, normalise_reference(reference))
        return view

    def record_dispatch(
        self,
        reference: str,
        status: str,
        at: datetime,
        *,
        updates: Sequence[tuple[str, str, dict[str, Any] | None, datetime]] = (),
    ) -> ServiceRequestView:
        """Set the referral state of a request after a dispatch, with the updates that tell how.

        ``referral_dispatched_at`` is when on-call staff were actually sent the referral: it is set
        for ``sent`` and left as it was otherwise, so a failed send never looks delivered. The
        ``updates`` (kind, text, data, time: each try) are written in the same transaction, so the
        record never shows a successful try with the referral still unsent.

        Raises:
            KeyError: when no request has this reference.
            ValueError: for an unknown status.
        """
        if status not in REFERRAL_STATUSES:
            raise ValueError(f"referral status must be one of {REFERRAL_STATUSES}, not {status!r}")
        if any(kind not in UPDATE_KINDS for kind, _, _, _ in updates):
            raise ValueError(f"update kinds must be among {UPDATE_KINDS}")
        moment = self._aware(at)

        def work(session: Session) -> ServiceRequestView:
            row = self._row(session, reference)
            if row is None:
                raise KeyError(reference)
            for kind, text, data, when in updates:
                row.updates.append(RequestUpdate(at=self._aware(when), kind=kind, text=text or "", data=data))
            row.referral_status = status
            if status == "sent":
                row.referral_dispatched_at = moment
            session.flush()
            return self._view(row, row.updates)

        view = self.write(work)
        logger.info("Referral of %s is now %s", view.reference, status)
        return view

    def close_request(self, reference: str, *, now: datetime, note: str = "Closed by staff") -> ServiceRequestView:
        """Close a request (staff action): it no longer counts as an open duplicate.

        Raises:
            KeyError: when no request has this reference.
        """
        at = self._aware(now)

        def work(session: Session) -> ServiceRequestView:
            row = self._row(session, reference)
            if row is None:
                raise KeyError(reference)
            row.status = "closed"
            row.updates.append(RequestUpdate(at=at, kind="note", text=note, data=None))
            session.flush()
            return self._view(row, row.updates)

        view = self.write(work)
        logger.info("Closed service request %s", view.reference)
        return view

    # -- reads --------------------------------------------------------------------------------

    def get(self, reference: str) -> ServiceRequestView | None:
        """The request with this reference, however typed, with its updates; else ``None``."""

        def work(session: Session) -> ServiceRequestView | None:
            row = self._row(session, reference)
            return None if row is None else self._view(row, row.updates)

        return self.read(work)

    def for_conversation(self, sender_id: str) -> list[ServiceRequestView]:
        """Every request one conversation (chat session or call) created, oldest first.

        Staff use it to see everything a resident reported, including a report cut short by a
        safeguarding switch.
        """
        statement = (
            select(ServiceRequest)
            .where(ServiceRequest.sender_id == sender_id)
            .order_by(ServiceRequest.created_at, ServiceRequest.id)
            .options(selectinload(ServiceRequest.updates))
        )

        def work(session: Session) -> list[ServiceRequestView]:
            return [self._view(row, row.updates) for row in session.execute(statement).scalars()]

        return self.read(work)

    def find_open_duplicate(
        self,
        po: str,
        service_option: str,
        uprn: str | int | None,
        address: str | None,
        since: datetime | None = None,
    ) -> ServiceRequestView | None:
        """The latest open request of the same organisation and option for the same property.

        Same property means the same UPRN; when there is no UPRN (an unverified address), the same
        address words with no contradicting postcode. Closed requests never count: a new report
        after staff closed the last one is a new problem.

        Args:
            po: Organisation id.
            service_option: Canonical Service Option id.
            uprn: UPRN of the property, when the address was matched.
            address: Address text, used only when there is no UPRN.
            since: Only requests created at or after this moment count (e.g. tonight's).
        """
        conditions: list[Any] = [
            ServiceRequest.po == po,
            ServiceRequest.service_option == service_option,
            ServiceRequest.status == "open",
        ]
        if since is not None:
            conditions.append(ServiceRequest.created_at >= self._aware(since))
        if uprn not in (None, ""):
            conditions.append(ServiceRequest.uprn == str(uprn))
        else:
            key, postcode = split_address(address)
            if key is None:
                return None
            conditions.append(ServiceRequest.address_key == key)
            if postcode is not None:
                conditions.append(
                    (ServiceRequest.address_postcode == postcode) | ServiceRequest.address_postcode.is_(None)
                )
        statement = (
            select(ServiceRequest)
            .where(*conditions)
            .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
            .limit(1)
            .options(selectinload(ServiceRequest.updates))
        )

        def work(session: Session) -> ServiceRequestView | None:
            row = session.execute(statement).scalar_one_or_none()
            return None if row is None else self._view(row, row.updates)

        return self.read(work)

    def pending_referrals(self, *, before: datetime | None = None) -> list[ServiceRequestView]:
        """Open requests whose referral is not sent yet (``pending`` or ``failed``), oldest first.

        This is what the retry loop works through, so a referral that could not be sent (mail
        server down, everyone refused) is never lost.

        Args:
            before: Only requests created before this time, so a request whose first send is still
                in flight is not picked up and sent twice.
        """
        conditions: list[Any] = [
            ServiceRequest.referral_status.in_(UNSENT_REFERRALS),
            ServiceRequest.status == "open",
        ]
        if before is not None:
            conditions.append(ServiceRequest.created_at < self._aware(before))
        statement = (
            select(ServiceRequest)
            .where(*conditions)
            .order_by(ServiceRequest.created_at, ServiceRequest.id)
            .options(selectinload(ServiceRequest.updates))
        )
        return self.read(lambda s: [self._view(r, r.updates) for r in s.execute(statement).scalars()])

    def recent_referred(self, pos: Collection[str], *, since: datetime, limit: int = 50) -> list[ServiceRequestView]:
        """Open requests of these organisations whose referral was sent since ``since``, newest first.

        What an officer's bare "ACK" text can be about: the caller picks the one sent to them.
        """
        statement = (
            select(ServiceRequest)
            .where(
                ServiceRequest.po.in_(list(pos)),
                ServiceRequest.status == "open",
                ServiceRequest.referral_status == "sent",
                ServiceRequest.referral_dispatched_at >= self._aware(since),
            )
            .order_by(ServiceRequest.referral_dispatched_at.desc(), ServiceRequest.id.desc())
            .limit(limit)
            .options(selectinload(ServiceRequest.updates))
        )
        return self.read(lambda s: [self._view(r, r.updates) for r in s.execute(statement).scalars()])
