"""Acknowledgement and escalation on silence, with a real SMTP server, the worker and the staff site.

With no acknowledgement the referral goes again to stage 1, then to stage 2, then to the rota's
escalation contact, each step on the request with its time; an acknowledgement by the email's link
(a page and a button on the staff site, in a real HTTP exchange) stops it.
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from datetime import datetime
from email.message import Message
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from harness.mailbox import Mailbox
from harness.outbox import work_until
from harness.stack import running_staff_site
from ooh.referrals.acknowledge import acknowledged
from ooh.runtime import Runtime, build_runtime
from ooh.settings import Settings
from tests.worker.test_worker import waiting_referral

SAT_NIGHT = datetime(2026, 11, 21, 23, 30, tzinfo=ZoneInfo("Europe/London"))


def runtime_for(tmp_path: Path, scripts: Path, smtp_port: int, staff_url: str = "http://localhost:1") -> Runtime:
    settings = Settings(  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'records.db'}",
        secrets_dir=tmp_path / "secrets",
        service_scripts_dir=scripts,
        smtp_port=smtp_port,
        smtp_retry_delay_seconds=0,
        worker_poll_seconds=0.1,
        ack_minutes=0.03,  # 1.8 seconds
        public_staff_url=staff_url,
    )
    return build_runtime(settings)


def referral(runtime: Runtime) -> str:
    return waiting_referral(runtime.store).reference


def recipients(box: Mailbox) -> list[str]:
    return [str(m["To"]) for m in box.messages]


def test_silence_escalates_step_by_step_and_each_step_is_recorded(
    tmp_path: Path, scripts: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    runtime = runtime_for(tmp_path, scripts, port)
    reference = referral(runtime)
    unacknowledged = lambda: any(  # noqa: E731
        (u.data or {}).get("unacknowledged")
        for u in runtime.store.get(reference).updates  # type: ignore[union-attr]
    )
    work_until(runtime, unacknowledged, 40)
    supervisor, manager = "repairs.supervisor@enfield.example", "duty.manager@enfield.example"
    assert recipients(box)[:4] == [supervisor, supervisor, manager, "director@enfield.example"], recipients(box)
    steps = [u for u in runtime.store.get(reference).updates if u.kind == "escalation"]  # type: ignore[union-attr]
    assert [(u.data or {}).get("step") for u in steps] == [1, 2, 3, None]
    assert "Not acknowledged within" in steps[0].text and steps[-1].data == {"unacknowledged": True}
    assert all(a.at <= b.at for a, b in zip(steps, steps[1:], strict=False))
    assert "/ack/" in str(box.messages[0].get_payload(decode=True), "utf-8")


def ack_link(message: Message) -> str:
    body = str(message.get_payload(decode=True), "utf-8")
    found = re.search(r"(http://\S+/ack/\S+)", body)
    assert found, body
    return found.group(1)


def test_acknowledging_by_the_emails_link_stops_the_escalation(
    tmp_path: Path, scripts: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    env = {
        "OOH_DATABASE_URL": f"sqlite:///{tmp_path / 'records.db'}",
        "OOH_SECRETS_DIR": str(tmp_path / "secrets"),
        "OOH_SERVICE_SCRIPTS_DIR": str(scripts),
        "OOH_COOKIE_SECURE": "false",
        "PATH": "/usr/bin:/bin",
    }
    with running_staff_site(env, tmp_path) as site:
        runtime = runtime_for(tmp_path, scripts, port, staff_url=site.url.replace("localhost", "127.0.0.1"))
        reference = referral(runtime)
        work_until(runtime, lambda: len(box.messages) >= 1, 20)
        link = ack_link(box.messages[0])
        # Opening the page changes nothing (a mail scanner may open it); the button does.
        with urllib.request.urlopen(link, timeout=10) as response:
            page = response.read().decode()
            cookie = response.headers["Set-Cookie"].split(";")[0]
        assert "Acknowledge referral " + reference in page
        assert not acknowledged(runtime.store.get(reference))  # type: ignore[arg-type]
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        form = urllib.parse.urlencode({"csrf": csrf}).encode()
        request = urllib.request.Request(link, data=form, headers={"Cookie": cookie})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert "Referral acknowledged" in response.read().decode()
        stored = runtime.store.get(reference)
        assert stored is not None and acknowledged(stored)
        assert [u.text for u in stored.updates if u.kind == "acknowledged"] == ["Acknowledged by repairs_supervisor"]
        sent_before = len(box.messages)
        work_until(runtime, lambda: False, 5)  # well past two acknowledgement windows
        assert len(box.messages) == sent_before == 1, "no escalation after the acknowledgement"
        forged = link[:-3] + ("abc" if not link.endswith("abc") else "xyz")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=10)
        assert refused.value.code == 404
