"""Who may use which route: every HTTP route of every server, for every kind of visitor.

The rows are the routes of the voice gateway, the staff site, Rasa and the action server; the
columns are an anonymous visitor, a made-up session, staff of another organisation, each role of
the organisation that owns the data (Enfield), and a service admin. Each cell is the exact status
the running servers must answer. A route added to the gateway or the staff site without a row
here fails :func:`test_every_route_has_a_row`.

Personal data of Enfield (a call log, a call recording, a service request) is readable by Enfield's
call handlers, officers and admins only; Barnet's call handler and the service admin get exactly
what a reference that does not exist gets, so nothing can be inferred.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import urllib.error
import urllib.request
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import websockets.client
import websockets.exceptions

from harness.callers import WebCaller
from harness.stack import Stack, StaffSite, VoiceGateway, running_staff_site
from harness.staff import staff_login
from ooh.accounts.service import SESSION_COOKIE, Membership, Role
from ooh.records.recordings import new_recording_id, recording_path
from ooh.records.store import RecordStore
from ooh.secrets import SECRET_HEADER
from ooh.settings import Settings

pytestmark = pytest.mark.e2e

WHO = ["anonymous", "made-up session", "barnet handler", "call handler", "org officer", "org admin", "service admin"]
"""The columns: who is asking (the last four are Enfield's staff and the service's admin)."""

RESIDENT = "Priya Matrixtest"


class Ok:
    """Shorthands for a row's cells, in the order of :data:`WHO`."""

    @staticmethod
    def everyone(status: int) -> list[int]:
        """The same answer for every visitor."""
        return [status] * len(WHO)

    @staticmethod
    def enfield_staff(allowed: int, signed_out: int = 401, denied: int = 404) -> list[int]:
        """Enfield's data: its three roles allowed; Barnet and the service admin as for nothing."""
        return [signed_out, signed_out, denied, allowed, allowed, allowed, denied]


@dataclass(frozen=True)
class Enfield:
    """Enfield's personal data the matrix asks for."""

    reference: str
    call_id: str
    unassigned_call_id: str


def fetch(method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> tuple[int, bytes]:
    """Status and body of one request, redirects not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def visitors(stack: Stack) -> dict[str, dict[str, str]]:
    """Request headers of each column: staff signed in with password and TOTP."""
    url = stack.env["OOH_DATABASE_URL"]
    staff = {
        "barnet handler": [Membership("barnet", Role.CALL_HANDLER)],
        "call handler": [Membership("enfield", Role.CALL_HANDLER)],
        "org officer": [Membership("enfield", Role.ORG_OFFICER)],
        "org admin": [Membership("enfield", Role.ORG_ADMIN)],
        "service admin": [Membership("*", Role.SERVICE_ADMIN)],
    }
    headers: dict[str, dict[str, str]] = {
        "anonymous": {},
        "made-up session": {"Cookie": f"{SESSION_COOKIE}={secrets.token_urlsafe(32)}"},
    }
    for column, memberships in staff.items():
        headers[column] = staff_login(url, f"{column.title()} Person", memberships).cookie
    return headers


async def _short_call(gateway: VoiceGateway, po: str | None) -> str:
    caller = WebCaller(gateway.url, po, token=gateway.token)
    await caller.start()
    try:
        await caller.prompt(60)
    finally:
        await caller.stop()
    assert caller.call_id
    return caller.call_id


@pytest.fixture(scope="module")
def enfield(stack: Stack, gateway: VoiceGateway) -> Enfield:
    """A call to Enfield, a call that never reached an organisation, and a request with a recording."""
    store = RecordStore(stack.env["OOH_DATABASE_URL"])
    recording = new_recording_id()
    now = datetime.now(timezone.utc)
    request = store.create_request(
        po="enfield",
        prefix="ENF",
        service_option="noise",
        call_outcome="referred",
        now=now,
        caller_name=RESIDENT,
        channel="voice",
        recording_id=recording,
        details="loud party",
    )
    gateway.recordings.mkdir(parents=True, exist_ok=True)
    with wave.open(str(recording_path(gateway.recordings, recording)), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(b"\x00\x00" * 1600)
    return Enfield(
        request.reference, asyncio.run(_short_call(gateway, "enfield")), asyncio.run(_short_call(gateway, None))
    )


@pytest.fixture(scope="module")
def site(stack: Stack, gateway: VoiceGateway) -> Iterator[StaffSite]:
    """The staff site on the stack's database and the gateway's recordings."""
    with running_staff_site(stack.env, stack.workdir, recordings_dir=str(gateway.recordings)) as running:
        yield running


def gateway_rows(enfield: Enfield) -> dict[tuple[str, str], tuple[str, list[int]]]:
    """(method, route) -> (the path asked for, the status per column)."""
    call = str(uuid.uuid4())
    return {
        ("GET", "/health"): ("/health", Ok.everyone(200)),
        ("GET", "/calls/{call_id}"): (f"/calls/{enfield.call_id}", Ok.enfield_staff(200)),
        ("GET", "/recordings/{reference}"): (f"/recordings/{enfield.reference}", Ok.enfield_staff(200)),
        ("GET", "/web/talk"): ("/web/talk?po=enfield", Ok.everyone(200)),
        # Web chat: public pages for residents (no personal data: the conversation is in the browser).
        ("GET", "/web/chat"): ("/web/chat?po=enfield", Ok.everyone(200)),
        ("GET", "/web/chat/window"): ("/web/chat/window?po=enfield", Ok.everyone(200)),
        ("GET", "/web/chat/static"): ("/web/chat/static/widget.js", Ok.everyone(200)),
        ("GET", "/web/chat/assets"): ("/web/chat/assets/govuk-frontend.min.css", Ok.everyone(200)),
        ("POST", "/twilio/voice"): ("/twilio/voice", Ok.everyone(403)),
        # A referral call's keypress: Twilio's signature first, whatever else comes with it.
        ("POST", "/twilio/ack/{token}"): ("/twilio/ack/eyJyIjoiRU5GIn0.forged", Ok.everyone(403)),
        ("GET", "/audiosocket/{call_uuid}/dialled"): (
            f"/audiosocket/{call}/dialled?number=02079460252",
            Ok.everyone(401),
        ),
        ("GET", "/audiosocket/{call_uuid}/transfer"): (f"/audiosocket/{call}/transfer", Ok.everyone(401)),
        ("GET", "/openapi.json"): ("/openapi.json", Ok.everyone(200)),
        ("GET", "/docs"): ("/docs", Ok.everyone(200)),
        ("GET", "/docs/oauth2-redirect"): ("/docs/oauth2-redirect", Ok.everyone(200)),
        ("GET", "/redoc"): ("/redoc", Ok.everyone(200)),
    }


def staff_rows(enfield: Enfield) -> dict[tuple[str, str], tuple[str, list[int]]]:
    """The staff site's routes: pages send a signed-out browser to sign in (303)."""
    ref = enfield.reference
    return {
        ("GET", "/"): ("/", Ok.everyone(303)),
        ("GET", "/health"): ("/health", Ok.everyone(200)),
        ("GET", "/assets"): ("/assets/govuk-frontend.min.css", Ok.everyone(200)),
        ("GET", "/staff/sign-in"): ("/staff/sign-in", Ok.everyone(200)),
        # Acknowledgement links need no sign-in: the signed link is the key (a forged one: 404).
        ("GET", "/ack/{token}"): ("/ack/eyJyIjoiRU5GIn0.forged", Ok.everyone(404)),
        ("POST", "/ack/{token}"): ("/ack/eyJyIjoiRU5GIn0.forged", Ok.everyone(404)),
        # Notify's callbacks need Notify's bearer token: no staff session opens them.
        ("POST", "/notify/delivery-receipts"): ("/notify/delivery-receipts", Ok.everyone(401)),
        ("POST", "/notify/received-text-messages"): ("/notify/received-text-messages", Ok.everyone(401)),
        # Lone-worker pages need no sign-in: the link signed for one officer (or one alarm) is the key.
        ("GET", "/lone-worker/{token}"): ("/lone-worker/eyJwIjoiZW5maWVsZCJ9.forged", Ok.everyone(404)),
        ("POST", "/lone-worker/{token}/check-in"): (
            "/lone-worker/eyJwIjoiZW5maWVsZCJ9.forged/check-in",
            Ok.everyone(404),
        ),
        ("POST", "/lone-worker/{token}/check-out"): (
            "/lone-worker/eyJwIjoiZW5maWVsZCJ9.forged/check-out",
            Ok.everyone(404),
        ),
        ("GET", "/alarm/{token}"): ("/alarm/eyJ2IjoxfQ.forged", Ok.everyone(404)),
        ("POST", "/alarm/{token}"): ("/alarm/eyJ2IjoxfQ.forged", Ok.everyone(404)),
        ("POST", "/staff/sign-in"): ("/staff/sign-in", Ok.everyone(403)),
        ("POST", "/staff/sign-out"): ("/staff/sign-out", [303, 303, 403, 403, 403, 403, 403]),
        ("GET", "/staff/"): ("/staff/", [303, 303, 200, 200, 200, 200, 200]),
        ("GET", "/staff/requests"): (f"/staff/requests?reference={ref}", Ok.enfield_staff(303, signed_out=303)),
        ("GET", "/staff/requests/{reference}"): (f"/staff/requests/{ref}", Ok.enfield_staff(200, signed_out=303)),
        ("GET", "/staff/requests/{reference}/recording"): (
            f"/staff/requests/{ref}/recording",
            Ok.enfield_staff(200, signed_out=303),
        ),
        # Live rotas: Enfield's org admin only (MANAGE_ROTA); posts without the CSRF token are refused first.
        ("GET", "/staff/rota/{po}"): ("/staff/rota/enfield", [303, 303, 404, 404, 404, 200, 404]),
        ("POST", "/staff/rota/{po}/changes"): ("/staff/rota/enfield/changes", [303, 303, 403, 403, 403, 403, 403]),
        ("POST", "/staff/rota/{po}/changes/{change_id}/withdraw"): (
            "/staff/rota/enfield/changes/1/withdraw",
            [303, 303, 403, 403, 403, 403, 403],
        ),
        ("GET", "/staff/api/rota/{po}"): ("/staff/api/rota/enfield", [401, 401, 404, 404, 404, 200, 404]),
        ("POST", "/staff/api/rota/{po}/changes"): (
            "/staff/api/rota/enfield/changes",
            [401, 401, 403, 403, 403, 403, 403],
        ),
        ("POST", "/staff/api/rota/{po}/changes/{change_id}/withdraw"): (
            "/staff/api/rota/enfield/changes/1/withdraw",
            [401, 401, 403, 403, 403, 403, 403],
        ),
    }


def routes_of(app: object) -> set[tuple[str, str]]:
    """(method, path) of every HTTP route a FastAPI app serves (a mount as its prefix)."""
    from starlette.routing import Mount, Route

    found = set()
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Mount):
            found.add(("GET", route.path))
        elif isinstance(route, Route):
            found |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return found


def test_every_route_has_a_row(tmp_path: Path) -> None:
    """A new route on the gateway or the staff site must be given its row in this matrix."""
    from staff.app import create_app as staff_app
    from voice_gateway.app import create_app as gateway_app

    placeholder = Enfield("ENF-20261206-0001", "web-x", "web-y")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'r.db'}")  # type: ignore[call-arg]
    assert routes_of(gateway_app(settings)) == set(gateway_rows(placeholder))
    assert routes_of(staff_app(settings)) == set(staff_rows(placeholder))


def check(base: str, rows: dict[tuple[str, str], tuple[str, list[int]]], visitors: dict[str, dict[str, str]]) -> None:
    """Ask every cell; collect every difference, so one run shows the whole picture."""
    wrong = []
    for (method, _route), (path, statuses) in rows.items():
        for who, want in zip(WHO, statuses, strict=True):
            body = b"" if method == "POST" else None
            headers = (
                {**visitors[who], "Content-Type": "application/x-www-form-urlencoded"}
                if body is not None
                else visitors[who]
            )
            got, text = fetch(method, base + path, headers, body)
            if got != want:
                wrong.append(f"{method} {path} as {who}: {got}, expected {want}")
            if who in ("anonymous", "made-up session", "barnet handler", "service admin"):
                assert RESIDENT.encode() not in text, f"{method} {path} showed the resident's name to {who}"
    assert wrong == []


def test_the_voice_gateway_matrix(gateway: VoiceGateway, enfield: Enfield, visitors: dict[str, dict[str, str]]) -> None:
    check(gateway.url, gateway_rows(enfield), visitors)


def test_a_call_that_reached_no_organisation_is_the_service_admins_only(
    gateway: VoiceGateway, enfield: Enfield, visitors: dict[str, dict[str, str]]
) -> None:
    row = {("GET", "/calls/{call_id}"): (f"/calls/{enfield.unassigned_call_id}", [401, 401, 404, 404, 404, 404, 200])}
    check(gateway.url, row, visitors)


def test_the_staff_site_matrix(site: StaffSite, enfield: Enfield, visitors: dict[str, dict[str, str]]) -> None:
    check(site.url.replace("localhost", "127.0.0.1"), staff_rows(enfield), visitors)


def test_the_twilio_media_stream_refuses_everyone_without_a_signature(
    gateway: VoiceGateway, visitors: dict[str, dict[str, str]]
) -> None:
    """The WebSocket routes: Twilio's stream needs Twilio's signature, whoever's cookie comes with it."""

    async def attempt(headers: dict[str, str]) -> str:
        url = gateway.url.replace("http", "ws") + "/twilio/media"
        try:
            async with websockets.client.connect(url, extra_headers=headers, open_timeout=10) as socket:
                await asyncio.wait_for(socket.recv(), 5)
                return "open"
        except (websockets.exceptions.InvalidStatusCode, websockets.exceptions.ConnectionClosed):
            return "refused"

    assert {who: asyncio.run(attempt(visitors[who])) for who in WHO} == dict.fromkeys(WHO, "refused")


RASA_ROUTES = [
    ("GET", "/status"),
    ("GET", "/domain"),
    ("GET", "/conversations/{sender}/tracker"),
    ("GET", "/conversations/{sender}/story"),
    ("POST", "/conversations/{sender}/tracker/events"),
    ("POST", "/conversations/{sender}/messages"),
    ("POST", "/conversations/{sender}/execute"),
    ("POST", "/conversations/{sender}/trigger_intent"),
    ("POST", "/conversations/{sender}/predict"),
    ("POST", "/model/parse"),
    ("POST", "/model/train"),
    ("POST", "/model/test/intents"),
    ("POST", "/model/test/stories"),
    ("POST", "/model/predict"),
    ("PUT", "/model"),
    ("DELETE", "/model"),
]
"""Rasa's HTTP API (https://rasa.com/docs/rasa/pages/http-api): all of it needs the operator token."""


def test_rasa_and_the_action_server_open_to_their_keys_only(stack: Stack, visitors: dict[str, dict[str, str]]) -> None:
    """A staff cookie is no key to Rasa's API or the action server; residents' webhooks stay open."""
    sender = "matrix-" + secrets.token_hex(4)
    stack.say(sender, "my neighbours music is really loud", f"my name is {RESIDENT}")
    wrong = []
    for who in WHO:
        for method, path in RASA_ROUTES:
            for token in ("", "?token=wrong-token"):
                got, text = fetch(
                    method,
                    stack.base + path.format(sender=sender) + token,
                    visitors[who],
                    b"{}" if method != "GET" else None,
                )
                if got not in (401, 403) or RESIDENT.encode() in text:
                    wrong.append(f"Rasa {method} {path}{token} as {who}: {got}")
        for path in ("/webhook", "/actions"):
            got, _ = fetch(
                "POST" if path == "/webhook" else "GET",
                f"http://127.0.0.1:{stack.action_port}{path}",
                {**visitors[who], SECRET_HEADER: "wrong"},
                b"{}" if path == "/webhook" else None,
            )
            if got != 401:
                wrong.append(f"action server {path} as {who}: {got}")
        for path in ("/", "/version"):
            got, _ = fetch("GET", stack.base + path, visitors[who])
            if got != 200:
                wrong.append(f"Rasa GET {path} as {who}: {got}")
    assert wrong == []
    for method, path in [("GET", "/status"), ("GET", "/domain"), ("GET", "/conversations/{sender}/tracker")]:
        got, text = fetch(method, stack.api(path.format(sender=sender)), {})
        assert got == 200, (path, got)
    assert RESIDENT.encode() in fetch("GET", stack.api(f"/conversations/{sender}/tracker"), {})[1]


def test_a_recording_played_by_staff_is_on_the_audit_log(
    stack: Stack, gateway: VoiceGateway, enfield: Enfield, visitors: dict[str, dict[str, str]]
) -> None:
    """Every play and every refusal is recorded against the request's organisation."""
    from ooh.accounts.service import accounts_for

    fetch("GET", f"{gateway.url}/recordings/{enfield.reference}", visitors["call handler"])
    fetch("GET", f"{gateway.url}/recordings/{enfield.reference}", visitors["barnet handler"])
    store = RecordStore(stack.env["OOH_DATABASE_URL"])
    trail = accounts_for(store, Settings()).audit_trail(po="enfield")  # type: ignore[call-arg]
    plays = [(e["action"], e["target"], e["allowed"]) for e in trail if e["target"] == enfield.reference]
    assert ("play_recording", enfield.reference, True) in plays
    assert ("play_recording", enfield.reference, False) in plays
    wav = fetch("GET", f"{gateway.url}/recordings/{enfield.reference}", visitors["org officer"])[1]
    with wave.open(io.BytesIO(wav)) as handle:
        assert handle.getnframes() == 800


def test_another_organisations_reference_reads_exactly_like_one_that_does_not_exist(
    gateway: VoiceGateway, site: StaffSite, enfield: Enfield, visitors: dict[str, dict[str, str]]
) -> None:
    """Barnet's handler cannot tell an Enfield reference or call from a made-up one, by any route."""
    import re

    made_up_ref = enfield.reference[:-4] + "9999"
    made_up_call = "web-" + uuid.uuid4().hex
    staff_base = site.url.replace("localhost", "127.0.0.1")
    pairs = [
        (f"{gateway.url}/recordings/{enfield.reference}", f"{gateway.url}/recordings/{made_up_ref}"),
        (f"{gateway.url}/calls/{enfield.call_id}", f"{gateway.url}/calls/{made_up_call}"),
        (f"{staff_base}/staff/requests/{enfield.reference}", f"{staff_base}/staff/requests/{made_up_ref}"),
        (
            f"{staff_base}/staff/requests?reference={enfield.reference}",
            f"{staff_base}/staff/requests?reference={made_up_ref}",
        ),
        (
            f"{staff_base}/staff/requests/{enfield.reference}/recording",
            f"{staff_base}/staff/requests/{made_up_ref}/recording",
        ),
    ]

    def seen(url: str) -> tuple[int, bytes]:
        status, body = fetch("GET", url, visitors["barnet handler"])
        body = re.sub(rb'nonce="[^"]+"', b"", body)  # differs per response by design
        return status, body.replace(enfield.reference.encode(), b"REF").replace(made_up_ref.encode(), b"REF")

    for real, invented in pairs:
        assert seen(real) == seen(invented), real
