"""``python -m ooh.cli staff add|list|unlock``: accounts from the command line.

The first admin of a new deployment has nobody to invite them, so accounts start here: the
command asks for the password (or reads it from standard input with ``--password-stdin``, for
scripts), checks every organisation id against the organisation data, and prints the TOTP secret
and the ``otpauth://`` link once, for the person's authenticator app.
"""

from __future__ import annotations

import getpass
import sys
from datetime import datetime, timezone

from ooh.accounts.models import WHOLE_SERVICE
from ooh.accounts.service import AccountError, Accounts, accounts_for, parse_membership
from ooh.orgs.loader import load_registry
from ooh.records.store import RecordStore
from ooh.settings import Settings


def _accounts(settings: Settings) -> Accounts:
    store = RecordStore(settings.database_url, timezone=settings.timezone)
    store.migrate()
    return accounts_for(store, settings)


def add(settings: Settings, email: str, name: str, roles: list[str], password_stdin: bool) -> int:
    """Create an account and print its TOTP secret; 1 with a reason when it cannot be made."""
    try:
        memberships = [parse_membership(text) for text in roles]
        known = set(load_registry(settings.service_scripts_dir).organisations)
        unknown = sorted({m.po for m in memberships} - known - {WHOLE_SERVICE})
        if unknown:
            raise AccountError(f"No organisation with id {', '.join(unknown)} (ids: {', '.join(sorted(known))}).")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password (12 characters or more): ")
            if getpass.getpass("Same password again: ") != password:
                raise AccountError("The two passwords differ.")
        made = _accounts(settings).add(email, name, password, memberships, now=datetime.now(timezone.utc))
    except AccountError as problem:
        print(problem, file=sys.stderr)
        return 1
    roles_text = ", ".join(f"{m.role.value} of {m.po}" for m in made.member.memberships)
    print(f"Account made for {made.member.email} ({roles_text}).")
    print("Add it to an authenticator app now (shown once):")
    print(f"  secret: {made.totp_secret}")
    print(f"  link:   {made.provisioning_uri}")
    return 0


def list_accounts(settings: Settings) -> int:
    """Print every account and its roles."""
    for member in _accounts(settings).members():
        roles = ", ".join(f"{m.po}:{m.role.value}" for m in member.memberships)
        print(f"{member.email}\t{member.name}\t{roles}")
    return 0


def unlock(settings: Settings, email: str) -> int:
    """Lift a lock-out."""
    if _accounts(settings).unlock(email):
        print(f"{email} can sign in again.")
        return 0
    print(f"No account for {email}.", file=sys.stderr)
    return 1
