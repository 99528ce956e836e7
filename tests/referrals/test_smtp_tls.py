"""Referral email over STARTTLS with sign-in, against a real aiosmtpd server that requires both."""

from __future__ import annotations

import smtplib
import ssl
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from harness.mailbox import Mailbox
from harness.stack import free_port
from ooh.referrals.email import ReferralMailer
from ooh.settings import Settings

USER, PASSWORD = "ooh-agent", "a-long-smtp-password"


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost`` (the test's own authority)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Mailbox, int, Path]]:
    cert, key = certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Mailbox()
    controller = Controller(
        box, hostname="127.0.0.1", port=free_port(), server_hostname="localhost", tls_context=context,
        require_starttls=True, authenticator=authenticator, auth_required=True, auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    yield box, controller.port, cert
    controller.stop()


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = "[OOH] test", "ooh-agent@localhost", "officer@enfield.example"
    mail.set_content("Referral")
    return mail


def mailer(port: int, **values: Any) -> ReferralMailer:
    return ReferralMailer(Settings(smtp_host="localhost", smtp_port=port, **values))  # type: ignore[call-arg]


def test_starttls_and_sign_in_deliver(tls_server: tuple[Mailbox, int, Path]) -> None:
    box, port, cert = tls_server
    mailer(port, smtp_starttls=True, smtp_ca_file=cert, smtp_username=USER, smtp_password=PASSWORD).send(
        message(), "officer@enfield.example"
    )
    assert [str(m["Subject"]) for m in box.messages] == ["[OOH] test"]


def test_nothing_goes_in_clear_to_a_server_that_wants_tls_and_a_wrong_password_is_an_error(
    tls_server: tuple[Mailbox, int, Path],
) -> None:
    box, port, cert = tls_server
    with pytest.raises(smtplib.SMTPException):
        mailer(port).send(message(), "officer@enfield.example")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        mailer(port, smtp_starttls=True, smtp_ca_file=cert, smtp_username=USER, smtp_password="wrong").send(
            message(), "officer@enfield.example"
        )
    with pytest.raises(ssl.SSLCertVerificationError):  # an unknown authority is refused, not trusted
        mailer(port, smtp_starttls=True, smtp_username=USER, smtp_password=PASSWORD).send(
            message(), "officer@enfield.example"
        )
    assert box.messages == []


def test_a_server_without_starttls_is_an_error_not_a_fall_back_to_clear_text() -> None:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with pytest.raises(smtplib.SMTPNotSupportedError):
            mailer(controller.port, smtp_starttls=True).send(message(), "officer@enfield.example")
        assert box.messages == []
    finally:
        controller.stop()
