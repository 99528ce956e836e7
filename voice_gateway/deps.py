"""The gateway's shared state and the FastAPI dependency that hands it to routes."""

from __future__ import annotations

from collections import OrderedDict
from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection

from ooh.records.store import RecordStore
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
