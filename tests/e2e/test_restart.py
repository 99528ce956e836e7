"""Conversations survive a restart of both servers: SQL tracker store by default, Redis by URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.stack import (
    Stack,
    endpoints_file,
    free_port,
    make_workdir,
    smtp_controller,
    stack_env,
    start_redis,
    trained_model,
)
from tests.e2e.test_scripts import SAT_NIGHT, joined, sender

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", "redis"])
def restartable(request: pytest.FixtureRequest) -> Iterator[tuple[Stack, object]]:
    """A stack of its own (so restarting it doesn't disturb other tests), SQLite or Redis backed."""
    workdir = make_workdir()
    controller, handler = smtp_controller()
    redis = None
    redis_port = None
    if request.param == "redis":
        redis, redis_port = start_redis(workdir)
    stack = Stack(free_port(), free_port(), handler, stack_env(workdir, controller.port), workdir)
    model = trained_model()
    endpoints = endpoints_file(stack, redis_port)
    stack.start(model, endpoints)
    try:
        yield stack, (model, endpoints)
    finally:
        stack.stop()
        controller.stop()
        if redis is not None:
            redis.terminate()
            redis.wait(timeout=10)


def test_conversation_continues_after_both_servers_restart(restartable: tuple[Stack, object], any_address) -> None:  # type: ignore[no-untyped-def]
    """Half a report, restart Rasa and the action server, and the script carries on where it was."""
    stack, (model, endpoints) = restartable  # type: ignore[misc]
    home = any_address("enfield", index=5)
    who = sender()
    stack.send(who, "the street lamp outside is flickering and then goes off", po="enfield", now=SAT_NIGHT)
    before = stack.send(who, "it's been dark for hours", po="enfield", now=SAT_NIGHT)
    assert "danger" in joined(before).lower()
    stack.stop()
    stack.start(model, endpoints)  # type: ignore[arg-type]
    after = stack.send(who, "no", po="enfield", now=SAT_NIGHT)
    assert "address" in joined(after).lower(), after
    replies = stack.say(who, home["query"], "yes", "Robin", "07700 900444", po="enfield", now=SAT_NIGHT)
    slots = stack.slots(who)
    assert slots["call_outcome"] == "referred"
    assert slots["reference"] in joined(replies)
