"""The ``Order Created`` event: the contract between the creator and the fulfillment workflow.

The detail carries the order id and non-personal facts only: the workflow logs its execution
data at level ALL, so a customer name in here would end up in CloudWatch Logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from order_service.domain.order import OrderRecord

ORDER_EVENT_SOURCE = "serverless-snacks.orders"
ORDER_CREATED_DETAIL_TYPE = "Order Created"

# Status events: one per terminal transition, published by whoever wrote it (the workflow for
# PROCESSED/REJECTED/FAILED, order-canceller for CANCELLED). Detail: orderId, status, reason, timestamp.
ORDER_PROCESSED_DETAIL_TYPE = "Order Processed"
ORDER_REJECTED_DETAIL_TYPE = "Order Rejected"
ORDER_FAILED_DETAIL_TYPE = "Order Failed"
ORDER_CANCELLED_DETAIL_TYPE = "Order Cancelled"
STATUS_DETAIL_TYPES = (
    ORDER_PROCESSED_DETAIL_TYPE,
    ORDER_REJECTED_DETAIL_TYPE,
    ORDER_FAILED_DETAIL_TYPE,
    ORDER_CANCELLED_DETAIL_TYPE,
)
CANCELLED_BY_REQUEST = "CancelledByRequest"


@dataclass(frozen=True)
class OrderCreated:
    order_id: str
    item_count: int
    total_amount: str
    created_at: str
    replay: int = 0

    @classmethod
    def from_record(cls, record: OrderRecord) -> OrderCreated:
        return cls(
            order_id=record.order_id,
            item_count=sum(item.quantity for item in record.snack_items),
            total_amount=str(record.total_amount),
            created_at=record.created_at,
            replay=record.replay_count,
        )

    def detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "orderId": self.order_id,
            "itemCount": self.item_count,
            "totalAmount": self.total_amount,
            "createdAt": self.created_at,
        }
        if self.replay:
            detail["replay"] = self.replay
        return detail


def order_created_pattern() -> dict[str, list[str]]:
    """The EventBridge rule pattern that starts the fulfillment workflow."""
    return {"source": [ORDER_EVENT_SOURCE], "detail-type": [ORDER_CREATED_DETAIL_TYPE]}


@dataclass(frozen=True)
class OrderStatusChanged:
    """A terminal transition, for customers and other services: no customer name, no items."""

    detail_type: str
    order_id: str
    status: str
    reason: str
    timestamp: str
    # The event's ``resources``: the workflow's own announcement names its execution (as Step Functions' PutEvents
    # integration did, "Add EventBridge events with Step Functions"); order-canceller's names none.
    resources: tuple[str, ...] = ()

    def detail(self) -> dict[str, Any]:
        return {"orderId": self.order_id, "status": self.status, "reason": self.reason, "timestamp": self.timestamp}


def order_status_pattern() -> dict[str, list[str]]:
    """The EventBridge rule pattern that matches every status event (and never ``Order Created``)."""
    return {"source": [ORDER_EVENT_SOURCE], "detail-type": list(STATUS_DETAIL_TYPES)}
