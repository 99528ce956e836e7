"""Staff accounts: adding people, signing in with password and TOTP, sessions, permissions, audit.

Every decision about staff access is made here and nowhere else:

* **Passwords** are hashed with Argon2id (``argon2-cffi``'s defaults, rehashed when they change).
  At least 12 characters and no composition rules (NCSC password guidance).
* **Two factors for everyone** (spec 7.10): a TOTP code (RFC 6238, ``pyotp``) from an
  authenticator app, accepted one 30-second step either side of now, and never twice.
* **Lock-out**: after ``max_failures`` wrong passwords or codes in a row an account refuses every
  sign-in, right or wrong, for ``lockout``; an admin can lift it sooner (``ooh.cli staff unlock``).
* **Sessions** end after ``idle`` without use and after ``lifetime`` in any case (a night shift
  fits in the default 12 hours). The browser holds a random token; the database only its SHA-256.
* **Permissions** come from roles per organisation (:data:`ROLE_PERMISSIONS`). Personal data is
  read only by staff of the organisation it belongs to; a service admin manages accounts and
  reads the calls that never reached an organisation, but no organisation's records.

Times are passed in (``now``) so tests and the doors agree on one clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ooh.accounts.models import WHOLE_SERVICE, AuditEvent, StaffMembership, StaffSession, StaffUser
from ooh.records.store import RecordStore
from ooh.settings import Settings

SESSION_COOKIE = "ooh_staff"
"""The cookie a signed-in browser holds (read by the staff app and the voice gateway alike)."""
MIN_PASSWORD_LENGTH = 12
TOTP_STEP_SECONDS = 30


class Role(str, Enum):
    """What a person does for an organisation."""

    CALL_HANDLER = "call_handler"
    ORG_OFFICER = "org_officer"
    ORG_ADMIN = "org_admin"
    SERVICE_ADMIN = "service_admin"


class Permission(str, Enum):
    """What a role allows, within the organisation the role is held in."""

    READ_RECORDS = "read_records"
    """Service requests, transcripts and call logs."""
    PLAY_RECORDINGS = "play_recordings"
    MANAGE_STAFF = "manage_staff"
    MANAGE_ROTA = "manage_rota"
    """See who is on call and the rota's gaps, and change the rota (now or pre-dated)."""


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CALL_HANDLER: frozenset({Permission.READ_RECORDS, Permission.PLAY_RECORDINGS}),
    Role.ORG_OFFICER: frozenset({Permission.READ_RECORDS, Permission.PLAY_RECORDINGS}),
    Role.ORG_ADMIN: frozenset(
        {Permission.READ_RECORDS, Permission.PLAY_RECORDINGS, Permission.MANAGE_STAFF, Permission.MANAGE_ROTA}
    ),
    Role.SERVICE_ADMIN: frozenset({Permission.MANAGE_STAFF}),
}
"""Roles and what they allow. A service admin runs the shared service, not an organisation's cases."""

UNASSIGNED = None
"""The organisation of a call that never reached one (the caller hung up before choosing)."""


class AccountError(ValueError):
    """An account cannot be created or changed as asked (the message says why, for the admin)."""


@dataclass(frozen=True)
class Membership:
    """One role in one organisation (``po == "*"``: the whole service)."""

    po: str
    role: Role


@dataclass(frozen=True)
class StaffMember:
    """A signed-in person, as the doors see them."""

    id: int
    email: str
    name: str
    memberships: tuple[Membership, ...]

    @property
    def first_name(self) -> str:
        """How a resident is told who they are talking to (spec 5.2.2)."""
        return self.name.split()[0] if self.name.strip() else self.name

    def organisations(self) -> list[str]:
        """Organisations this person works for (not the whole-service marker)."""
        return sorted({m.po for m in self.memberships if m.po != WHOLE_SERVICE})

    def can(self, permission: Permission, po: str | None) -> bool:
        """Whether this person may do ``permission`` on data of organisation ``po``.

        ``po`` None is a call that never reached an organisation: only the service's own admins may
        read those. Whole-service roles grant what they grant everywhere.
        """
        for membership in self.memberships:
            if permission in ROLE_PERMISSIONS[membership.role] and membership.po in (WHOLE_SERVICE, po):
                return True
        unassigned_call = po is UNASSIGNED and permission is Permission.READ_RECORDS
        return unassigned_call and any(m.role is Role.SERVICE_ADMIN for m in self.memberships)


@dataclass(frozen=True)
class NewAccount:
    """What an admin hands the new person: their TOTP secret and the link an authenticator reads."""

    member: StaffMember
    totp_secret: str
    provisioning_uri: str


class SignInOutcome(str, Enum):
    """Why a sign-in succeeded or not."""

    SIGNED_IN = "signed_in"
    WRONG = "wrong"
    LOCKED = "locked"


@dataclass(frozen=True)
class SignIn:
    """The result of a sign-in attempt; ``token`` and ``csrf`` only when it succeeded."""

    outcome: SignInOutcome
    member: StaffMember | None = None
    token: str | None = None
    csrf: str | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class ActiveSession:
    """A valid session: who it belongs to and the CSRF token its forms must carry."""

    member: StaffMember
    csrf: str
    expires_at: datetime


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _step(now: datetime) -> int:
    return int(now.timestamp()) // TOTP_STEP_SECONDS


class Accounts:
    """Staff accounts kept in the records database.

    Args:
        store: The records store (its engine, transactions and migrations).
        idle: A session ends after this long without a request.
        lifetime: A session ends this long after sign-in, used or not.
        max_failures: Wrong passwords or codes in a row before the account locks.
        lockout: How long a locked account stays locked.
        issuer: Shown in the authenticator app beside the account.
    """

    def __init__(
        self,
        store: RecordStore,
        *,
        idle: timedelta = timedelta(minutes=30),
        lifetime: timedelta = timedelta(hours=12),
        max_failures: int = 5,
        lockout: timedelta = timedelta(minutes=15),
        issuer: str = "Out-of-hours service",
    ) -> None:
        self.store = store
        self.idle = idle
        self.lifetime = lifetime
        self.max_failures = max_failures
        self.lockout = lockout
        self.issuer = issuer
        self._hasher = PasswordHasher()
        # Verified against when the email is unknown, so a wrong email costs as long as a wrong
        # password and the time taken does not say which accounts exist.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    # -- accounts -----------------------------------------------------------------------------

    def add(
        self, email: str, name: str, password: str, memberships: Iterable[Membership], *, now: datetime
    ) -> NewAccount:
        """Create an account; the caller shows the returned TOTP secret to its owner once."""
        email = email.strip().lower()
        wanted = tuple(dict.fromkeys(memberships))
        if "@" not in email or len(email) > 254:
            raise AccountError("An email address is needed to sign in with.")
        if not name.strip():
            raise AccountError("A name is needed (call handlers are introduced to residents by first name).")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
        if not wanted:
            raise AccountError("Give at least one organisation and role (e.g. enfield:call_handler).")
        for membership in wanted:
            if membership.role is Role.SERVICE_ADMIN and membership.po != WHOLE_SERVICE:
                raise AccountError("A service admin is for the whole service: use *:service_admin.")
            if membership.role is not Role.SERVICE_ADMIN and membership.po == WHOLE_SERVICE:
                raise AccountError(f"{membership.role.value} is a role in one organisation, not in '*'.")
        secret = pyotp.random_base32()
        password_hash = self._hasher.hash(password)

        def work(session: Session) -> StaffMember:
            if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
                raise AccountError(f"There is already an account for {email}.")
            user = StaffUser(
                email=email,
                name=name.strip(),
                password_hash=password_hash,
                totp_secret=secret,
                failed_attempts=0,
                active=True,
                created_at=now,
            )
            session.add(user)
            session.flush()
            for membership in wanted:
                session.add(StaffMembership(user_id=user.id, po=membership.po, role=membership.role.value))
            return StaffMember(user.id, email, user.name, wanted)

        member = self.store.write(work)
        uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=self.issuer)
        return NewAccount(member, secret, uri)

    def unlock(self, email: str) -> bool:
        """Lift a lock-out now (an admin vouched for the person); False if there is no such account."""

        def work(session: Session) -> bool:
            user = session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
            if user is None:
                return False
            user.failed_attempts = 0
            user.locked_until = None
            return True

        return self.store.write(work)

    def members(self) -> list[StaffMember]:
        """Every account (for ``ooh.cli staff list``)."""

        def work(session: Session) -> list[StaffMember]:
            users = session.scalars(select(StaffUser).order_by(StaffUser.email)).all()
            return [self._member(session, user) for user in users]

        return self.store.read(work)

    @staticmethod
    def _member(session: Session, user: StaffUser) -> StaffMember:
        rows = session.scalars(select(StaffMembership).where(StaffMembership.user_id == user.id)).all()
        memberships = tuple(Membership(row.po, Role(row.role)) for row in rows)
        return StaffMember(user.id, user.email, user.name, memberships)

    # -- signing in ---------------------------------------------------------------------------

    def sign_in(self, email: str, password: str, code: str, *, now: datetime) -> SignIn:
        """Check password and TOTP code; on success start a session. Every attempt is audited."""
        email = email.strip().lower()[:254]
        code = "".join(ch for ch in code if not ch.isspace())

        def work(session: Session) -> SignIn:
            user = session.scalar(select(StaffUser).where(StaffUser.email == email))
            if user is None or not user.active:
                self._verify(self._decoy, password)
                self._audit(session, now, None, None, "sign_in", email_domain(email), allowed=False)
                return SignIn(SignInOutcome.WRONG)
            if user.locked_until is not None and user.locked_until > now:
                self._audit(session, now, user.id, None, "sign_in_locked", "", allowed=False)
                return SignIn(SignInOutcome.LOCKED, locked_until=user.locked_until)
            password_ok = self._verify(user.password_hash, password)
            step = self._matching_step(user.totp_secret, code, now) if password_ok else None
            if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
                user.failed_attempts = (user.failed_attempts or 0) + 1
                if user.failed_attempts >= self.max_failures:
                    user.locked_until = now + self.lockout
                    user.failed_attempts = 0
                    self._audit(session, now, user.id, None, "locked_out", "", allowed=False)
                    return SignIn(SignInOutcome.LOCKED, locked_until=user.locked_until)
                self._audit(session, now, user.id, None, "sign_in", "", allowed=False)
                return SignIn(SignInOutcome.WRONG)
            user.failed_attempts = 0
            user.locked_until = None
            user.totp_last_step = step
            if self._hasher.check_needs_rehash(user.password_hash):
                user.password_hash = self._hasher.hash(password)
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            session.add(
                StaffSession(
                    token_hash=_hash_token(token),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen=now,
                    expires_at=now + self.lifetime,
                )
            )
            self._audit(session, now, user.id, None, "sign_in", "", allowed=True)
            return SignIn(SignInOutcome.SIGNED_IN, self._member(session, user), token, csrf)

        return self.store.write(work)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    @staticmethod
    def _matching_step(secret: str, code: str, now: datetime) -> int | None:
        """The time step whose code this is (now, or one step either side for clock drift)."""
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            return None
        totp = pyotp.TOTP(secret)
        current = _step(now)
        for step in (current - 1, current, current + 1):
            if hmac.compare_digest(totp.at(step * TOTP_STEP_SECONDS), code):
                return step
        return None

    def session(self, token: str | None, *, now: datetime) -> ActiveSession | None:
        """The session a cookie's token belongs to, if it is still valid (and mark it used)."""
        if not token or len(token) > 128:
            return None

        def work(session: Session) -> ActiveSession | None:
            row = session.scalar(select(StaffSession).where(StaffSession.token_hash == _hash_token(token)))
            if row is None:
                return None
            user = session.get(StaffUser, row.user_id)
            if row.expires_at <= now or row.last_seen + self.idle <= now or user is None or not user.active:
                session.delete(row)
                return None
            row.last_seen = now
            return ActiveSession(self._member(session, user), row.csrf_token, min(row.expires_at, now + self.idle))

        return self.store.write(work)

    def sign_out(self, token: str | None, *, now: datetime) -> None:
        """End a session (the cookie's token no longer signs anyone in)."""
        if not token:
            return

        def work(session: Session) -> None:
            row = session.scalar(select(StaffSession).where(StaffSession.token_hash == _hash_token(token)))
            if row is not None:
                self._audit(session, now, row.user_id, None, "sign_out", "", allowed=True)
                session.execute(delete(StaffSession).where(StaffSession.id == row.id))

        self.store.write(work)

    # -- audit --------------------------------------------------------------------------------

    def audit(
        self, member: StaffMember | None, action: str, po: str | None, target: str, *, allowed: bool, now: datetime
    ) -> None:
        """Write one access to the audit log (a reference or call id as target, never personal data)."""
        user_id = member.id if member is not None else None
        self.store.write(lambda session: self._audit(session, now, user_id, po, action, target, allowed=allowed))

    @staticmethod
    def _audit(
        session: Session, now: datetime, user_id: int | None, po: str | None, action: str, target: str, *, allowed: bool
    ) -> None:
        session.add(AuditEvent(at=now, user_id=user_id, po=po, action=action, target=target[:200], allowed=allowed))

    def audit_trail(self, *, po: str | None = None, limit: int = 100) -> list[dict[str, object]]:
        """The newest audit events (of one organisation when ``po`` is given), newest first."""

        def work(session: Session) -> list[dict[str, object]]:
            query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
            if po is not None:
                query = query.where(AuditEvent.po == po)
            return [
                {
                    "at": e.at,
                    "user_id": e.user_id,
                    "po": e.po,
                    "action": e.action,
                    "target": e.target,
                    "allowed": e.allowed,
                }
                for e in session.scalars(query)
            ]

        return self.store.read(work)


def email_domain(email: str) -> str:
    """The part of an unknown email the audit log keeps (the domain: who tried, not the address)."""
    return email.rpartition("@")[2][:100]


def parse_membership(text: str) -> Membership:
    """``enfield:call_handler`` or ``*:service_admin`` -> a :class:`Membership` (``AccountError`` if not)."""
    po, _, role = text.partition(":")
    try:
        return Membership(po.strip(), Role(role.strip()))
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise AccountError(f"'{text}' is not organisation:role (roles: {roles}).") from None


def accounts_for(store: RecordStore, settings: Settings) -> Accounts:
    """The accounts service with the deployment's session and lock-out settings."""
    return Accounts(
        store,
        idle=timedelta(minutes=settings.staff_session_idle_minutes),
        lifetime=timedelta(hours=settings.staff_session_hours),
        max_failures=settings.staff_max_failures,
        lockout=timedelta(minutes=settings.staff_lockout_minutes),
    )
