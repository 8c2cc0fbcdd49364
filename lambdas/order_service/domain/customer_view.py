"""What a customer may see of an order, and the live status message pushed to their browser.

An allow-list: the record's internal facts (execution ARN, reservation, failure causes, the access
token's hash, the idempotency key) never reach the storefront, whatever is added to the record later.

The payment, as a customer may see it (``payment_view``): ``method`` ``card`` or ``pay_at_pickup``; ``state``
in a small vocabulary of its own (``PAYMENT_STATES``) mapped from the record's ``payment.status``
(domain.payment); ``amount`` in dollars like ``totalAmount``, ``currency``; ``since``, when it entered
that state; and for a declined card a ``reason`` from a short list. Never the provider, the PaymentIntent
or PaymentMethod ids, idempotency keys, the generation, card details or the provider's decline message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from order_service.domain import payment as pay
from order_service.domain.order import OrderRecord, OrderStatus, parse_utc_timestamp
from order_service.domain.serialization import to_jsonable

# Where the record keeps the time an order entered each end status: (section, key).
_STATUS_TIME: dict[OrderStatus, tuple[str, str]] = {
    OrderStatus.REJECTED: ("rejection", "rejectedAt"),
    OrderStatus.FAILED: ("failure", "failedAt"),
    OrderStatus.CANCELLED: ("cancellation", "cancelledAt"),
}


def status_time(record: OrderRecord) -> str:
    """When the order entered its current status (``updatedAt`` where the record keeps nothing finer)."""
    if record.status is OrderStatus.NEW:
        return record.updated_at if record.replay_count else record.created_at
    if record.status is OrderStatus.PROCESSED:
        return record.processed_at or record.updated_at
    section, key = _STATUS_TIME[record.status]
    facts = getattr(record, section, None) if section in ("rejection", "failure") else record.extra.get(section)
    return str((facts or {}).get(key) or record.updated_at)


# The customer's payment vocabulary. Card: the record's payment.status mapped by _CARD_STATE; a settled order
# (REJECTED, FAILED, CANCELLED) still holding its payment is "releasing" until the release is recorded.
PAY_AT_PICKUP = "pay_at_pickup"
CARD = "card"
PAYMENT_STATES = (
    "due_at_pickup",  # pay at pickup, the order is NEW or PROCESSED
    "not_charged",  # nothing was or will be charged: a settled pay-at-pickup order, or a card never authorized
    "awaiting_authorization",  # card, not yet authorized (no intent yet, or created and not yet confirmed)
    "authorized",  # the amount is held on the card
    "captured",  # the card was charged (the order is PROCESSED)
    "declined",
    "releasing",  # the order was settled without being PROCESSED; the hold or charge is being given back
    "voided",  # the hold was released: nothing charged
    "refunded",  # a charge was refunded
)
_CARD_STATE = {
    pay.PaymentStatus.PENDING: "awaiting_authorization",
    pay.PaymentStatus.AUTHORIZED: "authorized",
    pay.PaymentStatus.CAPTURED: "captured",
    pay.PaymentStatus.CANCELED: "voided",
    pay.PaymentStatus.REFUNDED: "refunded",
    pay.PaymentStatus.DECLINED: "declined",
}
# A declined card's reason as the customer sees it: these few decline codes name something the customer can
# fix; any other code (fraudulent, stolen_card, do_not_honor, ...) is the generic "card_declined", as Stripe
# advises ("Decline codes", https://docs.stripe.com/declines/codes: for some codes, such as fraudulent, do not
# tell the customer the real reason).
CUSTOMER_DECLINE_REASONS = frozenset({"insufficient_funds", "expired_card", "incorrect_cvc", "card_declined"})
_SETTLED_UNPROCESSED = (OrderStatus.REJECTED, OrderStatus.FAILED, OrderStatus.CANCELLED)


def _payment_time(payment: dict[str, Any], status: pay.PaymentStatus) -> str | None:
    at = payment.get("createdAt") if status is pay.PaymentStatus.PENDING else payment.get(f"{status.value}At")
    return str(at) if at else None


def payment_view(record: OrderRecord) -> dict[str, Any]:
    """The order's payment as a customer may see it (an allow-list, see the module's docstring)."""
    settled = record.status in _SETTLED_UNPROCESSED
    if record.payment_method is None:
        return {
            "method": PAY_AT_PICKUP,
            "state": "not_charged" if settled else "due_at_pickup",
            "amount": record.total_amount,
            "currency": pay.CURRENCY,
        }
    payment = record.payment
    if payment is None:
        view: dict[str, Any] = {"method": CARD, "state": "not_charged" if settled else "awaiting_authorization"}
        return {**view, "amount": record.total_amount, "currency": pay.CURRENCY}
    status = pay.PaymentStatus(str(payment["status"]))
    state = "releasing" if settled and status in pay.HELD else _CARD_STATE[status]
    view = {
        "method": CARD,
        "state": state,
        "amount": Decimal(int(payment["amount"])) / pay.MINOR_UNITS_PER_UNIT,
        "currency": str(payment.get("currency") or pay.CURRENCY),
    }
    since = _payment_time(payment, status)
    if state == "releasing":
        since = status_time(record)  # it started being given back when the order was settled
    if since:
        view["since"] = since
    if status is pay.PaymentStatus.DECLINED:
        code = str(payment.get("declineCode") or "")
        view["reason"] = code if code in CUSTOMER_DECLINE_REASONS else "card_declined"
    return view


def _payment_history(record: OrderRecord) -> list[dict[str, str]]:
    """The card payment's transitions whose times the record keeps (the current generation's)."""
    payment = record.payment
    if record.payment_method is None or payment is None:
        return []
    steps = []
    for status in (
        pay.PaymentStatus.AUTHORIZED,
        pay.PaymentStatus.CAPTURED,
        pay.PaymentStatus.DECLINED,
        pay.PaymentStatus.CANCELED,
        pay.PaymentStatus.REFUNDED,
    ):
        at = _payment_time(payment, status)
        if at:
            steps.append({"payment": _CARD_STATE[status], "at": at})
    return steps


def history(record: OrderRecord) -> list[dict[str, str]]:
    """The transitions a customer may see, oldest first: placed, then where it is now, with the card
    payment's transitions (``{"payment": state, "at": ...}``) among them by time."""
    steps = [{"status": OrderStatus.NEW.value, "at": record.created_at}]
    cancellation = record.extra.get("cancellation") or {}
    if record.status is OrderStatus.CANCELLED and cancellation.get("from") == OrderStatus.FAILED.value:
        failed_at = (record.failure or {}).get("failedAt")
        if failed_at:
            steps.append({"status": OrderStatus.FAILED.value, "at": str(failed_at)})
    if record.status is not OrderStatus.NEW or record.replay_count:
        steps.append({"status": record.status.value, "at": status_time(record)})
    # At equal times the payment comes first: the capture is made before PROCESSED is written, the decline is
    # recorded with REJECTED (and a clock may give both the same millisecond). The record's timestamps are all
    # utc_timestamp's fixed-width UTC format, so they sort as text.
    return sorted([*steps, *_payment_history(record)], key=lambda step: (step["at"], "status" in step))


def customer_view(record: OrderRecord) -> dict[str, Any]:
    view: dict[str, Any] = {
        "orderId": record.order_id,
        "status": record.status.value,
        "snackItems": [item.as_dict() for item in record.snack_items],
        "totalAmount": record.total_amount,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "history": history(record),
        "payment": payment_view(record),
    }
    if record.processed_at:
        view["processedAt"] = record.processed_at
    return to_jsonable(view)  # type: ignore[no-any-return]


def sequence_of(timestamp: str) -> int:
    """A number that grows with each transition of one order (its time in ms), for de-duplication:
    a client keeps the message with the highest ``sequence`` and drops repeats and stragglers."""
    try:
        moment = parse_utc_timestamp(timestamp)
    except ValueError:
        # Step Functions' $$.State.EnteredTime (the Order Failed timestamp) is ISO-8601 in its own precision.
        try:
            moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def status_message(order_id: str, status: str, timestamp: str, record: OrderRecord | None = None) -> dict[str, Any]:
    """The pushed message: no personal data, just enough to show and de-duplicate.

    With ``record`` (the order as read after the event, in that same ``status``) it carries the order's
    ``payment`` (payment_view), and ``sequence`` is the later of the status's and the payment state's times:
    a payment that moved without a status change of its own (authorized while NEW, voided after CANCELLED)
    makes a message a client keeps over the one it had. Without it (the order was not found, or has moved on
    past this event's status: that later transition's own event carries the payment) the message is the
    status alone, as before."""
    message: dict[str, Any] = {"orderId": order_id, "status": status, "timestamp": timestamp}
    sequence = sequence_of(timestamp)
    if record is not None and record.status.value == status:
        payment = payment_view(record)
        message["payment"] = to_jsonable(payment)
        if payment.get("since"):
            sequence = max(sequence, sequence_of(str(payment["since"])))
    message["sequence"] = sequence
    return message


def current_status_message(record: OrderRecord) -> dict[str, Any]:
    return status_message(record.order_id, record.status.value, status_time(record), record)
