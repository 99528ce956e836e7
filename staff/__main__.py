"""``python -m staff``: serve the staff web app on the configured port (loopback by default)."""

from __future__ import annotations

import logging

import uvicorn

from ooh.logredact import install as redact_logs
from ooh.secrets import private_files
from ooh.settings import get_settings
from staff.app import create_app


def main() -> None:
    """Serve the staff app behind the deployment's TLS proxy."""
    redact_logs()
    private_files()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    # ws="none": the staff pages use no WebSocket (and the websockets 10 Rasa pins is not uvicorn's default).
    uvicorn.run(create_app(settings), host=settings.bind_host, port=settings.staff_port, log_level="warning", ws="none")


if __name__ == "__main__":
    main()
