"""The "talk to us" page in a real browser: headless Chromium, its microphone fed a spoken file.

Chromium's fake capture device plays a WAV file as the microphone, so the page's own code (its
microphone capture, downsampling to 16 kHz, WebSocket, playback and captions) carries a caller's
speech to the gateway and the agent's answer back, as it would for a resident on a council site.
"""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Playwright, expect, sync_playwright

from harness.callers import hiss
from harness.speech import synthesise
from harness.stack import VoiceGateway
from ooh.orgs.loader import Registry

pytestmark = pytest.mark.voice

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RATE = 16000


def microphone_file(path: Path, text: str, lead_seconds: float) -> Path:
    """A WAV of line hiss, then ``text`` spoken after ``lead_seconds``, then hiss again."""
    rng = np.random.default_rng(5)
    audio = hiss(int(RATE * lead_seconds), rng) + synthesise(text, RATE) + hiss(RATE * 12, rng)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(audio)
    return path


def with_microphone(playwright: Playwright, *args: str) -> Browser:
    """Headless Chromium that grants the page a (fake) microphone without asking."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            *args,
        ],
    )


def test_a_resident_talks_to_the_agent_from_the_web_page(gateway: VoiceGateway, tmp_path: Path) -> None:
    """Start call -> the greeting is captioned, the resident's words are heard and answered."""
    # The caller speaks once the greeting (about 12 s of speech) has been played.
    speech = microphone_file(tmp_path / "caller.wav", "my toilet is blocked", lead_seconds=16)
    with sync_playwright() as playwright:
        browser = with_microphone(
            playwright,
            f"--use-file-for-fake-audio-capture={speech}%noloop",
            "--autoplay-policy=no-user-gesture-required",
        )
        try:
            page = browser.new_page()
            page.goto(f"{gateway.url}/web/talk?po=enfield")
            page.get_by_role("button", name="Start call").click()
            expect(page.locator("#status")).to_have_text("Connected.", timeout=15_000)
            captions = page.locator("#captions")
            greeting = "Assistant: Thank you for calling London Borough of Enfield"
            expect(captions).to_contain_text(greeting, timeout=30_000)
            expect(captions.locator("p.caller", has_text="toilet").first).to_be_visible(timeout=40_000)
            expect(captions.locator("p.agent", has_text="What is the address of the property?")).to_be_visible(
                timeout=20_000
            )
            # Noise the recogniser made nothing of is not shown as an empty line of the caller's.
            assert all(text.strip() != "You:" for text in captions.locator("p.caller").all_inner_texts())
            page.get_by_role("button", name="End call").click()
            expect(page.locator("#status")).to_have_text("Call ended.", timeout=10_000)
        finally:
            browser.close()


def test_a_resident_who_finds_every_line_busy_is_told_so_and_told_999(tmp_path: Path, registry: Registry) -> None:
    """All lines busy: the page keeps the gateway's words, with 999, instead of a bare "Call ended"."""
    import time

    from tests.voice.test_bounds import make_gateway, serving

    gateway = make_gateway(tmp_path, registry, voice_max_live_calls=1)
    gateway.twilio_tickets["a call Twilio is putting through"] = time.monotonic() + 600  # the one line is taken
    with serving(gateway) as base, sync_playwright() as playwright:
        browser = with_microphone(playwright)
        try:
            page = browser.new_page()
            page.goto(f"{base}/web/talk?po=enfield")
            page.get_by_role("button", name="Start call").click()
            status = page.locator("#status")
            expect(status).to_contain_text("all our lines are busy", timeout=15_000)
            expect(status).to_contain_text("999")
            page.wait_for_timeout(1000)  # the socket has closed by now: the words stay
            expect(status).to_contain_text("999")
            expect(page.get_by_role("button", name="Start call")).to_be_visible()
        finally:
            browser.close()
