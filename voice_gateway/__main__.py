"""``python -m voice_gateway``: run the gateway on the configured port."""

from __future__ import annotations

import logging

import uvicorn

from ooh.secrets import private_files
from ooh.settings import get_settings
from voice_gateway.app import create_app


def main() -> None:
    """Serve the gateway."""
    private_files()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    # ws="websockets": the implementation that works with the websockets 10 Rasa pins.
    uvicorn.run(
        create_app(settings),
        host="0.0.0.0",
        port=settings.voice_port,
        log_level="warning",
        ws="websockets",  # noqa: S104
    )


if __name__ == "__main__":
    main()
