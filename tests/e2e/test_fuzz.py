"""Property-based fuzzing of the chat webhook: no 5xx, and no message lost, whatever is sent.

Bounded (a fixed number of examples, derandomised) so CI time stays predictable; each example goes
through the real Rasa server and action server.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.stack import Stack

pytestmark = pytest.mark.e2e

PLAIN_ID = re.compile(r"^[A-Za-z0-9._:@+-]{1,128}$")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
senders = st.from_regex(r"\Afuzz[a-z0-9]{1,12}\Z") | st.text(max_size=40) | json_values
messages = st.text(max_size=400) | json_values
metadatas = st.none() | st.sampled_from([{"po": "enfield"}, {"po": "nowhere"}, {}]) | json_values
bodies = st.fixed_dictionaries({"sender": senders, "message": messages, "metadata": metadatas}) | json_values


def post(stack: Stack, body: Any) -> tuple[int, Any]:
    """POST a JSON body to the chat webhook: (status, decoded answer or text)."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        f"{stack.base}/webhooks/rest/webhook", data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def well_formed(body: Any) -> bool:
    """A request the contract accepts: a plain sender id, text, and an object or no metadata."""
    return (
        isinstance(body, dict)
        and isinstance(body.get("sender"), str)
        and bool(PLAIN_ID.match(body["sender"]))
        and isinstance(body.get("message"), str)
        and (body.get("metadata") is None or isinstance(body.get("metadata"), dict))
    )


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_the_chat_webhook_answers_everything_and_loses_nothing(stack: Stack, body: Any) -> None:
    code, answer = post(stack, body)
    assert code < 500, (code, str(answer)[:200])
    if well_formed(body):
        assert code == 200 and isinstance(answer, list) and answer, "a well-formed message always gets a reply"
        assert all(isinstance(reply, dict) for reply in answer)
    else:
        assert code == 400 and "must" in str(answer), "a malformed one gets 400 with the reason"
