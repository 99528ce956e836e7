"""GOV.UK Notify's callbacks: delivery receipts and officers' text replies.

Notify posts JSON with ``Authorization: Bearer <token>``, the token set on the service's "API
integration" page (``OOH_NOTIFY_CALLBACK_TOKEN``). Anything else is refused with 401 before the body
is looked at; a body that is not what Notify sends gets 400 with the reason. What a callback means
is decided in the core (:mod:`ooh.referrals.notify_callbacks`); this door only checks and hands over.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ooh.referrals.notify_callbacks import BadCallback, delivery_receipt, received_text
from ooh.secrets import notify_callback_token
from staff.deps import AppDep, now

router = APIRouter(prefix="/notify")


def _authorised(request: Request, app: AppDep) -> bool:
    given = request.headers.get("authorization", "")
    expected = "Bearer " + notify_callback_token(app.settings)
    return hmac.compare_digest(given.encode(), expected.encode())


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise BadCallback("the body must be JSON") from exc


@router.post("/delivery-receipts")
async def delivery_receipts(request: Request, app: AppDep) -> JSONResponse:
    """A text's delivery status; an undelivered referral text sends the referral by its next channel."""
    if not _authorised(request, app):
        return JSONResponse({"error": "Notify's bearer token is needed"}, status_code=401)
    try:
        outcome = await asyncio.to_thread(delivery_receipt, app.store, await _body(request), now())
    except BadCallback as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"result": outcome})


@router.post("/received-text-messages")
async def received_text_messages(request: Request, app: AppDep) -> JSONResponse:
    """An officer's reply: "ACK" from a number a referral was sent to acknowledges it."""
    if not _authorised(request, app):
        return JSONResponse({"error": "Notify's bearer token is needed"}, status_code=401)
    try:
        reference = await asyncio.to_thread(received_text, app.store, app.registry, await _body(request), now())
    except BadCallback as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"result": "acknowledged" if reference else "nothing to acknowledge"})
