"""Referral emails through a real SMTP server: content, retries, escalation and total failure."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from harness.requests import typical_request
from ooh.orgs.rota import Rota
from ooh.records.store import RecordStore, ServiceRequestView
from ooh.referrals.dispatch import Senders, refer
from ooh.referrals.email import ReferralMailer, subject_line
from ooh.referrals.sms import NotifySms
from ooh.settings import Settings
from tests.referrals.conftest import ScriptedHandler, free_port

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 22, 21, 15, tzinfo=LONDON)
OFFICER = "housing.oncall.a@enfield.example"
MANAGER = "housing.manager@enfield.example"

ROTA = Rota.from_data(
    {
        "contacts": {
            "housing_officer_a": {
                "name": "Housing on-call officer (A)",
                "email": OFFICER,
                "phone": "+447700900101",
            },
            "housing_manager": {"name": "Housing on-call manager", "email": MANAGER},
        },
        "shifts": [
            {
                "service_option": "*",
                "from": "00:00",
                "to": "24:00",
                "stage1": "housing_officer_a",
                "stage2": "housing_manager",
            },
            {
                "service_option": "noise",
                "days": ["sat"],
                "from": "20:00",
                "to": "03:00",
                "stage1": "housing_manager",
                "stage2": "housing_manager",
            },
        ],
    }
)

PERSONAL = ("Jane Resident", "07700900123", "10 High Road")


def settings(port: int, **overrides: Any) -> Settings:
    """Settings for a local SMTP server with no pause between retries."""
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_from": "ooh-agent@test.example",
        "smtp_attempts_per_stage": 2,
        "smtp_retry_delay_seconds": 0,
        "smtp_timeout_seconds": 5,
    }
    values.update(overrides)
    return Settings(**values)


def new_request(store: RecordStore, **overrides: Any) -> ServiceRequestView:
    """Create a typical referred emergency plumbing request, water near the electrics."""
    leak = {
        "details": "Water pouring through the ceiling onto the electrics",
        "answers": {"q_water_near_electrics": True},
        "transcript": [
            {"at": "2026-11-22T21:14:00", "speaker": "agent", "text": "What has happened?"},
            {"at": "2026-11-22T21:14:10", "speaker": "resident", "text": "Water is coming through the ceiling"},
        ],
    }
    return typical_request(store, NOW, **{**leak, **overrides})


def run_refer(store: RecordStore, config: Settings, request: ServiceRequestView) -> Any:
    """Refer a request by email with fresh senders, as the worker does."""
    return asyncio.run(refer(store, senders(config), ROTA, request, NOW, organisation_name="London Borough of Enfield"))


def senders(config: Settings) -> Senders:
    """The referral channels for these settings."""
    return Senders(config, ReferralMailer(config), NotifySms(config))


def attempts_in_store(store: RecordStore, reference: str) -> list[tuple[str | None, int, str | None]]:
    """``(contact, stage, error)`` of every referral attempt recorded on a request."""
    view = store.get(reference)
    assert view is not None
    return [
        (u.data["contact"], u.data["stage"], u.data["error"])
        for u in view.updates
        if u.kind == "referral_attempt" and u.data
    ]


def test_body_has_the_five_fields_first_in_order(smtp: tuple[ScriptedHandler, int], store: RecordStore) -> None:
    """Spec 5.2.5: name, address, number, details, reference first, then context."""
    handler, port = smtp
    request = new_request(store)
    result = run_refer(store, settings(port), request)

    assert result.status == "sent" and result.stage == 1 and result.contact_key == "housing_officer_a"
    assert len(handler.messages) == 1
    recipients, message = handler.messages[0]
    assert recipients == [OFFICER]
    assert message["Subject"] == "[OOH] ENF-20261122-0001 housing_repairs EMERGENCY"
    assert message["Subject"] == subject_line(request)
    assert message["To"] == OFFICER and message["From"] == "ooh-agent@test.example"
    body = message.get_payload(decode=True).decode("utf-8").replace("\r\n", "\n")
    labels = ["Name: ", "Address: ", "Contact number: ", "Brief details: ", "Reference: "]
    positions = [body.index(f"\n{label}") for label in labels]
    assert positions == sorted(positions), body
    assert "Name: Jane Resident\n" in body
    assert "Address: Flat 2, 10 High Road, EN1 1AA (UPRN 100021234567)\n" in body
    assert "Contact number: 07700900123\n" in body
    assert "Brief details: Water pouring through the ceiling onto the electrics\n" in body
    assert "Reference: ENF-20261122-0001\n" in body
    rest = body[positions[-1] :]
    assert "Priority: EMERGENCY" in rest and "Sub-category: plumber" in rest
    assert rest.index("Priority:") < rest.index("Transcript:")
    assert "resident: Water is coming through the ceiling" in rest.split("Transcript:")[1]

    stored = store.get(request.reference)
    assert stored is not None
    assert stored.referral_status == "sent" and stored.referral_dispatched_at == result.at
    assert attempts_in_store(store, request.reference) == [("housing_officer_a", 1, None)]
    assert store.pending_referrals() == []


def test_unverified_address_is_marked(smtp: tuple[ScriptedHandler, int], store: RecordStore) -> None:
    """The officer is warned when an address was not found in the address file."""
    handler, port = smtp
    request = new_request(store, uprn=None, address_verified=False, caller_name=None)
    run_refer(store, settings(port), request)
    body = handler.messages[0][1].get_payload(decode=True).decode("utf-8").replace("\r\n", "\n")
    assert "Name: not given\n" in body
    assert "Address: Flat 2, 10 High Road, EN1 1AA [not found in the address file" in body
    assert "UPRN" not in body


@pytest.mark.parametrize("where", ["rcpt", "data"])
def test_temporary_failure_is_retried(smtp: tuple[ScriptedHandler, int], store: RecordStore, where: str) -> None:
    """A 4xx from the server is retried at the same contact and the retry recorded."""
    handler, port = smtp
    replies = handler.rcpt_replies if where == "rcpt" else handler.data_replies
    replies.append("451 4.3.0 Try again later")
    request = new_request(store)
    result = run_refer(store, settings(port), request)

    assert result.status == "sent" and result.stage == 1
    assert [(a.contact_key, a.ok) for a in result.attempts] == [
        ("housing_officer_a", False),
        ("housing_officer_a", True),
    ]
    assert "451" in (result.attempts[0].error or "")
    assert [r for r, _ in handler.messages] == [[OFFICER]]
    recorded = attempts_in_store(store, request.reference)
    assert [(c, s) for c, s, _ in recorded] == [("housing_officer_a", 1), ("housing_officer_a", 1)]
    assert "451" in (recorded[0][2] or "") and recorded[1][2] is None
    assert store.get(request.reference).referral_status == "sent"


def test_refused_stage1_falls_back_to_stage2(smtp: tuple[ScriptedHandler, int], store: RecordStore) -> None:
    """When stage 1 cannot be reached the escalation contact gets the referral."""
    handler, port = smtp
    handler.refuse[OFFICER] = "550 5.1.1 Mailbox unavailable"
    request = new_request(store)
    result = run_refer(store, settings(port), request)

    assert result.status == "sent" and result.stage == 2 and result.contact_key == "housing_manager"
    assert [(a.stage, a.ok) for a in result.attempts] == [(1, False), (1, False), (2, True)]
    assert all("550" in (a.error or "") for a in result.attempts[:2])
    assert len(handler.messages) == 1
    recipients, message = handler.messages[0]
    assert recipients == [MANAGER] and message["To"] == MANAGER
    assert "Escalated to you (stage 2)" in message.get_payload(decode=True).decode("utf-8").replace("\r\n", "\n")
    assert [c for c, _, _ in attempts_in_store(store, request.reference)] == [
        "housing_officer_a",
        "housing_officer_a",
        "housing_manager",
    ]
    assert store.get(request.reference).referral_status == "sent"


def test_server_down_fails_records_attempts_and_is_retried_later(store: RecordStore) -> None:
    """A failed referral is kept as failed with its attempts and sent when the server is back."""
    port = free_port()  # nothing listens here
    request = new_request(store)
    result = run_refer(store, settings(port), request)

    assert result.status == "failed" and result.stage is None and result.contact is None
    assert [(a.stage, a.contact_key) for a in result.attempts] == [
        (1, "housing_officer_a"),
        (1, "housing_officer_a"),
        (2, "housing_manager"),
        (2, "housing_manager"),
    ]
    assert all("ConnectionRefusedError" in (a.error or "") for a in result.attempts)
    stored = store.get(request.reference)
    assert stored is not None
    assert stored.referral_status == "failed" and stored.referral_dispatched_at is None
    assert len(attempts_in_store(store, request.reference)) == 4
    assert [v.reference for v in store.pending_referrals()] == [request.reference]

    # The server comes back: the retry loop refers what is pending, and nothing was lost.
    from aiosmtpd.controller import Controller

    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for pending in store.pending_referrals():
            assert run_refer(store, settings(port), pending).status == "sent"
    finally:
        controller.stop()
    assert [r for r, _ in handler.messages] == [[OFFICER]]
    assert store.pending_referrals() == []
    assert len(attempts_in_store(store, request.reference)) == 5


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections but never says a word (a hung mail server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_timeout_counts_as_a_failure(silent_server: int, store: RecordStore) -> None:
    """A hung mail server is a failure after the timeout, not a hung action server."""
    request = new_request(store)
    config = settings(silent_server, smtp_timeout_seconds=0.3, smtp_attempts_per_stage=1)
    result = run_refer(store, config, request)
    assert result.status == "failed"
    assert [a.contact_key for a in result.attempts] == ["housing_officer_a", "housing_manager"]
    assert all("timed out" in (a.error or "") for a in result.attempts)
    assert store.get(request.reference).referral_status == "failed"


def test_no_one_on_call_is_a_recorded_failure(smtp: tuple[ScriptedHandler, int], store: RecordStore) -> None:
    """A rota gap is recorded as a failed referral, not silently dropped."""
    handler, port = smtp
    nobody = Rota.from_data(
        {
            "contacts": {"m": {"name": "Manager", "email": MANAGER}},
            "shifts": [
                {
                    "service_option": "noise",
                    "from": "20:00",
                    "to": "03:00",
                    "stage1": "m",
                    "stage2": "m",
                }
            ],
        }
    )
    request = new_request(store)
    result = asyncio.run(refer(store, senders(settings(port)), nobody, request, NOW))
    assert result.status == "failed" and result.attempts == ()
    assert handler.messages == []
    stored = store.get(request.reference)
    assert stored is not None and stored.referral_status == "failed"
    assert stored.updates[-1].kind == "referral_attempt" and "No one is on call" in stored.updates[-1].text
    assert store.pending_referrals() == [stored]


def test_logs_carry_no_personal_data(store: RecordStore, caplog: pytest.LogCaptureFixture) -> None:
    """Logs show references only, never the caller's name, number or address."""
    caplog.set_level(logging.DEBUG)
    request = new_request(store)
    run_refer(store, settings(free_port()), request)
    assert request.reference in caplog.text
    for personal in PERSONAL:
        assert personal not in caplog.text
