"""The rota page and its JSON API on the real staff site: who is on call, gaps, changes, refusals, audit.

The site runs as ``python -m staff`` on its own database, with Enfield's rota file lacking its '*'
shift, so Enfield has gaps a change can fill.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from harness.stack import StaffSite, make_workdir, running_staff_site
from harness.staff import StaffLogin, staff_login
from ooh.accounts.service import Accounts, Membership, Role
from ooh.records.store import RecordStore
from ooh.settings import PROJECT_ROOT
from tests.staff.conftest import axe_violations, site_env


def without_star_shift(root: Path) -> Path:
    """The organisations' data, with Enfield's catch-all '*' shift taken out of its rota."""
    scripts = root / "service_scripts"
    shutil.copytree(PROJECT_ROOT / "service_scripts", scripts)
    rota = scripts / "enfield" / "rota.yaml"
    lines = rota.read_text(encoding="utf-8").splitlines(keepends=True)
    rota.write_text("".join(line for line in lines if 'service_option: "*"' not in line), encoding="utf-8")
    return scripts


@pytest.fixture(scope="module")
def site() -> Iterator[StaffSite]:
    workdir = make_workdir()
    env = {**site_env(workdir), "OOH_SERVICE_SCRIPTS_DIR": str(without_star_shift(workdir))}
    with running_staff_site(env, workdir) as running:
        yield running
    shutil.rmtree(workdir, ignore_errors=True)


def login(site: StaffSite, po: str, role: Role, name: str) -> StaffLogin:
    return staff_login(site.env["OOH_DATABASE_URL"], name, [Membership(po, role)])


@pytest.fixture(scope="module")
def admin(site: StaffSite) -> StaffLogin:
    return login(site, "enfield", Role.ORG_ADMIN, "Rhea Rota")


def call(
    site: StaffSite, method: str, path: str, who: StaffLogin | None, *, form: dict[str, Any] | None = None,
    payload: Any = None, headers: dict[str, str] | None = None,
) -> tuple[int, str, dict[str, str]]:  # fmt: skip
    """Status, body and headers of one request to the site (redirects not followed)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    sent = dict(who.cookie if who else {}) | (headers or {})
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form, doseq=True).encode()
        sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif payload is not None:
        body = json.dumps(payload).encode()
        sent.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(
        site.url.replace("localhost", "127.0.0.1") + path, data=body, method=method, headers=sent
    )
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def api(site: StaffSite, who: StaffLogin) -> dict[str, Any]:
    status, body, _ = call(site, "GET", "/staff/api/rota/enfield", who)
    assert status == 200, body
    return dict(json.loads(body))


def on_call(state: dict[str, Any], option: str) -> dict[str, Any]:
    return next(row for row in state["on_call"] if row["service_option"] == option and not row["sub_category"])


def audit(site: StaffSite, target: str) -> list[tuple[str, str | None, bool]]:
    store = RecordStore(site.env["OOH_DATABASE_URL"])
    try:
        trail = Accounts(store).audit_trail(limit=1000)
    finally:
        store.dispose()
    return [(str(e["action"]), e["po"], bool(e["allowed"])) for e in trail if e["target"] == target]  # type: ignore[misc]


def test_the_page_shows_who_is_on_call_and_the_gaps_of_the_next_14_days(site: StaffSite, admin: StaffLogin) -> None:
    status, html, _ = call(site, "GET", "/staff/rota/enfield", admin)
    assert status == 200, html
    assert "On call now" in html and "Repairs on-call supervisor (repairs_supervisor)" in html
    assert "Gaps in the next 14 days" in html and "Nobody is on call for these options" in html
    state = api(site, admin)
    assert on_call(state, "housing_repairs")["stage1"] == {
        "key": "repairs_supervisor",
        "name": "Repairs on-call supervisor",
    }
    assert on_call(state, "anti_social_behaviour")["stage1"] is None, "no '*' shift: nobody"
    assert {gap["service_option"] for gap in state["gaps"]} >= {"anti_social_behaviour", "noise"}
    assert "housing_repairs" not in {gap["service_option"] for gap in state["gaps"]}
    assert ("read_rota", "enfield", True) in audit(site, "rota:enfield")


def test_a_last_minute_change_by_the_form_applies_at_once_and_withdrawing_it_undoes_it(
    site: StaffSite, admin: StaffLogin
) -> None:
    _, html, _ = call(site, "GET", "/staff/rota/enfield", admin)
    form = {
        "csrf": csrf_of(html),
        "service_option": "housing_repairs",
        "from_time": "00:00",
        "to_time": "24:00",
        "stage1": "housing_manager",
        "stage2": "duty_manager",
        "reason": "Supervisor off sick",
    }
    status, body, headers = call(site, "POST", "/staff/rota/enfield/changes", admin, form=form)
    assert status == 303, body
    added = int(headers["location"].rpartition("added=")[2])
    status, html, _ = call(site, "GET", headers["location"], admin)
    assert f"Change {added} is saved" in html and "Supervisor off sick" in html
    row = on_call(api(site, admin), "housing_repairs")
    assert (row["stage1"]["key"], row["change_id"]) == ("housing_manager", added)
    status, _, headers = call(
        site,
        "POST",
        f"/staff/rota/enfield/changes/{added}/withdraw",
        admin,
        form={"csrf": csrf_of(html), "reason": "back"},
    )
    assert status == 303 and headers["location"].endswith(f"withdrawn={added}")
    state = api(site, admin)
    assert on_call(state, "housing_repairs")["stage1"]["key"] == "repairs_supervisor"
    kept = next(c for c in state["changes"] if c["id"] == added)
    assert kept["state"] == "withdrawn" and kept["withdrawn"]["reason"] == "back"
    assert kept["made_by"]["name"] == kept["withdrawn"]["by"]["name"] == "Rhea Rota"
    trail = audit(site, f"rota_change:{added}")
    assert ("rota_change_added", "enfield", True) in trail and ("rota_change_withdrawn", "enfield", True) in trail


def test_a_wrong_form_is_shown_again_with_each_field_named(site: StaffSite, admin: StaffLogin) -> None:
    _, html, _ = call(site, "GET", "/staff/rota/enfield", admin)
    form = {"csrf": csrf_of(html), "service_option": "noise", "from_time": "20:00", "to_time": "7pm", "stage1": "x"}
    status, html, _ = call(site, "POST", "/staff/rota/enfield/changes", admin, form=form)
    assert status == 400
    assert "There is a problem" in html
    assert "stage1: no contact &#39;x&#39; in this organisation&#39;s rota" in html
    assert 'href="#stage2"' in html and 'href="#reason"' in html
    status, _, _ = call(site, "POST", "/staff/rota/enfield/changes", admin, form={**form, "csrf": "forged"})
    assert status == 403


def test_the_api_adds_a_pre_dated_change_that_waits_for_its_start(site: StaffSite, admin: StaffLogin) -> None:
    state = api(site, admin)
    starts = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0)
    change = {
        "service_option": "*",
        "from": "00:00",
        "to": "24:00",
        "stage1": "duty_manager",
        "stage2": "duty_manager",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(days=3)).isoformat(),
        "reason": "Christmas cover",
    }
    token = {"X-CSRF-Token": state["csrf"]}
    status, body, _ = call(site, "POST", "/staff/api/rota/enfield/changes", admin, payload=change, headers=token)
    assert status == 201, body
    made = json.loads(body)
    assert made["state"] == "upcoming" and made["starts_at"] == starts.isoformat()
    after = api(site, admin)
    assert on_call(after, "anti_social_behaviour")["stage1"] is None, "not before its start"
    gaps = [g for g in after["gaps"] if g["service_option"] == "anti_social_behaviour"]
    assert all(g["end"] <= starts.isoformat() or g["start"] >= (starts + timedelta(days=3)).isoformat() for g in gaps)
    assert ("rota_change_added", "enfield", True) in audit(site, f"rota_change:{made['id']}")

    status, body, _ = call(
        site, "POST", "/staff/api/rota/enfield/changes", admin, payload={**change, "stage1": "nobody"}, headers=token
    )
    assert status == 422 and json.loads(body) == {"errors": ["stage1: no contact 'nobody' in this organisation's rota"]}
    status, _, _ = call(site, "POST", "/staff/api/rota/enfield/changes", admin, payload=change)
    assert status == 403, "no CSRF header"
    status, _, _ = call(site, "POST", "/staff/api/rota/enfield/changes", None, payload=change, headers=token)
    assert status == 401
    withdraw = f"/staff/api/rota/enfield/changes/{made['id']}/withdraw"
    status, body, _ = call(site, "POST", withdraw, admin, payload={"reason": "not needed"}, headers=token)
    assert status == 200 and json.loads(body)["withdrawn"]["reason"] == "not needed"
    status, body, _ = call(site, "POST", withdraw, admin, payload={}, headers=token)
    assert status == 409 and "already withdrawn" in body


def test_other_staff_get_what_an_organisation_that_does_not_exist_gets(site: StaffSite, admin: StaffLogin) -> None:
    """Barnet's admin and Enfield's call handler: 404 on every route, identical to a made-up name."""
    barnet = login(site, "barnet", Role.ORG_ADMIN, "Bea Barnet")
    handler = login(site, "enfield", Role.CALL_HANDLER, "Cal Handler")
    state = api(site, admin)
    token = {"X-CSRF-Token": state["csrf"]}
    status, body, _ = call(
        site, "POST", "/staff/api/rota/enfield/changes", admin, headers=token,
        payload={"service_option": "noise", "from": "00:00", "to": "24:00", "stage1": "duty_manager",
                 "stage2": "duty_manager", "reason": "cover"},
    )  # fmt: skip
    assert status == 201
    change_id = json.loads(body)["id"]

    def seen(who: StaffLogin, path: str) -> tuple[int, str]:
        status, body, _ = call(site, "GET", path, who)
        return status, re.sub(r'nonce="[^"]+"', "", body).replace("enfield", "X").replace("nowhere", "X")

    for who in (barnet, handler):
        assert seen(who, "/staff/rota/enfield")[0] == 404
        assert seen(who, "/staff/rota/enfield") == seen(who, "/staff/rota/nowhere")
        assert seen(who, "/staff/api/rota/enfield") == seen(who, "/staff/api/rota/nowhere")
        assert "Enfield duty manager" not in seen(who, "/staff/rota/enfield")[1]
        their = {"X-CSRF-Token": api_csrf(site, who)}
        status, _, _ = call(
            site, "POST", f"/staff/api/rota/enfield/changes/{change_id}/withdraw", who, payload={}, headers=their
        )
        assert status == 404
        _, html, _ = call(site, "GET", "/staff/", who)
        status, _, _ = call(
            site, "POST", f"/staff/rota/enfield/changes/{change_id}/withdraw", who, form={"csrf": csrf_of(html)}
        )
        assert status == 404
    assert next(c for c in api(site, admin)["changes"] if c["id"] == change_id)["withdrawn"] is None
    refusals = audit(site, f"rota_change:{change_id}")
    assert refusals.count(("withdraw_rota_change", "enfield", False)) == 4
    assert ("read_rota", "enfield", False) in audit(site, "rota:enfield")
    assert ("read_rota", None, False) in audit(site, "rota:nowhere")


def api_csrf(site: StaffSite, who: StaffLogin) -> str:
    """A session's CSRF token, as its staff home page's forms carry it."""
    _, html, _ = call(site, "GET", "/staff/", who)
    return csrf_of(html)


def test_a_rota_manager_uses_the_page_in_a_browser_without_accessibility_violations(
    site: StaffSite, page: Page
) -> None:
    """Sign in, read the rota, send a wrong form, then a right one: every page passes axe-core."""
    from tests.staff.test_sign_in import fresh_code, sign_in

    manager = login(site, "enfield", Role.ORG_ADMIN, "Pat Browser")
    sign_in(page, site, manager, code=fresh_code(manager))
    expect(page.get_by_role("heading", name="Hello, Pat")).to_be_visible()
    page.goto(f"{site.url}/staff/rota/enfield")
    expect(page.get_by_role("heading", name="Rota", exact=True)).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_label("Option", exact=True).select_option("noise")
    page.get_by_role("button", name="Save change").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("stage1: say which contact of the rota")
    assert axe_violations(page) == []
    page.get_by_label("Stage 1: who receives referrals first").select_option("environment_officer")
    page.get_by_label("Stage 2: who referrals escalate to").select_option("duty_manager")
    page.get_by_label("Saturday").check()
    page.get_by_label("From (HH:MM)").fill("20:00")
    page.get_by_label("To (HH:MM)").fill("03:00")
    page.get_by_label("Reason", exact=True).fill("Extra Saturday noise patrol")
    page.get_by_role("button", name="Save change").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is saved")
    expect(page.get_by_text("Extra Saturday noise patrol")).to_be_visible()
    assert axe_violations(page) == []
