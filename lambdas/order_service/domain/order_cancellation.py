"""Cancelling an order: NEW or FAILED -> CANCELLED, giving back what it holds, in one conditional write.

Express executions cannot be stopped, so cancellation is cooperative: the cancel is one transaction
that sets CANCELLED and releases the reservation (the saga's compensations), conditional on the status
and the reservation it read. Every workflow step writes conditionally on NEW too, so whichever of
"cancel" and a step's write comes first wins, and the other sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from order_service.domain import inventory
from order_service.domain.errors import DependencyThrottled, OrderNotCancellable, UnknownOrder
from order_service.domain.events import CANCELLED_BY_REQUEST, ORDER_CANCELLED_DETAIL_TYPE, OrderStatusChanged
from order_service.domain.order import OrderRecord, OrderStatus
from order_service.domain.payment_release import release_held_payment
from order_service.domain.ports import (
    EventPublishFailed,
    OrderRepository,
    PaymentGateway,
    StatusEventPublisher,
    StockLedger,
)

CANCELLABLE = (OrderStatus.NEW, OrderStatus.FAILED)
MAX_CANCEL_ROUNDS = 4


@dataclass(frozen=True)
class Cancelled:
    order: OrderRecord
    changed: bool  # False: it was already CANCELLED


def cancel_order(order_id: str, orders: OrderRepository, stock: StockLedger, clock: Callable[[], str]) -> Cancelled:
    for _ in range(MAX_CANCEL_ROUNDS):
        order = orders.get(order_id)
        if order is None:
            raise UnknownOrder(f"order {order_id} does not exist")
        if order.status is OrderStatus.CANCELLED:
            return Cancelled(order, changed=False)
        if order.status not in CANCELLABLE:
            raise OrderNotCancellable(f"order {order_id} is {order.status.value}; it can no longer be cancelled")
        now = clock()
        held = inventory.compensations(order)
        cancellation: dict[str, Any] = {
            "cancelledAt": now,
            "from": order.status.value,
            "compensated": [compensation.as_dict() for compensation in held],
        }
        if stock.cancel(order, cancellation, held, now):
            current = orders.get(order_id)
            assert current is not None  # orders are never deleted
            return Cancelled(current, changed=True)
        # The order changed since the read (a step reserved, processed or failed it): look again.
    # 503 ServiceUnavailable: nothing written, the caller may retry.
    raise DependencyThrottled(f"order {order_id} kept changing while cancelling it; try again")


def release_cancelled_payment(
    result: Cancelled, orders: OrderRepository, payments: PaymentGateway, clock: Callable[[], str]
) -> Cancelled:
    """Give back the cancelled order's card payment: void the authorization, or refund a capture that won a race
    with this cancel. After the cancel's write (a payment is released only for an order that can no longer be
    PROCESSED) and before its announcement (so the pushed CANCELLED carries the released payment; the
    canceller announces whatever this comes to); if the provider is down this raises (503) and the order
    stays CANCELLED holding its payment: repeating the cancel releases it."""
    if release_held_payment(result.order, payments, orders, clock) is None:
        return result
    return Cancelled(orders.get(result.order.order_id) or result.order, result.changed)


def announce_cancellation(result: Cancelled, publisher: StatusEventPublisher) -> bool | None:
    """Publish ``Order Cancelled`` for the cancel that made the transition (not for a repeat).

    The order is already CANCELLED and its stock given back; a failed publish must not undo or fail
    that, so it is reported (False) rather than raised. None: nothing to announce (already CANCELLED)."""
    if not result.changed:
        return None
    cancelled_at = str((result.order.extra.get("cancellation") or {}).get("cancelledAt") or result.order.updated_at)
    event = OrderStatusChanged(
        detail_type=ORDER_CANCELLED_DETAIL_TYPE,
        order_id=result.order.order_id,
        status=OrderStatus.CANCELLED.value,
        reason=CANCELLED_BY_REQUEST,
        timestamp=cancelled_at,
    )
    try:
        publisher.publish_status(event)
    except EventPublishFailed:
        return False
    return True
