"""The action server: Rasa SDK's, behind a shared secret, on loopback, with errors that say nothing.

``python -m actions.server --port 5055`` replaces ``python -m rasa_sdk --actions actions``.

Why not the stock server: it listens on every interface and runs any action for anyone who posts
a tracker, so a forged tracker could read another resident's request (``action_check_reference``)
or create referrals; and its error reply echoes the whole request, a resident's tracker, which
Rasa then logs. Here every call but ``/health`` must carry the secret Rasa is configured to send
(``X-OOH-Action-Secret``, from :func:`ooh.secrets.action_secret`), compared in constant time, and an
error reply names only the error's type.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import sys

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from ooh.logredact import install as redact_logs
from ooh.secrets import SECRET_HEADER, action_secret, private_files
from ooh.settings import get_settings

logger = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health"})
"""Paths anyone may call: a health check says nothing about residents."""


def build_app(secret: str) -> Sanic:
    """Rasa SDK's app for the ``actions`` package, with the secret checked on every call."""
    app = create_app("actions", cors_origins=None)

    @app.middleware("request")
    async def require_secret(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return response.json({"error": "not authorised"}, status=401)
        return None

    async def quiet_error(request: Request, exception: Exception) -> HTTPResponse:
        # The request body is a resident's whole conversation: never echo or log it.
        logger.error("Action call failed: %s", type(exception).__name__)
        return response.json({"error": type(exception).__name__}, status=500)

    app.error_handler.add(Exception, quiet_error)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the action server in the foreground, its logs without personal data (:mod:`ooh.logredact`)."""
    redact_logs()
    parser = argparse.ArgumentParser(prog="actions.server", description=__doc__)
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    private_files()
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = build_app(action_secret(settings))
    app.run(settings.bind_host, args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
