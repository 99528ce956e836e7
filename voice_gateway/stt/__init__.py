"""Speech-to-text: pick the engine from the settings."""

from __future__ import annotations

from ooh.settings import PROJECT_ROOT, Settings
from voice_gateway.stt.base import RecognitionStream, SpeechRecognizer, Vocabulary

__all__ = ["RecognitionStream", "SpeechRecognizer", "Vocabulary", "make_recognizer"]


def make_recognizer(settings: Settings) -> SpeechRecognizer:
    """Vosk when a model directory is configured (it must exist), else offline pocketsphinx."""
    if settings.vosk_model_dir is not None:
        if not settings.vosk_model_dir.is_dir():
            raise FileNotFoundError(
                f"OOH_VOSK_MODEL_DIR={settings.vosk_model_dir} is not a directory; "
                "run tools/get_vosk_model.sh or unset it to use the offline recogniser"
            )
        from voice_gateway.stt.vosk_engine import VoskRecognizer

        return VoskRecognizer(settings.vosk_model_dir)
    from voice_gateway.stt.pocketsphinx_engine import PocketSphinxRecognizer

    return PocketSphinxRecognizer(PROJECT_ROOT / "var" / "voice" / "lm")
