"""Command line of the agent: ``python -m ooh.cli check|train|run``.

``make run`` calls ``run``: validate the organisation data (refusing to start on an error), train the
Rasa model only when its inputs changed (models are cached by a hash of their inputs), then start
the action server, ``rasa run --enable-api``, the voice gateway, the staff site and the worker (which
sends referrals from the outbox) in the foreground, with a local mail sink when no mail server is set.
``staff add|list|unlock`` manages staff accounts (the first admin of a new deployment starts here).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

from ooh.orgs.errors import ConfigError
from ooh.orgs.loader import load_registry
from ooh.secrets import SECRET_HEADER, action_secret, operator_token
from ooh.settings import PROJECT_ROOT, Settings, get_settings

BOT = PROJECT_ROOT / "bot"
NLU_CODE = [BOT / "components.py", BOT / "sentence_encoder.py", PROJECT_ROOT / "ooh" / "risk_model.py"]
"""The project's own pipeline code: a change to it changes every model that uses it."""
NLU_DATA = PROJECT_ROOT / "nlu_data"
SAFEGUARDING_CORPUS = PROJECT_ROOT / "safeguarding"
"""The safeguarding screen's training corpus (its phrases and thresholds are read at run time)."""
MODEL_INPUTS = [BOT / "config.yml", *NLU_CODE, BOT / "domain", BOT / "data", NLU_DATA, SAFEGUARDING_CORPUS]
MODELS = PROJECT_ROOT / "models"
VAR = PROJECT_ROOT / "var"


def inputs_hash(inputs: list[Path]) -> str:
    """Hash of the files under ``inputs`` (names and contents), to key cached models."""
    digest = hashlib.sha256()
    for root in inputs:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_hash() -> str:
    """Hash of everything training reads, so an unchanged model is never trained twice."""
    return inputs_hash(MODEL_INPUTS)


def model_path() -> Path:
    """Where the model for the current inputs is (or will be) stored."""
    return MODELS / f"ooh-{model_hash()}.tar.gz"


def check() -> int:
    """Validate all organisation data; print every problem with file and field."""
    settings = get_settings()
    try:
        registry = load_registry(settings.service_scripts_dir)
    except ConfigError as exc:
        print("Organisation data is not valid; the agent will not start until this is fixed:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"Organisation data OK: {len(registry.organisations)} organisations, {len(registry.scripts)} scripts.")
    return 0


def rasa_train(arguments: list[str], target: Path) -> None:
    """Run ``rasa train <arguments>`` (which may start with ``nlu``) into ``target`` under ``models/``."""
    rasa = Path(sys.executable).with_name("rasa")
    name = target.name.removesuffix(".tar.gz")
    command = [str(rasa), "train", *arguments, "--out", str(MODELS), "--fixed-model-name", name]
    subprocess.run(command, check=True, cwd=PROJECT_ROOT)


def train(force: bool = False) -> Path:
    """Train the model if no cached model matches the current inputs; return its path."""
    target = model_path()
    if target.exists() and not force:
        print(f"Model up to date: {target.relative_to(PROJECT_ROOT)}")
        return target
    MODELS.mkdir(exist_ok=True)
    print("Training the Rasa model (a few minutes on 2 cores)...", flush=True)
    data = [str(BOT / "data"), str(PROJECT_ROOT / "nlu_data")]
    rasa_train(["--config", str(BOT / "config.yml"), "--domain", str(BOT / "domain"), "--data", *data], target)
    for old in MODELS.glob("ooh-*.tar.gz"):
        if old != target:
            old.unlink()
    return target


def rasa_server_command(port: int, model: Path, endpoints: Path) -> list[str]:
    """``rasa run --enable-api`` through :mod:`bot.server`, for run and tests.

    The API is locked by the operator token, which :mod:`bot.server` adds itself (from the
    environment, so it never shows in a process list), and listens on ``OOH_BIND_HOST`` only.
    """
    return [
        sys.executable,
        "-m",
        "bot.server",
        "run",
        "--enable-api",
        "--interface",
        get_settings().bind_host,
        "--port",
        str(port),
        "--model",
        str(model),
        "--endpoints",
        str(endpoints),
        "--credentials",
        str(BOT / "credentials.yml"),
    ]


def write_endpoints(action_port: int, redis_url: str | None, secret: str, folder: Path = VAR) -> Path:
    """Endpoints for a stack: SQLite tracker store in ``folder`` by default, Redis (with lock store) by URL.

    The file holds the action server's secret (Rasa does not expand environment variables in
    endpoint headers), so it is written readable by its owner only.
    """
    folder.mkdir(exist_ok=True)
    lines = [
        "action_endpoint:",
        f'  url: "http://127.0.0.1:{action_port}/webhook"',
        "  headers:",
        f'    {SECRET_HEADER}: "{secret}"',
    ]
    if redis_url:
        url = urllib.parse.urlparse(redis_url)
        db = (url.path or "/0").lstrip("/") or "0"
        common = [f'  url: "{url.hostname or "127.0.0.1"}"', f"  port: {url.port or 6379}", f"  db: {db}"]
        if url.password:
            common.append(f'  password: "{url.password}"')
        lines += ["tracker_store:", "  type: redis", *common, "lock_store:", "  type: redis", *common]
    else:
        lines += ["tracker_store:", "  type: SQL", '  dialect: "sqlite"', f'  db: "{folder / "conversations.db"}"']
    path = folder / f"endpoints-{action_port}.yml"
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def action_server_command(port: int) -> list[str]:
    """The action server (:mod:`actions.server`: Rasa SDK's, behind the shared secret)."""
    return [sys.executable, "-m", "actions.server", "--port", str(port)]


def worker_command() -> list[str]:
    """The background worker (``python -m worker``): it sends referrals from the outbox."""
    return [str(Path(sys.executable).parent / "python"), "-m", "worker"]


def stack_secrets(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the operator token and the action secret set, so every process agrees on them."""
    settings = get_settings()
    return {**env, "OOH_API_TOKEN": operator_token(settings), "OOH_ACTION_SECRET": action_secret(settings)}


def warm_up(action_port: int, secret: str) -> None:
    """Ask the action server to load its data and matchers now (``action_warm_up``)."""
    import json
    import urllib.request

    tracker = {"sender_id": "warm-up", "slots": {}, "latest_message": {}, "events": [], "active_loop": {}}
    body = {"next_action": "action_warm_up", "sender_id": "warm-up", "tracker": tracker, "domain": {}}
    request = urllib.request.Request(
        f"http://127.0.0.1:{action_port}/webhook",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", SECRET_HEADER: secret},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()


def wait_for(url: str, timeout: float) -> bool:
    """Poll a health URL until it answers 200."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def mail_sink_command(settings: Settings) -> list[str] | None:
    """The command that starts the local mail sink, or None when mail should go elsewhere.

    Only when the sink is on, the SMTP host is this machine, and nothing listens on the port yet
    (a developer's own mail server wins).
    """
    if not settings.mail_sink or settings.smtp_host not in ("127.0.0.1", "localhost", "::1"):
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        if probe.connect_ex(("127.0.0.1", settings.smtp_port)) == 0:
            return None
    folder = str(settings.mail_dir)
    port = str(settings.smtp_port)
    return [sys.executable, "-m", "ooh.mailsink", "--host", "127.0.0.1", "--port", port, "--folder", folder]


def local_notify(settings: Settings, env: dict[str, str]) -> list[str] | None:
    """Point ``env`` at the local Notify fake and return its command, or None when texts go elsewhere.

    Only when the fake is on, no real Notify key is configured, and its port is free. The fake's key
    is made once and kept with the other secrets; the callbacks go to the staff site, as Notify's
    would, with the kept callback token.
    """
    if not settings.notify_fake or settings.notify_api_key:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        if probe.connect_ex(("127.0.0.1", settings.notify_fake_port)) == 0:
            return None
    from ooh.notifyfake import FAKE_TEMPLATE_ID, fake_api_key
    from ooh.secrets import kept_secret, notify_callback_token

    service = kept_secret("notify_fake_service", settings.secrets_dir)
    env["OOH_NOTIFY_API_KEY"] = fake_api_key(
        str(uuid.uuid5(uuid.NAMESPACE_URL, service)), str(uuid.uuid5(uuid.NAMESPACE_DNS, service))
    )
    env["OOH_NOTIFY_BASE_URL"] = f"http://127.0.0.1:{settings.notify_fake_port}"
    env["OOH_NOTIFY_SMS_TEMPLATE_ID"] = FAKE_TEMPLATE_ID
    env["OOH_NOTIFY_CALLBACK_TOKEN"] = notify_callback_token(settings)
    staff = f"http://127.0.0.1:{settings.staff_port}/notify"
    return [
        sys.executable, "-m", "ooh.notifyfake", "--port", str(settings.notify_fake_port),
        "--folder", str(settings.sms_dir),
        "--delivery-callback", f"{staff}/delivery-receipts", "--inbound-callback", f"{staff}/received-text-messages",
    ]  # fmt: skip


def run(rasa_port: int, action_port: int) -> int:
    """Start the action server and Rasa in the foreground until interrupted."""
    if check():
        return 1
    model = train()
    settings = get_settings()
    endpoints = write_endpoints(action_port, settings.redis_url or os.environ.get("REDIS_URL"), action_secret(settings))
    env = stack_secrets(dict(os.environ))
    bin_dir = Path(sys.executable).parent
    sink = mail_sink_command(settings)
    mail = subprocess.Popen(sink, cwd=PROJECT_ROOT, env=env) if sink else None
    notify_fake = local_notify(settings, env)
    texts = subprocess.Popen(notify_fake, cwd=PROJECT_ROOT, env=env) if notify_fake else None
    actions = subprocess.Popen(action_server_command(action_port), cwd=PROJECT_ROOT, env=env)
    rasa = subprocess.Popen(rasa_server_command(rasa_port, model, endpoints), cwd=PROJECT_ROOT, env=env)
    voice_env = {**env, "OOH_RASA_URL": f"http://127.0.0.1:{rasa_port}"}
    voice = subprocess.Popen([str(bin_dir / "python"), "-m", "voice_gateway"], cwd=PROJECT_ROOT, env=voice_env)
    staff = subprocess.Popen([str(bin_dir / "python"), "-m", "staff"], cwd=PROJECT_ROOT, env=env)
    worker = subprocess.Popen(worker_command(), cwd=PROJECT_ROOT, env=env)
    processes = [actions, rasa, voice, staff, worker] + [p for p in (mail, texts) if p is not None]

    def stop(*_: object) -> None:
        for process in processes:
            if process.poll() is None:
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ok = wait_for(f"http://127.0.0.1:{action_port}/health", 120)
    if ok:
        warm_up(action_port, env["OOH_ACTION_SECRET"])
    token = urllib.parse.quote(env["OOH_API_TOKEN"])
    ok = ok and wait_for(f"http://127.0.0.1:{rasa_port}/status?token={token}", 300)
    voice_port = settings.voice_port
    ok = ok and wait_for(f"http://127.0.0.1:{voice_port}/health", 180)
    ok = ok and wait_for(f"http://127.0.0.1:{settings.staff_port}/health", 60)
    if ok:
        print(
            f"Ready: chat on http://127.0.0.1:{rasa_port}/webhooks/rest/webhook, actions on :{action_port}, "
            f"voice on http://127.0.0.1:{voice_port}/web/talk?po=enfield (Twilio webhook /twilio/voice, "
            f"AudioSocket on :{settings.audiosocket_port}). Rasa's API needs ?token= with the operator "
            f"token ({'OOH_API_TOKEN' if settings.api_token else settings.secrets_dir / 'api_token'}). "
            f"Staff sign in on http://localhost:{settings.staff_port}/staff/ (first account: "
            "python -m ooh.cli staff add, see the README). "
            + (f"Referral emails are kept in {settings.mail_dir}/ (local mail sink). " if mail else "")
            + (f"Texts are kept in {settings.sms_dir}/ (local GOV.UK Notify fake)." if texts else ""),
            flush=True,
        )
    while all(process.poll() is None for process in processes):
        time.sleep(0.5)
    stop()
    for process in processes:
        process.wait(timeout=30)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="ooh", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="validate organisation data")
    train_cmd = sub.add_parser("train", help="train the model if its inputs changed")
    train_cmd.add_argument("--force", action="store_true")
    sub.add_parser("model-path", help="print the cached model path for the current inputs")
    run_cmd = sub.add_parser("run", help="check, train and start the stack")
    run_cmd.add_argument("--rasa-port", type=int, default=5005)
    run_cmd.add_argument("--action-port", type=int, default=5055)
    staff_cmd = sub.add_parser("staff", help="staff accounts: add, list, unlock")
    staff_sub = staff_cmd.add_subparsers(dest="staff_command", required=True)
    add_cmd = staff_sub.add_parser("add", help="create an account (prints its TOTP secret once)")
    add_cmd.add_argument("--email", required=True)
    add_cmd.add_argument("--name", required=True, help="full name; residents are told the first name")
    add_cmd.add_argument(
        "--role",
        action="append",
        required=True,
        metavar="PO:ROLE",
        help="e.g. enfield:call_handler, enfield:org_admin or *:service_admin (repeat for more)",
    )
    add_cmd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    staff_sub.add_parser("list", help="every account and its roles")
    unlock_cmd = staff_sub.add_parser("unlock", help="lift a lock-out")
    unlock_cmd.add_argument("email")
    args = parser.parse_args(argv)
    if args.command == "staff":
        from ooh.accounts import admin

        settings = get_settings()
        if args.staff_command == "add":
            return admin.add(settings, args.email, args.name, args.role, args.password_stdin)
        if args.staff_command == "list":
            return admin.list_accounts(settings)
        return admin.unlock(settings, args.email)
    if args.command == "check":
        return check()
    if args.command == "train":
        train(force=args.force)
        return 0
    if args.command == "model-path":
        print(model_path())
        return 0
    if args.command == "run":
        if shutil.which("rasa", path=str(Path(sys.executable).parent)) is None:
            print("rasa is not installed in this environment: run `make run`", file=sys.stderr)
            return 1
        return run(args.rasa_port, args.action_port)
    return 2


if __name__ == "__main__":
    sys.exit(main())
