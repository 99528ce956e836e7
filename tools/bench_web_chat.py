"""Web chat: time from pressing Send to the agent's first reply shown, and the widget's size.

    .venv/bin/python tools/bench_web_chat.py            # starts its own agent and gateway
    .venv/bin/python tools/bench_web_chat.py --url http://localhost:8080   # against a running one

Headless Chromium opens the demo council page, opens the chat, and sends 50 messages (a repair
report and its address, in fresh conversations). The page itself records when each message was
sent (the form's submit) and when the next agent message was added to the conversation
(a MutationObserver), so the times are what a resident sees. Size: every file the widget loads
(the script, the window, its script, styles, fonts and images), gzipped (level 6, as a web
server or proxy would send them), and unzipped.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Frame, Response, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.samples import houses  # noqa: E402
from harness.stack import running_gateway, running_stack  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SAT_NIGHT = "2026-11-21T23:30:00"
RECORD = """() => {
  window.__sent = []; window.__shown = [];
  document.getElementById('chat-form').addEventListener('submit', () => window.__sent.push(performance.now()), true);
  new MutationObserver(records => {
    for (const r of records) for (const n of r.addedNodes)
      if (n.classList && n.classList.contains('chat-msg--agent')) window.__shown.push(performance.now());
  }).observe(document.getElementById('chat-log'), {childList: true});
}"""


@contextmanager
def gateway_url(url: str | None) -> Iterator[str]:
    """The given gateway, or one started (with its agent) for the run."""
    if url:
        yield url.rstrip("/")
        return
    with contextmanager(running_stack)() as stack, contextmanager(running_gateway)(stack, SAT_NIGHT) as gateway:
        yield gateway.url


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of them fall (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def send(frame: Frame, text: str) -> float:
    """Send one message; ms from submit to the first agent message shown after it."""
    sent_before = frame.evaluate("() => window.__sent.length")
    frame.locator("#chat-input").fill(text)
    frame.locator("#chat-input").press("Enter")
    frame.wait_for_function(
        "n => window.__sent.length > n && window.__shown.some(t => t > window.__sent[n])",
        arg=sent_before,
        timeout=60_000,
    )
    frame.wait_for_function("() => !document.querySelector('.chat-pending')", timeout=60_000)
    return float(frame.evaluate("n => window.__shown.find(t => t > window.__sent[n]) - window.__sent[n]", sent_before))


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running gateway (default: start one)")
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--po", default="enfield")
    parser.add_argument("--screenshot", type=Path, help="save a picture of the page with the chat open here")
    args = parser.parse_args()
    home = next(h for h in houses(args.po) if h["tenure"] == "tenant")
    with gateway_url(args.url) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        bodies: dict[str, bytes] = {}

        def keep(response: Response) -> None:
            if response.url.startswith(base) and "/web/chat" in response.url:
                try:
                    bodies[response.url] = response.body()
                except Exception:  # noqa: BLE001 - a redirect or aborted load has no body
                    pass

        page.on("response", keep)
        page.goto(f"{base}/web/chat?po={args.po}")
        demo = f"{base}/web/chat?po={args.po}"
        page.get_by_role("button", name="Chat with us").click()
        handle = page.wait_for_selector("#ooh-chat-frame")
        assert handle is not None
        frame = handle.content_frame()
        assert frame is not None
        frame.wait_for_selector("#chat-input")
        page.wait_for_timeout(500)
        frame.evaluate(RECORD)
        times = []
        script = ["my toilet is blocked", home["query"]]
        for index in range(args.messages):
            if index and index % len(script) == 0:
                frame.get_by_role("button", name="End chat and clear").click()
            times.append(send(frame, script[index % len(script)]))
            if index == 1 and args.screenshot:
                page.wait_for_timeout(1000)  # the conversation scrolls to its end
                page.screenshot(path=str(args.screenshot))
        widget = {url: body for url, body in bodies.items() if url != demo}
        zipped = sum(len(gzip.compress(body, 6)) for body in widget.values())
        raw = sum(len(body) for body in widget.values())
        browser.close()
    print(
        f"send to first reply shown, {len(times)} messages: p50 {percentile(times, 0.5):.0f} ms, "
        f"p95 {percentile(times, 0.95):.0f} ms, max {max(times):.0f} ms, mean {statistics.mean(times):.0f} ms"
    )
    print(f"widget transfer: {zipped / 1024:.1f} kB gzipped ({raw / 1024:.1f} kB unzipped) in {len(widget)} files:")
    for url, body in sorted(widget.items()):
        print(f"  {len(gzip.compress(body, 6)) / 1024:6.1f} kB  {url.removeprefix(base)}")


if __name__ == "__main__":
    main()
