"""The gateway's shared state and the FastAPI dependency that hands it to routes."""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.requests import HTTPConnection

from ooh.accounts.service import SESSION_COOKIE, StaffMember, accounts_for
from ooh.records.store import RecordStore
from ooh.settings import Settings
from voice_gateway.call import Call, CallLog, CallSink, LineBusy, VoiceServices


class Gateway:
    """Engines, routing and the agent client shared by every call, and the recent calls' logs."""

    KEEP_LOGS = 200

    def __init__(self, settings: Settings, services: VoiceServices, store: RecordStore) -> None:
        self.settings = settings
        self.services = services
        self.store = store
        self.accounts = accounts_for(store, settings)
        self.logs: OrderedDict[str, CallLog] = OrderedDict()
        #: AudioSocket calls ended for a transfer: call UUID -> number, read once by the dialplan.
        self.transfers: dict[str, str] = {}
        #: One-time tickets in the TwiML we answered, until they expire (``time.monotonic``).
        self.twilio_tickets: dict[str, float] = {}
        #: AudioSocket: dialled numbers the dialplan registered (UUID -> number, expiry), and the
        #: UUIDs of calls in progress (a second connection with one of them is refused).
        self.audiosocket_dialled: dict[str, tuple[str, float]] = {}
        self.live_audiosocket: set[str] = set()
        #: Calls in progress, on every protocol: at most ``settings.voice_max_live_calls``.
        self.live_calls: set[Call] = set()

    def calls_in_progress(self) -> int:
        """Live calls, and Twilio calls we answered whose stream has not started yet.

        A ticket holds its call's place, so a call Twilio has put through is not turned away when
        its stream starts.
        """
        now = time.monotonic()
        return len(self.live_calls) + sum(1 for until in self.twilio_tickets.values() if until >= now)

    def has_room(self) -> bool:
        """Whether one more call may start."""
        return self.calls_in_progress() < self.settings.voice_max_live_calls

    def end_call(self, call: Call) -> None:
        """The call is over, however it ended: its place is free."""
        self.live_calls.discard(call)

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
        """A call, registered so operators (and tests) can see what happened on it.

        Raises:
            LineBusy: As many calls are in progress as the settings allow (the adapter tells the
                caller the line is busy). A call returned must be passed to :meth:`end_call`.
        """
        if not self.has_room():
            raise LineBusy
        call = Call(
            self.services, sink, call_id=call_id, sample_rate=sample_rate, protocol=protocol, dialled=dialled, po=po
        )
        self.live_calls.add(call)
        self.logs[call_id] = call.log
        while len(self.logs) > self.KEEP_LOGS:
            self.logs.popitem(last=False)
        return call


def get_gateway(connection: HTTPConnection) -> Gateway:
    """The app's gateway (built at start-up)."""
    gateway: Gateway = connection.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def require_staff(connection: HTTPConnection, gateway: GatewayDep) -> StaffMember:
    """Routes with personal data need a signed-in member of staff (the staff app's session cookie).

    Which organisation's data they may see is each route's check (:meth:`StaffMember.can`); a
    route answers another organisation's call exactly as one that does not exist.
    """
    active = gateway.accounts.session(connection.cookies.get(SESSION_COOKIE), now=datetime.now(timezone.utc))
    if active is None:
        raise HTTPException(401, "Sign in on the staff site first.")
    return active.member


StaffDep = Annotated[StaffMember, Depends(require_staff)]
