"""A small storefront page: place an order over the storefront HTTP API and watch it move live.

    python -m snacks.storefront_page --http-api http://127.0.0.1:4567 --websocket-api ws://127.0.0.1:4568

Served from its own origin (http://localhost:8765 by default, the origin the HTTP API's CORS allows), so
the browser talks to the APIs exactly as a shop's page on another origin would.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGE = Path(__file__).with_name("index.html")
DEFAULT_PORT = 8765


class PageServer:
    """Serves the page (with the API URLs filled in) on ``host:port`` from a background thread."""

    def __init__(self, http_api: str, websocket_api: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        config = json.dumps({"httpApi": http_api, "webSocketApi": websocket_api})
        body = PAGE.read_text().replace("/*CONFIG*/{}", config).encode("utf-8")

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] not in ("/", "/index.html"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="storefront-page", daemon=True)

    @property
    def url(self) -> str:
        host, port = str(self._server.server_address[0]), int(self._server.server_address[1])
        return f"http://{'localhost' if host == '127.0.0.1' else host}:{port}"

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http-api", default="http://127.0.0.1:4567")
    parser.add_argument("--websocket-api", default="ws://127.0.0.1:4568")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args()
    with PageServer(args.http_api, args.websocket_api, port=args.port) as server:
        print(f"storefront page on {server.url}", flush=True)
        threading.Event().wait()
    return 0
