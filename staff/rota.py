"""Live rotas on the staff site: who is on call now, the rota's gaps, and changes (now or pre-dated).

A page (``/staff/rota/<po>``: GOV.UK forms with the session's CSRF token) and a JSON API
(``/staff/api/rota/<po>...``: the session cookie plus the ``X-CSRF-Token`` header, whose value the
API's ``GET`` returns) for staff holding :attr:`Permission.MANAGE_ROTA` in the organisation.
Anyone else, staff of another organisation included, gets exactly what an organisation that does
not exist gets (404). Every look, change, withdrawal and refusal is on the audit log.

The rules (what a change does, how gaps are found) are :mod:`ooh.orgs.live_rota`'s; these routes
read the request, ask, audit and answer.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ooh.accounts.service import SESSION_COOKIE, ActiveSession, Permission, StaffMember
from ooh.orgs.live_rota import (
    GAP_DAYS,
    LiveRota,
    RotaChangeError,
    add_change,
    list_changes,
    needs_on_call,
    organisation_gaps,
    who_is_on_call,
    withdraw_change,
)
from ooh.orgs.loader import Organisation
from ooh.orgs.models import DAYS
from staff.deps import AppDep, FormSessionDep, SessionDep, StaffApp, now
from staff.web import page

router = APIRouter()

NOT_FOUND = "No rota of yours has that name."
CSRF_HEADER = "X-CSRF-Token"

FIELD_IDS = {"from": "from_time", "to": "to_time"}
"""Form field ids where they differ from the change's field names (``from`` is a Python keyword)."""


# -- who may ---------------------------------------------------------------------------------------


async def _rota_of(app: StaffApp, member: StaffMember, po: str, action: str, target: str = "") -> Organisation | None:
    """The organisation if this person may manage its rota (audited either way), else None."""
    po = po[:64]
    organisation = app.registry.get(po)
    allowed = organisation is not None and member.can(Permission.MANAGE_ROTA, po)
    await asyncio.to_thread(
        app.accounts.audit,
        member,
        action,
        po if organisation is not None else None,
        target or f"rota:{po}",
        allowed=allowed,
        now=now(),
    )
    return organisation if allowed else None


def _options(organisation: Organisation) -> list[str]:
    """The options a change can be for: those that can hand a resident to the on-call officer."""
    return sorted(option for option, config in organisation.options.items() if needs_on_call(config))


def _local(organisation: Organisation, moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(ZoneInfo(organisation.rota.timezone))


def _state(app: StaffApp, organisation: Organisation) -> dict[str, Any]:
    """Everything the page and the API show (blocking: run in a thread)."""
    moment = now()
    rota = organisation.rota
    live = LiveRota.load(app.store, organisation.id, rota, moment, moment + timedelta(days=GAP_DAYS))
    return {
        "now": moment,
        "on_call": who_is_on_call(live, _options(organisation), moment),
        "gaps": organisation_gaps(app.store, organisation, moment),
        "changes": list_changes(app.store, organisation.id),
    }


# -- the page --------------------------------------------------------------------------------------


def _not_found(request: Request, session: ActiveSession) -> HTMLResponse:
    return page(request, "rota_not_found.html", 404, member=session.member, csrf=session.csrf)


async def _rota_page(
    request: Request,
    app: StaffApp,
    session: ActiveSession,
    organisation: Organisation,
    *,
    status: int = 200,
    errors: list[str] | None = None,
    form: dict[str, Any] | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    state = await asyncio.to_thread(_state, app, organisation)
    moment = state["now"]
    error_list = []
    field_errors: dict[str, str] = {}
    for problem in errors or []:
        field, _, what = problem.partition(": ")
        field_id = FIELD_IDS.get(field.split("[")[0], field.split("[")[0])
        field_errors.setdefault(field_id, what)
        error_list.append({"text": problem, "href": f"#{field_id}"})
    changes = state["changes"]
    return page(
        request,
        "rota.html",
        status,
        member=session.member,
        csrf=session.csrf,
        org=organisation,
        contacts=organisation.rota.contacts,
        options=_options(organisation),
        days=DAYS,
        on_call=state["on_call"],
        gaps=state["gaps"],
        current=[c for c in changes if c.state(moment) in ("in_force", "upcoming")],
        past=[c for c in changes if c.state(moment) in ("ended", "withdrawn")][:50],
        moment=moment,
        local=lambda t: _local(organisation, t),
        error=bool(error_list),
        error_list=error_list,
        field_errors=field_errors,
        form=form or {},
        notice=notice,
        gap_days=GAP_DAYS,
    )


@router.get("/staff/rota/{po}", response_class=HTMLResponse)
async def rota_page(
    request: Request, app: AppDep, session: SessionDep, po: str, added: int | None = None, withdrawn: int | None = None
) -> HTMLResponse:
    """Who is on call now, the gaps of the next 14 days, the changes, and a form to add one."""
    organisation = await _rota_of(app, session.member, po, "read_rota")
    if organisation is None:
        return _not_found(request, session)
    notice = None
    if added is not None:
        notice = f"Change {added} is saved. It applies from its start, to the next referral."
    elif withdrawn is not None:
        notice = f"Change {withdrawn} is withdrawn. It no longer applies."
    return await _rota_page(request, app, session, organisation, notice=notice)


@router.post("/staff/rota/{po}/changes", response_class=HTMLResponse)
async def add_change_form(
    request: Request,
    app: AppDep,
    session: FormSessionDep,
    po: str,
    service_option: Annotated[str, Form(max_length=200)] = "",
    sub_category: Annotated[str, Form(max_length=200)] = "",
    days: Annotated[list[str] | None, Form()] = None,
    from_time: Annotated[str, Form(max_length=20)] = "",
    to_time: Annotated[str, Form(max_length=20)] = "",
    stage1: Annotated[str, Form(max_length=100)] = "",
    stage2: Annotated[str, Form(max_length=100)] = "",
    starts_at: Annotated[str, Form(max_length=40)] = "",
    ends_at: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Add a change from the page's form: back to the page saying so, or the form with its errors."""
    organisation = await _rota_of(app, session.member, po, "add_rota_change")
    if organisation is None:
        return _not_found(request, session)
    form = {
        "service_option": service_option,
        "sub_category": sub_category,
        "days": [d for d in (days or []) if d][:7],
        "from": from_time,
        "to": to_time,
        "stage1": stage1,
        "stage2": stage2,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "reason": reason,
    }
    try:
        change = await _add(app, session.member, organisation, form)
    except RotaChangeError as exc:
        return await _rota_page(request, app, session, organisation, status=400, errors=exc.problems, form=form)
    return RedirectResponse(f"/staff/rota/{organisation.id}?added={change['id']}", status_code=303)


@router.post("/staff/rota/{po}/changes/{change_id}/withdraw", response_class=HTMLResponse)
async def withdraw_change_form(
    request: Request,
    app: AppDep,
    session: FormSessionDep,
    po: str,
    change_id: int,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Withdraw a change from the page: back to the page saying so."""
    organisation = await _rota_of(app, session.member, po, "withdraw_rota_change", f"rota_change:{change_id}")
    if organisation is None:
        return _not_found(request, session)
    try:
        withdrawn = await _withdraw(app, session.member, organisation, change_id, reason)
    except RotaChangeError as exc:
        return await _rota_page(request, app, session, organisation, status=400, errors=exc.problems)
    if withdrawn is None:
        return _not_found(request, session)
    return RedirectResponse(f"/staff/rota/{organisation.id}?withdrawn={change_id}", status_code=303)


# -- doing it (both doors) -------------------------------------------------------------------------


async def _add(app: StaffApp, member: StaffMember, organisation: Organisation, data: dict[str, Any]) -> dict[str, Any]:
    """Keep the change and audit it (``RotaChangeError`` when the request is wrong)."""
    moment = now()
    change = await asyncio.to_thread(
        add_change,
        app.store,
        organisation.id,
        organisation.rota,
        organisation.options,
        data,
        made_by=member.id,
        now=moment,
    )
    await asyncio.to_thread(
        app.accounts.audit,
        member,
        "rota_change_added",
        organisation.id,
        f"rota_change:{change.id}",
        allowed=True,
        now=moment,
    )
    return change.as_dict(moment)


async def _withdraw(
    app: StaffApp, member: StaffMember, organisation: Organisation, change_id: int, reason: str
) -> dict[str, Any] | None:
    """Withdraw the change and audit it; None when the organisation has no such change."""
    moment = now()
    change = await asyncio.to_thread(
        withdraw_change, app.store, organisation.id, change_id, by=member.id, reason=reason, now=moment
    )
    if change is None:
        return None
    await asyncio.to_thread(
        app.accounts.audit,
        member,
        "rota_change_withdrawn",
        organisation.id,
        f"rota_change:{change.id}",
        allowed=True,
        now=moment,
    )
    return change.as_dict(moment)


# -- the JSON API ----------------------------------------------------------------------------------


def _api_session(request: Request, app: StaffApp) -> ActiveSession:
    """The request's session, or 401 (an API answers, it does not redirect to a sign-in page)."""
    active = app.accounts.session(request.cookies.get(SESSION_COOKIE), now=now())
    if active is None:
        raise HTTPException(401, "Sign in first (the staff site's session cookie).")
    return active


def _api_form_session(request: Request, app: StaffApp) -> ActiveSession:
    """A signed-in API call that changes something: it must carry the session's CSRF token."""
    active = _api_session(request, app)
    given = request.headers.get(CSRF_HEADER, "")
    if not given or not hmac.compare_digest(given.encode(), active.csrf.encode()):
        raise HTTPException(403, f"Send the {CSRF_HEADER} header (its value is in GET /staff/api/rota/<po>).")
    return active


async def _json_body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(415, "Send the change as JSON (Content-Type: application/json).")
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise HTTPException(400, "The body is not JSON.") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "The body must be a JSON object.")
    return body


def _api_not_found() -> JSONResponse:
    return JSONResponse({"detail": NOT_FOUND}, status_code=404)


@router.get("/staff/api/rota/{po}")
async def rota_api(request: Request, app: AppDep, po: str) -> Response:
    """Who is on call now per option, the gaps of the next 14 days, the changes, and the CSRF token."""
    session = await asyncio.to_thread(_api_session, request, app)
    organisation = await _rota_of(app, session.member, po, "read_rota")
    if organisation is None:
        return _api_not_found()
    state = await asyncio.to_thread(_state, app, organisation)
    moment = state["now"]
    return JSONResponse(
        {
            "po": organisation.id,
            "now": moment.isoformat(),
            "timezone": organisation.rota.timezone,
            "options": _options(organisation),
            "contacts": {key: contact.name for key, contact in organisation.rota.contacts.items()},
            "on_call": [row.as_dict() for row in state["on_call"]],
            "gaps": [gap.as_dict() for gap in state["gaps"]],
            "changes": [change.as_dict(moment) for change in state["changes"]],
            "csrf": session.csrf,
        }
    )


@router.post("/staff/api/rota/{po}/changes")
async def add_change_api(request: Request, app: AppDep, po: str) -> Response:
    """Add a change: 201 with it, 422 with ``{"errors": ["field: what", ...]}``, or 404."""
    session = await asyncio.to_thread(_api_form_session, request, app)
    organisation = await _rota_of(app, session.member, po, "add_rota_change")
    if organisation is None:
        return _api_not_found()
    body = await _json_body(request)
    try:
        change = await _add(app, session.member, organisation, body)
    except RotaChangeError as exc:
        return JSONResponse({"errors": exc.problems}, status_code=422)
    return JSONResponse(change, status_code=201)


@router.post("/staff/api/rota/{po}/changes/{change_id}/withdraw")
async def withdraw_change_api(request: Request, app: AppDep, po: str, change_id: int) -> Response:
    """Withdraw a change (body ``{"reason": "..."}``, optional): 200 with it, 409 if it cannot be, or 404."""
    session = await asyncio.to_thread(_api_form_session, request, app)
    organisation = await _rota_of(app, session.member, po, "withdraw_rota_change", f"rota_change:{change_id}")
    if organisation is None:
        return _api_not_found()
    body = await _json_body(request)
    reason = body.get("reason") or ""
    if not isinstance(reason, str):
        return JSONResponse({"errors": ["reason: must be text"]}, status_code=422)
    try:
        change = await _withdraw(app, session.member, organisation, change_id, reason)
    except RotaChangeError as exc:
        conflict = all(problem.startswith("change:") for problem in exc.problems)
        return JSONResponse({"errors": exc.problems}, status_code=409 if conflict else 422)
    if change is None:
        return _api_not_found()
    return JSONResponse(change)
