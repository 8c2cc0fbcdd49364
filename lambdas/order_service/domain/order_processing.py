"""The fulfillment workflow's steps: validate, fulfil, mark processed, record a failure.

Express workflows run at least once, so every step is idempotent: a step that finds its work
already done reports so and succeeds, and no step ever overwrites a PROCESSED order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from order_service.domain import fulfillment, inventory
from order_service.domain.errors import OrderInvalid, OrderNotFound, OrderStateConflict, TransientStepError
from order_service.domain.order import OrderRecord, OrderStatus, items_total, parse_utc_timestamp
from order_service.domain.ports import OrderRepository, StockLedger
from order_service.domain.validation import MAX_ITEMS

MAX_CAUSE_CHARS = 2000

PROCESS = "process"
SKIP = "skip"

# Outcomes of the fulfil step, for the workflow's Choice after it.
FULFILLED = "fulfilled"
REJECTED = "rejected"
CANCELLED = "cancelled"

# Reads and conditional transactions to try before calling the stock contended (the workflow retries).
MAX_RESERVE_ROUNDS = 4


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
    ) -> None:
        self._orders = orders
        self._stock = stock
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
        if order.status is not OrderStatus.NEW:
            # PROCESSED is done; FAILED already went to the DLQ. A duplicate event changes neither.
            return {"action": SKIP, "orderId": order.order_id, "status": order.status.value}
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
        }

    def fulfil(self, step: StepContext) -> dict[str, Any]:
        """Reserve the order's stock once, then fulfil it once; out of stock ends it REJECTED.

        A repeat (retry, duplicate execution) finds the reservation or the fulfillment on the order and
        neither takes stock nor fulfils again.
        """
        order, rejected_now = self._reserve(step)
        if order.status is OrderStatus.CANCELLED:
            return self._cancelled(order)
        if order.status is OrderStatus.REJECTED:
            return {
                "orderId": order.order_id,
                "outcome": REJECTED,
                "rejection": order.rejection,
                "repeated": not rejected_now,
            }
        if order.fulfillment is not None:
            return {"orderId": order.order_id, "outcome": FULFILLED, "fulfillment": order.fulfillment, "repeated": True}
        now = self._clock()
        record = fulfillment.fulfil(order, step.attempt, self.fault_plan, now)
        if self._orders.record_fulfillment(order.order_id, record, step.execution_arn, now):
            return {"orderId": order.order_id, "outcome": FULFILLED, "fulfillment": record, "repeated": False}
        # Lost a race with a duplicate execution: whatever it recorded is the fulfillment.
        current = self._load(step.order_id)
        if current.status is OrderStatus.CANCELLED:
            return self._cancelled(current)
        if current.fulfillment is None:
            raise OrderStateConflict(f"order {order.order_id} became {current.status.value} during fulfillment")
        return {"orderId": order.order_id, "outcome": FULFILLED, "fulfillment": current.fulfillment, "repeated": True}

    @staticmethod
    def _cancelled(order: OrderRecord) -> dict[str, Any]:
        """Cancelled while the workflow ran: the canceller gave back what the order held; nothing to do."""
        return {"orderId": order.order_id, "outcome": CANCELLED, "status": order.status.value}

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
                if self._stock.reserve(plan, plan.marker(now, step.execution_arn), now):
                    return self._load(step.order_id), False
            # A condition failed: the order or the stock changed since the read. Look again.
        raise TransientStepError(f"stock for order {step.order_id} kept changing; try the step again")

    def mark_processed(self, step: StepContext) -> dict[str, Any]:
        """NEW -> PROCESSED, conditionally; a duplicate is a successful no-op.

        Only an order holding its reservation: a stale execution of a failed-then-replayed order (NEW again,
        stock given back, not yet reserved) must not mark it PROCESSED without its stock."""
        now = self._clock()
        updates: dict[str, Any] = {"processedAt": now}
        if step.execution_arn:
            updates["executionArn"] = step.execution_arn
        order = self._orders.transition(
            step.order_id, OrderStatus.NEW, OrderStatus.PROCESSED, now, updates, requires=("reservation",)
        )
        if order is not None:
            latency_ms = (parse_utc_timestamp(now) - parse_utc_timestamp(order.created_at)).total_seconds() * 1000
            return {
                "orderId": step.order_id,
                "status": "PROCESSED",
                "processedAt": now,
                "latencyMs": round(latency_ms),
                "changed": True,
            }
        current = self._load(step.order_id)
        if current.status is OrderStatus.PROCESSED:
            return {
                "orderId": step.order_id,
                "status": "PROCESSED",
                "processedAt": current.processed_at,
                "changed": False,
            }
        if current.status is OrderStatus.CANCELLED:
            # The cancel wrote first; the workflow ends in its Cancelled state.
            return {"orderId": step.order_id, "status": current.status.value, "changed": False}
        raise OrderStateConflict(f"order {step.order_id} is {current.status.value}; cannot mark it PROCESSED")

    def record_failure(self, step: StepContext, failed_step: str, error: str, cause: str) -> dict[str, Any]:
        """NEW -> FAILED with the reason, giving back what the order holds (the saga's compensations) in the
        same transaction, so exactly once. Never raises for a missing or settled order: the DLQ still gets it."""
        for _ in range(MAX_RESERVE_ROUNDS):
            order = self._orders.get(step.order_id)
            if order is None or order.status is not OrderStatus.NEW:
                status = order.status.value if order else "MISSING"
                return {"orderId": step.order_id, "status": status, "recorded": False, "compensated": []}
            now = self._clock()
            held = inventory.compensations(order)
            failure = {
                "step": failed_step,
                "error": error,
                "cause": cause[:MAX_CAUSE_CHARS],
                "executionArn": step.execution_arn,
                "failedAt": now,
                "compensated": [compensation.as_dict() for compensation in held],
            }
            if self._stock.fail(order, failure, held, now, step.execution_arn):
                return {
                    "orderId": step.order_id,
                    "status": "FAILED",
                    "recorded": True,
                    "compensated": failure["compensated"],
                }
            # The order changed since the read (a duplicate reserved its stock): look again.
        raise TransientStepError(f"order {step.order_id} kept changing while recording its failure")
