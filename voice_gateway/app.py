"""The voice gateway: a FastAPI service between telephony and the chat agent.

Routes stay thin: protocol adapters live in :mod:`voice_gateway.twilio`, :mod:`voice_gateway.web`
and :mod:`voice_gateway.audiosocket`; the conversation itself in :mod:`voice_gateway.call`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from ooh.accounts.service import Permission
from ooh.orgs.loader import load_registry
from ooh.records.recordings import RecordingUnavailable, request_recording
from ooh.records.store import RecordStore, ServiceRequestView
from ooh.settings import Settings, get_settings
from voice_gateway import audiosocket, chat, twilio, web
from voice_gateway.agent import AgentClient
from voice_gateway.call import VoiceOptions, VoiceServices
from voice_gateway.deps import Gateway, GatewayDep, StaffDep
from voice_gateway.routing import Router
from voice_gateway.stt import make_recognizer
from voice_gateway.tts import Pyttsx3Synthesizer
from voice_gateway.vocabulary import PHONE_VOCABULARY, address_vocabulary, open_vocabulary, yes_no_vocabulary

logger = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def build_gateway(settings: Settings) -> Gateway:
    """Load organisation data and engines once for every call."""
    registry = load_registry(settings.service_scripts_dir)
    options = VoiceOptions(
        silence_ms=settings.voice_silence_ms,
        closed_silence_ms=settings.voice_closed_silence_ms,
        max_utterance_ms=settings.voice_max_utterance_ms,
        no_input_ms=settings.voice_no_input_ms,
        max_failures=settings.voice_max_failures,
        max_call_seconds=settings.voice_max_call_seconds,
        max_queued_frames=settings.voice_max_queued_frames,
        recordings_dir=settings.recordings_dir,
        clock=settings.voice_clock if settings.allow_clock_override else None,
    )
    services = VoiceServices(
        router=Router(registry),
        recognizer=make_recognizer(settings),
        synthesizer=Pyttsx3Synthesizer(),
        agent=AgentClient(settings.rasa_url),
        options=options,
    )
    store = RecordStore(settings.database_url, timezone=settings.timezone)
    store.migrate()
    return Gateway(settings, services, store)


def prepare_engines(gateway: Gateway) -> None:
    """Build the recogniser's models for every organisation now, not on the first caller's words."""
    recognizer = gateway.services.recognizer
    recognizer.prepare(yes_no_vocabulary())
    recognizer.prepare(PHONE_VOCABULARY)
    for org in gateway.services.router.registry.organisations.values():
        recognizer.prepare(open_vocabulary(org))
        recognizer.prepare(address_vocabulary(org))


def create_app(settings: Settings | None = None) -> FastAPI:
    """The gateway application."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway = build_gateway(settings)
        app.state.gateway = gateway
        await asyncio.to_thread(prepare_engines, gateway)
        server = (
            await audiosocket.serve(gateway, settings.audiosocket_port, settings.audiosocket_host)
            if settings.audiosocket_port
            else None
        )
        yield
        if server is not None:
            server.close()
            await server.wait_closed()
        await gateway.services.agent.close()
        await chat.close_chat(gateway)

    app = FastAPI(title="Out-of-hours voice gateway", lifespan=lifespan)
    app.include_router(twilio.router)
    app.include_router(web.router)
    app.include_router(audiosocket.router)
    app.include_router(chat.router)
    # Web chat: the embed script and window's own files, and GOV.UK Frontend (tools/get_frontend.sh).
    app.mount("/web/chat/static", StaticFiles(directory=chat.STATIC), name="chat-static")
    app.mount("/web/chat/assets", StaticFiles(directory=chat.ASSETS, check_dir=False), name="chat-assets")

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness, with the recogniser in use."""
        return {"status": "ok", "recognizer": app.state.gateway.services.recognizer.name}

    @app.get("/calls/{call_id}")
    async def call_log(call_id: str, gateway: GatewayDep, who: StaffDep) -> dict[str, object]:
        """What happened on a recent call, to staff of the organisation it reached; audited."""
        log = gateway.logs.get(call_id)
        allowed = log is not None and who.can(Permission.READ_RECORDS, log.po)
        po = log.po if log is not None else None  # a refusal shows in the owning organisation's audit
        await asyncio.to_thread(
            gateway.accounts.audit, who, "read_call_log", po, call_id[:200], allowed=allowed, now=_now()
        )
        if log is None or not allowed:
            raise HTTPException(404, "No recent call of yours with that id")
        return log.__dict__

    @app.get("/recordings/{reference}")
    async def recording(reference: str, gateway: GatewayDep, who: StaffDep) -> FileResponse:
        """The recording of the call a service request came from (spec 7.1.9 d); each play audited."""
        folder = Path(gateway.settings.recordings_dir)
        request: ServiceRequestView | None
        path: Path | None
        try:
            request, path = await asyncio.to_thread(request_recording, gateway.store, folder, reference)
            reason = ""
        except RecordingUnavailable as why:
            request, path, reason = why.request, None, str(why)
        allowed = request is not None and who.can(Permission.PLAY_RECORDINGS, request.po)
        po = request.po if request is not None else None  # a refusal shows in the owner's audit
        await asyncio.to_thread(
            gateway.accounts.audit, who, "play_recording", po, reference[:64], allowed=allowed, now=_now()
        )
        if request is None or not allowed:
            # Another organisation's request reads exactly like one that does not exist.
            raise HTTPException(404, "No recording of yours has that reference")
        if path is None:
            raise HTTPException(404, reason)
        note = f"Recording played by {who.name}"
        await asyncio.to_thread(gateway.store.add_update, request.reference, "access", note, now=_now())
        return FileResponse(path, media_type="audio/wav", filename=f"{request.reference}.wav")

    return app
