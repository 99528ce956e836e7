"""Voice benchmark: recogniser accuracy and speed, response latency, concurrent calls.

Prints, for each recogniser available (pocketsphinx always; Vosk when ``OOH_VOSK_MODEL_DIR`` is set):
word error rate and real-time factor on synthesised domain utterances (repairs, addresses,
postcodes, yes/no), at web (16 kHz) and telephone (8 kHz) rates, with and without the domain
biasing. Then it starts the whole stack (agent + gateway) and runs web calls in real time, 1, 2, 4
and 8 at once, printing the time from the end of the caller's speech to the first byte of the
agent's answer (p50/p95), and how many concurrent calls kept that under the 700 ms aim... or not.

Usage: ``make bench-voice`` (``python tools/bench_voice.py [--calls 1 2 4 8] [--skip-calls]``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np

from harness.callers import WebCaller, hiss
from harness.samples import houses
from harness.speech import synthesise
from harness.stack import running_gateway, running_stack
from ooh.orgs.loader import load_registry
from ooh.settings import get_settings
from voice_gateway.stt import make_recognizer
from voice_gateway.stt.base import SpeechRecognizer, Vocabulary
from voice_gateway.stt.lm import words_of
from voice_gateway.stt.metrics import word_error_rate
from voice_gateway.stt.pocketsphinx_engine import PocketSphinxRecognizer
from voice_gateway.vocabulary import address_vocabulary, open_vocabulary, spoken_postcode, yes_no_vocabulary

REPAIRS = [
    "my boiler has broken down",
    "there is water coming through my ceiling",
    "my toilet is blocked",
    "no hot water",
    "the front door lock is broken",
    "there are sparks coming from a socket",
    "i can smell gas in the kitchen",
    "the lift is stuck between floors",
    "my neighbours are playing loud music",
    "someone has dumped rubbish outside",
]
SAT_NIGHT = "2026-11-21T23:30:00"


def hear(recognizer: SpeechRecognizer, text: str, vocabulary: Vocabulary | None, rate: int) -> tuple[str, float, float]:
    """Recognise synthesised speech with line hiss; return text, decode seconds and audio seconds."""
    rng = np.random.default_rng(11)
    speech = np.frombuffer(synthesise(text, rate), dtype=np.int16).astype(float)
    noisy = np.clip(speech + rng.normal(0, 20, len(speech)), -32768, 32767).astype(np.int16).tobytes()
    audio = hiss(rate // 5, rng) + noisy + hiss(rate // 3, rng)
    started = time.perf_counter()
    stream = recognizer.stream(rate, vocabulary)
    chunk = rate // 10 * 2
    for start in range(0, len(audio), chunk):
        stream.accept(audio[start : start + chunk])
    text_heard = stream.finish()
    return text_heard, time.perf_counter() - started, len(audio) / 2 / rate


def recogniser_figures(recognizers: list[SpeechRecognizer]) -> None:
    """WER and RTF per recogniser, utterance set, rate and biasing."""
    registry = load_registry(get_settings().service_scripts_dir)
    org = registry.get("enfield")
    assert org is not None
    homes = houses("enfield")[:: max(1, len(houses("enfield")) // 8)][:8]
    addresses = [" ".join(words_of(h["address"].split(",")[0])) for h in homes]
    postcodes = [spoken_postcode(h["postcode"]) for h in homes]
    sets: list[tuple[str, list[str], Vocabulary]] = [
        ("repairs", REPAIRS, open_vocabulary(org)),
        ("addresses", addresses, address_vocabulary(org)),
        ("postcodes", postcodes, address_vocabulary(org)),
        ("yes/no", ["yes", "no", "yes please", "that's right", "nope"], yes_no_vocabulary()),
    ]
    print("\n## Recognisers (synthesised espeak-ng speech with line hiss)\n")
    print("| recogniser | set | rate | biased WER | stock WER | biased RTF | stock RTF |")
    print("|---|---|---|---|---|---|---|")
    for recognizer in recognizers:
        for vocabulary in {v.name: v for _, _, v in sets}.values():
            recognizer.prepare(vocabulary)  # model loading is start-up work, not per utterance
        for name, utterances, vocabulary in sets:
            for rate in (16000, 8000):
                row: dict[str, list[float]] = {"bw": [], "sw": [], "bt": [], "st": [], "audio": []}
                for utterance in utterances:
                    text, seconds, audio = hear(recognizer, utterance, vocabulary, rate)
                    row["bw"].append(word_error_rate(utterance, vocabulary.answer(text)))
                    row["bt"].append(seconds)
                    row["audio"].append(audio)
                    text, seconds, _ = hear(recognizer, utterance, None, rate)
                    row["sw"].append(word_error_rate(utterance, text))
                    row["st"].append(seconds)
                audio_total = sum(row["audio"])
                print(
                    f"| {recognizer.name} | {name} | {rate // 1000} kHz | {statistics.mean(row['bw']):.2f} | "
                    f"{statistics.mean(row['sw']):.2f} | {sum(row['bt']) / audio_total:.3f} | "
                    f"{sum(row['st']) / audio_total:.3f} |",
                    flush=True,
                )


async def one_call(url: str, answers: list[str], token: str) -> tuple[list[float], bool]:
    """A web call answering the repairs script's first questions by voice; its latencies."""
    caller = WebCaller(url, "enfield", token=token)
    await caller.start()
    try:
        for text in answers:
            await asyncio.wait_for(caller.answer(text), 60)
        await asyncio.wait_for(caller.prompt(), 60)
        return caller.response_latencies, True
    except (AssertionError, asyncio.TimeoutError):
        return caller.response_latencies, False
    finally:
        await caller.stop()


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * len(ordered))) - 1))]


def call_figures(counts: list[int]) -> None:
    """Latency from end of speech to first agent audio, at 1..N concurrent calls."""
    answers = ["my toilet is blocked", "blocked", "sixteen percy grove", "yes"]
    stack_gen = running_stack()
    stack = next(stack_gen)
    gateway_gen = running_gateway(stack, SAT_NIGHT)
    gateway = next(gateway_gen)
    try:
        asyncio.run(one_call(gateway.url, answers, gateway.token))  # warm-up call
        print("\n## Calls (web, 16 kHz, real time; end of caller speech -> first agent audio byte)\n")
        print("| concurrent calls | turns | p50 ms | p95 ms | calls completed |")
        print("|---|---|---|---|---|")
        sustained = 0
        for count in counts:

            async def many(n: int = count) -> list[tuple[list[float], bool]]:
                return list(await asyncio.gather(*(one_call(gateway.url, answers, gateway.token) for _ in range(n))))

            results = asyncio.run(many())
            latencies = [x for lat, _ in results for x in lat]
            done = sum(ok for _, ok in results)
            p50 = percentile(latencies, 0.5) * 1000 if latencies else float("nan")
            p95 = percentile(latencies, 0.95) * 1000 if latencies else float("nan")
            print(f"| {count} | {len(latencies)} | {p50:.0f} | {p95:.0f} | {done}/{count} |", flush=True)
            if done == count and p95 <= 1500:
                sustained = count
        print(f"\nConcurrent calls handled in real time (all completed, p95 <= 1.5 s): {sustained}")
    finally:
        next(gateway_gen, None)
        next(stack_gen, None)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--skip-calls", action="store_true", help="recognisers only")
    parser.add_argument("--skip-recognisers", action="store_true", help="calls only")
    args = parser.parse_args(argv)
    machine = f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"# Voice benchmark, {date.today()}, {machine}")
    settings = get_settings()
    factories: list[Callable[[], SpeechRecognizer]] = [lambda: PocketSphinxRecognizer(Path("var/voice/lm"))]
    if settings.vosk_model_dir is not None:
        factories.append(lambda: make_recognizer(settings))
    if not args.skip_recognisers:
        recogniser_figures([factory() for factory in factories])
    if not args.skip_calls:
        call_figures(args.calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
