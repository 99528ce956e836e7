"""What callers hear: references, postcodes and phone numbers read slowly; numbers heard back as digits."""

from __future__ import annotations

from voice_gateway.numbers import for_agent, words_to_digits
from voice_gateway.tts import Pyttsx3Synthesizer, speakable


def test_references_postcodes_and_phone_numbers_are_spelt_out() -> None:
    text = speakable("Your reference is ENF-20261122-0042. Call 020 7946 0101. The address is 16 Percy Grove, N11 2JE.")
    assert "E, N, F. 2, 0, 2, 6, 1, 1, 2, 2. 0, 0, 4, 2." in text
    assert "0, 2, 0. 7, 9, 4, 6. 0, 1, 0, 1" in text
    assert "N, 1, 1. 2, J, E" in text
    assert "16 Percy Grove" in text  # house numbers are said as numbers


def test_speech_is_rendered_at_each_protocols_rate_and_cached() -> None:
    synthesizer = Pyttsx3Synthesizer()
    phone = synthesizer.speech("What is the address of the property? The house number is best.", 8000)
    web = synthesizer.speech("What is the address of the property? The house number is best.", 16000)
    assert 1.5 < len(phone) / 2 / 8000 < 8  # seconds of speech
    assert abs(len(web) - 2 * len(phone)) < 0.05 * len(web)  # espeak varies by a few milliseconds
    assert synthesizer.speech("What is the address of the property? The house number is best.", 8000) is phone


def test_a_cut_off_rendering_is_rendered_again() -> None:
    """pyttsx3's espeak driver now and then writes a file with only the start of a sentence."""

    class CutOffOnce(Pyttsx3Synthesizer):
        def __init__(self) -> None:
            super().__init__()
            self.renders = 0

        def _render_one(self, text: str) -> tuple[bytes, int]:
            self.renders += 1
            pcm, rate = super()._render_one(text)
            return (pcm[: rate // 10 * 2], rate) if self.renders == 1 else (pcm, rate)

    synthesizer = CutOffOnce()
    pcm, rate = synthesizer.render("What is the address of the property?")
    assert synthesizer.renders >= 2, "the cut-off rendering was not tried again"
    assert len(pcm) / 2 / rate > 1.0, "the whole question, not the first tenth of a second"


def test_spoken_numbers_become_digits_for_addresses_and_phone_numbers() -> None:
    assert for_agent("sixteen percy grove", "address") == "16 percy grove"
    assert for_agent("one hundred and five high street e n three six h s", "address") == "105 high street EN36HS"
    assert for_agent("oh seven seven double oh nine double oh one two three", "phone") == "07700900123"
    assert words_to_digits("flat four forty two marsh road") == "flat 4 42 marsh road"
    assert for_agent("no one is hurt", "free_text") == "no one is hurt", "other answers are left as said"
