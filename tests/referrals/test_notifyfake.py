"""The local GOV.UK Notify fake ``make run`` starts: Notify's client talks to it as to Notify."""

from __future__ import annotations

import json
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient

from harness.stack import free_port
from ooh.cli import local_notify
from ooh.notifyfake import FAKE_TEMPLATE_ID
from ooh.settings import PROJECT_ROOT, Settings


def test_make_runs_fake_keeps_each_text_as_an_owner_only_file_and_checks_the_key(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(  # type: ignore[call-arg]
        notify_fake_port=port, sms_dir=tmp_path / "sms", secrets_dir=tmp_path / "secrets", staff_port=free_port()
    )
    env: dict[str, str] = {"PATH": "/usr/bin:/bin"}
    command = local_notify(settings, env)
    assert command is not None and env["OOH_NOTIFY_BASE_URL"] == f"http://127.0.0.1:{port}"
    assert env["OOH_NOTIFY_API_KEY"] not in " ".join(command), "the key never goes on the command line"
    again: dict[str, str] = {}
    local_notify(settings, again)
    assert again["OOH_NOTIFY_API_KEY"] == env["OOH_NOTIFY_API_KEY"], "the same key after a restart"
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.2)
        client = NotificationsAPIClient(env["OOH_NOTIFY_API_KEY"], base_url=env["OOH_NOTIFY_BASE_URL"])
        sent = client.send_sms_notification("07700 900123", FAKE_TEMPLATE_ID, {"body": "Ref ENF-1"}, reference="r1")
        assert sent["content"]["body"] == "Ref ENF-1" and sent["reference"] == "r1"
        assert client.get_notification_by_id(sent["id"])["phone_number"] == "+447700900123"
        files = list((tmp_path / "sms").glob("*.json"))
        assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
        assert json.loads(files[0].read_text())["body"] == "Ref ENF-1"
        stranger = NotificationsAPIClient(
            "other-" + "11111111-1111-4111-8111-111111111111-22222222-2222-4222-8222-222222222222",
            base_url=env["OOH_NOTIFY_BASE_URL"],
        )
        with pytest.raises(HTTPError) as refused:
            stranger.send_sms_notification("07700900123", FAKE_TEMPLATE_ID, {"body": "x"})
        assert refused.value.status_code == 403
        with pytest.raises(HTTPError) as landline:
            client.send_sms_notification("020 7946 0000", FAKE_TEMPLATE_ID, {"body": "x"})
        assert landline.value.status_code == 400 and "mobile" in str(landline.value.message)
        with pytest.raises(HTTPError) as too_long:
            client.send_sms_notification("07700900123", FAKE_TEMPLATE_ID, {"body": "x" * 919})
        assert too_long.value.status_code == 400
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_real_notify_key_means_no_fake(tmp_path: Path) -> None:
    settings = Settings(notify_api_key="live-" + "1" * 73, secrets_dir=tmp_path)  # type: ignore[call-arg]
    assert local_notify(settings, {}) is None
    assert local_notify(Settings(notify_fake=False, secrets_dir=tmp_path), {}) is None  # type: ignore[call-arg]
