"""Referral by an outbound call, acknowledged by a keypress.

Twilio (a local fake of its REST API) rings the officer, the TwiML reads the referral, and pressing 1
(Twilio's signed webhook to the real voice gateway) acknowledges it.
"""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from twilio.request_validator import RequestValidator

from harness.stack import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, Stack, VoiceGateway
from ooh.orgs.rota import OnCallContact
from ooh.records.store import RecordStore
from ooh.referrals.acknowledge import acknowledged
from ooh.referrals.dispatch import Senders
from ooh.referrals.email import ReferralMailer
from ooh.referrals.sms import NotifySms
from ooh.settings import Settings

OFFICER = OnCallContact(
    name="Repairs on-call supervisor", email="repairs.supervisor@enfield.example", phone="07700 900106"
)


def senders(stack: Stack, gateway: VoiceGateway, token: str = TWILIO_AUTH_TOKEN) -> Senders:
    settings = Settings(  # type: ignore[call-arg]
        secrets_dir=Path(stack.env["OOH_SECRETS_DIR"]),
        twilio_api_base=f"http://127.0.0.1:{gateway.twilio.port}",
        twilio_account_sid=TWILIO_ACCOUNT_SID,
        twilio_auth_token=token,
        twilio_from_number="+442079460999",
        public_voice_url=gateway.url,
    )
    return Senders(settings, ReferralMailer(settings), NotifySms(settings))


def press(url: str, digits: str, *, sign: bool = True) -> tuple[int, str]:
    params = {"CallSid": "CA" + "2" * 32, "Digits": digits, "From": "+447700900106"}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        headers["X-Twilio-Signature"] = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, params)
    request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_call_reads_the_referral_and_pressing_1_acknowledges_it(stack: Stack, gateway: VoiceGateway) -> None:
    store = RecordStore(stack.env["OOH_DATABASE_URL"])
    request = store.create_request(
        po="enfield",
        prefix="ENF",
        service_option="housing_repairs",
        call_outcome="referred",
        now=datetime(2026, 11, 21, 23, 40, tzinfo=ZoneInfo("Europe/London")),
        caller_name="Pat Caller",
        address="12 Percy Grove, Enfield EN1 1AA",
        details="Water through the ceiling light",
        referral_status="not_required",  # this test makes the call itself, not the stack's worker
    )
    before = len(gateway.twilio.requests)
    attempt = asyncio.run(
        senders(stack, gateway).send_once(
            "call", request, OFFICER, stage=1, key="repairs_supervisor", organisation="Enfield"
        )
    )
    assert attempt.ok and attempt.channel == "call" and (attempt.notification_id or "").startswith("CA"), attempt
    created = gateway.twilio.requests[before:]
    assert [r["path"].endswith("/Calls.json") for r in created] == [True]
    form = created[0]["form"]
    assert form["To"] == "+447700900106" and form["From"] == "+442079460999"
    assert "Pat Caller" in form["Twiml"] and "E, N, F" in form["Twiml"], "the reference is spelt out"
    assert "Press 1 to acknowledge" in form["Twiml"]
    action = re.search(r'action="([^"]+)"', form["Twiml"]).group(1)  # type: ignore[union-attr]
    assert action.startswith(gateway.url + "/twilio/ack/")

    assert press(action, "1", sign=False)[0] == 403, "only Twilio's signed webhook counts"
    status, twiml = press(action, "2")
    assert status == 200 and "No acknowledgement" in twiml
    assert not acknowledged(store.get(request.reference))  # type: ignore[arg-type]
    status, twiml = press(action, "1")
    assert status == 200 and "is acknowledged" in twiml
    stored = store.get(request.reference)
    assert stored is not None and acknowledged(stored)
    assert [u.text for u in stored.updates if u.kind == "acknowledged"] == [
        "Acknowledged by repairs_supervisor (keypress)"
    ]
    forged = action[:-3] + ("abc" if not action.endswith("abc") else "xyz")
    assert press(forged, "1")[0] == 404


def test_twilio_refusing_the_account_is_a_failed_attempt_with_its_reason(stack: Stack, gateway: VoiceGateway) -> None:
    store = RecordStore(stack.env["OOH_DATABASE_URL"])
    request = store.create_request(
        po="enfield",
        prefix="ENF",
        service_option="housing_repairs",
        call_outcome="referred",
        now=datetime(2026, 11, 21, 23, 45, tzinfo=ZoneInfo("Europe/London")),
        referral_status="not_required",
    )
    attempt = asyncio.run(
        senders(stack, gateway, token="wrong").send_once(
            "call", request, OFFICER, stage=1, key="repairs_supervisor", organisation="Enfield"
        )
    )
    assert not attempt.ok and attempt.error == "Twilio refused the call: 401 Authenticate"
    landline_less = OnCallContact(name="No phone", email="x@enfield.example")
    attempt = asyncio.run(
        senders(stack, gateway).send_once("call", request, landline_less, stage=1, key="x", organisation="Enfield")
    )
    assert attempt.permanent and attempt.error == "no phone number for this contact in the rota"
