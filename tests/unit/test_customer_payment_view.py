"""What a customer sees of an order's payment (GET /orders/{id} and the pushed status messages): the
method, a small vocabulary of states, the amount, when it got there; nothing of the provider's."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from order_service.domain import payment as pay
from order_service.domain.customer_view import (
    PAYMENT_STATES,
    current_status_message,
    customer_view,
    sequence_of,
    status_message,
)
from order_service.domain.order import OrderRecord, OrderRequest, OrderStatus, SnackItem

PLACED = "2026-12-07T01:00:00.000Z"
INTENT, METHOD = "pi_3SECRETintent", "pm_card_visa"
SECRETS = (INTENT, METHOD, "stripe", "snacks-o-1-g0", "secret_abc", "generation", "Your card has insufficient funds")


def order(payment_method: str | None = METHOD, **changes: Any) -> OrderRecord:
    item = SnackItem("Chips", 2, Decimal("1.25"))
    request = OrderRequest("Stella", (item,), Decimal("2.50"), payment_method=payment_method)
    record = OrderRecord.new("o-1", request, datetime(2026, 12, 7, 1, tzinfo=UTC))
    return replace(record, **changes)


def card_payment(status: str, **times: str) -> dict[str, Any]:
    return {
        "provider": pay.PROVIDER,
        "paymentIntentId": INTENT,
        "paymentMethod": METHOD,
        "amount": 250,
        "currency": "usd",
        "status": status,
        "generation": 0,
        "createdAt": "2026-12-07T01:00:00.100Z",
        "clientSecret": "secret_abc",  # planted: a field the record might one day keep; never shown
        "idempotencyKey": "snacks-o-1-g0-confirm",
        **times,
    }


AUTHORIZED = {"authorizedAt": "2026-12-07T01:00:00.300Z"}
CAPTURED = {**AUTHORIZED, "capturedAt": "2026-12-07T01:00:00.600Z"}


def shown(view: dict[str, Any]) -> str:
    return json.dumps(view)


def test_a_captured_card_order_shows_method_state_amount_and_time_and_no_provider_ids() -> None:
    record = order(
        status=OrderStatus.PROCESSED,
        processed_at="2026-12-07T01:00:00.700Z",
        payment=card_payment("captured", **CAPTURED),
    )
    view = customer_view(record)
    assert view["payment"] == {
        "method": "card",
        "state": "captured",
        "amount": 2.5,
        "currency": "usd",
        "since": CAPTURED["capturedAt"],
    }
    assert view["history"] == [
        {"status": "NEW", "at": PLACED},
        {"payment": "authorized", "at": AUTHORIZED["authorizedAt"]},
        {"payment": "captured", "at": CAPTURED["capturedAt"]},
        {"status": "PROCESSED", "at": "2026-12-07T01:00:00.700Z"},
    ]
    for secret in SECRETS:
        assert secret not in shown(view), secret


def test_a_declined_card_shows_a_customer_safe_reason_only() -> None:
    declined = card_payment("declined", declinedAt="2026-12-07T01:00:00.400Z", declineCode="fraudulent")
    rejection = {"reason": "PaymentDeclined", "declineCode": "fraudulent", "message": "Your card was declined."}
    record = order(status=OrderStatus.REJECTED, payment=declined, rejection={**rejection, "rejectedAt": "x"})
    payment = customer_view(record)["payment"]
    # fraudulent is never told to the customer (https://docs.stripe.com/declines/codes): the generic reason
    assert (payment["state"], payment["reason"]) == ("declined", "card_declined")
    assert "fraudulent" not in shown(customer_view(record))
    funds = replace(record, payment={**declined, "declineCode": "insufficient_funds"})
    assert customer_view(funds)["payment"]["reason"] == "insufficient_funds"


@pytest.mark.parametrize(
    ("status", "payment", "state"),
    [
        (OrderStatus.NEW, None, "awaiting_authorization"),
        (OrderStatus.NEW, card_payment("pending"), "awaiting_authorization"),
        (OrderStatus.NEW, card_payment("authorized", **AUTHORIZED), "authorized"),
        (OrderStatus.CANCELLED, card_payment("authorized", **AUTHORIZED), "releasing"),
        (OrderStatus.FAILED, card_payment("captured", **CAPTURED), "releasing"),
        (OrderStatus.CANCELLED, card_payment("canceled", **AUTHORIZED, canceledAt="2026-12-07T01:00:01Z"), "voided"),
        (OrderStatus.CANCELLED, card_payment("refunded", **CAPTURED, refundedAt="2026-12-07T01:00:01Z"), "refunded"),
        (OrderStatus.REJECTED, None, "not_charged"),  # out of stock before any authorization
    ],
)
def test_each_card_state_maps_to_the_customer_vocabulary(
    status: OrderStatus, payment: dict[str, Any] | None, state: str
) -> None:
    view = customer_view(order(status=status, payment=payment))["payment"]
    assert view["state"] == state and view["state"] in PAYMENT_STATES
    assert view["method"] == "card"


def test_pay_at_pickup_is_due_at_pickup_until_the_order_is_settled_unprocessed() -> None:
    assert customer_view(order(None))["payment"] == {
        "method": "pay_at_pickup",
        "state": "due_at_pickup",
        "amount": 2.5,
        "currency": "usd",
    }
    assert customer_view(order(None, status=OrderStatus.CANCELLED))["payment"]["state"] == "not_charged"


def test_the_pushed_message_carries_the_payment_of_the_order_in_the_events_status() -> None:
    processed = order(
        status=OrderStatus.PROCESSED,
        processed_at="2026-12-07T01:00:00.700Z",
        payment=card_payment("captured", **CAPTURED),
    )
    message = status_message("o-1", "PROCESSED", "2026-12-07T01:00:00.700Z", processed)
    assert message["payment"]["state"] == "captured"
    assert message["sequence"] == sequence_of("2026-12-07T01:00:00.700Z")
    assert set(message) == {"orderId", "status", "timestamp", "sequence", "payment"}
    for secret in SECRETS:
        assert secret not in json.dumps(message), secret
    # An event the order has moved on from (it was PROCESSED, the record now says otherwise): the status alone.
    stale = status_message("o-1", "FAILED", "2026-12-07T01:00:00.500Z", processed)
    assert "payment" not in stale
    assert "payment" not in status_message("o-1", "PROCESSED", "2026-12-07T01:00:00.700Z", None)


def test_a_payment_that_moves_after_its_status_makes_a_message_kept_over_the_earlier_one() -> None:
    """Clients keep the highest ``sequence``: a voided payment recorded after CANCELLED, or an authorization
    while the order stays NEW, must come with a higher one than the message before it."""
    held = order(
        status=OrderStatus.CANCELLED,
        payment=card_payment("authorized", **AUTHORIZED),
        extra={"cancellation": {"cancelledAt": "2026-12-07T01:00:00.800Z", "from": "NEW"}},
    )
    voided = replace(held, payment=card_payment("canceled", **AUTHORIZED, canceledAt="2026-12-07T01:00:00.900Z"))
    before, after = current_status_message(held), current_status_message(voided)
    assert (before["payment"]["state"], after["payment"]["state"]) == ("releasing", "voided")
    assert after["sequence"] > before["sequence"] == sequence_of("2026-12-07T01:00:00.800Z")
    placed = current_status_message(order(payment=card_payment("pending")))
    authorized = current_status_message(order(payment=card_payment("authorized", **AUTHORIZED)))
    assert authorized["sequence"] > placed["sequence"]
