"""The gateway's shared state and the FastAPI dependency that hands it to routes."""

from __future__ import annotations

import hmac
from collections import OrderedDict
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.requests import HTTPConnection

from ooh.records.store import RecordStore
from ooh.secrets import operator_token
from ooh.settings import Settings
from voice_gateway.call import Call, CallLog, CallSink, VoiceServices


class Gateway:
    """Engines, routing and the agent client shared by every call, and the recent calls' logs."""

    KEEP_LOGS = 200

    def __init__(self, settings: Settings, services: VoiceServices, store: RecordStore) -> None:
        self.settings = settings
        self.services = services
        self.store = store
        self.logs: OrderedDict[str, CallLog] = OrderedDict()
        #: AudioSocket calls ended for a transfer: call UUID -> number, read once by the dialplan.
        self.transfers: dict[str, str] = {}
        #: One-time tickets in the TwiML we answered, until they expire (``time.monotonic``).
        self.twilio_tickets: dict[str, float] = {}
        #: AudioSocket: dialled numbers the dialplan registered (UUID -> number, expiry), and the
        #: UUIDs of calls in progress (a second connection with one of them is refused).
        self.audiosocket_dialled: dict[str, tuple[str, float]] = {}
        self.live_audiosocket: set[str] = set()

    def new_call(
        self,
        sink: CallSink,
        *,
        protocol: str,
        sample_rate: int,
        dialled: str | None,
        call_id: str,
        po: str | None = None,
    ) -> Call:
        """A call, registered so operators (and tests) can see what happened on it."""
        call = Call(
            self.services, sink, call_id=call_id, sample_rate=sample_rate, protocol=protocol, dialled=dialled, po=po
        )
        self.logs[call_id] = call.log
        while len(self.logs) > self.KEEP_LOGS:
            self.logs.popitem(last=False)
        return call


def get_gateway(connection: HTTPConnection) -> Gateway:
    """The app's gateway (built at start-up)."""
    gateway: Gateway = connection.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def require_operator(request: Request, gateway: GatewayDep) -> str:
    """Routes with personal data need the operator token (``Authorization: Bearer`` or ``?token=``).

    Until staff sign in per organisation (the staff accounts of the trust-boundary issue), only the
    operator who holds ``OOH_API_TOKEN`` may read call logs and play recordings; every access is
    written to the request's history.
    """
    header = request.headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else request.query_params.get("token", "")
    expected = operator_token(gateway.settings)
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(401, "This needs the operator token.", headers={"WWW-Authenticate": "Bearer"})
    return "operator"


OperatorDep = Annotated[str, Depends(require_operator)]
