"""The web chat window in a real browser, through the demo council page, against the real agent.

Headless Chromium (Playwright) opens ``/web/chat?po=enfield`` on the running gateway, which embeds
the widget with its one ``<script>`` tag; the window is the launcher's iframe. axe-core runs inside
the page and the window on each state (closed, open, choice buttons, hand-over, ended).
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import URLSafeSerializer
from playwright.sync_api import Browser, BrowserContext, Frame, Page, expect, sync_playwright

from harness.stack import Stack, VoiceGateway, http_json

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).resolve().parents[2] / "vendor" / "axe-core" / "axe.min.js"
REFERENCE = re.compile(r"^[A-Z]{2,4}-\d{8}-\d{4}$")
WAIT_MS = 90_000
"""A turn of the agent on a busy two-core machine can take many seconds."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield launched
        launched.close()


def new_context(browser: Browser, width: int = 1280, height: int = 900) -> BrowserContext:
    # bypass_csp: only so the test can inject axe-core into the window (its CSP allows no inline script).
    return browser.new_context(bypass_csp=True, viewport={"width": width, "height": height})


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = new_context(browser)
    yield made
    made.close()


# --------------------------------------------------------------------------- helpers
def axe_serious(target: Page | Frame) -> list[str]:
    """axe-core's serious and critical WCAG 2.2 A/AA violations, as ``rule: first target``."""
    target.add_script_tag(path=str(AXE))
    found = target.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a','wcag2aa','wcag21a','wcag21aa','wcag22aa']}))"
        ".violations.filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes[0].target.join(' '))"
    )
    return list(found)


def window_of(page: Page) -> Frame:
    """The chat window's frame, loaded."""
    handle = page.wait_for_selector("#ooh-chat-frame", state="attached")
    assert handle is not None
    frame = handle.content_frame()
    assert frame is not None
    frame.wait_for_selector("#chat-input")
    return frame


def open_chat(page: Page, gateway: VoiceGateway, po: str = "enfield") -> Frame:
    """The demo council page, then the launcher: the window opens with the message box focused."""
    page.goto(f"{gateway.url}/web/chat?po={po}")
    page.get_by_role("button", name="Chat with us").click()
    frame = window_of(page)
    expect(frame.locator("#chat-input")).to_be_focused(timeout=10_000)
    return frame


def agent_count(frame: Frame) -> int:
    return frame.locator(".chat-msg--agent").count()


def wait_reply(frame: Frame, before: int) -> None:
    """Until the agent has answered everything sent (more agent messages, nothing pending)."""
    frame.wait_for_function(
        "n => document.querySelectorAll('.chat-msg--agent').length > n && !document.querySelector('.chat-pending')",
        arg=before,
        timeout=WAIT_MS,
    )


def say(frame: Frame, text: str) -> None:
    before = agent_count(frame)
    frame.locator("#chat-input").fill(text)
    frame.get_by_role("button", name="Send").click()
    wait_reply(frame, before)


def choose(frame: Frame, title: str) -> None:
    before = agent_count(frame)
    frame.locator("#chat-choices").get_by_role("button", name=title, exact=True).click()
    wait_reply(frame, before)


def last_agent(frame: Frame) -> str:
    return frame.locator(".chat-msg--agent .chat-text").last.inner_text()


def stored(frame: Frame) -> dict[str, Any]:
    """The window's localStorage, parsed."""
    return dict(frame.evaluate("() => Object.fromEntries(Object.entries(localStorage))"))


def sender_of(frame: Frame, po: str = "enfield") -> str:
    """The conversation's sender id, from the signed token the window keeps (read, not verified)."""
    token = json.loads(stored(frame)[f"ooh-chat:{po}"])["token"]
    _, payload = URLSafeSerializer("not the key").loads_unsafe(token)
    return str(payload["s"])


def user_texts(stack: Stack, sender: str) -> list[str]:
    tracker = http_json(stack.api(f"/conversations/{urllib.parse.quote(sender)}/tracker"))
    return [e.get("text") for e in tracker["events"] if e.get("event") == "user"]


def answer_repair(
    frame: Frame, home: dict[str, str], type_: Callable[[str], None], press: Callable[[str], None]
) -> list[str]:
    """Answer the repair script as a tenant with a leak would, pressing buttons for every choice."""
    pressed: list[str] = []
    for _ in range(20):
        if frame.locator("#chat-ended").is_visible():
            return pressed
        question = last_agent(frame).lower()
        buttons = frame.locator("#chat-choices button").all_inner_texts()
        if "repair problem" in question:
            title = next(b for b in buttons if "leak" in b.lower())
        elif "is that right" in question or "ceiling or near electrics" in question or "only toilet" in question:
            title = "Yes"
        elif "elderly, disabled" in question or "anything else" in question:
            title = "No"
        elif "address" in question:
            type_(home["query"])
            continue
        elif "describe" in question:
            type_("Water is pouring through the kitchen ceiling.")
            continue
        elif "name" in question:
            type_("Amina Yusuf")
            continue
        elif "phone" in question or "number" in question:
            type_("07700 900123")
            continue
        elif buttons:
            title = buttons[0]
        else:
            raise AssertionError(f"unexpected question: {question}")
        assert title in buttons, (question, buttons)
        pressed.append(title)
        press(title)
    raise AssertionError("the conversation did not end")


def sideways(target: Page | Frame) -> list[str]:
    """Elements reaching past the right edge (empty: nothing scrolls sideways)."""
    found = target.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          if (document.documentElement.scrollWidth <= width) return [];
          return [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 1)
            .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));
        }"""
    )
    return list(found)


# --------------------------------------------------------------------------- tests
def test_an_emergency_repair_by_typing_and_buttons_ends_with_the_reference(
    context: BrowserContext, gateway: VoiceGateway, stack: Stack, tenant_address: dict[str, dict[str, str]]
) -> None:
    """Closed, open, choices and ended states pass axe; the reference shown is the one recorded."""
    page = context.new_page()
    page.goto(f"{gateway.url}/web/chat?po=enfield")
    assert axe_serious(page) == [], "closed"
    page.get_by_role("button", name="Chat with us").click()
    frame = window_of(page)
    expect(frame.get_by_text("If anyone is in immediate danger, call")).to_be_visible()
    expect(frame.locator("a[href='tel:999']").first).to_be_visible()
    assert axe_serious(frame) == [], "open"
    say(frame, "water is pouring through my kitchen ceiling")
    checked_choices = False

    def press(title: str) -> None:
        nonlocal checked_choices
        if not checked_choices:
            assert axe_serious(frame) == [], "choice buttons"
            checked_choices = True
        choose(frame, title)

    pressed = answer_repair(frame, tenant_address["enfield"], lambda text: say(frame, text), press)
    assert "Yes" in pressed
    reference = frame.locator("#chat-reference").inner_text()
    assert REFERENCE.match(reference), reference
    expect(frame.locator("#chat-ended")).to_contain_text("What happens next")
    assert axe_serious(frame) == [], "ended"
    with page.expect_download() as download:
        frame.get_by_role("button", name="Save transcript").click()
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert f"Reference: {reference}" in saved and "You: water is pouring" in saved
    talk = frame.get_by_role("link", name=re.compile("^Talk instead"))
    assert talk.get_attribute("href") == "/web/talk?po=enfield"
    # No bubble is empty: hints never reached the window.
    assert all(t.strip() for t in frame.locator(".chat-msg .chat-text").all_inner_texts())
    slots = stack.slots(sender_of(frame))
    assert slots["reference"] == reference
    assert slots["call_outcome"] == "referred"
    assert slots["repair_priority"] == "emergency"


def test_a_reload_resumes_the_conversation(
    context: BrowserContext, gateway: VoiceGateway, tenant_address: dict[str, dict[str, str]]
) -> None:
    """After a reload the window reopens with the conversation, and the agent carries on from there."""
    page = context.new_page()
    frame = open_chat(page, gateway)
    say(frame, "water is pouring through my kitchen ceiling")
    sender = sender_of(frame)
    before = frame.locator(".chat-msg").all_inner_texts()
    page.reload()
    frame = window_of(page)  # reopened by itself: it was open
    expect(frame.locator(".chat-msg")).to_have_count(len(before))
    assert frame.locator(".chat-msg").all_inner_texts() == before
    if "repair problem" in last_agent(frame).lower():
        choose(frame, "A leak or flood")
    say(frame, tenant_address["enfield"]["query"])
    assert "is that right" in last_agent(frame).lower()
    assert sender_of(frame) == sender


def test_a_message_typed_offline_is_sent_once_when_back_online(
    context: BrowserContext, gateway: VoiceGateway, stack: Stack, tenant_address: dict[str, dict[str, str]]
) -> None:
    """Offline: the window says so and keeps the message; online: it is sent exactly once, in order."""
    page = context.new_page()
    frame = open_chat(page, gateway)
    say(frame, "water is pouring through my kitchen ceiling")
    if "repair problem" in last_agent(frame).lower():
        choose(frame, "A leak or flood")
    context.set_offline(True)
    expect(frame.locator("#chat-status")).to_contain_text("offline", timeout=15_000)
    before = agent_count(frame)
    address = tenant_address["enfield"]["query"]
    frame.locator("#chat-input").fill(address)
    frame.locator("#chat-input").press("Enter")
    expect(frame.locator(".chat-pending")).to_contain_text("Not sent yet")
    page.wait_for_timeout(2000)
    context.set_offline(False)
    wait_reply(frame, before)
    expect(frame.locator("#chat-status")).to_be_empty()
    assert frame.locator(".chat-msg--you", has_text=address).count() == 1
    assert "is that right" in last_agent(frame).lower()
    assert user_texts(stack, sender_of(frame)).count(address) == 1


def test_end_chat_and_clear_leaves_nothing_on_the_device(context: BrowserContext, gateway: VoiceGateway) -> None:
    """Shared computers: after "End chat and clear" nothing of the conversation is stored."""
    page = context.new_page()
    frame = open_chat(page, gateway)
    say(frame, "my toilet is blocked")
    assert stored(frame)
    frame.get_by_role("button", name="End chat and clear").click()
    expect(frame.locator("#chat-status")).to_contain_text("Nothing from it is kept")
    assert stored(frame) == {}
    assert frame.evaluate("() => sessionStorage.length") == 0
    assert page.evaluate("() => Object.keys(sessionStorage).filter(k => k.startsWith('ooh-chat'))") == []
    assert frame.locator(".chat-msg").count() == 1  # the greeting only
    page.reload()
    page.get_by_role("button", name="Chat with us").click()
    assert window_of(page).locator(".chat-msg").count() == 1


def test_a_safeguarding_message_shows_helpline_links_first(context: BrowserContext, gateway: VoiceGateway) -> None:
    """The first reply to a disclosure leads with 999 and Samaritans as links to tap."""
    page = context.new_page()
    frame = open_chat(page, gateway)
    say(frame, "I want to end my life")
    first = frame.locator(".chat-msg--agent").nth(1)
    helplines = first.locator("ul.chat-helplines a")
    assert helplines.count() >= 2
    assert [helplines.nth(i).get_attribute("href") for i in range(2)] == ["tel:999", "tel:116123"]
    # The list comes before the words.
    assert first.evaluate("li => li.children[1].tagName") == "UL"
    assert first.locator(".chat-text a[href='tel:116123']").count() == 1
    assert axe_serious(frame) == [], "safeguarding"


def test_asking_for_a_person_is_a_hand_over_with_a_reference(
    context: BrowserContext, gateway: VoiceGateway, tenant_address: dict[str, dict[str, str]]
) -> None:
    """A hand-over mid-script ends with the reference and passes axe."""
    page = context.new_page()
    frame = open_chat(page, gateway)
    say(frame, "water is pouring through my kitchen ceiling")
    say(frame, "I want to speak to a real person")
    expect(frame.locator("#chat-ended")).to_be_visible(timeout=WAIT_MS)
    assert REFERENCE.match(frame.locator("#chat-reference").inner_text())
    assert axe_serious(frame) == [], "hand-over"


def test_a_phone_sized_screen_works_end_to_end(
    browser: Browser, gateway: VoiceGateway, tenant_address: dict[str, dict[str, str]]
) -> None:
    """360x740: the window fills the screen, nothing scrolls sideways, a repair ends with its reference."""
    context = new_context(browser, 360, 740)
    try:
        page = context.new_page()
        frame = open_chat(page, gateway)
        box = page.locator("#ooh-chat-frame").bounding_box()
        assert box is not None and box["width"] == 360 and box["height"] == 740
        assert sideways(frame) == []
        say(frame, "water is pouring through my kitchen ceiling")
        answer_repair(frame, tenant_address["enfield"], lambda text: say(frame, text), lambda t: choose(frame, t))
        assert REFERENCE.match(frame.locator("#chat-reference").inner_text())
        assert sideways(frame) == [] and sideways(page) == []
        assert axe_serious(frame) == [], "ended on a phone"
    finally:
        context.close()


def test_320_pixels_wide_and_400_percent_zoom_do_not_scroll_sideways(browser: Browser, gateway: VoiceGateway) -> None:
    """1280x1024 at 400% is a 320x256 CSS-pixel viewport: the window reflows to one scrolling column."""
    context = new_context(browser, 320, 256)
    try:
        page = context.new_page()
        frame = open_chat(page, gateway)
        say(frame, "I want to end my life")
        assert sideways(frame) == [] and sideways(page) == []
        frame.locator("#chat-input").scroll_into_view_if_needed()
        expect(frame.locator("#chat-input")).to_be_in_viewport()
    finally:
        context.close()


def test_a_keyboard_only_conversation(
    context: BrowserContext, gateway: VoiceGateway, tenant_address: dict[str, dict[str, str]]
) -> None:
    """Tab to the launcher, Enter, type, Enter; choices by Shift+Tab and Enter; Escape closes to the launcher."""
    page = context.new_page()
    page.goto(f"{gateway.url}/web/chat?po=enfield")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "ooh-chat-launcher"
    page.keyboard.press("Enter")
    frame = window_of(page)
    expect(frame.locator("#chat-input")).to_be_focused(timeout=10_000)

    def type_(text: str) -> None:
        before = agent_count(frame)
        expect(frame.locator("#chat-input")).to_be_focused()
        page.keyboard.type(text)
        page.keyboard.press("Enter")
        wait_reply(frame, before)

    def press(title: str) -> None:
        before = agent_count(frame)
        for _ in range(12):
            page.keyboard.press("Shift+Tab")
            if frame.evaluate("() => document.activeElement.textContent.trim()") == title:
                break
        else:
            raise AssertionError(f"no button {title} reached by keyboard")
        page.keyboard.press("Enter")
        wait_reply(frame, before)
        # Back to the message box, by keyboard.
        for _ in range(12):
            if frame.evaluate("() => document.activeElement.id") == "chat-input":
                break
            page.keyboard.press("Tab")

    type_("water is pouring through my kitchen ceiling")
    answer_repair(frame, tenant_address["enfield"], type_, press)
    assert REFERENCE.match(frame.locator("#chat-reference").inner_text())
    page.keyboard.press("Escape")
    expect(page.locator("#ooh-chat-frame")).to_be_hidden()
    assert page.evaluate("() => document.activeElement.id") == "ooh-chat-launcher"
