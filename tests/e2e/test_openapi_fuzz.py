"""schemathesis against the voice gateway's OpenAPI schema: generated requests, no server errors.

schemathesis runs from its own environment (``tools/get_schemathesis.sh``: it needs newer hypothesis
than Rasa allows) as a command, against the running gateway, once anonymous and once as a signed-in
call handler, so the routes behind the staff session are reached too. Bounded: a fixed seed and a
capped number of examples per operation keep it to well under a minute.
"""

from __future__ import annotations

import subprocess

import pytest

from harness.stack import ROOT, VoiceGateway

pytestmark = pytest.mark.e2e

ST = ROOT / ".venv-schemathesis" / "bin" / "st"


@pytest.fixture(scope="module")
def schemathesis() -> str:
    subprocess.run(["bash", str(ROOT / "tools" / "get_schemathesis.sh")], check=True, timeout=600)
    return str(ST)


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "call handler"])
def test_generated_requests_never_get_a_server_error(schemathesis: str, gateway: VoiceGateway, signed_in: bool) -> None:
    """Every operation in the schema, with valid and invalid data: never a 5xx, never a hang."""
    command = [
        schemathesis,
        "run",
        f"{gateway.url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--hypothesis-max-examples",
        "40",
        "--hypothesis-seed",
        "20261206",
        "--request-timeout",
        "20000",
        "--experimental-no-failfast",
        "--experimental=openapi-3.1",  # FastAPI writes OpenAPI 3.1
    ]
    if signed_in:
        command += ["-H", gateway.staff.cookie_header]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    report = run.stdout[-3000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    assert "passed" in run.stdout.lower() and "/calls/{call_id}" in run.stdout, report
