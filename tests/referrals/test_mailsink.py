"""The local mail sink ``make run`` starts: a real SMTP server that keeps each message as a file."""

from __future__ import annotations

import email
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from harness.stack import free_port
from ooh.cli import mail_sink_command
from ooh.settings import PROJECT_ROOT, Settings


def test_a_referral_sent_to_the_sink_is_a_readable_file_only_its_owner_can_read(tmp_path: Path) -> None:
    port, folder = free_port(), tmp_path / "mail"
    process = subprocess.Popen(
        [sys.executable, "-m", "ooh.mailsink", "--port", str(port), "--folder", str(folder)], cwd=PROJECT_ROOT
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        message = EmailMessage()
        message["From"], message["To"] = "ooh-agent@localhost", "oncall@enfield.example"
        message["Subject"] = "EMERGENCY referral ENF-20261206-0001: housing_repairs"
        message.set_content("Water pouring through the ceiling at 10 Percy Grove.")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.send_message(message)
        files = list(folder.glob("*.eml"))
        assert len(files) == 1
        kept = email.message_from_bytes(files[0].read_bytes())
        assert kept["Subject"] == "EMERGENCY referral ENF-20261206-0001: housing_repairs"
        assert "Percy Grove" in kept.get_payload()
        assert files[0].stat().st_mode & 0o077 == 0
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_sink_starts_only_where_no_other_mail_server_is_meant(tmp_path: Path) -> None:
    """Off when turned off, when SMTP is another host, or when something already listens on the port."""
    free = free_port()
    assert mail_sink_command(Settings(smtp_port=free, mail_dir=tmp_path)) is not None  # type: ignore[call-arg]
    assert mail_sink_command(Settings(smtp_port=free, mail_sink=False)) is None  # type: ignore[call-arg]
    assert mail_sink_command(Settings(smtp_host="smtp.council.example", smtp_port=free)) is None  # type: ignore[call-arg]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert mail_sink_command(Settings(smtp_port=port)) is None  # type: ignore[call-arg]
