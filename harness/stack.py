"""Start the real stack for end-to-end tests: action server, Rasa server, SMTP server, Redis.

The model is trained once per session (and cached across sessions by a hash of its inputs, see
``ooh.cli.model_hash``). Servers run as real processes on free localhost ports so the tests
speak to them exactly as a web chat would.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from harness.staff import StaffLogin, staff_login
from ooh.accounts.service import Membership, Role
from ooh.cli import action_server_command, rasa_server_command, warm_up, worker_command, write_endpoints

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_json(url: str, payload: Any | None = None, timeout: float = 60, headers: dict[str, str] | None = None) -> Any:
    """GET (or POST a JSON payload) and decode the JSON answer."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Ask a process to stop (SIGTERM), and kill it if it has not within ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def wait_for(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait for a URL to answer 200, failing early if the server process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


class RecordingHandler:
    """An aiosmtpd handler that keeps every message and can refuse chosen recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.refuse: set[str] = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:  # noqa: N802
        """Refuse recipients listed in ``refuse`` with a permanent error."""
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Keep the message."""
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def wait_for_message(self, predicate: Any, timeout: float = 20) -> tuple[list[str], Message]:
        """Wait until a message matching ``predicate(recipients, message)`` has arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for recipients, message in self.messages:
                    if predicate(recipients, message):
                        return recipients, message
            time.sleep(0.1)
        raise AssertionError("no matching referral email arrived")


@dataclass
class Stack:
    """A running agent: send chat messages and read trackers like a web page would."""

    rasa_port: int
    action_port: int
    smtp: RecordingHandler
    env: dict[str, str]
    workdir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def base(self) -> str:
        """Rasa's base URL."""
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def token(self) -> str:
        """The operator token for Rasa's HTTP API."""
        return self.env["OOH_API_TOKEN"]

    def api(self, path: str) -> str:
        """A URL of Rasa's HTTP API with the operator token (``/conversations/x/tracker``)."""
        separator = "&" if "?" in path else "?"
        return f"{self.base}{path}{separator}token={urllib.parse.quote(self.token)}"

    def send(self, sender: str, text: str, po: str | None = "enfield", now: str | None = None) -> list[str]:
        """Send one message; return the texts of the agent's replies."""
        metadata: dict[str, Any] = {}
        if po is not None:
            metadata["po"] = po
        if now is not None:
            metadata["now"] = now
        replies = http_json(
            f"{self.base}/webhooks/rest/webhook", {"sender": sender, "message": text, "metadata": metadata}
        )
        return [reply["text"] for reply in replies or [] if reply.get("text")]

    def say(self, sender: str, *texts: str, po: str | None = "enfield", now: str | None = None) -> list[str]:
        """Send several messages in turn; return the replies to the last one."""
        replies: list[str] = []
        for text in texts:
            replies = self.send(sender, text, po=po, now=now)
        return replies

    def slots(self, sender: str) -> dict[str, Any]:
        """The tracker's slots for a conversation."""
        tracker = http_json(self.api(f"/conversations/{urllib.parse.quote(sender)}/tracker"))
        return dict(tracker.get("slots") or {})

    def start(self, model: Path, endpoints: Path) -> None:
        """Start the action server, Rasa and the worker (referrals), and wait until the servers answer."""
        log_dir = self.workdir / "logs"
        log_dir.mkdir(exist_ok=True)
        actions = subprocess.Popen(
            action_server_command(self.action_port),
            cwd=ROOT,
            env=self.env,
            stdout=(log_dir / "actions.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        rasa = subprocess.Popen(
            rasa_server_command(self.rasa_port, model, endpoints),
            cwd=ROOT,
            env=self.env,
            stdout=(log_dir / "rasa.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        worker = subprocess.Popen(
            worker_command(),
            cwd=ROOT,
            env=self.env,
            stdout=(log_dir / "worker.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.processes = [actions, rasa, worker]
        wait_for(f"http://127.0.0.1:{self.action_port}/health", 120, actions)
        warm_up(self.action_port, self.env["OOH_ACTION_SECRET"])
        wait_for(self.api("/status"), 300, rasa)

    def stop(self) -> None:
        """Stop both servers."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes = []

    def logs(self) -> str:
        """Both servers' logs (for failure messages)."""
        return "\n".join(p.read_text(errors="replace")[-5000:] for p in (self.workdir / "logs").glob("*.log"))


def trained_model() -> Path:
    """Train (or reuse) the model for the current inputs, once."""
    subprocess.run([str(BIN / "python"), "-m", "ooh.cli", "train"], cwd=ROOT, check=True)
    out = subprocess.run(
        [str(BIN / "python"), "-m", "ooh.cli", "model-path"], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip())


def endpoints_file(stack: Stack, redis_port: int | None = None) -> Path:
    """Endpoints for a test stack, written as ``make run`` writes them (SQLite, or Redis by port)."""
    redis = f"redis://127.0.0.1:{redis_port}/0" if redis_port else None
    return write_endpoints(stack.action_port, redis, stack.env["OOH_ACTION_SECRET"], stack.workdir)


def smtp_controller() -> tuple[Controller, RecordingHandler]:
    """A real SMTP server on a free localhost port."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, handler


def stack_env(workdir: Path, smtp_port: int) -> dict[str, str]:
    """Environment of a test stack: its own databases, the test SMTP server, the test clock."""
    env = dict(os.environ)
    env.update(
        {
            "OOH_DATABASE_URL": f"sqlite:///{workdir / 'records.db'}",
            "OOH_SMTP_HOST": "127.0.0.1",
            "OOH_SMTP_PORT": str(smtp_port),
            "OOH_SMTP_RETRY_DELAY_SECONDS": "0",
            "OOH_ALLOW_CLOCK_OVERRIDE": "true",
            "OOH_SECRETS_DIR": str(workdir / "secrets"),
            # Each stack its own operator token and action secret, as a deployment would set them.
            "OOH_API_TOKEN": secrets.token_urlsafe(32),
            "OOH_ACTION_SECRET": secrets.token_urlsafe(32),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
    )
    return env


def make_workdir() -> Path:
    """A fresh folder for one stack's databases and logs."""
    return Path(tempfile.mkdtemp(prefix="ooh-stack-"))


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start a real redis-server on a free port (installed by tools/ensure-redis.sh)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make test`, which installs it")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        time.sleep(0.1)
    raise RuntimeError("redis-server did not start")


def running_stack(redis_port: int | None = None) -> Iterator[Stack]:
    """A whole stack for a test module or session."""
    workdir = make_workdir()
    controller, handler = smtp_controller()
    model = trained_model()
    stack = Stack(free_port(), free_port(), handler, stack_env(workdir, controller.port), workdir)
    try:
        stack.start(model, endpoints_file(stack, redis_port))
        yield stack
    finally:
        stack.stop()
        controller.stop()


TWILIO_AUTH_TOKEN = "test-token"  # noqa: S105 - the test account's, known to the simulated Twilio
"""The Twilio auth token of the test gateway: the fake API checks it, callers sign with it."""
TWILIO_ACCOUNT_SID = "AC" + "1" * 32


class FakeTwilioApi:
    """Twilio's REST API as far as calls go: create one, or redirect one in progress.

    ``POST .../Calls.json`` creates a call and ``POST .../Calls/{CallSid}.json`` redirects one. The
    real API is a cloud service; this local server speaks its documented wire format (form body with
    ``To``/``From``/``Twiml``, HTTP Basic auth with the account SID and auth token: anything else gets
    Twilio's 401, code 20003) and keeps every request it accepted.
    """

    def __init__(self) -> None:
        import base64
        import http.server

        self.requests: list[dict[str, Any]] = []
        fake = self
        expected = "Basic " + base64.b64encode(f"{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}".encode()).decode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self, status: int, body: dict[str, Any]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(body).encode())

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                if self.headers.get("Authorization") != expected:
                    self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    return
                fake.requests.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "form": {k: v[0] for k, v in form.items()},
                    }
                )
                if self.path.endswith("/Calls.json"):
                    sid = "CA" + secrets.token_hex(16)
                    self._reply(201, {"sid": sid, "status": "queued", "to": form.get("To", [""])[0]})
                    return
                self._reply(200, {"sid": self.path.rsplit("/", 1)[-1].removesuffix(".json"), "status": "in-progress"})

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Shut the server down."""
        self.server.shutdown()


@dataclass
class VoiceGateway:
    """A running voice gateway in front of a test stack."""

    url: str
    audiosocket_port: int
    recordings: Path
    twilio: FakeTwilioApi
    process: subprocess.Popen[bytes]
    #: A signed-in call handler of every organisation (and service admin, for calls that reached
    #: none): call logs and recordings need a staff session. ``token`` is its session cookie's value.
    staff: StaffLogin

    @property
    def token(self) -> str:
        """The staff session token callers show to read their call's log."""
        return self.staff.token

    #: The PBX's token (an AudioSocket dialplan's calls to the gateway).
    pbx_token: str


def running_gateway(stack: Stack, clock: str) -> Iterator[VoiceGateway]:
    """Start ``python -m voice_gateway`` against a running stack, with a fake Twilio API."""
    pbx = secrets.token_urlsafe(16)
    twilio = FakeTwilioApi()
    port, audiosocket_port = free_port(), free_port()
    recordings = stack.workdir / "recordings"
    env = dict(stack.env)
    env.update(
        {
            "OOH_RASA_URL": stack.base,
            "OOH_VOICE_PORT": str(port),
            "OOH_AUDIOSOCKET_PORT": str(audiosocket_port),
            "OOH_RECORDINGS_DIR": str(recordings),
            "OOH_VOICE_CLOCK": clock,
            "OOH_VOICE_NO_INPUT_MS": "3000",
            "OOH_TWILIO_API_BASE": f"http://127.0.0.1:{twilio.port}",
            "OOH_TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
            "OOH_TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
            "OOH_PBX_TOKEN": pbx,
        }
    )
    log = (stack.workdir / "logs" / "voice.log").open("ab")
    process = subprocess.Popen(
        [str(BIN / "python"), "-m", "voice_gateway"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", 180, process)
        organisations = sorted(p.name for p in (ROOT / "service_scripts").iterdir() if (p / "profile.yaml").exists())
        everyone = [Membership(po, Role.CALL_HANDLER) for po in organisations] + [Membership("*", Role.SERVICE_ADMIN)]
        staff = staff_login(env["OOH_DATABASE_URL"], "Harness Handler", everyone)
        yield VoiceGateway(f"http://127.0.0.1:{port}", audiosocket_port, recordings, twilio, process, staff, pbx)
    finally:
        stop_process(process)
        twilio.stop()


@dataclass
class StaffSite:
    """A running staff web app (``python -m staff``) on a free port of this machine."""

    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]


@contextmanager
def running_staff_site(env: dict[str, str], workdir: Path, **settings: str) -> Iterator[StaffSite]:
    """Start the staff app with a stack's environment (its database) and extra ``OOH_`` settings.

    The URL names ``localhost``: browsers keep ``Secure`` cookies for it over plain HTTP, as they do
    for a real deployment behind TLS.
    """
    port = free_port()
    site_env = {**env, "OOH_STAFF_PORT": str(port), **{f"OOH_{k.upper()}": v for k, v in settings.items()}}
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    log = (workdir / "logs" / f"staff-{port}.log").open("ab")
    process = subprocess.Popen(
        [str(BIN / "python"), "-m", "staff"], cwd=ROOT, env=site_env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", 60, process)
        yield StaffSite(f"http://localhost:{port}", site_env, process)
    finally:
        stop_process(process)
        log.close()
