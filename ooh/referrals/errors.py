"""What a referral channel raises when it cannot take a referral, whatever the channel."""

from __future__ import annotations


class ChannelUnavailable(Exception):
    """This channel cannot work for this contact (not configured, no suitable number).

    Trying again cannot mend it, so the next channel is tried at once.
    """


class ChannelRefused(Exception):
    """The service behind the channel refused the message (its status and words, no content)."""
