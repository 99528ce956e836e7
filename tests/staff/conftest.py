"""A staff site with its own database, and a headless Chromium to use it as staff would."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from harness.stack import StaffSite, make_workdir, running_staff_site

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).resolve().parents[2] / "vendor" / "axe-core" / "axe.min.js"


def site_env(workdir: Path) -> dict[str, str]:
    """A database and secrets of the site's own (no agent is needed to sign in)."""
    import os

    return {
        **os.environ,
        "OOH_DATABASE_URL": f"sqlite:///{workdir / 'records.db'}",
        "OOH_SECRETS_DIR": str(workdir / "secrets"),
        "OOH_RECORDINGS_DIR": str(workdir / "recordings"),
    }


@pytest.fixture(scope="module")
def site() -> Iterator[StaffSite]:
    workdir = make_workdir()
    with running_staff_site(site_env(workdir), workdir) as running:
        yield running
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # bypass_csp: only so the test can inject axe-core; the pages' own CSP is checked separately.
    context = browser.new_context(bypass_csp=True)
    yield context.new_page()
    context.close()


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.2 A/AA violations on the page as ``rule: first target`` lines."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a','wcag2aa','wcag21a','wcag21aa','wcag22aa']}))"
        ".violations.map(v => v.id + ': ' + v.nodes[0].target.join(' '))"
    )
    return list(result)
