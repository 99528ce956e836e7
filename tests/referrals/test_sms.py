"""Referrals by text through GOV.UK Notify (a local fake speaking its API, JWT auth included).

Real parts throughout: the worker's loop, Notify's own Python client, the fake's HTTP server, the
staff site receiving Notify's callbacks, and a real SMTP server for the next channel.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from harness.mailbox import Mailbox
from harness.outbox import CALLBACK_TOKEN, notify_fake, work_until
from harness.stack import running_staff_site
from ooh.notifyfake import FAKE_TEMPLATE_ID, FakeNotify, fake_api_key
from ooh.records.store import RecordStore
from ooh.referrals.acknowledge import acknowledged
from ooh.referrals.sms import REFERRAL_SMS_LIMIT, referral_sms, uk_mobile
from ooh.runtime import Runtime, build_runtime
from ooh.settings import Settings
from tests.worker.test_worker import waiting_referral

API_KEY = fake_api_key()
SUPERVISOR_PHONE = "+447700900110"  # Enfield's repairs supervisor in the copied rota


def scripts_with(tmp_path: Path, supervisor_phone: str) -> Path:
    """The organisations' data; Enfield refers by text first, then email; the supervisor's mobile set."""
    root = tmp_path / "service_scripts"
    shutil.copytree(Path(__file__).resolve().parents[2] / "service_scripts", root)
    profile = root / "enfield" / "profile.yaml"
    profile.write_text(profile.read_text(encoding="utf-8") + "\nreferral_channels: [sms, email]\n", encoding="utf-8")
    rota = root / "enfield" / "rota.yaml"
    lines = []
    for line in rota.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("repairs_supervisor:"):
            line = line.replace("}", f', phone: "{supervisor_phone}"}}') if "phone:" not in line else line
            line = line.replace(line.split('phone: "')[1].split('"')[0], supervisor_phone)
        lines.append(line)
    rota.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def site_env(tmp_path: Path) -> dict[str, str]:
    return {
        "OOH_DATABASE_URL": f"sqlite:///{tmp_path / 'records.db'}",
        "OOH_SECRETS_DIR": str(tmp_path / "secrets"),
        "OOH_NOTIFY_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "OOH_COOKIE_SECURE": "false",
        "PATH": "/usr/bin:/bin",
    }


def runtime_for(tmp_path: Path, scripts: Path, smtp_port: int, notify: FakeNotify, **extra: Any) -> Runtime:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'records.db'}",
        "secrets_dir": tmp_path / "secrets",
        "service_scripts_dir": scripts,
        "smtp_port": smtp_port,
        "smtp_retry_delay_seconds": 0,
        "worker_poll_seconds": 0.1,
        "ack_minutes": 0.15,  # 9 seconds: time to deliver and reply on a slow machine
        "notify_api_key": API_KEY,
        "notify_base_url": notify.url,
        "notify_sms_template_id": FAKE_TEMPLATE_ID,
    }
    settings = Settings(**{**values, **extra})  # type: ignore[call-arg]
    return build_runtime(settings)


def kinds(store: RecordStore, reference: str) -> list[tuple[str, dict[str, Any]]]:
    view = store.get(reference)
    assert view is not None
    return [(u.kind, u.data or {}) for u in view.updates]


def post(url: str, payload: Any, token: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_the_text_puts_5_2_5_first_keeps_the_reference_whole_and_fits(tmp_path: Path) -> None:
    store = RecordStore(f"sqlite:///{tmp_path / 'r.db'}")
    store.migrate()
    request = waiting_referral(store, details="water through the ceiling " * 60)
    request = store.get(request.reference)
    assert request is not None
    text = referral_sms(request, organisation="Enfield", stage=1, ack_link="http://staff.example/ack/abc")
    assert len(text) <= REFERRAL_SMS_LIMIT
    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines[1:5]] == ["Name", "Addr", "Tel", "Details"]
    assert lines[4].endswith("…"), "the long details are shortened, not the reference"
    assert f"Ref {request.reference}" in lines and f"Reply ACK {request.reference} to acknowledge" in lines
    assert uk_mobile("07700 900123") == "+447700900123" and uk_mobile("020 7946 0000") is None


def test_a_text_referral_delivered_then_acknowledged_by_reply_stops_the_escalation(
    tmp_path: Path, site_env: dict[str, str], mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    scripts = scripts_with(tmp_path, SUPERVISOR_PHONE)
    site_env["OOH_SERVICE_SCRIPTS_DIR"] = str(scripts)
    with running_staff_site(site_env, tmp_path) as site:
        notify = notify_fake(tmp_path, API_KEY, site.url)
        try:
            runtime = runtime_for(tmp_path, scripts, port, notify)
            reference = waiting_referral(runtime.store).reference
            delivered = lambda: any(k == "delivery" for k, _ in kinds(runtime.store, reference))  # noqa: E731
            work_until(runtime, delivered, 20)
            texts = list(notify.texts.values())
            assert [t["phone_number"] for t in texts] == [SUPERVISOR_PHONE] and box.messages == []
            assert reference in texts[0]["body"] and texts[0]["reference"].startswith(reference + "/")
            assert ("delivery", {**kinds(runtime.store, reference)[-1][1]})[1]["status"] == "delivered"
            # A stranger's "ACK" changes nothing; the supervisor's does, written as a 07 number.
            stray = {"source_number": "07700900999", "message": "ACK"}
            stranger = post(f"{notify.url}/_fake/received-text", stray, None)
            assert stranger == (200, {"callback_status": 200})
            assert not acknowledged(runtime.store.get(reference))  # type: ignore[arg-type]
            reply = {"source_number": "07700900110", "message": "ack thanks, on my way"}
            assert post(f"{notify.url}/_fake/received-text", reply, None)[0] == 200
            stored = runtime.store.get(reference)
            assert stored is not None and acknowledged(stored)
            assert [u.text for u in stored.updates if u.kind == "acknowledged"] == [
                "Acknowledged by repairs_supervisor (text reply)"
            ]
            work_until(runtime, lambda: False, 19)  # past two acknowledgement windows
            assert len(notify.texts) == 1 and box.messages == [], "no escalation after the text reply"
        finally:
            notify.shutdown()
            notify.server_close()


def test_an_undelivered_text_sends_the_referral_by_the_next_channel_at_once(
    tmp_path: Path, site_env: dict[str, str], mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    scripts = scripts_with(tmp_path, "+447700900002")  # Notify's test number for a permanent failure
    site_env["OOH_SERVICE_SCRIPTS_DIR"] = str(scripts)
    with running_staff_site(site_env, tmp_path) as site:
        notify = notify_fake(tmp_path, API_KEY, site.url)
        try:
            runtime = runtime_for(tmp_path, scripts, port, notify, ack_minutes=10)
            reference = waiting_referral(runtime.store).reference
            work_until(runtime, lambda: len(box.messages) >= 1, 20)
            assert [str(m["To"]) for m in box.messages] == ["repairs.supervisor@enfield.example"]
            history = kinds(runtime.store, reference)
            tries = [d for k, d in history if k == "referral_attempt" and "channel" in d]
            sent = [(d.get("channel"), d.get("error")) for d in tries]
            assert sent == [("sms", None), ("email", None)]
            failure = [d for k, d in history if k == "delivery"]
            assert failure and failure[0]["status"] == "permanent-failure" and failure[0]["failed"] is True
            assert runtime.store.get(reference).referral_status == "sent"  # type: ignore[union-attr]
        finally:
            notify.shutdown()
            notify.server_close()


def test_notify_refuses_a_key_it_did_not_issue_and_the_email_goes_instead(
    tmp_path: Path, site_env: dict[str, str], mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    scripts = scripts_with(tmp_path, SUPERVISOR_PHONE)
    notify = notify_fake(tmp_path, API_KEY, None)
    try:
        forged = API_KEY[:-36] + "00000000-0000-4000-8000-000000000000"
        runtime = runtime_for(tmp_path, scripts, port, notify, notify_api_key=forged)
        reference = waiting_referral(runtime.store).reference
        work_until(runtime, lambda: len(box.messages) >= 1, 20)
        history = kinds(runtime.store, reference)
        errors = [d["error"] for k, d in history if k == "referral_attempt" and d.get("channel") == "sms"]
        assert errors and all(e.startswith("Notify refused it: 403") for e in errors), errors
        assert notify.texts == {}
    finally:
        notify.shutdown()
        notify.server_close()


def test_callbacks_need_notifys_token_and_a_body_notify_would_send(tmp_path: Path, site_env: dict[str, str]) -> None:
    with running_staff_site(site_env, tmp_path) as site:
        base = site.url.replace("localhost", "127.0.0.1")
        receipt = {"id": "x", "reference": "ENF-20261121-0001/repairs_supervisor/1", "status": "permanent-failure"}
        assert post(f"{base}/notify/delivery-receipts", receipt, None)[0] == 401
        assert post(f"{base}/notify/delivery-receipts", receipt, "wrong")[0] == 401
        status, body = post(f"{base}/notify/delivery-receipts", {"id": "x", "status": "lost"}, CALLBACK_TOKEN)
        assert status == 400 and "status" in body["error"]
        status, body = post(f"{base}/notify/received-text-messages", {"message": "ACK"}, CALLBACK_TOKEN)
        assert status == 400 and "source_number" in body["error"]
        assert post(f"{base}/notify/delivery-receipts", receipt, CALLBACK_TOKEN) == (200, {"result": "no such request"})


def test_the_resident_gets_a_confirmation_text_when_their_option_asks_and_only_to_a_mobile(
    tmp_path: Path, site_env: dict[str, str], mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    scripts = scripts_with(tmp_path, SUPERVISOR_PHONE)
    # Enfield's own data asks for a confirmation text after a repair referral.
    assert "housing_repairs: {script: housing_repairs, confirm_by_sms: true}" in (
        scripts / "enfield" / "options.yaml"
    ).read_text(encoding="utf-8")
    notify = notify_fake(tmp_path, API_KEY, None)
    try:
        runtime = runtime_for(tmp_path, scripts, port, notify, ack_minutes=10)
        mobile = waiting_referral(runtime.store)
        landline = runtime.store.create_request(
            po="enfield",
            prefix="ENF",
            service_option="housing_repairs",
            call_outcome="referred",
            now=mobile.created_at,
            details="no heating",
            contact_number="020 7946 0000",
            referral_status="pending",
        )
        with_mobile = runtime.store.create_request(
            po="enfield",
            prefix="ENF",
            service_option="housing_repairs",
            call_outcome="referred",
            now=mobile.created_at,
            details="boiler leaking",
            contact_number="07700 900123",
            referral_status="pending",
        )
        confirmed = lambda ref: any(k == "confirmation" for k, _ in kinds(runtime.store, ref))  # noqa: E731
        work_until(runtime, lambda: all(confirmed(r.reference) for r in (mobile, landline, with_mobile)), 30)
        to_resident = [t for t in notify.texts.values() if t["phone_number"] == "+447700900123"]
        assert len(to_resident) == 1 and with_mobile.reference in to_resident[0]["body"]
        assert "on-call officer" in to_resident[0]["body"] and "999" in to_resident[0]["body"]
        notes = [d for k, d in kinds(runtime.store, landline.reference) if k == "confirmation"]
        assert notes == [{"sent": False}], "a landline gets no text, and the request says so"
        no_number = [(k, d) for k, d in kinds(runtime.store, mobile.reference) if k == "confirmation"]
        assert no_number == [("confirmation", {"sent": False})], "no number given: nothing sent, and said so"
    finally:
        notify.shutdown()
        notify.server_close()
