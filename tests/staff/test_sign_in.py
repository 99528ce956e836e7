"""Signing in to the staff site in a real browser: password + TOTP, wrong codes, lock-out, expiry."""

from __future__ import annotations

import shutil
import time
import urllib.request
from datetime import datetime, timedelta, timezone

from playwright.sync_api import Page, expect

from harness.stack import StaffSite, make_workdir, running_staff_site
from harness.staff import StaffLogin, staff_login
from ooh.accounts.service import Membership, Role
from ooh.records.store import RecordStore
from tests.staff.conftest import axe_violations, site_env


def handler(site: StaffSite, po: str = "enfield", name: str = "Asha Patel") -> StaffLogin:
    return staff_login(site.env["OOH_DATABASE_URL"], name, [Membership(po, Role.CALL_HANDLER)])


def sign_in(
    page: Page, site: StaffSite, login: StaffLogin, *, code: str | None = None, password: str | None = None
) -> None:
    page.goto(f"{site.url}/staff/")
    page.get_by_label("Email address").fill(login.email)
    page.get_by_label("Password").fill(password or login.password)
    page.get_by_label("Code from your authenticator app").fill(code or login.code())
    page.get_by_role("button", name="Sign in").click()


def fresh_code(login: StaffLogin) -> str:
    """A code for the next 30-second step (the harness's own sign-in already used this one)."""
    return login.code(datetime.now(timezone.utc) + timedelta(seconds=30))


def test_a_call_handler_signs_in_sees_their_organisation_and_signs_out(site: StaffSite, page: Page) -> None:
    """The whole round trip, on pages with no WCAG 2.2 AA violations axe-core can find."""
    login = handler(site)
    page.goto(f"{site.url}/staff/")
    expect(page).to_have_url(f"{site.url}/staff/sign-in")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert axe_violations(page) == []
    sign_in(page, site, login, code=fresh_code(login))
    expect(page.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    expect(page.get_by_text("London Borough of Enfield: call handler")).to_be_visible()
    assert axe_violations(page) == []
    cookie = next(c for c in page.context.cookies() if c["name"] == "ooh_staff")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{site.url}/staff/")
    expect(page).to_have_url(f"{site.url}/staff/sign-in")


def test_a_wrong_code_is_refused_with_a_clear_error(site: StaffSite, page: Page) -> None:
    """The right password with a wrong code: an error summary, no session, and the email kept."""
    login = handler(site, name="Ben Okafor")
    sign_in(page, site, login, code="000000" if login.code() != "000000" else "111111")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("The email, password or code is not right")
    expect(page.get_by_label("Email address")).to_have_value(login.email)
    assert not [c for c in page.context.cookies() if c["name"] == "ooh_staff"]
    assert axe_violations(page) == []
    expect(page).to_have_title("Error: Sign in – Out-of-hours service staff")


def test_five_wrong_tries_lock_the_account_and_the_right_code_then_does_not_open_it(
    site: StaffSite, page: Page
) -> None:
    """Lock-out: after five failures even the right password and code are refused, and it says so."""
    login = handler(site, name="Cara Lewis")
    for attempt in range(5):
        sign_in(page, site, login, password=f"not the password {attempt}")
    expect(page.locator(".govuk-error-summary")).to_contain_text("This account is locked")
    sign_in(page, site, login, code=fresh_code(login))
    expect(page.locator(".govuk-error-summary")).to_contain_text("This account is locked")
    assert not [c for c in page.context.cookies() if c["name"] == "ooh_staff"]


def test_an_idle_session_ends_and_the_browser_is_told(page: Page) -> None:
    """After the idle limit a page sends the browser to sign in, saying the session has ended."""
    workdir = make_workdir()
    try:
        with running_staff_site(site_env(workdir), workdir, staff_session_idle_minutes="0.05") as short:
            login = handler(short, name="Dee Idle")
            sign_in(page, short, login, code=fresh_code(login))
            expect(page.get_by_role("heading", name="Hello, Dee")).to_be_visible()
            time.sleep(4)
            page.goto(f"{short.url}/staff/")
            expect(page.get_by_text("Your session has ended. Sign in again.")).to_be_visible()
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_handler_reads_their_own_organisations_request_and_not_anothers(site: StaffSite, page: Page) -> None:
    """Enfield's request opens with its transcript; Barnet's answers like a reference that does not exist."""
    store = RecordStore(site.env["OOH_DATABASE_URL"])
    now = datetime.now(timezone.utc)
    transcript = [{"at": now.isoformat(), "speaker": "resident", "text": "water is pouring through my ceiling"}]
    ours = store.create_request(
        po="enfield",
        prefix="ENF",
        service_option="housing_repairs",
        call_outcome="referred",
        now=now,
        caller_name="Mo Test",
        details="leak",
        transcript=transcript,
    )
    theirs = store.create_request(
        po="barnet",
        prefix="BAR",
        service_option="noise",
        call_outcome="referred",
        now=now,
        caller_name="Barnet Resident",
        details="party",
    )
    login = handler(site, name="Eve Enfield")
    sign_in(page, site, login, code=fresh_code(login))
    page.get_by_label("Reference").fill(ours.reference.lower())
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", name=ours.reference)).to_be_visible()
    expect(page.get_by_text("water is pouring through my ceiling")).to_be_visible()
    assert axe_violations(page) == []
    for path in (f"/staff/requests/{theirs.reference}", f"/staff/requests/{ours.reference[:-4]}9999"):
        page.goto(site.url + path)
        expect(page.get_by_role("heading", name="No request of yours has that reference")).to_be_visible()
        expect(page.get_by_text("Barnet Resident")).to_have_count(0)


def test_pages_carry_a_strict_content_security_policy(site: StaffSite) -> None:
    """No inline script without the page's nonce, no framing, nothing cached."""
    with urllib.request.urlopen(f"{site.url.replace('localhost', '127.0.0.1')}/staff/sign-in", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self' 'nonce-" in policy and "frame-ancestors 'none'" in policy
        assert response.headers["Cache-Control"] == "no-store"


def test_a_huge_or_unsized_form_is_refused_before_it_is_read(site: StaffSite) -> None:
    """Request bodies are bounded: 1 MB at the sign-in form gets 413, a body without a length 411."""
    import http.client

    host, port = "127.0.0.1", int(site.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request(
        "POST",
        "/staff/sign-in",
        body=b"a=" + b"x" * 1_000_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert connection.getresponse().status == 413
    connection.close()
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.putrequest("POST", "/staff/sign-in")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.putheader("Content-Type", "application/x-www-form-urlencoded")
    connection.endheaders()
    connection.send(b"5\r\nemail\r\n0\r\n\r\n")
    assert connection.getresponse().status == 411
    connection.close()
