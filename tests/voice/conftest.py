"""A voice gateway in front of the test stack, for calls in real time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.stack import Stack, VoiceGateway, running_gateway

#: Calls happen on a Saturday night, out of hours for every organisation.
SAT_NIGHT = "2026-11-21T23:30:00"


@pytest.fixture(scope="session")
def gateway(stack: Stack) -> Iterator[VoiceGateway]:
    """``python -m voice_gateway`` against the running agent, with a fake Twilio API."""
    yield from running_gateway(stack, SAT_NIGHT)
