"""Card payment inside the saga: authorize after the reservation, capture with PROCESSED, release otherwise.

An order with a ``paymentMethod`` pays by card through the provider (Stripe PaymentIntents with manual
capture); an order without one pays at pickup and never touches the provider. The order record is the
authority and the provider follows it:

* ``AuthorizePayment`` first creates the intent (unconfirmed: it holds nothing) and records its id on the
  order (``payment.status`` ``pending``), then confirms it (``authorized``, or the order is REJECTED
  ``PaymentDeclined``). So every authorization the provider holds belongs to an intent the order names,
  and a release always knows what to void, whatever was lost in between.
* ``MarkProcessed`` captures, then writes PROCESSED with ``payment.status`` ``captured`` conditionally:
  PROCESSED implies captured.
* Whoever moves an order out of NEW any other way (RecordFailure, the canceller) does its conditional
  write first, then releases the payment (void an authorization, refund a capture) and records the outcome;
  a step that finds such an order still holding its payment releases it too. Every provider call carries an
  idempotency key made of the order id, the payment generation (the order's replay count) and the step, so
  any number of repeats, duplicate executions or racing releases make one authorization, at most one
  capture and at most one refund; a replay after a void authorizes afresh (a new generation).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from order_service.domain.order import OrderRecord

PROVIDER = "stripe"
# Prices are in US dollars; Stripe's amounts are in the currency's smallest unit (cents).
CURRENCY = "usd"
MINOR_UNITS_PER_UNIT = 100
# Stripe's minimum charge amount for USD ("Minimum and maximum charge amounts",
# https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts): $0.50.
MINIMUM_CHARGE = Decimal("0.50")
PAYMENT_DECLINED = "PaymentDeclined"


class PaymentStatus(StrEnum):
    PENDING = "pending"  # intent created, not confirmed: nothing held
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    CANCELED = "canceled"  # the authorization was voided (or the intent cancelled before it held anything)
    REFUNDED = "refunded"
    DECLINED = "declined"


# What a settled order (anything but PROCESSED) must still give back.
HELD = frozenset({PaymentStatus.PENDING, PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED})


class Step(StrEnum):
    """The provider calls; each one's idempotency key names it."""

    CREATE = "create"
    CONFIRM = "confirm"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


def minor_units(amount: Decimal) -> int:
    """Dollars as cents, exactly (never through float); refuses fractions of a cent."""
    cents = amount * MINOR_UNITS_PER_UNIT
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of cents")
    return int(cents)


def idempotency_key(order_id: str, generation: int, step: Step) -> str:
    """One key per order, payment generation and step: a repeat of the same call is the same request."""
    return f"snacks-{order_id}-g{generation}-{step.value}"


@dataclass(frozen=True)
class Authorization:
    """What confirming an intent came to."""

    authorized: bool
    intent_status: str  # the provider's status after the call
    decline_code: str | None = None
    message: str | None = None

    @property
    def canceled(self) -> bool:
        """The intent was cancelled meanwhile (a racing release): neither authorized nor declined."""
        return self.intent_status == "canceled"


def generation(order: OrderRecord) -> int:
    return order.replay_count


def holds_payment(order: OrderRecord) -> bool:
    """True while the order's payment must still be captured or given back."""
    payment = order.payment
    return payment is not None and payment.get("status") in HELD


def new_payment(order: OrderRecord, intent_id: str, now: str) -> dict[str, Any]:
    assert order.payment_method is not None
    return {
        "provider": PROVIDER,
        "paymentIntentId": intent_id,
        "paymentMethod": order.payment_method,
        "amount": minor_units(order.total_amount),
        "currency": CURRENCY,
        "status": PaymentStatus.PENDING.value,
        "generation": generation(order),
        "createdAt": now,
    }


def moved(payment: dict[str, Any], status: PaymentStatus, now: str, **facts: Any) -> dict[str, Any]:
    """``payment`` in ``status``, stamped with when it got there (``authorizedAt``, ``capturedAt`` …)."""
    return {**payment, **facts, "status": status.value, f"{status.value}At": now}


def declined_rejection(authorization: Authorization, rejected_at: str) -> dict[str, Any]:
    return {
        "reason": PAYMENT_DECLINED,
        "declineCode": authorization.decline_code or "card_declined",
        "message": (authorization.message or "The card was declined.")[:300],
        "rejectedAt": rejected_at,
    }
