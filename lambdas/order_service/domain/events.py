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
