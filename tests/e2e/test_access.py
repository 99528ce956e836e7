"""Nothing personal without a key: Rasa's API needs the operator token, the action server its secret.

Findings 1 and 2 of the trust-boundary issue, reproduced as an attacker would try them against the
running stack, and now refused.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from harness.stack import Stack
from ooh.secrets import SECRET_HEADER

pytestmark = pytest.mark.e2e

RESIDENT = "Amina Okonkwo-Testcase"


def status_and_body(url: str, payload: Any | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """HTTP status and body text, for refusals too."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture(scope="module")
def conversation(stack: Stack) -> str:
    """A conversation holding a resident's name."""
    sender = "access-" + RESIDENT.split()[0].lower()
    stack.say(sender, "my neighbours music is really loud", f"my name is {RESIDENT}")
    return sender


ATTACKS = [
    ("GET", "/conversations/{sender}/tracker", None),
    ("POST", "/conversations/{sender}/tracker/events", {"event": "slot", "name": "po", "value": "barnet"}),
    ("POST", "/conversations/{sender}/execute", {"name": "action_hand_to_person"}),
    ("GET", "/conversations/{sender}/story", None),
    ("POST", "/model/parse", {"text": "hello"}),
    ("GET", "/domain", None),
    ("GET", "/status", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ATTACKS, ids=[f"{m} {p}" for m, p, _ in ATTACKS])
@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["anonymous", "wrong token"])
def test_rasa_api_refuses_without_the_operator_token(
    stack: Stack, conversation: str, method: str, path: str, body: Any, token: str | None
) -> None:
    url = stack.base + path.format(sender=conversation)
    if token:
        url += "?token=" + token
    code, text = status_and_body(url, body if method == "POST" else None)
    assert code in (401, 403), (code, text[:200])
    assert RESIDENT not in text


def test_the_operator_token_reads_a_conversation_and_nothing_changed_it(stack: Stack, conversation: str) -> None:
    code, text = status_and_body(stack.api(f"/conversations/{conversation}/tracker"))
    assert code == 200 and RESIDENT in text
    slots = stack.slots(conversation)
    assert slots["po"] == "enfield", "a refused events post must not have changed the organisation"
    assert slots.get("call_outcome") != "transferred", "a refused execute must not have handed over"


def forged_call(sender: str, text: str) -> dict[str, Any]:
    """An action call as Rasa would send it, for a conversation the attacker makes up."""
    tracker = {
        "sender_id": sender,
        "slots": {"po": "enfield"},
        "latest_message": {"text": text, "intent": {"name": "check_reference", "confidence": 1.0}, "metadata": {}},
        "events": [],
        "active_loop": {},
    }
    return {"next_action": "action_check_reference", "sender_id": sender, "tracker": tracker, "domain": {}}


@pytest.mark.parametrize("secret", [None, "wrong-secret"], ids=["no secret", "wrong secret"])
def test_action_server_refuses_forged_trackers(stack: Stack, secret: str | None) -> None:
    headers = {SECRET_HEADER: secret} if secret else {}
    url = f"http://127.0.0.1:{stack.action_port}/webhook"
    code, text = status_and_body(url, forged_call("attacker", "ENF-20261121-0001"), headers)
    assert code == 401 and "Reference" not in text
    code, _ = status_and_body(f"http://127.0.0.1:{stack.action_port}/actions", None, headers)
    assert code == 401


def test_action_server_errors_do_not_echo_the_conversation(stack: Stack) -> None:
    """Rasa SDK's stock error reply carried the whole request (a resident's tracker) and got logged."""
    headers = {SECRET_HEADER: stack.env["OOH_ACTION_SECRET"]}
    call = forged_call("errors", f"my name is {RESIDENT}")
    del call["tracker"]["sender_id"]  # Rasa SDK fails on this tracker, inside the action server
    code, text = status_and_body(f"http://127.0.0.1:{stack.action_port}/webhook", call, headers)
    assert code >= 400 and RESIDENT not in text
    assert RESIDENT not in stack.logs()


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from ``/proc/net/tcp`` and ``tcp6``)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if width == 8:
                    found.add(".".join(str(b) for b in reversed(raw)))
                else:
                    words = [raw[i : i + 4][::-1].hex() for i in range(0, 16, 4)]
                    found.add(":".join(words))
    return found


def test_rasa_and_the_action_server_listen_on_loopback_only(stack: Stack) -> None:
    for port in (stack.rasa_port, stack.action_port):
        addresses = listening_addresses(port)
        assert addresses == {"127.0.0.1"}, (port, addresses)


def test_what_residents_said_is_stored_in_files_only_their_owner_can_read(stack: Stack, conversation: str) -> None:
    """Finding 9: databases (conversations, requests) were world-readable."""
    stores = [path for path in stack.workdir.iterdir() if path.suffix == ".db"]
    assert {path.name for path in stores} >= {"records.db", "conversations.db"}
    for path in stores:
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others: {oct(path.stat().st_mode)}"


def test_what_a_resident_says_never_reaches_the_servers_logs(stack: Stack) -> None:
    """Finding 9: failed messages were logged verbatim ("I want to kill myself"), with phone numbers."""
    who = "logs-" + RESIDENT.split()[0].lower()
    disclosure = "i want to kill myself tonight, call me on 07700 900462"
    stack.send(who, disclosure, po="enfield")
    malformed = {"sender": who, "message": disclosure, "metadata": "enfield"}  # metadata must be an object
    status_and_body(f"{stack.base}/webhooks/rest/webhook", malformed)
    status_and_body(f"{stack.base}/webhooks/rest/webhook", {"sender": who, "message": 7700900462})
    logs = "\n".join(p.read_text(errors="replace") for p in (stack.workdir / "logs").glob("*.log"))
    assert "kill myself" not in logs and "900462" not in logs
