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

from ooh.orgs.loader import load_registry
from ooh.records.recordings import recording_path
from ooh.records.store import RecordStore
from ooh.settings import Settings, get_settings
from voice_gateway import audiosocket, twilio, web
from voice_gateway.agent import AgentClient
from voice_gateway.call import VoiceOptions, VoiceServices
from voice_gateway.deps import Gateway, GatewayDep, OperatorDep
from voice_gateway.routing import Router
from voice_gateway.stt import make_recognizer
from voice_gateway.tts import Pyttsx3Synthesizer
from voice_gateway.vocabulary import PHONE_VOCABULARY, address_vocabulary, open_vocabulary, yes_no_vocabulary

logger = logging.getLogger(__name__)


def build_gateway(settings: Settings) -> Gateway:
    """Load organisation data and engines once for every call."""
    registry = load_registry(settings.service_scripts_dir)
    options = VoiceOptions(
        silence_ms=settings.voice_silence_ms,
        closed_silence_ms=settings.voice_closed_silence_ms,
        max_utterance_ms=settings.voice_max_utterance_ms,
        no_input_ms=settings.voice_no_input_ms,
        max_failures=settings.voice_max_failures,
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

    app = FastAPI(title="Out-of-hours voice gateway", lifespan=lifespan)
    app.include_router(twilio.router)
    app.include_router(web.router)
    app.include_router(audiosocket.router)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness, with the recogniser in use."""
        return {"status": "ok", "recognizer": app.state.gateway.services.recognizer.name}

    @app.get("/calls/{call_id}")
    async def call_log(call_id: str, gateway: GatewayDep, _: OperatorDep) -> dict[str, object]:
        """What happened on a recent call (for operators checking a complaint, and tests)."""
        log = gateway.logs.get(call_id)
        if log is None:
            raise HTTPException(404, "No recent call with that id")
        return log.__dict__

    @app.get("/recordings/{reference}")
    async def recording(reference: str, gateway: GatewayDep, who: OperatorDep) -> FileResponse:
        """The recording of the call a service request came from (spec 7.1.9 d); each play audited."""
        request = await asyncio.to_thread(gateway.store.get, reference)
        if request is None:
            raise HTTPException(404, "No such service request")
        if request.channel != "voice" or not request.recording_id:
            raise HTTPException(404, f"{request.reference} did not come from a call")
        try:
            path = recording_path(Path(gateway.settings.recordings_dir), request.recording_id)
        except ValueError:
            raise HTTPException(404, f"{request.reference} has no valid recording") from None
        if not path.exists():
            raise HTTPException(404, f"The recording of {request.reference} is not stored (yet)")
        note, now = f"Recording played by {who}", datetime.now(timezone.utc)
        await asyncio.to_thread(gateway.store.add_update, request.reference, "access", note, now=now)
        return FileResponse(path, media_type="audio/wav", filename=f"{request.reference}.wav")

    return app
