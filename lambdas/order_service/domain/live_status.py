"""Live order status: WebSocket subscriptions per order, and pushing each status change to them.

The ports are what the WebSocket handlers and the pusher need: a registry of connections per order
(DynamoDB) and a way to post one message to one connection (API Gateway's Management API). A
connection that is gone (410) is forgotten, so it costs nothing on the next push.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol


class ConnectionRegistry(Protocol):
    def add(self, connection_id: str, order_id: str, connected_at: int) -> None:
        """Remember that ``connection_id`` follows ``order_id`` (expires on its own after the API's
        longest connection life)."""

    def order_of(self, connection_id: str) -> str | None:
        """The order a connection follows, or None if it is unknown (or already forgotten)."""

    def remove(self, connection_id: str, order_id: str | None = None) -> None:
        """Forget a connection (idempotent)."""

    def connections_of(self, order_id: str) -> Iterator[str]:
        """Every connection following ``order_id`` (strongly consistent)."""


class ConnectionPoster(Protocol):
    def post(self, connection_id: str, data: bytes) -> bool:
        """Send ``data`` to one connection; False if the connection is gone (410 GoneException)."""


@dataclass(frozen=True)
class FanOut:
    delivered: int
    gone: int


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode("utf-8")


def push(order_id: str, message: dict[str, Any], registry: ConnectionRegistry, poster: ConnectionPoster) -> FanOut:
    """Post ``message`` to every connection following the order; forget the ones that are gone.

    Any other error of a post propagates: the pusher then fails and EventBridge retries the whole
    event, which re-sends it to connections that already had it (clients de-duplicate by ``sequence``).
    """
    data = encode(message)
    delivered = gone = 0
    for connection_id in list(registry.connections_of(order_id)):
        if poster.post(connection_id, data):
            delivered += 1
        else:
            registry.remove(connection_id, order_id)
            gone += 1
    return FanOut(delivered=delivered, gone=gone)
