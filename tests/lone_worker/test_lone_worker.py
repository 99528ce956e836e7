"""Lone-worker support (spec 5.2.3.6), with real parts throughout.

The worker's loop and worker processes, a real SMTP server (aiosmtpd), the staff site over HTTP,
and GOV.UK Notify's fake for texts both ways.

An officer who checks in and does not check out by the time given raises the alarm to their managers,
again and again until one acknowledges it (or the officer checks out, when the managers are told to
stand down); one who checks out in time raises none; a worker killed mid-visit loses nothing.
"""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from harness.mailbox import Mailbox
from harness.outbox import CALLBACK_TOKEN, notify_fake, work_until
from harness.stack import running_staff_site
from harness.stack import stop_process as stop
from ooh import lone_worker
from ooh.jobs import Jobs
from ooh.notifyfake import FAKE_TEMPLATE_ID, fake_api_key
from ooh.referrals.notify_callbacks import received_text
from ooh.runtime import Runtime, build_runtime
from ooh.settings import Settings
from tests.worker.test_worker import environment, start_worker, wait_until

OFFICER = "housing_officer"  # Enfield: stage 1 of homeless_families, whose stage 2 is housing_manager
OFFICER_MOBILE = "07700 900101"  # as the rota has it: +447700900101
MANAGERS = ["housing.manager@enfield.example", "director@enfield.example"]
API_KEY = fake_api_key()


def site_env(tmp_path: Path, scripts: Path) -> dict[str, str]:
    return {
        "OOH_DATABASE_URL": f"sqlite:///{tmp_path / 'records.db'}",
        "OOH_SECRETS_DIR": str(tmp_path / "secrets"),
        "OOH_SERVICE_SCRIPTS_DIR": str(scripts),
        "OOH_NOTIFY_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "OOH_COOKIE_SECURE": "false",
        "PATH": "/usr/bin:/bin",
    }


def runtime_for(
    tmp_path: Path, scripts: Path, smtp_port: int, staff_url: str = "http://localhost:1", **extra: Any
) -> Runtime:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'records.db'}",
        "secrets_dir": tmp_path / "secrets",
        "service_scripts_dir": scripts,
        "smtp_port": smtp_port,
        "smtp_retry_delay_seconds": 0,
        "worker_poll_seconds": 0.1,
        "lone_worker_repeat_minutes": 0.02,  # 1.2 seconds
        "public_staff_url": staff_url,
    }
    return build_runtime(Settings(**{**values, **extra}))  # type: ignore[call-arg]


def due_in(runtime: Runtime, seconds: float, place: str = "12 Percy Grove") -> lone_worker.Visit:
    """A check-in of one minute made so long ago that it is due in ``seconds``."""
    then = datetime.now(timezone.utc) - timedelta(seconds=60 - seconds)
    return lone_worker.check_in(runtime.store, runtime.registry, "enfield", OFFICER, place, 1, then)


def visit(runtime: Runtime, visit_id: int) -> lone_worker.Visit:
    found = lone_worker.get_visit(runtime.store, visit_id)
    assert found is not None
    return found


def kinds(runtime: Runtime, visit_id: int) -> list[str]:
    return [event.kind for event in visit(runtime, visit_id).events]


def alarms(box: Mailbox) -> list[Any]:
    return [m for m in box.messages if "LONE WORKER ALARM" in str(m["Subject"])]


def body(message: Any) -> str:
    return str(message.get_payload(decode=True), "utf-8")


class Browser:
    """A browser's cookie and the last page's form token, over real HTTP."""

    def __init__(self) -> None:
        self.cookie = ""

    def get(self, url: str) -> tuple[int, str]:
        """Status and page; keeps the form cookie the page sets."""
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.headers["Set-Cookie"]:
                    self.cookie = response.headers["Set-Cookie"].split(";")[0]
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def post(self, url: str, page: str, **fields: str) -> tuple[int, str]:
        """Post a form with the token from ``page`` and this browser's cookie."""
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        form = urllib.parse.urlencode({"csrf": csrf.group(1) if csrf else "", **fields}).encode()
        request = urllib.request.Request(url, data=form, headers={"Cookie": self.cookie})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def test_no_check_out_raises_the_alarm_to_the_managers_again_and_again_until_one_acknowledges(
    tmp_path: Path, scripts: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    with running_staff_site(site_env(tmp_path, scripts), tmp_path) as site:
        base = site.url.replace("localhost", "127.0.0.1")
        runtime = runtime_for(tmp_path, scripts, port, staff_url=base)
        checked_in = due_in(runtime, 1)
        assert checked_in.managers == ("housing_manager", "director"), "stage 2 of the shift, and the escalation"
        work_until(runtime, lambda: len(alarms(box)) >= 6, 30)  # three rounds, to both managers
        assert [str(m["To"]) for m in alarms(box)[:6]] == MANAGERS * 3
        first = alarms(box)[0]
        assert "ALARM 1: Housing on-call officer has not checked out" in str(first["Subject"])
        text = body(first)
        assert "Where: 12 Percy Grove" in text and "Officer's phone: +447700900101" in text
        link = re.search(r"(http://\S+/alarm/\S+)", text).group(1)  # type: ignore[union-attr]

        browser = Browser()
        status, page = browser.get(link)  # opening it (a mail scanner might) changes nothing
        assert status == 200 and "Lone worker alarm: Housing on-call officer" in page
        assert visit(runtime, checked_in.id).acknowledged_at is None
        status, page = browser.post(link, page)
        assert status == 200 and "Alarm acknowledged" in page
        answered = visit(runtime, checked_in.id)
        assert answered.acknowledged_by == "housing_manager" and answered.open
        sent = len(box.messages)
        work_until(runtime, lambda: False, 4)  # more than three repeat intervals
        assert len(box.messages) == sent, "no alarm after the acknowledgement"
        assert Jobs(runtime.store).waiting("lone_worker") == 0
        forged = link[:-3] + ("abc" if not link.endswith("abc") else "xyz")
        assert Browser().get(forged)[0] == 404

    steps = visit(runtime, checked_in.id).events
    assert [e.kind for e in steps][:3] == ["checked_in", "due", "alarm"] and steps[-1].kind == "acknowledged"
    numbers = [(e.data or {}).get("alarm") for e in steps if e.kind == "alarm"]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 3
    assert "Alarm 1 sent to housing_manager by email, director by email" == steps[2].text
    assert all(a.at <= b.at for a, b in zip(steps, steps[1:], strict=False)), "every step with its time, in order"


def test_check_in_and_out_on_the_officers_page_and_in_time_no_alarm(
    tmp_path: Path, scripts: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    with running_staff_site(site_env(tmp_path, scripts), tmp_path) as site:
        base = site.url.replace("localhost", "127.0.0.1")
        runtime = runtime_for(tmp_path, scripts, port, staff_url=base)
        link = lone_worker.officer_link(runtime.settings, "enfield", OFFICER)
        browser = Browser()
        status, page = browser.get(link)
        assert status == 200 and "Lone working: Housing on-call officer" in page and "Check in" in page

        status, page = browser.post(link + "/check-in", page, place="", minutes="45")
        assert status == 400 and "Enter where you are going." in page
        status, page = browser.post(link + "/check-in", page, place="12 Percy Grove", minutes="45")
        assert status == 200 and "You are checked in" in page and "Check out: I am safe" in page
        on_site = lone_worker.open_visit(runtime.store, "enfield", OFFICER)
        assert on_site is not None and on_site.place == "12 Percy Grove" and on_site.minutes == 45
        assert on_site.channel == "web" and on_site.due_at - on_site.checked_in_at == timedelta(minutes=45)
        status, page = browser.post(link + "/check-out", page)
        assert status == 200 and "You are checked out" in page
        assert kinds(runtime, on_site.id) == ["checked_in", "checked_out"]

        # In time, with the worker running past the time given: no alarm, and the timer ends.
        soon = due_in(runtime, 2, place="Flat 3, 8 Percy Grove")
        status, page = browser.get(link)
        assert "Flat 3, 8 Percy Grove" in page
        status, page = browser.post(link + "/check-out", page)
        assert status == 200 and "You are checked out" in page
        work_until(runtime, lambda: False, 4)
        assert box.messages == []
        assert kinds(runtime, soon.id) == ["checked_in", "checked_out"]
        assert Jobs(runtime.store).waiting("lone_worker") == 0

        stranger = lone_worker.officer_link(runtime.settings, "enfield", "nobody_here")
        assert browser.get(stranger)[0] == 404, "a genuine signature for a contact not in the rota"
        assert browser.get(link[:-4] + "abcd")[0] == 404
        status, _ = Browser().post(link + "/check-in", page, place="x", minutes="5")
        assert status == 403, "a post without this browser's form cookie"


def test_texts_in_and_out_from_an_officers_mobile_are_answered_by_text(
    tmp_path: Path, scripts: Path, mailbox: tuple[Mailbox, int]
) -> None:
    """The whole path: a text to Notify, Notify's callback to the staff site, the reply through Notify."""
    box, port = mailbox
    with running_staff_site(site_env(tmp_path, scripts), tmp_path) as site:
        base = site.url.replace("localhost", "127.0.0.1")
        notify = notify_fake(tmp_path, API_KEY, base)
        try:
            runtime = runtime_for(
                tmp_path,
                scripts,
                port,
                staff_url=base,
                notify_api_key=API_KEY,
                notify_base_url=notify.url,
                notify_sms_template_id=FAKE_TEMPLATE_ID,
            )

            def text(number: str, message: str) -> None:
                data = json.dumps({"source_number": number, "message": message}).encode()
                request = urllib.request.Request(
                    f"{notify.url}/_fake/received-text", data=data, headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    assert response.status == 200

            text("07700 900999", "IN 12 Percy Grove 45")  # not a rota contact: nothing
            assert lone_worker.open_visit(runtime.store, "enfield", OFFICER) is None
            text(OFFICER_MOBILE, "going into 12 Percy Grove, expect 45 minutes")
            on_site = lone_worker.open_visit(runtime.store, "enfield", OFFICER)
            assert on_site is not None and (on_site.place, on_site.minutes, on_site.channel) == (
                "12 Percy Grove",
                45,
                "sms",
            )
            replies = lambda: [t for t in notify.texts.values() if t["phone_number"] == "+447700900101"]  # noqa: E731
            work_until(runtime, lambda: len(replies()) >= 1, 20)
            reply = json.dumps(replies()[0])
            assert "Checked in: 12 Percy Grove, out by" in reply and "/lone-worker/" in reply, reply
            assert "Housing on-call manager, Director on call will be alerted" in reply

            text(OFFICER_MOBILE, "OUT")
            assert lone_worker.open_visit(runtime.store, "enfield", OFFICER) is None
            work_until(runtime, lambda: len(replies()) >= 2, 20)
            assert "Checked out at" in json.dumps(replies()[1])
            assert kinds(runtime, on_site.id) == ["checked_in", "texted", "checked_out", "texted"]
            assert box.messages == [], "no alarm, no stand-down: nobody was alarmed"
        finally:
            notify.shutdown()
            notify.server_close()


def test_a_late_check_out_by_text_stops_the_alarm_and_stands_the_managers_down(
    tmp_path: Path, scripts: Path, mailbox: tuple[Mailbox, int]
) -> None:
    """Notify's received-text callback, called directly with Notify's payload, after the alarm."""
    box, port = mailbox
    runtime = runtime_for(tmp_path, scripts, port)
    late = due_in(runtime, 0.5, place="ENF-20261121-0042 (12 Percy Grove)")
    work_until(runtime, lambda: len(alarms(box)) >= 2, 20)
    payload = {
        "id": "3b5ac7ba-0e34-4d0e-9b8e-2b2a1c4a0f11",
        "source_number": "447700900101",
        "destination_number": "07700900000",
        "message": "out safe",
        "date_received": datetime.now(timezone.utc).isoformat(),
    }
    assert received_text(runtime.store, runtime.registry, payload, datetime.now(timezone.utc)) is None
    assert not visit(runtime, late.id).open
    work_until(runtime, lambda: any("Lone worker safe" in str(m["Subject"]) for m in box.messages), 20)
    raised = len(alarms(box))
    work_until(runtime, lambda: False, 3)
    assert len(alarms(box)) == raised, "no alarm after the check-out"
    stand_down = [m for m in box.messages if "Lone worker safe" in str(m["Subject"])]
    assert sorted(str(m["To"]) for m in stand_down) == sorted(MANAGERS)
    steps = kinds(runtime, late.id)
    assert steps[:3] == ["checked_in", "due", "alarm"] and "checked_out" in steps and steps[-1] == "texted"
    out = next(e for e in visit(runtime, late.id).events if e.kind == "checked_out")
    assert "minutes after the time given" in out.text and "stand down" in out.text


def test_a_worker_killed_mid_visit_and_started_again_still_raises_the_alarm(
    tmp_path: Path, scripts: Path, mailbox: tuple[Mailbox, int]
) -> None:
    """The timer is a row: a worker process killed (SIGKILL) before the time leaves it for the next."""
    box, port = mailbox
    env = {
        **environment(tmp_path, port),
        "OOH_SERVICE_SCRIPTS_DIR": str(scripts),
        "OOH_LONE_WORKER_REPEAT_MINUTES": "10",
    }
    runtime = runtime_for(tmp_path, scripts, port)
    checked_in = due_in(runtime, 6)
    first = start_worker(env, tmp_path / "first.log")
    try:
        time.sleep(3)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop(first)
    assert box.messages == [] and visit(runtime, checked_in.id).alarms == 0
    second = start_worker(env, tmp_path / "second.log")
    try:
        wait_until(lambda: len(alarms(box)) >= 2, 60, "the alarm from the restarted worker")
    finally:
        stop(second)
    assert [str(m["To"]) for m in alarms(box)] == MANAGERS
    assert kinds(runtime, checked_in.id) == ["checked_in", "due", "alarm"]


@pytest.mark.parametrize(
    ("words", "place", "minutes", "reference"),
    [
        ("12 Percy Grove 45", "12 Percy Grove", 45, None),
        ("12 Percy Grove, expect 45 minutes", "12 Percy Grove", 45, None),
        ("12 Percy Grove for 1 hour", "12 Percy Grove", 60, None),
        ("enf 20261121 0042 Flat 3, 2 Percy Grove 30m", "Flat 3, 2 Percy Grove", 30, "ENF-20261121-0042"),
        ("12 Percy Grove", "12 Percy Grove", None, None),
    ],
)
def test_what_a_check_in_text_says(words: str, place: str, minutes: int | None, reference: str | None) -> None:
    assert lone_worker.parse_check_in(words) == lone_worker.TextCheckIn(place, minutes, reference)
