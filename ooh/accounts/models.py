"""Tables of staff accounts, their sessions and the audit log (in the records database).

* ``staff_users``: one row per person, with an Argon2 password hash and a TOTP secret (RFC 6238).
  ``totp_last_step`` is the last time step accepted, so a code seen over a shoulder cannot be used
  twice; ``failed_attempts`` and ``locked_until`` carry the lock-out.
* ``staff_memberships``: which organisation a person works for, in which role. ``po = "*"`` is the
  whole service (a service admin).
* ``staff_sessions``: signed-in browsers. Only the SHA-256 of the cookie's token is stored, so a
  copy of the database does not sign anyone in.
* ``audit_events``: every sign-in, refusal and access to personal data: who, when, which
  organisation, what (a reference or call id, never personal data), allowed or not. Rows are only
  ever added.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, UniqueConstraint

from ooh.records.models import Base, UTCDateTime

WHOLE_SERVICE = "*"
"""The ``po`` of a membership that covers the whole service (service admins)."""


class StaffUser(Base):
    """A member of staff who signs in with a password and a TOTP code."""

    __tablename__ = "staff_users"

    id = Column(Integer, primary_key=True)
    email = Column(String(254), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    password_hash = Column(String(200), nullable=False)
    totp_secret = Column(String(64), nullable=False)
    totp_last_step = Column(Integer)
    failed_attempts = Column(Integer, nullable=False, default=0)
    locked_until = Column(UTCDateTime)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False)


class StaffMembership(Base):
    """One role a person holds in one organisation (or, with ``po = "*"``, the whole service)."""

    __tablename__ = "staff_memberships"
    __table_args__ = (UniqueConstraint("user_id", "po", "role", name="uq_staff_membership"),)

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False, index=True)
    po = Column(String(64), nullable=False)
    role = Column(String(32), nullable=False)


class StaffSession(Base):
    """A signed-in browser: the hash of its cookie token, its CSRF token and its expiry."""

    __tablename__ = "staff_sessions"

    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    user_id = Column(Integer, ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    last_seen = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)


class AuditEvent(Base):
    """One audited event: a sign-in, a refusal, or an access to an organisation's personal data."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_po_at", "po", "at"),)

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False)
    user_id = Column(Integer, ForeignKey("staff_users.id", ondelete="SET NULL"))
    po = Column(String(64))
    action = Column(String(64), nullable=False)
    target = Column(String(200), nullable=False, default="")
    allowed = Column(Boolean, nullable=False)
