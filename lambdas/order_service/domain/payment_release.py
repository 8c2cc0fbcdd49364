"""Giving a payment back once its order has left NEW any way but PROCESSED (failed, cancelled, rejected).

The conditional write that moved the order comes first; this follows it, so a payment is released only
for an order that can no longer be PROCESSED. Any party that finds such an order still holding its payment
(RecordFailure, the canceller, a racing MarkProcessed, a repeated cancel) may call it: the provider calls
share their idempotency keys, so there is one void or one refund however many call it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from order_service.domain import payment as pay
from order_service.domain.order import OrderRecord, OrderStatus
from order_service.domain.ports import OrderRepository, PaymentGateway


def release_payment(gateway: PaymentGateway, payment: dict[str, Any], order_id: str, now: str) -> dict[str, Any]:
    """Void or refund ``payment`` at the provider; the payment as it is afterwards (not yet recorded)."""
    generation = int(payment["generation"])
    outcome = gateway.release(
        str(payment["paymentIntentId"]),
        pay.idempotency_key(order_id, generation, pay.Step.VOID),
        pay.idempotency_key(order_id, generation, pay.Step.REFUND),
    )
    return pay.moved(payment, pay.PaymentStatus(outcome), now)


def release_held_payment(
    order: OrderRecord, gateway: PaymentGateway | None, orders: OrderRepository, clock: Callable[[], str]
) -> dict[str, Any] | None:
    """Give back what a settled, unprocessed order still holds and record it; None if it holds nothing."""
    if order.status in (OrderStatus.NEW, OrderStatus.PROCESSED) or not pay.holds_payment(order):
        return None
    assert order.payment is not None
    if gateway is None:
        raise RuntimeError("this order holds a card payment but no payment gateway is configured")
    released = release_payment(gateway, order.payment, order.order_id, clock())
    # False: another party recorded the same release first; the provider did it once either way.
    orders.settle_payment(order.order_id, released, str(released[f"{released['status']}At"]))
    return released
