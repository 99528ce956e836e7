"""Lone-worker support on the staff site: an officer's own check-in/check-out page, and the alarm's page.

No password: the officer is on a doorstep. Each rota contact's page is opened by a link signed for
that organisation and contact (``ooh.lone_worker.officer_link``, given to them once and kept on the
phone; a text check-in's reply carries it too). A manager's alarm carries a link signed for that
visit and manager, to a page with one button. Opening either page changes nothing; the buttons post
a form with a double-submit token (these forms have no session). What a check-in, a check-out or an
acknowledgement means is decided in the core (:mod:`ooh.lone_worker`); this door reads the form.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from ooh import lone_worker
from staff.deps import AppDep, StaffApp, now
from staff.web import form_token_matches, new_form_token, page, set_form_cookie

router = APIRouter()

TEMPLATE = "lone_worker.html"


def _invalid(request: Request) -> HTMLResponse:
    return page(request, TEMPLATE, 404, title="Link not valid", state="invalid")


def _officer(app: StaffApp, token: str) -> tuple[str, str, str] | None:
    """``(organisation, contact key, contact name)`` of a genuine link to a contact still in the rota."""
    found = lone_worker.read_officer_token(app.settings, token)
    org = app.registry.get(found[0]) if found else None
    if found is None or org is None or found[1] not in org.rota.contacts:
        return None
    return found[0], found[1], org.rota.contacts[found[1]].name


def _clock(app: StaffApp, po: str, moment: Any) -> str:
    org = app.registry.get(po)
    return lone_worker.local_time(org, moment) if moment is not None else ""


async def _officer_page(
    request: Request, app: StaffApp, token: str, csrf: str, status: int = 200, **context: Any
) -> HTMLResponse:
    found = _officer(app, token)
    if found is None:
        return _invalid(request)
    po, key, name = found
    visit = await asyncio.to_thread(lone_worker.open_visit, app.store, po, key)
    return page(
        request,
        TEMPLATE,
        status,
        title="Lone working",
        state="officer",
        officer_name=name,
        token=token,
        csrf=csrf,
        visit=visit,
        checked_in=_clock(app, po, visit.checked_in_at) if visit else "",
        due=_clock(app, po, visit.due_at) if visit else "",
        default_minutes=lone_worker.DEFAULT_MINUTES,
        **context,
    )


@router.get("/lone-worker/{token}", response_class=HTMLResponse)
async def officer_page(request: Request, app: AppDep, token: str) -> HTMLResponse:
    """The officer's page: "Check in" (where, how long), or, while checked in, "Check out"."""
    csrf = new_form_token()
    response = await _officer_page(request, app, token, csrf)
    if response.status_code == 200:
        set_form_cookie(request, response, csrf)
    return response


@router.post("/lone-worker/{token}/check-in", response_class=HTMLResponse)
async def check_in(
    request: Request,
    app: AppDep,
    token: str,
    place: Annotated[str, Form(max_length=lone_worker.MAX_PLACE)] = "",
    minutes: Annotated[str, Form(max_length=10)] = "",
    reference: Annotated[str, Form(max_length=64)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    """Record the check-in and start the timer."""
    found = _officer(app, token)
    if found is None:
        return _invalid(request)
    if not form_token_matches(request, csrf):
        return page(request, TEMPLATE, 403, title="Lone working", state="expired", token=token)
    po, key, _ = found
    error = None
    if not place.strip():
        error = "Enter where you are going."
    elif not minutes.strip().isdigit():
        error = f"Enter how long you expect to be there, in minutes, like {lone_worker.DEFAULT_MINUTES}."
    if error is None:
        try:
            await asyncio.to_thread(
                lone_worker.check_in,
                app.store,
                app.registry,
                po,
                key,
                place,
                int(minutes.strip()),
                now(),
                reference=reference.strip() or None,
                channel="web",
            )
        except lone_worker.LoneWorkerError as exc:
            error = str(exc)
    if error is not None:
        return await _officer_page(
            request, app, token, csrf, 400, error=error, place=place, minutes=minutes, reference=reference
        )
    return await _officer_page(request, app, token, csrf, notice="checked_in")


@router.post("/lone-worker/{token}/check-out", response_class=HTMLResponse)
async def check_out(
    request: Request, app: AppDep, token: str, csrf: Annotated[str, Form(max_length=100)] = ""
) -> HTMLResponse:
    """Record that the officer is safe: the timer stops (and any alarm stands down)."""
    found = _officer(app, token)
    if found is None:
        return _invalid(request)
    if not form_token_matches(request, csrf):
        return page(request, TEMPLATE, 403, title="Lone working", state="expired", token=token)
    po, key, _ = found
    visit = await asyncio.to_thread(lone_worker.check_out, app.store, po, key, now(), channel="web")
    return await _officer_page(request, app, token, csrf, notice="checked_out" if visit else "not_in")


async def _alarm_context(app: StaffApp, token: str) -> dict[str, Any] | None:
    found = lone_worker.read_alarm_token(app.settings, token)
    visit = await asyncio.to_thread(lone_worker.get_visit, app.store, found[0]) if found else None
    org = app.registry.get(visit.po) if visit else None
    if found is None or visit is None or org is None:
        return None
    officer = org.rota.contacts.get(visit.contact_key)
    return {
        "visit": visit,
        "officer": officer.name if officer else visit.contact_key,
        "phone": officer.phone if officer else None,
        "due": _clock(app, visit.po, visit.due_at),
        "out": _clock(app, visit.po, visit.checked_out_at),
    }


@router.get("/alarm/{token}", response_class=HTMLResponse)
async def alarm_page(request: Request, app: AppDep, token: str) -> HTMLResponse:
    """What the alarm is about, and the button (or that it is answered, or the officer is out)."""
    context = await _alarm_context(app, token)
    if context is None:
        return _invalid(request)
    csrf = new_form_token()
    response = page(request, TEMPLATE, title="Lone worker alarm", state="alarm", token=token, csrf=csrf, **context)
    set_form_cookie(request, response, csrf)
    return response


@router.post("/alarm/{token}", response_class=HTMLResponse)
async def acknowledge(
    request: Request, app: AppDep, token: str, csrf: Annotated[str, Form(max_length=100)] = ""
) -> HTMLResponse:
    """Record that this manager is dealing with it: the alarm stops repeating."""
    if lone_worker.read_alarm_token(app.settings, token) is None:
        return _invalid(request)
    if not form_token_matches(request, csrf):
        return page(request, TEMPLATE, 403, title="Lone worker alarm", state="expired_alarm", token=token)
    visit = await asyncio.to_thread(lone_worker.acknowledge_alarm, app.store, app.settings, token, now())
    context = await _alarm_context(app, token) if visit else None
    if context is None:
        return _invalid(request)
    return page(request, TEMPLATE, title="Alarm acknowledged", state="acknowledged", **context)
