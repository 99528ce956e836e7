"""The staff app's shared state, and the dependencies that sign a request in and check its forms."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request

from ooh.accounts.service import SESSION_COOKIE, Accounts, ActiveSession
from ooh.orgs.loader import Registry
from ooh.records.store import RecordStore
from ooh.settings import Settings


@dataclass
class StaffApp:
    """What every route needs: settings, the records store, accounts and the organisations."""

    settings: Settings
    store: RecordStore
    accounts: Accounts
    registry: Registry


class SignInNeeded(Exception):
    """The browser is not signed in (or its session ended): pages send it to the sign-in page."""

    def __init__(self, ended: bool) -> None:
        super().__init__("sign-in needed")
        self.ended = ended


def get_app(request: Request) -> StaffApp:
    """The app's state (built at start-up)."""
    state: StaffApp = request.app.state.staff
    return state


AppDep = Annotated[StaffApp, Depends(get_app)]


def now() -> datetime:
    """The one clock of the staff app (UTC)."""
    return datetime.now(timezone.utc)


def signed_in(request: Request, app: AppDep) -> ActiveSession:
    """The request's valid session, or :class:`SignInNeeded` (sent to sign-in, told if it ended)."""
    token = request.cookies.get(SESSION_COOKIE)
    active = app.accounts.session(token, now=now())
    if active is None:
        raise SignInNeeded(ended=bool(token))
    return active


SessionDep = Annotated[ActiveSession, Depends(signed_in)]


def checked_form(session: SessionDep, csrf: Annotated[str, Form(max_length=100)] = "") -> ActiveSession:
    """A signed-in form post carrying its session's CSRF token (403 otherwise)."""
    if not csrf or not hmac.compare_digest(csrf.encode(), session.csrf.encode()):
        raise HTTPException(403, "This form has expired. Go back, reload the page and try again.")
    return session


FormSessionDep = Annotated[ActiveSession, Depends(checked_form)]
