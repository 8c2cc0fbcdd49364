"""Stock reservation against moto's DynamoDB: conditional transactions, not a hand-written fake.

DynamoDB's rules pinned here ("TransactWriteItems", Amazon DynamoDB API Reference,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html): the
actions of one transaction succeed or fail together; a failed condition on any of them cancels all
(TransactionCanceledException) and nothing is written; no two actions may target the same item.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

from order_service.adapters.dynamodb_inventory import DynamoDbStockLedger
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.domain import inventory
from order_service.domain.errors import OrderStateConflict
from order_service.domain.order import OrderRecord, OrderRequest, OrderStatus, SnackItem
from order_service.domain.order_processing import OrderProcessor, StepContext
from order_service.settings import FULFILLMENT_FAULTS
from stacks import definitions
from tests.unit.conftest import Aws, FakeLambdaContext, aws_client, fresh_module, status_event_publisher

NOW = "2026-11-25T12:00:00.000Z"
EXECUTION = "arn:aws:states:us-east-1:123456789012:express:order-fulfillment:exec-1:run-1"
OTHER_EXECUTION = EXECUTION.replace("exec-1", "exec-2")


def order_request(*lines: tuple[str, int]) -> OrderRequest:
    items = tuple(SnackItem(name, quantity, Decimal("1.00")) for name, quantity in lines)
    return OrderRequest("Stock Test", items, sum((i.line_total for i in items), Decimal("0.00")))


@pytest.fixture
def orders(aws: Aws) -> DynamoDbOrderRepository:
    return DynamoDbOrderRepository(aws_client("dynamodb"), definitions.ORDERS_TABLE)


@pytest.fixture
def stock(aws: Aws) -> DynamoDbStockLedger:
    return DynamoDbStockLedger(aws_client("dynamodb"), definitions.ORDERS_TABLE, definitions.INVENTORY_TABLE)


def put(orders: DynamoDbOrderRepository, order_id: str, *lines: tuple[str, int]) -> OrderRecord:
    record = OrderRecord.new(order_id, order_request(*lines), datetime(2026, 11, 25, tzinfo=UTC))
    orders.create(record)
    return record


def levels(stock: DynamoDbStockLedger) -> dict[str, int]:
    return dict(stock.all_levels())


def processor(orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger) -> OrderProcessor:
    return OrderProcessor(orders, stock, {}, lambda: NOW, status_events=status_event_publisher())


def test_fulfil_reserves_tracked_lines_and_leaves_untracked_snacks_unlimited(
    orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger
) -> None:
    stock.set_level("Chips", 5, NOW)
    put(orders, "o-1", ("Chips", 2), ("Soda", 1), ("Chips", 1))  # Soda has no stock record

    result = processor(orders, stock).fulfil(StepContext("o-1", EXECUTION))

    assert result["outcome"] == "fulfilled"
    assert levels(stock) == {"Chips": 2}  # both Chips lines, one write; no record created for Soda
    record = orders.get("o-1")
    assert record is not None and record.status is OrderStatus.NEW
    assert record.reservation == {
        "lines": [{"name": "Chips", "quantity": 3}],
        "reservedAt": NOW,
        "executionArn": EXECUTION,
    }


def test_a_repeated_fulfil_never_takes_stock_twice(orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger) -> None:
    """Express runs a step at least once, and a duplicate event starts a second execution."""
    stock.set_level("Chips", 5, NOW)
    put(orders, "o-2", ("Chips", 2))
    first = processor(orders, stock).fulfil(StepContext("o-2", EXECUTION))
    again = processor(orders, stock).fulfil(StepContext("o-2", EXECUTION, attempt=1))
    duplicate = processor(orders, stock).fulfil(StepContext("o-2", EXECUTION.replace("exec-1", "exec-2")))

    assert [first["repeated"], again["repeated"], duplicate["repeated"]] == [False, True, True]
    assert levels(stock) == {"Chips": 3}


def test_a_duplicate_that_reaches_fulfil_after_its_twin_finished_repeats_it(
    orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger
) -> None:
    """Validate saw NEW, then the twin execution marked it PROCESSED: no error (no DLQ letter), no stock."""
    stock.set_level("Chips", 5, NOW)
    put(orders, "o-10", ("Chips", 2))
    steps = processor(orders, stock)
    steps.fulfil(StepContext("o-10", EXECUTION))
    steps.mark_processed(StepContext("o-10", EXECUTION))

    late = steps.fulfil(StepContext("o-10", EXECUTION.replace("exec-1", "exec-2")))

    assert (late["outcome"], late["repeated"]) == ("fulfilled", True)
    assert steps.mark_processed(StepContext("o-10"))["changed"] is False
    assert levels(stock) == {"Chips": 3}


def test_out_of_stock_rejects_the_order_with_its_lines_and_reserves_nothing(
    orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger
) -> None:
    stock.set_level("Chips", 1, NOW)
    stock.set_level("Soda", 10, NOW)
    put(orders, "o-3", ("Chips", 2), ("Soda", 3), ("Pretzels", 1))

    result = processor(orders, stock).fulfil(StepContext("o-3", EXECUTION))

    rejection = {
        "reason": "OutOfStock",
        "lines": [{"name": "Chips", "requested": 2, "available": 1}],
        "rejectedAt": NOW,
    }
    assert result == {
        "orderId": "o-3",
        "outcome": "rejected",
        "rejection": rejection,
        "repeated": False,
        "paidBy": "pickup",
    }
    record = orders.get("o-3")
    assert record is not None and record.status is OrderStatus.REJECTED
    assert record.rejection == rejection and record.reservation is None and record.fulfillment is None
    assert levels(stock) == {"Chips": 1, "Soda": 10}
    # A repeat reports the same rejection and changes nothing.
    assert processor(orders, stock).fulfil(StepContext("o-3", EXECUTION))["repeated"] is True
    assert levels(stock) == {"Chips": 1, "Soda": 10}


def test_two_lines_of_one_snack_are_rejected_on_their_summed_units(
    orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger
) -> None:
    """Each line alone fits the stock, both do not: REJECTED at once with the summed demand, never a
    reservation the transaction must refuse (that retried to the DLQ instead: issue 17, item 19)."""
    stock.set_level("Chips", 3, NOW)
    put(orders, "o-11", ("Chips", 2), ("Soda", 1), ("Chips", 2))

    result = processor(orders, stock).fulfil(StepContext("o-11", EXECUTION))

    assert result["outcome"] == "rejected"
    assert result["rejection"]["lines"] == [{"name": "Chips", "requested": 4, "available": 3}]
    record = orders.get("o-11")
    assert record is not None and record.status is OrderStatus.REJECTED and record.reservation is None
    assert levels(stock) == {"Chips": 3}


def test_the_reservation_is_all_or_nothing(orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger) -> None:
    """Stock read as enough, then taken by someone else before the write: the transaction takes none
    of the lines and does not mark the order."""
    stock.set_level("Chips", 5, NOW)
    stock.set_level("Soda", 5, NOW)
    record = put(orders, "o-4", ("Chips", 2), ("Soda", 3))
    plan = inventory.plan_reservation(record, stock.levels(["Chips", "Soda"]))
    stock.set_level("Soda", 2, NOW)  # sold meanwhile

    assert stock.reserve(plan, plan.marker(NOW, None), NOW) is False
    assert levels(stock) == {"Chips": 5, "Soda": 2}
    assert orders.get("o-4").reservation is None  # type: ignore[union-attr]


def test_a_snack_that_became_stock_limited_after_the_read_is_not_bypassed(
    orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger
) -> None:
    record = put(orders, "o-5", ("Soda", 3))
    plan = inventory.plan_reservation(record, stock.levels(["Soda"]))
    assert plan.untracked == ("Soda",)
    stock.set_level("Soda", 1, NOW)

    assert stock.reserve(plan, plan.marker(NOW, None), NOW) is False
    assert levels(stock) == {"Soda": 1}


def test_the_same_reservation_twice_takes_once(orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger) -> None:
    """The marker written in the same transaction is the idempotency of the reservation."""
    stock.set_level("Chips", 5, NOW)
    record = put(orders, "o-6", ("Chips", 2))
    plan = inventory.plan_reservation(record, stock.levels(["Chips"]))

    assert stock.reserve(plan, plan.marker(NOW, None), NOW) is True
    assert stock.reserve(plan, plan.marker(NOW, None), NOW) is False
    assert levels(stock) == {"Chips": 3}


def test_an_order_holding_stock_is_never_rejected(orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger) -> None:
    """A duplicate execution that read the stock after the first one reserved it sees it short; its
    reject must fail, or the order would end REJECTED holding units nobody gives back."""
    stock.set_level("Chips", 2, NOW)
    record = put(orders, "o-7", ("Chips", 2))
    plan = inventory.plan_reservation(record, stock.levels(["Chips"]))
    assert stock.reserve(plan, plan.marker(NOW, None), NOW)

    assert stock.reject("o-7", inventory.rejection([], NOW), NOW, None) is None
    assert orders.get("o-7").status is OrderStatus.NEW  # type: ignore[union-attr]
    # And the step itself, run by that duplicate, goes on with the reservation.
    assert processor(orders, stock).fulfil(StepContext("o-7"))["outcome"] == "fulfilled"
    assert levels(stock) == {"Chips": 0}


def test_a_stock_level_is_never_negative(stock: DynamoDbStockLedger) -> None:
    with pytest.raises(ValueError, match="negative"):
        stock.set_level("Chips", -1, NOW)


# --- compensation (saga) -----------------------------------------------------------------------


def test_a_failure_after_the_reservation_gives_the_stock_back_exactly_once(
    orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger
) -> None:
    stock.set_level("Chips", 5, NOW)
    put(orders, "c-1", ("Chips", 2), ("Soda", 1))
    steps = processor(orders, stock)
    steps.fulfil(StepContext("c-1", EXECUTION))
    assert levels(stock) == {"Chips": 3}

    first = steps.record_failure(StepContext("c-1", EXECUTION), "MarkProcessed", "States.Timeout", "")
    # A duplicate execution's RecordFailure (another execution: it did not write the failure).
    again = steps.record_failure(StepContext("c-1", OTHER_EXECUTION), "MarkProcessed", "States.Timeout", "")

    released = [{"kind": "releaseStock", "lines": [{"name": "Chips", "quantity": 2}]}]
    assert (first["recorded"], first["compensated"]) == (True, released)
    assert (again["recorded"], again["compensated"]) == (False, [])
    assert levels(stock) == {"Chips": 5}
    record = orders.get("c-1")
    assert record is not None and record.status is OrderStatus.FAILED
    assert record.reservation is None and record.fulfillment is None  # a replay reserves and fulfils afresh
    assert record.failure is not None and record.failure["compensated"] == released


def test_a_failure_recorded_from_a_stale_read_releases_what_the_order_holds_now(
    orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger
) -> None:
    """Read without a reservation, reserved by a duplicate execution before the write: the write must
    fail (or the units would stay taken by a FAILED order), and the step then releases them."""
    stock.set_level("Chips", 5, NOW)
    stale = put(orders, "c-2", ("Chips", 2))
    processor(orders, stock).fulfil(StepContext("c-2", EXECUTION))  # the duplicate

    assert stock.fail(stale, {"step": "Fulfil"}, [], NOW, None) is False
    assert orders.get("c-2").status is OrderStatus.NEW  # type: ignore[union-attr]
    assert processor(orders, stock).record_failure(StepContext("c-2"), "Fulfil", "X", "")["recorded"] is True
    assert levels(stock) == {"Chips": 5}


def test_a_replayed_order_reserves_again(orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger) -> None:
    stock.set_level("Chips", 5, NOW)
    put(orders, "c-3", ("Chips", 2))
    steps = processor(orders, stock)
    steps.fulfil(StepContext("c-3", EXECUTION))
    steps.record_failure(StepContext("c-3", EXECUTION), "Fulfil", "FulfillmentRejected", "")
    # What `snacks dlq replay` does: FAILED -> NEW.
    orders.transition("c-3", OrderStatus.FAILED, OrderStatus.NEW, NOW, removals=("failure",))

    assert steps.fulfil(StepContext("c-3", EXECUTION))["outcome"] == "fulfilled"
    assert levels(stock) == {"Chips": 3}
    assert steps.mark_processed(StepContext("c-3", EXECUTION))["changed"] is True


def test_an_order_without_its_reservation_is_never_marked_processed(
    orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger
) -> None:
    """A stale execution of a replayed order (NEW again, its stock given back) reaching MarkProcessed."""
    put(orders, "c-4", ("Chips", 2))
    with pytest.raises(OrderStateConflict):
        processor(orders, stock).mark_processed(StepContext("c-4", EXECUTION))
    assert orders.get("c-4").status is OrderStatus.NEW  # type: ignore[union-attr]


# --- through the handler ---------------------------------------------------------------------


@pytest.fixture
def step(aws: Aws, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext) -> Callable[..., Any]:
    monkeypatch.setenv(FULFILLMENT_FAULTS, "")
    module: ModuleType = fresh_module("order_service.handlers.order_processor")

    def call(name: str, order_id: str) -> dict[str, Any]:
        event = {"step": name, "orderId": order_id, "eventId": "e-1", "executionArn": EXECUTION, "attempt": 0}
        return module.handler(event, lambda_context)  # type: ignore[no-any-return]

    return call


def test_processor_reserves_in_the_inventory_table_the_stack_names(
    step: Callable[..., Any], orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger
) -> None:
    stock.set_level("Chips", 1, NOW)
    put(orders, "h-1", ("Chips", 1))
    put(orders, "h-2", ("Chips", 1))

    assert step("fulfil", "h-1")["outcome"] == "fulfilled"
    assert step("fulfil", "h-2")["outcome"] == "rejected"
    assert step("markProcessed", "h-1")["status"] == "PROCESSED"
    assert levels(stock) == {"Chips": 0}
    assert orders.get("h-2").status is OrderStatus.REJECTED  # type: ignore[union-attr]
