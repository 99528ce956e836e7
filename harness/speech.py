"""Synthetic callers: text to speech with espeak-ng, as 16-bit mono PCM at telephone or web rates."""

from __future__ import annotations

import subprocess
import tempfile
from functools import cache
from pathlib import Path


@cache
def synthesise(text: str, sample_rate: int = 8000, words_per_minute: int = 160) -> bytes:
    """Speech for ``text`` (espeak-ng's British English voice), resampled by sox to ``sample_rate``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en", "-s", str(words_per_minute), "-w", str(path), text], check=True)
        converted = subprocess.run(
            [
                "sox",
                "-q",
                str(path),
                "-r",
                str(sample_rate),
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                "-t",
                "raw",
                "-",
            ],
            check=True,
            capture_output=True,
        )
    return converted.stdout


def silence(milliseconds: int, sample_rate: int = 8000) -> bytes:
    """Digital silence."""
    return b"\0\0" * (sample_rate * milliseconds // 1000)
