"""The voice channel's entry point into Rasa: the REST channel under its own name.

The voice gateway (``voice_gateway``) posts each recognised utterance to ``/webhooks/voice/webhook``
exactly as the web chat posts to ``/webhooks/rest/webhook``; only the name differs, so records
say a request came by phone (``channel: voice``) and every script works unchanged.
"""

from __future__ import annotations

from rasa.core.channels.rest import RestInput

from ooh.contracts import VOICE_CHANNEL


class VoiceInput(RestInput):
    """REST input named ``voice``."""

    @classmethod
    def name(cls) -> str:
        """The channel name stored with every message and service request."""
        return VOICE_CHANNEL
