"""Acknowledging a referral from the link in its email: a page with one button, no sign-in.

The officer woken at 3 a.m. opens the link on a phone; the signed link is the key, for that one
referral and contact. Opening the page changes nothing (mail scanners open links); pressing the
button records the acknowledgement, which stops the escalation.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from ooh.referrals.acknowledge import acknowledge, acknowledged, read_ack_token
from staff.deps import AppDep, now
from staff.web import form_token_matches, new_form_token, page, set_form_cookie

router = APIRouter()


def _invalid(request: Request) -> HTMLResponse:
    return page(request, "ack.html", 404, title="Link not valid", state="invalid")


@router.get("/ack/{token}", response_class=HTMLResponse)
async def ack_page(request: Request, app: AppDep, token: str) -> HTMLResponse:
    """What the link is for, and the button (or that it is already acknowledged)."""
    found = read_ack_token(app.settings, token)
    referral = await asyncio.to_thread(app.store.get, found[0]) if found else None
    if found is None or referral is None:
        return _invalid(request)
    state = "done" if acknowledged(referral) else "ask"
    csrf = new_form_token()
    response = page(
        request,
        "ack.html",
        title="Acknowledge a referral",
        state=state,
        reference=referral.reference,
        option=referral.service_option,
        csrf=csrf,
        token=token,
    )
    set_form_cookie(request, response, csrf)
    return response


@router.post("/ack/{token}", response_class=HTMLResponse)
async def ack(
    request: Request, app: AppDep, token: str, csrf: Annotated[str, Form(max_length=100)] = ""
) -> HTMLResponse:
    """Record the acknowledgement: escalation stops."""
    if read_ack_token(app.settings, token) is None:
        return _invalid(request)
    if not form_token_matches(request, csrf):
        return page(request, "ack.html", 403, title="Acknowledge a referral", state="expired", token=token)
    referral = await asyncio.to_thread(acknowledge, app.store, app.settings, token, now())
    if referral is None:
        return _invalid(request)
    return page(request, "ack.html", title="Referral acknowledged", state="thanks", reference=referral.reference)
