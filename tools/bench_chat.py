"""Benchmark: concurrent chat conversations over HTTP, latency per turn.

Starts the real stack (Rasa, action server, a local SMTP server) on free ports, then runs
``--conversations`` complete conversations (street-lighting reports, FAQ questions and repairs across
organisations) with ``--concurrency`` of them at once, and prints p50/p95/p99/max latency per turn
and turns per second.

By default every simulated resident answers at once, which measures the server saturated;
``--think-seconds`` adds a pause before each message (0.5 to 1.5 times the value, like people
arriving at different moments, then reading and typing), which measures latency at a realistic pace.

    .venv/bin/python tools/bench_chat.py --concurrency 20 --conversations 60
    .venv/bin/python tools/bench_chat.py --concurrency 20 --conversations 60 --think-seconds 0 3
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from harness.samples import houses
from harness.stack import Stack, running_stack

NOW = "2026-11-21T23:30:00"


def conversations() -> list[tuple[str, list[str]]]:
    """A mix of realistic conversations (organisation, messages)."""
    wf = houses("waltham_forest")
    hav = [h for h in houses("havering") if h["tenure"] == "tenant"]
    mixes: list[tuple[str, list[str]]] = []
    for index in range(40):
        home = wf[(index * 7) % len(wf)]
        mixes.append(
            (
                "waltham_forest",
                [
                    "the street light outside my house is out",
                    "lamp post completely dark",
                    "no",
                    home["query"],
                    "yes",
                    "Bench Caller",
                    "07700 900555",
                ],
            )
        )
        house = hav[(index * 5) % len(hav)]
        mixes.append(
            (
                "havering",
                [
                    "my bathroom tap keeps dripping",
                    "leak",
                    house["query"],
                    "yes",
                    "no",
                    "no",
                    "bathroom sink",
                    "Bench Tenant",
                    "020 7946 0999",
                ],
            )
        )
        mixes.append(("ealing", ["how do i make a freedom of information request"]))
    return mixes


def drive(
    stack: Stack, plan: list[tuple[str, list[str]]], concurrency: int, think: float
) -> tuple[list[float], int, float]:
    """Run the conversations; (latency of every turn, turns without a reply, seconds taken)."""

    def talk(item: tuple[str, list[str]]) -> tuple[list[float], int]:
        po, messages = item
        who = f"bench-{uuid.uuid4().hex[:10]}"
        times, failed = [], 0
        pace = random.Random(who)
        for text in messages:
            if think:  # before the first message too: residents arrive at random moments, not at once
                time.sleep(think * pace.uniform(0.5, 1.5))
            start = time.perf_counter()
            try:
                if not stack.send(who, text, po=po, now=NOW):
                    failed += 1
            except OSError:
                failed += 1
            times.append(time.perf_counter() - start)
        return times, failed

    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for times, failed in pool.map(talk, plan):
            latencies.extend(times)
            errors += failed
    return latencies, errors, time.perf_counter() - started


def report(
    latencies: list[float], errors: int, elapsed: float, conversations: int, concurrency: int, think: float
) -> None:
    """Print one run's figures."""
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    print(
        f"conversations: {conversations}, concurrency: {concurrency}, think time: {think:g} s, "
        f"turns: {len(latencies)}, turns without a reply: {errors}"
    )
    print(
        f"  latency per turn (ms): p50 {pct(50):.0f}  p95 {pct(95):.0f}  p99 {pct(99):.0f}  "
        f"max {max(latencies) * 1000:.0f}  mean {statistics.mean(latencies) * 1000:.0f}"
    )
    print(f"  throughput: {len(latencies) / elapsed:.1f} turns/s over {elapsed:.1f} s")


def main() -> int:
    """Run the benchmark at each pace and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=60)
    parser.add_argument(
        "--think-seconds", type=float, nargs="+", default=[0.0], help="mean pause between turns; one run per value"
    )
    args = parser.parse_args()
    plan = conversations()[: args.conversations]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    for stack in running_stack():
        stack.send("bench-warmup", "hello", po="enfield")
        for think in args.think_seconds:
            latencies, errors, elapsed = drive(stack, plan, args.concurrency, think)
            if not latencies:
                print("no turns measured", file=sys.stderr)
                return 1
            report(latencies, errors, elapsed, len(plan), args.concurrency, think)
    return 0


if __name__ == "__main__":
    sys.exit(main())
