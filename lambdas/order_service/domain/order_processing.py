"""The fulfillment workflow's steps: validate, fulfil, mark processed, record a failure.

Express workflows run at least once, so every step is idempotent: a step that finds its work
already done reports so and succeeds, and no step ever overwrites a PROCESSED order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from order_service.domain import fulfillment, inventory
from order_service.domain import payment as pay
from order_service.domain.errors import (
    InvalidStepRequest,
    OrderInvalid,
    OrderNotFound,
    OrderStateConflict,
    TransientStepError,
)
from order_service.domain.events import ORDER_PROCESSED_DETAIL_TYPE, OrderStatusChanged
from order_service.domain.order import MAX_ITEMS, OrderRecord, OrderStatus, items_total, parse_utc_timestamp
from order_service.domain.payment_release import release_held_payment, release_payment
from order_service.domain.ports import OrderRepository, PaymentGateway, StatusEventPublisher, StockLedger

MAX_CAUSE_CHARS = 2000
# The status event's reason for a PROCESSED order (the workflow's PublishProcessed state sent the same).
FULFILLED_REASON = "Fulfilled"

PROCESS = "process"
SKIP = "skip"
# How the order pays (validate's result): the workflow sends only card orders through authorizePayment.
CARD = "card"
PICKUP = "pickup"

# Outcomes of the fulfil step, for the workflow's Choice after it.
FULFILLED = "fulfilled"
SETTLED = "settled"  # Validate said skip: a duplicate event for a settled order; nothing done
REJECTED = "rejected"
CANCELLED = "cancelled"
# Outcomes of the authorizePayment step (plus CANCELLED).
AUTHORIZED = "authorized"
NOT_REQUIRED = "notRequired"  # paid at pickup: no card, nothing to authorize
DECLINED = "declined"

# The authorization was voided before MarkProcessed could capture it (a racing cancel or failure).
VOIDED_MEANWHILE: tuple[dict[str, Any], dict[str, Any]] = ({}, {})

# Reads and conditional transactions to try before calling the stock contended (the workflow retries).
MAX_RESERVE_ROUNDS = 4


def paid_by(order: OrderRecord) -> str:
    return PICKUP if order.payment_method is None else CARD


@dataclass(frozen=True)
class StepContext:
    order_id: str
    execution_arn: str | None = None
    attempt: int = 0  # the workflow's retry count for this step


class OrderProcessor:
    def __init__(
        self,
        orders: OrderRepository,
        stock: StockLedger,
        fault_plan: dict[str, fulfillment.FaultRule],
        clock: Callable[[], str],
        payments: PaymentGateway | None = None,
        status_events: StatusEventPublisher | None = None,
    ) -> None:
        self._orders = orders
        self._stock = stock
        self._payments = payments
        self._status_events = status_events
        self.fault_plan = fault_plan  # simulation config: tests may end an "outage"
        self._clock = clock

    def _load(self, order_id: str) -> OrderRecord:
        order = self._orders.get(order_id)
        if order is None:
            raise OrderNotFound(f"order {order_id} does not exist")
        return order

    def validate(self, step: StepContext) -> dict[str, Any]:
        """Decide whether the order needs processing; reject an order that breaks the rules."""
        order = self._load(step.order_id)
        # Set when the order is created and never changed, so any execution of it may route on it.
        paying = paid_by(order)
        if order.status is not OrderStatus.NEW:
            # PROCESSED is done; FAILED already went to the DLQ. A duplicate event changes neither.
            return {"action": SKIP, "orderId": order.order_id, "status": order.status.value, "paidBy": paying}
        if not 1 <= len(order.snack_items) <= MAX_ITEMS:
            raise OrderInvalid(f"order {order.order_id} has {len(order.snack_items)} items")
        expected = items_total(order.snack_items)
        if expected != order.total_amount:
            raise OrderInvalid(f"order {order.order_id} totals {order.total_amount}, its items add up to {expected}")
        return {
            "action": PROCESS,
            "orderId": order.order_id,
            "status": order.status.value,
            "itemCount": sum(item.quantity for item in order.snack_items),
            "paidBy": paying,
        }

    def fulfil(self, step: StepContext, verdict: str = PROCESS) -> dict[str, Any]:
        """Reserve the order's stock once, then fulfil it once; out of stock ends it REJECTED.

        ``verdict`` is Validate's action: SKIP (the order was settled when Validate read it) answers SETTLED at once,
        with no AWS call, for the workflow's Choice to end the execution (a Choice between the two steps cost two
        execution-log records on every order; this costs one invocation on a duplicate only).

        A repeat (retry, duplicate execution) finds the reservation or the fulfillment on the order and
        neither takes stock nor fulfils again.

        Every outcome carries ``outcome``, ``paidBy``, ``repeated`` and ``rejection`` (None unless rejected): the
        workflow's ResultSelector keeps just those four as the state's data, and a ResultSelector path that is
        missing fails the state (States.Runtime).
        """
        if verdict == SKIP:
            return {"orderId": step.order_id, "outcome": SETTLED, "paidBy": None, "repeated": True, "rejection": None}
        if verdict != PROCESS:
            raise InvalidStepRequest(f"fulfil's action must be {PROCESS!r} or {SKIP!r}, not {verdict!r}")
        order, rejected_now = self._reserve(step)
        # How the order pays is fixed when it is created: the Choice after this step routes on it whatever it finds.
        # (Added to each answer here, not by a wrapper: a failure's Cause carries the stack, logged a dozen times.)
        paying = paid_by(order)
        if order.status is OrderStatus.CANCELLED:
            return {**self._cancelled(order), "paidBy": paying}
        if order.status is OrderStatus.REJECTED:
            return {
                "orderId": order.order_id,
                "outcome": REJECTED,
                "rejection": order.rejection,
                "repeated": not rejected_now,
                "paidBy": paying,
            }
        if order.fulfillment is not None:
            return {
                "orderId": order.order_id,
                "outcome": FULFILLED,
                "fulfillment": order.fulfillment,
                "repeated": True,
                "rejection": None,
                "paidBy": paying,
            }
        now = self._clock()
        record = fulfillment.fulfil(order, step.attempt, self.fault_plan, now)
        if self._orders.record_fulfillment(order.order_id, record, step.execution_arn, now):
            return {
                "orderId": order.order_id,
                "outcome": FULFILLED,
                "fulfillment": record,
                "repeated": False,
                "rejection": None,
                "paidBy": paying,
            }
        # Lost a race with a duplicate execution: whatever it recorded is the fulfillment.
        current = self._load(step.order_id)
        if current.status is OrderStatus.CANCELLED:
            return {**self._cancelled(current), "paidBy": paying}
        if current.fulfillment is None:
            raise OrderStateConflict(f"order {order.order_id} became {current.status.value} during fulfillment")
        return {
            "orderId": order.order_id,
            "outcome": FULFILLED,
            "fulfillment": current.fulfillment,
            "repeated": True,
            "rejection": None,
            "paidBy": paying,
        }

    @staticmethod
    def _cancelled(order: OrderRecord) -> dict[str, Any]:
        """Cancelled while the workflow ran: the canceller gave back what the order held; nothing to do."""
        return {
            "orderId": order.order_id,
            "outcome": CANCELLED,
            "status": order.status.value,
            "repeated": True,  # the canceller made the transition, not this step
            "rejection": None,
        }

    def _reserve(self, step: StepContext) -> tuple[OrderRecord, bool]:
        """The order holding its reservation, or REJECTED for want of stock (read, decide, write conditionally);
        True if this call rejected it."""
        for _ in range(MAX_RESERVE_ROUNDS):
            order = self._load(step.order_id)
            # PROCESSED: a duplicate execution arriving after its twin finished; it repeats the fulfillment.
            if order.status in (OrderStatus.PROCESSED, OrderStatus.REJECTED, OrderStatus.CANCELLED) or (
                order.status is OrderStatus.NEW and order.reservation is not None
            ):
                return order, False
            if order.status is not OrderStatus.NEW:
                raise OrderStateConflict(
                    f"order {order.order_id} is {order.status.value}; only NEW orders are fulfilled"
                )
            levels = self._stock.levels(inventory.units_by_snack(order))
            now = self._clock()
            short = inventory.shortages(order, levels)
            if short:
                rejected = self._stock.reject(order.order_id, inventory.rejection(short, now), now, step.execution_arn)
                if rejected is not None:
                    return rejected, True
            else:
                plan = inventory.plan_reservation(order, levels)
                marker = plan.marker(now, step.execution_arn)
                if self._stock.reserve(plan, marker, now):
                    # No read back: the transaction's condition held (NEW, no reservation), so the order is the one
                    # read plus the two attributes it set; the fulfillment's own write is conditional again.
                    return replace(order, reservation=marker, updated_at=now), False
            # A condition failed: the order or the stock changed since the read. Look again.
        raise TransientStepError(f"stock for order {step.order_id} kept changing; try the step again")

    @property
    def payments(self) -> PaymentGateway:
        if self._payments is None:
            raise RuntimeError("card payments need a payment gateway; none is configured")
        return self._payments

    def authorize_payment(self, step: StepContext) -> dict[str, Any]:
        """Every outcome carries ``outcome``, ``repeated`` and ``rejection`` (None unless declined): the workflow's
        ResultSelector keeps just those three (a missing path would fail the state with States.Runtime)."""
        return {"rejection": None, **self._authorize_payment(step)}

    def _authorize_payment(self, step: StepContext) -> dict[str, Any]:
        """Authorize the card of an order holding its stock (create the intent, record it, confirm it); a
        decline ends the order REJECTED ``PaymentDeclined`` with its stock given back. Pay-at-pickup orders
        pass. Idempotent: a repeat finds the payment on the order, and the provider's idempotency keys make
        any repeated call the same request."""
        for _ in range(MAX_RESERVE_ROUNDS):
            order = self._load(step.order_id)
            if order.status is OrderStatus.CANCELLED:
                release_held_payment(order, self._payments, self._orders, self._clock)
                return self._cancelled(order)
            if order.payment_method is None:
                return {"orderId": order.order_id, "outcome": NOT_REQUIRED, "repeated": False}
            payment = order.payment
            current = payment is not None and int(payment.get("generation", -1)) == pay.generation(order)
            if (
                order.status is OrderStatus.REJECTED
                and current
                and payment
                and payment["status"] == pay.PaymentStatus.DECLINED
            ):
                return {"orderId": order.order_id, "outcome": DECLINED, "rejection": order.rejection, "repeated": True}
            if order.status is OrderStatus.PROCESSED:
                # A duplicate execution arriving after its twin finished: MarkProcessed will see PROCESSED.
                return {"orderId": order.order_id, "outcome": AUTHORIZED, "repeated": True}
            if order.status is not OrderStatus.NEW or order.reservation is None:
                raise OrderStateConflict(
                    f"order {order.order_id} is {order.status.value}"
                    f"{'' if order.reservation else ' without its reservation'}; only a reserved NEW order is paid for"
                )
            if current and payment is not None:
                if payment["status"] in (pay.PaymentStatus.AUTHORIZED, pay.PaymentStatus.CAPTURED):
                    return {"orderId": order.order_id, "outcome": AUTHORIZED, "repeated": True}
                if payment["status"] == pay.PaymentStatus.PENDING:
                    result = self._confirm(order, payment, step)
                    if result is not None:
                        return result
                    continue  # the order changed meanwhile: look again
                raise OrderStateConflict(f"order {order.order_id} is NEW with a {payment['status']} payment")
            self._start_payment(order)
        raise TransientStepError(f"order {step.order_id} kept changing while authorizing its payment")

    def _start_payment(self, order: OrderRecord) -> None:
        """Create this generation's intent and record it (releasing an older generation's payment first)."""
        replaced = order.payment
        now = self._clock()
        facts: dict[str, Any] = {}
        if replaced is not None and replaced.get("status") in pay.HELD:
            # A replay of an order whose release did not go through: give the old payment back first.
            released = release_payment(self.payments, replaced, order.order_id, now)
            facts["replaces"] = {k: released[k] for k in ("paymentIntentId", "status", "generation")}
        assert order.payment_method is not None
        intent_id = self.payments.create_intent(
            order_id=order.order_id,
            amount=pay.minor_units(order.total_amount),
            currency=pay.CURRENCY,
            payment_method=order.payment_method,
            idempotency_key=pay.idempotency_key(order.order_id, pay.generation(order), pay.Step.CREATE),
        )
        record = {**pay.new_payment(order, intent_id, now), **facts}
        self._orders.start_payment(order.order_id, record, replaced, now)  # False: changed; the caller looks again

    def _confirm(self, order: OrderRecord, payment: dict[str, Any], step: StepContext) -> dict[str, Any] | None:
        intent_id = str(payment["paymentIntentId"])
        authorization = self.payments.authorize(
            intent_id, pay.idempotency_key(order.order_id, pay.generation(order), pay.Step.CONFIRM)
        )
        now = self._clock()
        if authorization.authorized:
            authorized = pay.moved(payment, pay.PaymentStatus.AUTHORIZED, now)
            if self._orders.advance_payment(order.order_id, authorized, payment, now):
                return {"orderId": order.order_id, "outcome": AUTHORIZED, "repeated": False}
            return None
        if authorization.canceled:
            return None  # released by a racing cancel: the order is no longer NEW; the next round sees it
        rejection = pay.declined_rejection(authorization, now)
        declined = pay.moved(payment, pay.PaymentStatus.DECLINED, now, declineCode=rejection["declineCode"])
        held = inventory.compensations(order)
        if self._stock.decline(order, rejection, declined, held, now, step.execution_arn):
            return {"orderId": order.order_id, "outcome": DECLINED, "rejection": rejection, "repeated": False}
        return None

    def mark_processed(self, step: StepContext) -> dict[str, Any]:
        """NEW -> PROCESSED, conditionally; a duplicate is a successful no-op.

        Only an order holding its reservation: a stale execution of a failed-then-replayed order (NEW again,
        stock given back, not yet reserved) must not mark it PROCESSED without its stock.

        No read first: the step tries the write an order paid at pickup needs (its condition checks all the
        read would: NEW, reserved, no card). When that condition fails, DynamoDB hands back the order as it
        found it, which tells a card order (capture, then write), a duplicate (already PROCESSED), a racing
        cancel and a missing order apart. Cancel and MarkProcessed still race on one conditional write each.

        Then it announces ``Order Processed`` (``_announce``): the step succeeds only once the event is on the bus."""
        now = self._clock()
        attempt = self._orders.try_transition(
            step.order_id,
            OrderStatus.NEW,
            OrderStatus.PROCESSED,
            now,
            self._processed_updates(step, now),
            requires=("reservation",),
            lacks=("paymentMethod",),
        )
        captured: tuple[dict[str, Any], dict[str, Any]] | None = None
        if not attempt.written:
            if attempt.order is None:
                raise OrderNotFound(f"order {step.order_id} does not exist")
            captured = self._capture(attempt.order)
            if captured is not None and captured is not VOIDED_MEANWHILE:
                now = self._clock()
                updates = self._processed_updates(step, now)
                as_read, updates["payment"] = captured
                attempt = self._orders.try_transition(
                    step.order_id,
                    OrderStatus.NEW,
                    OrderStatus.PROCESSED,
                    now,
                    updates,
                    requires=("reservation",),
                    payment_as_read=as_read,
                )
        order = attempt.order if attempt.written else None
        if order is not None:
            latency_ms = (parse_utc_timestamp(now) - parse_utc_timestamp(order.created_at)).total_seconds() * 1000
            return {
                "orderId": step.order_id,
                "status": "PROCESSED",
                "processedAt": now,
                "latencyMs": round(latency_ms),
                "changed": True,
                "paymentCaptured": captured is not None,
                "announced": self._announce(step, now),
            }
        # As the failed condition found it; after a voided capture, read again: the void's writer moved it.
        current = self._load(step.order_id) if captured is VOIDED_MEANWHILE or attempt.order is None else attempt.order
        if current.status is OrderStatus.PROCESSED:
            # PROCESSED by an earlier attempt of this very execution (its announcement failed, or the function
            # timed out after the write): announce again. By another execution (a duplicate): that one announces.
            ours = step.execution_arn is not None and current.execution_arn == step.execution_arn
            processed_at = current.processed_at or now
            return {
                "orderId": step.order_id,
                "status": "PROCESSED",
                "processedAt": current.processed_at,
                "changed": False,
                "announced": self._announce(step, processed_at) if ours else False,
            }
        # Cancelled or failed meanwhile: whoever wrote that releases the payment; so do we, in case it had not
        # yet (the same idempotency keys: one void or one refund).
        release_held_payment(current, self._payments, self._orders, self._clock)
        if current.status is OrderStatus.CANCELLED:
            # The cancel wrote first; the workflow ends in its Cancelled state.
            return {
                "orderId": step.order_id,
                "status": current.status.value,
                "processedAt": None,
                "changed": False,
                "announced": False,
            }
        raise OrderStateConflict(f"order {step.order_id} is {current.status.value}; cannot mark it PROCESSED")

    def _announce(self, step: StepContext, processed_at: str) -> bool:
        """``Order Processed`` on the bus, or ``EventPublishFailed`` (the workflow retries the step, whose retry finds
        the order PROCESSED by this execution and announces again): at least once, like every EventBridge event.

        Announced here rather than by a Task state after this step: five execution-log records fewer per order,
        the same event, and a publish failure still leaves the order PROCESSED (the workflow catches it)."""
        if self._status_events is None:
            raise RuntimeError("markProcessed announces Order Processed; no status event publisher is configured")
        event = OrderStatusChanged(
            ORDER_PROCESSED_DETAIL_TYPE,
            step.order_id,
            OrderStatus.PROCESSED.value,
            FULFILLED_REASON,
            processed_at,
            resources=(step.execution_arn,) if step.execution_arn else (),
        )
        self._status_events.publish_status(event)
        return True

    @staticmethod
    def _processed_updates(step: StepContext, now: str) -> dict[str, Any]:
        updates: dict[str, Any] = {"processedAt": now}
        if step.execution_arn:
            updates["executionArn"] = step.execution_arn
        return updates

    def _capture(self, order: OrderRecord) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Capture a card order's authorization before it is marked PROCESSED: (payment as read, as captured).
        None for an order paid at pickup, or one no longer NEW (the caller then reports what it found)."""
        if order.payment_method is None or order.status is not OrderStatus.NEW:
            return None
        payment = order.payment
        if payment is None or int(payment.get("generation", -1)) != pay.generation(order):
            raise OrderStateConflict(f"order {order.order_id} has no authorized payment to capture")
        if payment["status"] == pay.PaymentStatus.CAPTURED:
            return payment, payment
        if payment["status"] != pay.PaymentStatus.AUTHORIZED:
            raise OrderStateConflict(f"order {order.order_id} has a {payment['status']} payment; cannot capture it")
        key = pay.idempotency_key(order.order_id, pay.generation(order), pay.Step.CAPTURE)
        outcome = self.payments.capture(str(payment["paymentIntentId"]), key)
        if outcome != "succeeded":
            # Voided by a racing cancel or failure, which wrote its status first: no PROCESSED write.
            return VOIDED_MEANWHILE
        return payment, pay.moved(payment, pay.PaymentStatus.CAPTURED, self._clock())

    def record_failure(self, step: StepContext, failed_step: str, error: str, cause: str) -> dict[str, Any]:
        """NEW -> FAILED with the reason, giving back what the order holds (the saga's compensations) in the
        same transaction, so exactly once. Never raises for a missing or settled order: the DLQ still gets it."""
        for _ in range(MAX_RESERVE_ROUNDS):
            order = self._orders.get(step.order_id)
            if order is None:
                return {"orderId": step.order_id, "status": "MISSING", "recorded": False, "compensated": []}
            if order.status is not OrderStatus.NEW:
                # A retry of this step after its write (the payment's release failed), or an order settled by
                # someone else: give back a payment it still holds either way.
                released = release_held_payment(order, self._payments, self._orders, self._clock)
                recorded = (
                    order.status is OrderStatus.FAILED
                    and step.execution_arn is not None
                    and (order.failure or {}).get("executionArn") == step.execution_arn
                )
                return {
                    "orderId": step.order_id,
                    "status": order.status.value,
                    "recorded": recorded,
                    "compensated": _payment_compensation(released),
                }
            now = self._clock()
            held = inventory.compensations(order)
            compensated = [compensation.as_dict() for compensation in held]
            failure = {
                "step": failed_step,
                "error": error,
                "cause": cause[:MAX_CAUSE_CHARS],
                "executionArn": step.execution_arn,
                "failedAt": now,
                "compensated": compensated,
            }
            if self._stock.fail(order, failure, held, now, step.execution_arn):
                # The order is FAILED: now its payment can be given back (a provider outage fails this step,
                # which is retried; the retry finds the order FAILED by this execution and releases it).
                failed = self._load(step.order_id)
                released = release_held_payment(failed, self._payments, self._orders, self._clock)
                return {
                    "orderId": step.order_id,
                    "status": "FAILED",
                    "recorded": True,
                    "compensated": [*compensated, *_payment_compensation(released)],
                }
            # The order changed since the read (a duplicate reserved its stock): look again.
        raise TransientStepError(f"order {step.order_id} kept changing while recording its failure")


def _payment_compensation(released: dict[str, Any] | None) -> list[dict[str, Any]]:
    if released is None:
        return []
    return [{"kind": "releasePayment", "paymentIntentId": released["paymentIntentId"], "outcome": released["status"]}]
