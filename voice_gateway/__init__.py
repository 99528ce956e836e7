"""Voice gateway: callers talk to the same agent as web chat (speech in, speech out)."""
