"""What the domain needs from the outside world, as protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from order_service.domain.events import OrderCreated
from order_service.domain.order import OrderRecord, OrderStatus


class OrderAlreadyExists(Exception):
    """The conditional create found an order with the same id."""


class EventPublishFailed(Exception):
    """Publishing failed after the adapter's own retries; the order is left for the reconciler."""


class OrderRepository(Protocol):
    def create(self, record: OrderRecord) -> None:
        """Write a new order; raise ``OrderAlreadyExists`` if the id is taken."""

    def get(self, order_id: str) -> OrderRecord | None:
        """Strongly consistent read."""

    def transition(
        self,
        order_id: str,
        current: OrderStatus,
        target: OrderStatus,
        now: str,
        updates: dict[str, Any] | None = None,
        removals: tuple[str, ...] = (),
    ) -> OrderRecord | None:
        """Conditionally move ``current -> target``, set ``updates``, drop ``removals``.

        Returns the order as it is after the write, or None if it was not in ``current``.
        """

    def record_fulfillment(
        self, order_id: str, fulfillment: dict[str, Any], execution_arn: str | None, now: str
    ) -> bool:
        """Store the fulfillment of a NEW order that has none yet; False if that condition fails."""

    def list_by_status(self, status: OrderStatus, created_before: str | None = None) -> Iterator[OrderRecord]:
        """Orders in ``status``, oldest first, through the status index (never a table scan)."""


class EventPublisher(Protocol):
    def publish_order_created(self, event: OrderCreated) -> str:
        """Publish the event and return its id, or raise ``EventPublishFailed``."""
