"""Creating an order: validate, persist as NEW, announce it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from order_service.domain.events import OrderCreated
from order_service.domain.order import OrderRecord, OrderRequest
from order_service.domain.ports import EventPublisher, EventPublishFailed, OrderRepository


@dataclass(frozen=True)
class CreatedOrder:
    record: OrderRecord
    event_id: str | None  # None: publication failed, the reconciler will publish it

    @property
    def published(self) -> bool:
        return self.event_id is not None


def create_order(
    request: OrderRequest,
    orders: OrderRepository,
    events: EventPublisher,
    new_order_id: Callable[[], str],
    now: Callable[[], datetime],
    annotations: dict[str, Any] | None = None,
) -> CreatedOrder:
    """Write a validated order with status NEW, then publish ``Order Created``.

    The write comes first so that an event never names an order that does not exist; if
    publishing then fails the order is still accepted, because the reconciler re-publishes
    NEW orders that were never processed. ``annotations`` are extra record fields written with the
    order (the storefront's access-token hash), never published.
    """
    record = OrderRecord.new(new_order_id(), request, now())
    if annotations:
        record = replace(record, extra={**record.extra, **annotations})
    orders.create(record)
    try:
        event_id = events.publish_order_created(OrderCreated.from_record(record))
    except EventPublishFailed:
        return CreatedOrder(record=record, event_id=None)
    return CreatedOrder(record=record, event_id=event_id)
