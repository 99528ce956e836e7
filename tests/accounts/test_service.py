"""Staff accounts as an admin, a call handler and an attacker meet them (real SQLite, real Argon2)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from ooh.accounts.models import AuditEvent, StaffSession, StaffUser
from ooh.accounts.service import (
    AccountError,
    Accounts,
    Membership,
    NewAccount,
    Permission,
    Role,
    SignInOutcome,
    StaffMember,
)
from ooh.records.store import RecordStore
from ooh.settings import PROJECT_ROOT

NOW = datetime(2026, 12, 6, 2, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    store = RecordStore(f"sqlite:///{tmp_path / 'records.db'}")
    store.migrate()
    return Accounts(store)


@pytest.fixture
def asha(accounts: Accounts) -> NewAccount:
    return accounts.add(
        "Asha@Enfield.example", "Asha Patel", PASSWORD, [Membership("enfield", Role.CALL_HANDLER)], now=NOW
    )


def code(account: NewAccount, at: datetime) -> str:
    return pyotp.TOTP(account.totp_secret).at(at)


def test_the_password_is_kept_only_as_an_argon2id_hash(accounts: Accounts, asha: NewAccount) -> None:
    """A copy of the database gives an attacker no password."""
    with accounts.store.engine.connect() as connection:
        stored = connection.execute(select(StaffUser.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_a_password_and_the_current_code_sign_in(accounts: Accounts, asha: NewAccount) -> None:
    """The email is matched whatever its case; the session's token is stored only as a hash."""
    result = accounts.sign_in("asha@enfield.example", PASSWORD, code(asha, NOW), now=NOW)
    assert result.outcome is SignInOutcome.SIGNED_IN and result.token and result.member is not None
    assert result.member.first_name == "Asha"
    with accounts.store.engine.connect() as connection:
        hashes = connection.execute(select(StaffSession.token_hash)).scalars().all()
    assert hashes and result.token not in hashes
    assert accounts.session(result.token, now=NOW + timedelta(minutes=1)) is not None


@pytest.mark.parametrize(
    "password,offset,why",
    [
        ("wrong password here", 0, "wrong password, right code"),
        (PASSWORD, 120, "right password, a code four steps away"),
        (PASSWORD, None, "right password, no code"),
    ],
)
def test_both_factors_are_needed(
    accounts: Accounts, asha: NewAccount, password: str, offset: int | None, why: str
) -> None:
    """Neither the password nor the code alone signs in."""
    given = "" if offset is None else code(asha, NOW + timedelta(seconds=offset))
    result = accounts.sign_in("asha@enfield.example", password, given, now=NOW)
    assert result.outcome is SignInOutcome.WRONG and result.token is None, why


def test_a_code_works_once(accounts: Accounts, asha: NewAccount) -> None:
    """A code read over a shoulder cannot be replayed in the same 30 seconds (RFC 6238 5.2)."""
    first = code(asha, NOW)
    assert accounts.sign_in("asha@enfield.example", PASSWORD, first, now=NOW).outcome is SignInOutcome.SIGNED_IN
    again = accounts.sign_in("asha@enfield.example", PASSWORD, first, now=NOW + timedelta(seconds=5))
    assert again.outcome is SignInOutcome.WRONG


def test_repeated_failures_lock_the_account_even_for_the_right_password(accounts: Accounts, asha: NewAccount) -> None:
    """Five wrong tries lock it for 15 minutes; then it opens again, or an admin unlocks it sooner."""
    for attempt in range(4):
        result = accounts.sign_in("asha@enfield.example", f"guess number {attempt}", code(asha, NOW), now=NOW)
        assert result.outcome is SignInOutcome.WRONG
    assert accounts.sign_in("asha@enfield.example", "guess number 5", "123456", now=NOW).outcome is SignInOutcome.LOCKED
    later = NOW + timedelta(minutes=5)
    locked = accounts.sign_in("asha@enfield.example", PASSWORD, code(asha, later), now=later)
    assert locked.outcome is SignInOutcome.LOCKED and locked.token is None
    assert locked.locked_until == NOW + timedelta(minutes=15)
    after = NOW + timedelta(minutes=16)
    assert (
        accounts.sign_in("asha@enfield.example", PASSWORD, code(asha, after), now=after).outcome
        is SignInOutcome.SIGNED_IN
    )
    for attempt in range(5):
        accounts.sign_in("asha@enfield.example", f"guess {attempt}", "000000", now=after)
    assert accounts.unlock("ASHA@enfield.example")
    unlocked = after + timedelta(minutes=1)
    assert accounts.sign_in("asha@enfield.example", PASSWORD, code(asha, unlocked), now=unlocked).token


def test_sessions_end_when_idle_at_the_end_of_a_shift_and_on_sign_out(accounts: Accounts, asha: NewAccount) -> None:
    """30 minutes idle, 12 hours in all, or signing out: the cookie signs nobody in after."""
    token = accounts.sign_in("asha@enfield.example", PASSWORD, code(asha, NOW), now=NOW).token
    assert accounts.session(token, now=NOW + timedelta(minutes=31)) is None
    at = NOW + timedelta(minutes=1)
    token = accounts.sign_in("asha@enfield.example", PASSWORD, code(asha, at), now=at).token
    moment = at
    while moment + timedelta(minutes=20) < at + timedelta(hours=12):
        moment += timedelta(minutes=20)
        assert accounts.session(token, now=moment) is not None, "used every 20 minutes, it stays"
    assert accounts.session(token, now=at + timedelta(hours=12, minutes=1)) is None
    at = NOW + timedelta(hours=13)
    token = accounts.sign_in("asha@enfield.example", PASSWORD, code(asha, at), now=at).token
    accounts.sign_out(token, now=at)
    assert accounts.session(token, now=at) is None
    assert accounts.session("made-up-token", now=at) is None


def test_roles_see_their_own_organisation_only() -> None:
    """Personal data to staff of its organisation; a service admin manages accounts, reads no cases."""
    handler = StaffMember(1, "h@x", "H", (Membership("enfield", Role.CALL_HANDLER),))
    admin = StaffMember(2, "a@x", "A", (Membership("barnet", Role.ORG_ADMIN),))
    service = StaffMember(3, "s@x", "S", (Membership("*", Role.SERVICE_ADMIN),))
    assert handler.can(Permission.READ_RECORDS, "enfield") and handler.can(Permission.PLAY_RECORDINGS, "enfield")
    assert not handler.can(Permission.READ_RECORDS, "barnet") and not handler.can(Permission.MANAGE_STAFF, "enfield")
    assert admin.can(Permission.MANAGE_STAFF, "barnet") and not admin.can(Permission.MANAGE_STAFF, "enfield")
    assert not service.can(Permission.READ_RECORDS, "enfield") and not service.can(Permission.PLAY_RECORDINGS, "barnet")
    assert service.can(Permission.MANAGE_STAFF, "enfield")
    assert service.can(Permission.READ_RECORDS, None) and not handler.can(Permission.READ_RECORDS, None)


def test_accounts_that_would_be_unsafe_are_refused(accounts: Accounts, asha: NewAccount) -> None:
    """Short passwords, a second account for one email, and roles in the wrong place, with reasons."""
    cases = [
        ("b@x.example", "B", "short", [Membership("enfield", Role.CALL_HANDLER)], "12 characters"),
        ("asha@enfield.example", "A", PASSWORD, [Membership("enfield", Role.CALL_HANDLER)], "already"),
        ("c@x.example", "C", PASSWORD, [Membership("enfield", Role.SERVICE_ADMIN)], "whole service"),
        ("d@x.example", "D", PASSWORD, [Membership("*", Role.CALL_HANDLER)], "one organisation"),
        ("e@x.example", "E", PASSWORD, [], "at least one"),
    ]
    for email, name, password, memberships, reason in cases:
        with pytest.raises(AccountError, match=reason):
            accounts.add(email, name, password, memberships, now=NOW)


def test_sign_ins_and_refusals_are_audited_without_personal_data(accounts: Accounts, asha: NewAccount) -> None:
    """The audit says who tried and whether it worked; never a password or an unknown email in full."""
    accounts.sign_in("nobody@elsewhere.example", PASSWORD, "123456", now=NOW)
    accounts.sign_in("asha@enfield.example", "wrong password here", "123456", now=NOW)
    accounts.sign_in("asha@enfield.example", PASSWORD, code(asha, NOW), now=NOW)
    with accounts.store.engine.connect() as connection:
        rows = connection.execute(select(AuditEvent.action, AuditEvent.target, AuditEvent.allowed)).all()
    assert [(r.action, r.allowed) for r in rows] == [("sign_in", False), ("sign_in", False), ("sign_in", True)]
    assert rows[0].target == "elsewhere.example"
    assert not any(PASSWORD in str(r) or "nobody@" in str(r) for r in rows)


def run_cli(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {"OOH_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "ooh.cli", "staff", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=120,
    )


def test_the_first_admin_is_made_from_the_command_line(tmp_path: Path) -> None:
    """The README's command makes an account, prints its TOTP secret once, and refuses bad input."""
    made = run_cli(
        tmp_path,
        "add",
        "--email",
        "lead@service.example",
        "--name",
        "Lee Lead",
        "--role",
        "*:service_admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    secret = next(line.split()[-1] for line in made.stdout.splitlines() if "secret:" in line)
    assert "otpauth://totp/" in made.stdout and len(secret) >= 16
    store = RecordStore(f"sqlite:///{tmp_path / 'cli.db'}")
    now = datetime.now(timezone.utc)
    signed = Accounts(store).sign_in("lead@service.example", PASSWORD, pyotp.TOTP(secret).at(now), now=now)
    assert signed.outcome is SignInOutcome.SIGNED_IN
    wrong_org = run_cli(
        tmp_path,
        "add",
        "--email",
        "x@y.example",
        "--name",
        "X",
        "--role",
        "enfeld:call_handler",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert wrong_org.returncode == 1 and "No organisation with id enfeld" in wrong_org.stderr
    wrong_role = run_cli(
        tmp_path,
        "add",
        "--email",
        "x@y.example",
        "--name",
        "X",
        "--role",
        "enfield:boss",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert wrong_role.returncode == 1 and "call_handler" in wrong_role.stderr
    listed = run_cli(tmp_path, "list")
    assert "lead@service.example" in listed.stdout and "*:service_admin" in listed.stdout
