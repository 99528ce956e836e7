"""Staff accounts for tests and tools: made with the real accounts service, signed in with TOTP.

A test that reads call logs or plays recordings does it as a member of staff would: an account in
the stack's database, a password, a code from the account's TOTP secret, and the session cookie the
sign-in returns.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

import pyotp

from ooh.accounts.service import SESSION_COOKIE, Membership, StaffMember, accounts_for
from ooh.records.store import RecordStore
from ooh.settings import Settings


@dataclass(frozen=True)
class StaffLogin:
    """An account made for a test: its credentials and, once signed in, its session token."""

    member: StaffMember
    email: str
    password: str
    totp_secret: str
    token: str

    @property
    def cookie(self) -> dict[str, str]:
        """The request header a signed-in browser sends."""
        return {"Cookie": f"{SESSION_COOKIE}={self.token}"}

    @property
    def cookie_header(self) -> str:
        """The same, as one ``Name: value`` line (for command-line tools)."""
        return f"Cookie: {SESSION_COOKIE}={self.token}"

    def code(self, at: datetime | None = None) -> str:
        """The authenticator app's code now (or at ``at``)."""
        return pyotp.TOTP(self.totp_secret).at(at or datetime.now(timezone.utc))


def staff_login(database_url: str, name: str, memberships: list[Membership], email: str | None = None) -> StaffLogin:
    """Make an account in the database at ``database_url`` and sign it in (a session token)."""
    store = RecordStore(database_url)
    try:
        store.migrate()
        accounts = accounts_for(store, Settings(database_url=database_url))  # type: ignore[call-arg]
        email = email or f"{secrets.token_hex(4)}@staff.example"
        password = secrets.token_urlsafe(16)
        now = datetime.now(timezone.utc)
        made = accounts.add(email, name, password, memberships, now=now)
        result = accounts.sign_in(email, password, pyotp.TOTP(made.totp_secret).at(now), now=now)
        assert result.token is not None, result.outcome
        return StaffLogin(made.member, email, password, made.totp_secret, result.token)
    finally:
        store.dispose()

