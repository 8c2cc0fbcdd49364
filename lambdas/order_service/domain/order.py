"""The order: its request shape, its stored record and its status lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class OrderStatus(StrEnum):
    NEW = "NEW"
    PROCESSED = "PROCESSED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# NEW -> PROCESSED | REJECTED | CANCELLED (terminal); NEW -> FAILED (catch path); FAILED -> NEW only by a
# replay; FAILED -> CANCELLED.
ALLOWED_TRANSITIONS: frozenset[tuple[OrderStatus, OrderStatus]] = frozenset(
    {
        (OrderStatus.NEW, OrderStatus.PROCESSED),
        (OrderStatus.NEW, OrderStatus.REJECTED),
        (OrderStatus.NEW, OrderStatus.FAILED),
        (OrderStatus.FAILED, OrderStatus.NEW),
        (OrderStatus.NEW, OrderStatus.CANCELLED),
        (OrderStatus.FAILED, OrderStatus.CANCELLED),
    }
)


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return (current, target) in ALLOWED_TRANSITIONS


CENT = Decimal("0.01")
MAX_ITEMS = 50  # lines per order (the creator's validation and the processor's check)


@dataclass(frozen=True)
class SnackItem:
    name: str
    quantity: int
    price: Decimal

    @property
    def line_total(self) -> Decimal:
        return (self.price * self.quantity).quantize(CENT)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "quantity": self.quantity, "price": self.price}


@dataclass(frozen=True)
class OrderRequest:
    """A validated input order (the seed's input format)."""

    customer_name: str
    snack_items: tuple[SnackItem, ...]
    total_amount: Decimal
    idempotency_key: str | None = None
    # A Stripe PaymentMethod id: pay by card (domain.payment); None: pay at pickup, nothing charged.
    payment_method: str | None = None


def items_total(items: tuple[SnackItem, ...] | list[SnackItem]) -> Decimal:
    return sum((item.line_total for item in items), Decimal("0.00")).quantize(CENT)


def utc_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, the seed's timestamp format."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_utc_timestamp(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class OrderRecord:
    """An order as stored in the ``Orders`` table (the seed's record format plus a few facts)."""

    order_id: str
    status: OrderStatus
    customer_name: str
    snack_items: tuple[SnackItem, ...]
    total_amount: Decimal
    created_at: str
    updated_at: str
    processed_at: str | None = None
    execution_arn: str | None = None
    fulfillment: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    # The stock this order holds (see domain.inventory); removed when it is released.
    reservation: dict[str, Any] | None = None
    rejection: dict[str, Any] | None = None
    payment_method: str | None = None
    # The card payment's state (domain.payment); None for an order paid at pickup, or not yet authorized.
    payment: dict[str, Any] | None = None
    replay_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, order_id: str, request: OrderRequest, now: datetime) -> OrderRecord:
        stamp = utc_timestamp(now)
        return cls(
            order_id=order_id,
            status=OrderStatus.NEW,
            customer_name=request.customer_name,
            snack_items=request.snack_items,
            total_amount=request.total_amount,
            payment_method=request.payment_method,
            created_at=stamp,
            updated_at=stamp,
        )

    def as_item(self) -> dict[str, Any]:
        """The record as a plain mapping in the seed's field names (Decimal money)."""
        item: dict[str, Any] = {
            "orderId": self.order_id,
            "status": self.status.value,
            "customerName": self.customer_name,
            "snackItems": [snack.as_dict() for snack in self.snack_items],
            "totalAmount": self.total_amount,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }
        optional = {
            "processedAt": self.processed_at,
            "executionArn": self.execution_arn,
            "fulfillment": self.fulfillment,
            "failure": self.failure,
            "reservation": self.reservation,
            "rejection": self.rejection,
            "paymentMethod": self.payment_method,
            "payment": self.payment,
        }
        item.update({key: value for key, value in optional.items() if value is not None})
        if self.replay_count:
            item["replayCount"] = self.replay_count
        item.update(self.extra)
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> OrderRecord:
        known = {
            "orderId", "status", "customerName", "snackItems", "totalAmount", "createdAt",
            "updatedAt", "processedAt", "executionArn", "fulfillment", "failure", "replayCount",
            "reservation", "rejection", "paymentMethod", "payment",
        }  # fmt: skip
        return cls(
            order_id=str(item["orderId"]),
            status=OrderStatus(item["status"]),
            customer_name=str(item.get("customerName", "")),
            snack_items=tuple(
                SnackItem(name=str(s["name"]), quantity=int(s["quantity"]), price=Decimal(str(s["price"])))
                for s in item.get("snackItems", [])
            ),
            total_amount=Decimal(str(item["totalAmount"])),
            created_at=str(item["createdAt"]),
            updated_at=str(item.get("updatedAt", item["createdAt"])),
            processed_at=item.get("processedAt"),
            execution_arn=item.get("executionArn"),
            fulfillment=item.get("fulfillment"),
            failure=item.get("failure"),
            reservation=item.get("reservation"),
            rejection=item.get("rejection"),
            payment_method=item.get("paymentMethod"),
            payment=item.get("payment"),
            replay_count=int(item.get("replayCount", 0)),
            extra={key: value for key, value in item.items() if key not in known},
        )
