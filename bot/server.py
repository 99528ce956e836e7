"""Start Rasa's server: ``python -m bot.server run ...`` is ``rasa run ...`` with one fix.

Why: for every action-server reply, Rasa 3.6 calls ``jsonschema.validate``, which first checks the
(constant) response schema against the JSON-Schema meta-schema. Profiling the chat benchmark showed
that meta-check taking about three quarters of the Rasa server's CPU, so 20 concurrent
conversations queued for seconds. Here the schema is checked once and its validator reused;
every reply is still validated, with the same error as before.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import Any

from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

from ooh.logredact import install as redact_logs
from ooh.secrets import operator_token, private_files
from ooh.settings import get_settings

MAX_REQUEST_BYTES = 256 * 1024
"""Largest HTTP request body Rasa accepts (a chat message is at most a few kB)."""


@cache
def response_validator() -> Validator:
    """The validator of action-server replies, built (and its schema checked) once."""
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)  # type: ignore[no-any-return]


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's ``RemoteAction._validate_action_result``, without re-checking the schema each time."""
    try:
        response_validator().validate(result)
        return True
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise


def main() -> None:
    """Run Rasa's command line with the fix in place and its HTTP API locked by the operator token.

    The token is added here, from settings (``OOH_API_TOKEN`` or the kept one), rather than on the
    command line that starts this process, where any local user could read it in a process list.
    Logs are redacted from the first line on (:mod:`ooh.logredact`): Rasa reconfigures logging as
    it starts, which the redaction survives.
    """
    redact_logs()
    private_files()
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    # Sanic reads SANIC_* settings when Rasa builds its app: no request body over this (chat
    # messages are capped far lower in bot/channels.py; this stops a flood before it is parsed).
    os.environ.setdefault("SANIC_REQUEST_MAX_SIZE", str(MAX_REQUEST_BYTES))
    sys.argv = with_auth_token(sys.argv, operator_token(get_settings()))
    rasa_main()


def with_auth_token(argv: list[str], token: str) -> list[str]:
    """``rasa run`` arguments with the operator token, unless one was given.

    Written ``--auth-token=<token>`` in one argument: a random token may begin with ``-``, which
    argparse would read as an option after a separate ``--auth-token`` and refuse to start.
    """
    given = any(a == "--auth-token" or a.startswith("--auth-token=") for a in argv)
    if len(argv) > 1 and argv[1] == "run" and not given:
        return [*argv, f"--auth-token={token}"]
    return argv


if __name__ == "__main__":
    main()
