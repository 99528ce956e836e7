"""``python -m ooh.notifyfake``: GOV.UK Notify's SMS API on this machine, for ``make run`` and tests.

Notify is a cloud service that cannot be reached from a laptop or CI, so this speaks its documented
wire protocol instead, auth included, and keeps every text as a JSON file (``var/sms/``, owner-only):

* ``POST /v2/notifications/sms`` with ``Authorization: Bearer <JWT>``: the token must be HS256,
  issued (``iss``) by the service id in the API key and signed with the key's secret, its ``iat``
  within 30 seconds (checked with ``notifications_python_client``'s own ``decode_jwt_token``,
  the code Notify's API uses). Answers 201 with Notify's response body, or Notify's error shape
  (``{"errors": [{"error", "message"}], "status_code"}``) with 400/403.
* ``GET /v2/notifications/<id>``: the text and its status.
* A **delivery receipt** is then posted to the delivery-receipt callback with the callback bearer
  token, as Notify does: ``delivered``, except for Notify's test numbers 07700900002
  (``permanent-failure``) and 07700900003 (``temporary-failure``).

Two routes are the fake's own, for tests and demos (loopback only, never part of Notify's API):
``POST /_fake/received-text`` (``{"source_number", "message"}``) makes Notify's received-text
callback as if a phone had texted the service, and ``GET /_fake/texts`` lists what was "sent".

The API key and the callback token come from the environment (``OOH_NOTIFY_API_KEY``,
``OOH_NOTIFY_CALLBACK_TOKEN``), never the command line, which other users can read.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from notifications_python_client.authentication import decode_jwt_token, get_token_issuer
from notifications_python_client.errors import TokenError

from ooh.referrals.sms import SMS_LIMIT, uk_mobile
from ooh.secrets import private_files

FAKE_TEMPLATE_ID = "0b5e6a0e-9a3f-4c1e-8f57-6f0f3c2a7d10"
"""The one SMS template the fake knows (its text is ``((body))``)."""
FROM_NUMBER = "OOHSERVICE"
FAILING_NUMBERS = {"+447700900002": "permanent-failure", "+447700900003": "temporary-failure"}
"""Notify's documented test numbers that fail; every other number is delivered."""
MAX_BODY = 64 * 1024


def fake_api_key(service_id: str | None = None, secret: str | None = None) -> str:
    """A key in Notify's format: ``<name>-<service id>-<secret>`` (both UUIDs)."""
    return f"ooh_local-{service_id or uuid.uuid4()}-{secret or uuid.uuid4()}"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeNotify(ThreadingHTTPServer):
    """The server's state: its key, template, callbacks, and what it sent."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        api_key: str,
        folder: Path,
        delivery_callback: str | None,
        inbound_callback: str | None,
        callback_token: str | None,
        template_id: str = FAKE_TEMPLATE_ID,
        delivery_delay: float = 0.2,
    ) -> None:
        super().__init__(address, Handler)
        self.service_id, self.secret = api_key[-73:-37], api_key[-36:]
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.delivery_callback = delivery_callback
        self.inbound_callback = inbound_callback
        self.callback_token = callback_token
        self.template_id = template_id
        self.delivery_delay = delivery_delay
        self.texts: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        """Base URL of the fake."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def callback(self, url: str | None, payload: dict[str, Any]) -> int | None:
        """POST a callback the way Notify does (JSON, the service's bearer token); its HTTP status."""
        if not url:
            return None
        request = urllib.request.Request(
            url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.callback_token or ''}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return None

    def deliver_later(self, text: dict[str, Any]) -> None:
        """After a moment, settle the text's status and post the delivery receipt."""

        def run() -> None:
            time.sleep(self.delivery_delay)
            with self.lock:
                text["status"] = FAILING_NUMBERS.get(text["phone_number"], "delivered")
                text["completed_at"] = text["sent_at"] = _now()
                self._save(text)
            receipt = {
                "id": text["id"],
                "reference": text["reference"],
                "to": text["phone_number"],
                "status": text["status"],
                "created_at": text["created_at"],
                "completed_at": text["completed_at"],
                "sent_at": text["sent_at"],
                "notification_type": "sms",
                "template_id": text["template"]["id"],
                "template_version": 1,
            }
            self.callback(self.delivery_callback, receipt)

        threading.Thread(target=run, daemon=True).start()

    def _save(self, text: dict[str, Any]) -> None:
        path = self.folder / f"{text['created_at'][:19].replace(':', '')}-{text['id']}.json"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(text, handle, indent=2)


class Handler(BaseHTTPRequestHandler):
    """Notify's routes, and the fake's two own."""

    server: FakeNotify

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Quiet: the texts hold personal data, and the path is enough for nobody."""

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, error: str, message: str) -> None:
        self._reply(status, {"errors": [{"error": error, "message": message}], "status_code": status})

    def _json(self) -> Any:
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > MAX_BODY:
            return None
        try:
            return json.loads(self.rfile.read(int(length)) or b"null")
        except ValueError:
            return None

    def _authorised(self) -> bool:
        """Notify's check: a bearer JWT issued by this service, signed with its key, fresh."""
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            self._error(401, "AuthError", "Unauthorized: authentication token must be provided")
            return False
        token = header[len("Bearer ") :]
        try:
            if get_token_issuer(token) != self.server.service_id:
                self._error(403, "AuthError", "Invalid token: service not found")
                return False
            decode_jwt_token(token, self.server.secret)
        except TokenError as exc:
            reason = getattr(exc, "message", "signature, api token is not valid")
            self._error(403, "AuthError", f"Invalid token: {reason}")
            return False
        return True

    def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
        """``/v2/notifications/<id>`` (authenticated) and the fake's ``/_fake/texts``."""
        if self.path == "/_fake/texts":
            with self.server.lock:
                self._reply(200, {"texts": list(self.server.texts.values())})
            return
        if self.path == "/health":
            self._reply(200, {"status": "ok"})
            return
        if not self.path.startswith("/v2/notifications/"):
            self._error(404, "NotFound", "Not found")
            return
        if not self._authorised():
            return
        text = self.server.texts.get(self.path.rsplit("/", 1)[-1])
        if text is None:
            self._error(404, "NoResultFound", "No result found")
            return
        self._reply(200, text)

    def do_POST(self) -> None:  # noqa: N802
        """Send a text, or (the fake's own) pretend a phone texted the service."""
        if self.path == "/_fake/received-text":
            self._received_text()
        elif self.path == "/v2/notifications/sms":
            if self._authorised():
                self._send_sms()
        else:
            self._error(404, "NotFound", "Not found")

    def _send_sms(self) -> None:
        body = self._json()
        if not isinstance(body, dict):
            self._error(400, "BadRequestError", "Invalid JSON supplied in POST data")
            return
        number = uk_mobile(str(body.get("phone_number") or ""))
        if number is None:
            self._error(400, "ValidationError", "phone_number Not a UK mobile number")
            return
        if body.get("template_id") != self.server.template_id:
            self._error(400, "BadRequestError", "Template not found")
            return
        personalisation = body.get("personalisation")
        if not isinstance(personalisation, dict) or not isinstance(personalisation.get("body"), str):
            self._error(400, "BadRequestError", "Missing personalisation: body")
            return
        content = personalisation["body"]
        if len(content) > SMS_LIMIT:
            self._error(400, "BadRequestError", f"Text messages cannot be longer than {SMS_LIMIT} characters")
            return
        notification_id = str(uuid.uuid4())
        base = self.server.url
        text = {
            "id": notification_id,
            "reference": body.get("reference"),
            "phone_number": number,
            "type": "sms",
            "status": "created",
            "body": content,
            "template": {
                "id": self.server.template_id,
                "version": 1,
                "uri": f"{base}/v2/template/{self.server.template_id}",
            },
            "created_at": _now(),
            "sent_at": None,
            "completed_at": None,
        }
        with self.server.lock:
            self.server.texts[notification_id] = text
            self.server._save(text)
        self._reply(
            201,
            {
                "id": notification_id,
                "reference": text["reference"],
                "content": {"body": content, "from_number": FROM_NUMBER},
                "uri": f"{base}/v2/notifications/{notification_id}",
                "template": text["template"],
            },
        )
        self.server.deliver_later(text)

    def _received_text(self) -> None:
        body = self._json()
        if not isinstance(body, dict) or not body.get("source_number") or not isinstance(body.get("message"), str):
            self._error(400, "BadRequestError", "source_number and message are needed")
            return
        payload = {
            "id": str(uuid.uuid4()),
            "source_number": str(body["source_number"]),
            "destination_number": FROM_NUMBER,
            "message": body["message"],
            "date_received": _now(),
        }
        status = self.server.callback(self.server.inbound_callback, payload)
        self._reply(200, {"callback_status": status})


def serve(
    host: str,
    port: int,
    *,
    api_key: str,
    folder: Path,
    delivery_callback: str | None = None,
    inbound_callback: str | None = None,
    callback_token: str | None = None,
    delivery_delay: float = 0.2,
) -> FakeNotify:
    """Start the fake in a background thread (``shutdown()`` then ``server_close()`` to end it)."""
    server = FakeNotify(
        (host, port),
        api_key=api_key,
        folder=folder,
        delivery_callback=delivery_callback,
        inbound_callback=inbound_callback,
        callback_token=callback_token,
        delivery_delay=delivery_delay,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    """Run the fake in the foreground until interrupted."""
    parser = argparse.ArgumentParser(prog="ooh.notifyfake", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6011)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--delivery-callback", help="URL Notify posts delivery receipts to")
    parser.add_argument("--inbound-callback", help="URL Notify posts received text messages to")
    args = parser.parse_args(argv)
    api_key = os.environ.get("OOH_NOTIFY_API_KEY", "")
    if len(api_key) < 74:
        parser.error("OOH_NOTIFY_API_KEY must hold a key in Notify's format (name-<service id>-<secret>)")
    private_files()
    server = serve(
        args.host,
        args.port,
        api_key=api_key,
        folder=args.folder,
        delivery_callback=args.delivery_callback,
        inbound_callback=args.inbound_callback,
        callback_token=os.environ.get("OOH_NOTIFY_CALLBACK_TOKEN"),
    )
    print(f"Notify fake on {server.url}: texts are kept in {args.folder}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
