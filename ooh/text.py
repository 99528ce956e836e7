"""Text from outside made safe to store and send: no lone surrogates, no NUL characters.

A chat message may carry a lone UTF-16 surrogate (U+D800 to U+DFFF: valid in JSON, not in UTF-8)
or a NUL: SQLite refuses the first, PostgreSQL the second, and an email cannot be encoded with
either, so a report holding one was once stuck forever. Such characters become U+FFFD (the
replacement character) on the way in, at each door and again where a conversation is recorded.
"""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")


def clean(value: Any) -> Any:
    """``value`` with every string in it (through dicts, lists and tuples) made storable."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(clean(v) for v in value)
    return value
