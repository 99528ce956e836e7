"""SQLAlchemy tables of the service-request store.

Three tables:

* ``service_requests``: one row per finished call that produced an action, with the caller's
  answers, the transcript and the state of its referral to on-call staff.
* ``request_updates``: what happened to a request afterwards (a duplicate report, a status query,
  each referral attempt, a staff note). Rows are only ever added, so the history is an audit trail.
* ``reference_counters``: the last reference number handed out per prefix and day. Incrementing it
  in the same transaction as the insert is what keeps references unique with many writers.
* ``jobs``: the outbox. Everything that must happen later (sending a referral now; later retries,
  escalations and alarms) is a row with a due time, written in the same transaction as what it is
  for, and claimed by a worker with a lease: any number of workers share the rows, a worker that
  dies loses its lease, and the row is taken again.
* ``rota_changes``: shifts staff add to an organisation's rota for a period (now or pre-dated),
  with who made them, when and why; withdrawn ones stay, marked withdrawn.
* ``lone_worker_visits`` and ``lone_worker_events``: an on-call officer's check-in at a site, the
  time they must check out by, and every step after it (due, each alarm, acknowledged, check-out).

Times are stored as UTC without a zone (SQLite has no zoned type and PostgreSQL's
``timestamp without time zone`` would silently drop an offset); :class:`UTCDateTime` converts on
the way in and out so the rest of the code only ever sees zone-aware datetimes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import declarative_base, relationship

Base: Any = declarative_base()

#: Values of ``ServiceRequest.status``: staff close requests; duplicate checks see open ones.
REQUEST_STATUSES = ("open", "closed")
#: Values of ``ServiceRequest.referral_status``.
REFERRAL_STATUSES = ("pending", "sent", "failed", "not_required")
#: Values of ``RequestUpdate.kind``.
UPDATE_KINDS = (
    "duplicate_report",
    "status_query",
    "referral_attempt",
    "note",
    "access",
    "sending",
    "acknowledged",
    "escalation",
    "delivery",
    "confirmation",
)


#: Values of ``Job.kind``.
JOB_KINDS = ("referral", "escalate", "rota_gaps", "confirm", "lone_worker", "lone_worker_notice")


class UTCDateTime(TypeDecorator):  # type: ignore[type-arg]
    """A datetime stored as naive UTC and returned as aware UTC.

    Naive values are refused on the way in: guessing their zone is how an hour goes missing at
    the clock change, so the store makes them aware (in the service's zone) before they get here.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to naive UTC for storage."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the record store; attach a time zone first")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Mark a stored naive UTC datetime as UTC."""
        return None if value is None else value.replace(tzinfo=timezone.utc)


class ServiceRequest(Base):
    """One service request: a call that ended in an action, and everything needed to act on it."""

    __tablename__ = "service_requests"

    id = Column(Integer, primary_key=True)
    reference = Column(String(32), nullable=False, unique=True)
    po = Column(String(64), nullable=False)
    service_option = Column(String(100), nullable=False)
    sub_category = Column(String(100))
    priority = Column(String(32))
    call_outcome = Column(String(32), nullable=False)
    status = Column(String(16), nullable=False, default="open")
    caller_name = Column(String(200))
    contact_number = Column(String(64))
    address = Column(Text)
    uprn = Column(String(32))
    address_verified = Column(Boolean, nullable=False, default=False)
    #: Address text normalised for duplicate search (lower case, no punctuation or postcode).
    address_key = Column(String(500))
    #: Postcode found at the end of the address, normalised (``N1 1AA``), for duplicate search.
    address_postcode = Column(String(10))
    details = Column(Text, nullable=False, default="")
    answers = Column(JSON, nullable=False, default=dict)
    transcript = Column(JSON, nullable=False, default=list)
    channel = Column(String(64))
    sender_id = Column(String(200))
    #: The call recording's file name, issued by the voice gateway (never a client-sent id).
    recording_id = Column(String(32))
    started_at = Column(UTCDateTime)
    ended_at = Column(UTCDateTime)
    referral_dispatched_at = Column(UTCDateTime)
    referral_status = Column(String(16), nullable=False, default="pending")
    flags = Column(JSON, nullable=False, default=list)
    created_at = Column(UTCDateTime, nullable=False)

    updates = relationship(
        "RequestUpdate",
        back_populates="request",
        order_by="(RequestUpdate.at, RequestUpdate.id)",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        # Duplicate checks (5.2.7): same organisation and option, open, same UPRN or address.
        Index("ix_requests_dup_uprn", "po", "service_option", "status", "uprn"),
        Index("ix_requests_dup_address", "po", "service_option", "status", "address_key"),
        # Rapid search by caller name and time of call (7.4.2).
        Index("ix_requests_po_created", "po", "created_at"),
        Index("ix_requests_caller_name", "po", "caller_name"),
        Index("ix_requests_referral", "referral_status"),
    )


class RequestUpdate(Base):
    """Something that happened to a request after it was created. Rows are never changed."""

    __tablename__ = "request_updates"

    id = Column(Integer, primary_key=True)
    request_id = Column(Integer, ForeignKey("service_requests.id"), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False)
    kind = Column(String(32), nullable=False)
    text = Column(Text, nullable=False, default="")
    data = Column(JSON)

    request = relationship("ServiceRequest", back_populates="updates")


class ReferenceCounter(Base):
    """Last reference number used for one prefix on one (local) day."""

    __tablename__ = "reference_counters"

    prefix = Column(String(8), primary_key=True)
    day = Column(String(8), primary_key=True)
    last = Column(Integer, nullable=False)


class Job(Base):
    """Something that must happen at ``due_at`` or later, until done (the outbox)."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "key", name="uq_jobs_kind_key"),
        Index("ix_jobs_done_due", "done_at", "due_at"),
    )

    id = Column(Integer, primary_key=True)
    kind = Column(String(32), nullable=False)
    #: What the job is for: a service request's reference for a referral.
    key = Column(String(64), nullable=False)
    due_at = Column(UTCDateTime, nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    lease_owner = Column(String(64))
    lease_until = Column(UTCDateTime)
    last_error = Column(String(300))
    created_at = Column(UTCDateTime, nullable=False)
    done_at = Column(UTCDateTime)


class RotaChange(Base):
    """An extra shift in one organisation's rota for a period, made by staff (live rotas).

    The fields of the shift are those of ``rota.yaml``'s shifts (option, optional sub-category,
    days, from/to, stage 1 and 2 as contact keys of the file); ``starts_at``/``ends_at`` is when it
    is in force (no end: until withdrawn). Rows are never deleted: a withdrawn change keeps who
    withdrew it, when and why. How a change combines with the file: ``ooh.orgs.live_rota``.
    """

    __tablename__ = "rota_changes"
    __table_args__ = (Index("ix_rota_changes_po_starts", "po", "starts_at"),)

    id = Column(Integer, primary_key=True)
    po = Column(String(64), nullable=False)
    service_option = Column(String(100), nullable=False)
    sub_category = Column(String(100))
    #: Day names (``mon`` ... ``sun``) the shift's window starts on.
    days = Column(JSON, nullable=False)
    #: ``HH:MM`` local times, as in ``rota.yaml`` (``to`` may be ``24:00``; earlier: crosses midnight).
    start_time = Column(String(5), nullable=False)
    end_time = Column(String(5), nullable=False)
    stage1 = Column(String(64), nullable=False)
    stage2 = Column(String(64), nullable=False)
    starts_at = Column(UTCDateTime, nullable=False)
    ends_at = Column(UTCDateTime)
    reason = Column(String(500), nullable=False)
    made_by = Column(Integer, ForeignKey("staff_users.id"), nullable=False)
    made_at = Column(UTCDateTime, nullable=False)
    withdrawn_at = Column(UTCDateTime)
    withdrawn_by = Column(Integer, ForeignKey("staff_users.id"))
    withdrawn_reason = Column(String(500))


class LoneWorkerVisit(Base):
    """An on-call officer's visit to a site, from check-in to check-out (lone-worker support, 5.2.3.6).

    ``due_at`` is when they said they would be out; without a check-out by then the worker raises the
    alarm to ``managers`` (rota contact keys chosen at check-in) until one acknowledges it or the
    officer checks out. What happened, step by step, is in :class:`LoneWorkerEvent`.
    """

    __tablename__ = "lone_worker_visits"
    __table_args__ = (Index("ix_lone_worker_visits_contact", "po", "contact_key", "checked_out_at"),)

    id = Column(Integer, primary_key=True)
    po = Column(String(64), nullable=False)
    #: The officer: a contact key of the organisation's ``rota.yaml``.
    contact_key = Column(String(64), nullable=False)
    #: Where they went in, as they said it.
    place = Column(String(300), nullable=False)
    #: The service request they are attending, when they gave its reference.
    reference = Column(String(32))
    #: How they checked in: ``web`` or ``sms``.
    channel = Column(String(16), nullable=False)
    minutes = Column(Integer, nullable=False)
    checked_in_at = Column(UTCDateTime, nullable=False)
    due_at = Column(UTCDateTime, nullable=False)
    checked_out_at = Column(UTCDateTime)
    acknowledged_at = Column(UTCDateTime)
    acknowledged_by = Column(String(64))
    alarms = Column(Integer, nullable=False, default=0)
    #: Contact keys the alarm goes to.
    managers = Column(JSON, nullable=False, default=list)


class LoneWorkerEvent(Base):
    """One step of a visit, with its time. Rows are never changed."""

    __tablename__ = "lone_worker_events"

    id = Column(Integer, primary_key=True)
    visit_id = Column(Integer, ForeignKey("lone_worker_visits.id"), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False)
    #: ``checked_in``, ``due``, ``alarm``, ``acknowledged``, ``checked_out``, ``texted``.
    kind = Column(String(32), nullable=False)
    text = Column(Text, nullable=False, default="")
    data = Column(JSON)
