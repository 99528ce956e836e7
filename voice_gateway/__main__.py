"""``python -m voice_gateway``: run the gateway on the configured port."""

from __future__ import annotations

import logging
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol
from websockets.exceptions import PayloadTooBig

from ooh.logredact import install as redact_logs
from ooh.secrets import private_files
from ooh.settings import Settings, get_settings
from voice_gateway.app import create_app


class BoundedWebSocketProtocol(WebSocketProtocol):
    """uvicorn's ``websockets`` protocol, telling the app when it refused a message for its size.

    With ``ws_max_size`` the websockets library closes the connection with 1009 (message too big)
    before the message is read, but uvicorn reports that to the app as 1006 (no close frame came
    back), so the call could not say why it ended. Here the app is told 1009.
    """

    async def asgi_receive(self) -> Any:
        """As uvicorn's, with a too-big message's disconnect reported as 1009."""
        message = await super().asgi_receive()
        if message["type"] == "websocket.disconnect" and isinstance(
            getattr(self, "transfer_data_exc", None), PayloadTooBig
        ):
            return {**message, "code": 1009, "reason": "message too big"}
        return message


def server_options(settings: Settings) -> dict[str, Any]:
    """The options uvicorn serves the gateway with (tests start their servers with them too)."""
    return {
        "host": "0.0.0.0",  # noqa: S104
        "port": settings.voice_port,
        "log_level": "warning",
        # The websockets implementation works with the websockets 10 Rasa pins. No message over
        # voice_max_frame_bytes is ever read: the connection is closed with 1009 (the adapters check
        # the same limit, for any other server).
        "ws": BoundedWebSocketProtocol,
        "ws_max_size": settings.voice_max_frame_bytes,
    }


def main() -> None:
    """Serve the gateway, its logs without personal data (:mod:`ooh.logredact`) and its files private."""
    redact_logs()
    private_files()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    uvicorn.run(create_app(settings), **server_options(settings))


if __name__ == "__main__":
    main()
