"""Audio plumbing: codecs, resampling, end-of-utterance detection on real speech."""

from __future__ import annotations

import numpy as np

from harness.callers import hiss
from harness.speech import synthesise
from voice_gateway.audio import EndOfUtterance, StreamResampler, frames, pcm_to_ulaw, resample, ulaw_to_pcm


def test_mu_law_round_trip_keeps_speech() -> None:
    speech = synthesise("hello", 8000)
    back = np.frombuffer(ulaw_to_pcm(pcm_to_ulaw(speech)), dtype=np.int16).astype(float)
    original = np.frombuffer(speech, dtype=np.int16).astype(float)
    assert len(pcm_to_ulaw(speech)) == len(speech) // 2  # one byte per sample on the wire
    error = np.sqrt(np.mean((back - original) ** 2)) / np.sqrt(np.mean(original**2))
    assert error < 0.05


def test_streamed_resampling_matches_resampling_the_whole() -> None:
    speech = synthesise("water is coming through the ceiling", 8000)
    whole = np.frombuffer(resample(speech, 8000, 16000), dtype=np.int16).astype(float)
    stream = StreamResampler(8000, 16000)
    pieces = np.frombuffer(b"".join(stream(f) for f in frames(speech, 8000)), dtype=np.int16).astype(float)
    n = min(len(whole), len(pieces))
    assert abs(len(whole) - len(pieces)) < 400
    difference = np.sqrt(np.mean((whole[:n] - pieces[:n]) ** 2)) / np.sqrt(np.mean(whole[:n] ** 2))
    assert difference < 0.1


def test_an_utterance_starts_with_speech_and_ends_after_the_silence() -> None:
    rng = np.random.default_rng(0)
    detector = EndOfUtterance(silence_ms=700)
    line = hiss(8000, rng)  # a second of line noise
    for frame in frames(line, 8000):
        detector.feed(frame)
    assert not detector.started, "hiss is not speech"
    speech = np.frombuffer(synthesise("my boiler has broken down", 8000), dtype=np.int16)
    last_sound = int(np.nonzero(np.abs(speech) > 300)[0][-1])  # espeak ends with its own quiet
    for frame in frames(speech[: last_sound + 1].tobytes(), 8000):
        detector.feed(frame)
    assert detector.started and not detector.ended
    quiet = frames(hiss(8000, rng), 8000)
    ended_after = next(i for i, frame in enumerate(quiet) if (detector.feed(frame), detector.ended)[1])
    assert 0.5 <= (ended_after + 1) * 0.02 <= 1.0


def test_a_click_is_not_speech() -> None:
    detector = EndOfUtterance()
    click = np.zeros(160, dtype=np.int16)
    click[:40] = 20000
    for _ in range(3):
        detector.feed(click.tobytes())
    assert not detector.started
