"""The staff web app: GOV.UK Design System pages behind password + TOTP sign-in.

``python -m staff`` serves it (``make run`` starts it beside the gateway). Pages carry a strict
Content Security Policy with a nonce for the template's one inline script, are never cached, and
may not be framed; the GOV.UK Frontend assets come from ``vendor/`` (``tools/get_frontend.sh``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ooh.accounts.service import accounts_for
from ooh.orgs.loader import load_registry
from ooh.records.store import RecordStore
from ooh.settings import PROJECT_ROOT, Settings, get_settings
from staff.ack import router as ack_router
from staff.deps import SignInNeeded, StaffApp
from staff.lone_worker import router as lone_worker_router
from staff.notify import router as notify_router
from staff.rota import router as rota_router
from staff.web import router

ASSETS = PROJECT_ROOT / "vendor" / "govuk-frontend" / "assets"
MAX_FORM_BYTES = 16 * 1024
"""The largest form body the staff site reads (a sign-in form is well under 1 KiB)."""


def build(settings: Settings) -> StaffApp:
    """Open the records store (migrated) and load the organisations once."""
    store = RecordStore(settings.database_url, timezone=settings.timezone)
    store.migrate()
    return StaffApp(settings, store, accounts_for(store, settings), load_registry(settings.service_scripts_dir))


def create_app(settings: Settings | None = None) -> FastAPI:
    """The staff application."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.staff = await asyncio.to_thread(build, settings)
        yield
        app.state.staff.store.dispose()

    app = FastAPI(
        title="Out-of-hours service: staff", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.include_router(router)
    app.include_router(ack_router)
    app.include_router(lone_worker_router)
    app.include_router(rota_router)
    app.include_router(notify_router)
    if not ASSETS.is_dir():
        raise RuntimeError(f"GOV.UK Frontend is missing from {ASSETS}: run `make setup` (tools/get_frontend.sh)")
    app.mount("/assets", StaticFiles(directory=ASSETS), name="assets")

    @app.exception_handler(SignInNeeded)
    async def to_sign_in(request: Request, exc: SignInNeeded) -> Response:
        """Pages need a session: send the browser to sign in (saying so when its session ended)."""
        return RedirectResponse("/staff/sign-in?ended=true" if exc.ended else "/staff/sign-in", status_code=303)

    @app.middleware("http")
    async def bounded(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """A form body must say its length, and be small: nothing larger is read."""
        if request.method in ("POST", "PUT", "PATCH"):
            length = request.headers.get("content-length", "")
            if not length.isdigit():
                return PlainTextResponse("A form needs a Content-Length.", status_code=411)
            if int(length) > MAX_FORM_BYTES:
                return PlainTextResponse("That form is too large.", status_code=413)
        return await call_next(request)

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Security headers on every response; personal data is never cached."""
        request.state.csp_nonce = secrets.token_urlsafe(16)
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' 'nonce-{request.state.csp_nonce}'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.url.path.startswith("/assets/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse("/staff/", status_code=303)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness."""
        return {"status": "ok"}

    return app
