"""Staff pages: sign in, sign out, find one of your organisation's requests, read it, play its call.

Routes stay thin: :mod:`ooh.accounts` decides who is signed in and what they may see; these
functions read the form, ask, audit through it, and render a page. A request of another
organisation answers exactly like a request that does not exist, so nothing can be inferred.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader, select_autoescape

from ooh.accounts.service import SESSION_COOKIE, Permission, SignInOutcome
from ooh.records.recordings import RecordingUnavailable, request_recording
from ooh.records.references import normalise_reference
from staff.deps import AppDep, FormSessionDep, SessionDep, now

router = APIRouter()

SIGN_IN_COOKIE = "ooh_form"
"""Double-submit token of forms used without a session (sign-in, acknowledging a referral)."""

templates = Environment(
    loader=ChoiceLoader(
        [
            FileSystemLoader(Path(__file__).with_name("templates")),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    ),
    autoescape=select_autoescape(default=True),
)


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the request's CSP nonce."""
    html = templates.get_template(name).render(cspNonce=request.state.csp_nonce, **context)
    return HTMLResponse(html, status_code=status)


def new_form_token() -> str:
    """A fresh double-submit token for a form's hidden field (and, by :func:`set_form_cookie`, a cookie)."""
    return secrets.token_urlsafe(24)


def set_form_cookie(request: Request, response: Response, token: str) -> None:
    """Give the browser the form's token as a cookie: a post from elsewhere cannot know it."""
    _cookie(response, request, SIGN_IN_COOKIE, token, 3600)


def form_token_matches(request: Request, given: str) -> bool:
    """The form's hidden token is the one in this browser's cookie."""
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    return bool(given and expected and hmac.compare_digest(given.encode(), expected.encode()))


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=request.app.state.staff.settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )


@router.get("/staff/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, ended: bool = False) -> HTMLResponse:
    """The sign-in form (told when a session has ended)."""
    return _sign_in_form(request, notice="Your session has ended. Sign in again." if ended else None)


def _sign_in_form(
    request: Request, *, status: int = 200, error: str | None = None, notice: str | None = None, email: str = ""
) -> HTMLResponse:
    token = new_form_token()
    response = page(request, "sign_in.html", status, csrf=token, error=error, notice=notice, email=email)
    set_form_cookie(request, response, token)
    return response


@router.post("/staff/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    app: AppDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Check password and code; on success set the session cookie and go to the staff home page."""
    if not form_token_matches(request, csrf):
        return _sign_in_form(request, status=403, error="The sign-in form had expired. Try again.", email=email)
    if not (email.strip() and password and code.strip()):
        return _sign_in_form(request, status=400, error="Enter your email address, password and code.", email=email)
    result = await asyncio.to_thread(app.accounts.sign_in, email, password, code, now=now())
    if result.outcome is SignInOutcome.LOCKED:
        error = "This account is locked after too many wrong attempts. Try again in 15 minutes or ask your admin."
        return _sign_in_form(request, status=423, error=error, email=email)
    if result.outcome is not SignInOutcome.SIGNED_IN or result.token is None:
        return _sign_in_form(request, status=401, error="The email, password or code is not right.", email=email)
    response = RedirectResponse("/staff/", status_code=303)
    lifetime = int(app.accounts.lifetime.total_seconds())
    _cookie(response, request, SESSION_COOKIE, result.token, lifetime)
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return response


@router.post("/staff/sign-out")
async def sign_out(request: Request, app: AppDep, _: FormSessionDep) -> Response:
    """End the session and forget the cookie."""
    await asyncio.to_thread(app.accounts.sign_out, request.cookies.get(SESSION_COOKIE), now=now())
    response = RedirectResponse("/staff/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _org_names(app: AppDep) -> dict[str, str]:
    """Organisation id -> its name, for pages that list someone's organisations."""
    return {po: org.profile.name for po, org in app.registry.organisations.items()}


@router.get("/staff/", response_class=HTMLResponse)
async def home(request: Request, app: AppDep, session: SessionDep) -> HTMLResponse:
    """Who is signed in, for which organisations, and a box to find a request by reference."""
    names = _org_names(app)
    return page(request, "home.html", member=session.member, csrf=session.csrf, names=names)


@router.get("/staff/requests", response_class=HTMLResponse)
async def find_request(request: Request, app: AppDep, session: SessionDep, reference: str = "") -> Response:
    """Find a request by reference: the request's page, or the home page saying none was found."""
    wanted = normalise_reference(reference[:64]) if reference.strip() else None
    if wanted:
        found = await _readable(app, session, wanted)
        if found is not None:
            return RedirectResponse(f"/staff/requests/{found.reference}", status_code=303)
    names = _org_names(app)
    error = (
        "Enter a reference, like ENF-20261121-0001."
        if not reference.strip()
        else "No request of yours has that reference."
    )
    return page(
        request,
        "home.html",
        404 if reference.strip() else 400,
        member=session.member,
        csrf=session.csrf,
        names=names,
        error=error,
        reference=reference[:64],
    )


async def _readable(app: AppDep, session: SessionDep, reference: str) -> Any:
    """The request if this person may read it (audited either way), else None."""
    request = await asyncio.to_thread(app.store.get, reference)
    allowed = request is not None and session.member.can(Permission.READ_RECORDS, request.po)
    po = request.po if request is not None else None
    await asyncio.to_thread(
        app.accounts.audit, session.member, "read_request", po, reference, allowed=allowed, now=now()
    )
    return request if allowed else None


@router.get("/staff/requests/{reference}", response_class=HTMLResponse)
async def request_page(request: Request, app: AppDep, session: SessionDep, reference: str) -> HTMLResponse:
    """One request: what the resident said, the answers, the referral, and the call to play."""
    found = await _readable(app, session, reference[:64])
    if found is None:
        return page(request, "not_found.html", 404, member=session.member, csrf=session.csrf)
    org = app.registry.get(found.po)
    playable = (
        found.channel == "voice"
        and bool(found.recording_id)
        and session.member.can(Permission.PLAY_RECORDINGS, found.po)
    )
    return page(
        request,
        "request.html",
        member=session.member,
        csrf=session.csrf,
        req=found,
        org_name=org.profile.name if org else found.po,
        playable=playable,
    )


@router.get("/staff/requests/{reference}/recording")
async def play(app: AppDep, session: SessionDep, reference: str) -> Response:
    """The call's recording (spec 7.1.9 d), to staff of its organisation; every play audited."""
    folder = Path(app.settings.recordings_dir)
    try:
        found, path = await asyncio.to_thread(request_recording, app.store, folder, reference[:64])
    except RecordingUnavailable:
        found, path = None, None
    allowed = found is not None and session.member.can(Permission.PLAY_RECORDINGS, found.po)
    po = found.po if found is not None else None
    await asyncio.to_thread(
        app.accounts.audit, session.member, "play_recording", po, reference[:64], allowed=allowed, now=now()
    )
    if not allowed or found is None or path is None:
        return Response("No recording of yours has that reference.", status_code=404, media_type="text/plain")
    return FileResponse(
        path, media_type="audio/wav", filename=f"{found.reference}.wav", headers={"Cache-Control": "no-store"}
    )
