"""Serve the console: werkzeug's threaded server on loopback, in the foreground or in a thread."""

from __future__ import annotations

import logging
import threading
from typing import Any

from snacks.aws import Aws
from snacks.console.app import create_app
from snacks.listening import bound_server

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4567


class ConsoleServer:
    def __init__(
        self, aws: Aws, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, allow_writes: bool = False
    ) -> None:
        self.app = create_app(aws, allow_writes=allow_writes)
        # A busy port raises CannotListen with one line, not werkzeug's paragraph and sys.exit.
        self._server: Any = bound_server(host, port, self.app, threaded=True)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ConsoleServer:
        """Serve from a daemon thread (beside the local stack, or in tests)."""
        _quiet_access_log()
        self._thread = threading.Thread(target=self._server.serve_forever, name="snacks-console", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        _quiet_access_log()
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ConsoleServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _quiet_access_log() -> None:
    # One line per request (the live list polls every second) drowns what matters; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
