"""order-canceller against moto's DynamoDB: the response contract, the conditional cancel and the
cooperative steps (Express executions cannot be stopped: "StopExecution" is for Standard workflows
only, https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

from order_service.adapters.dynamodb_inventory import DynamoDbStockLedger
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.domain.order import OrderRecord, OrderRequest, OrderStatus, SnackItem
from order_service.domain.order_processing import OrderProcessor, StepContext
from stacks import definitions
from tests.unit.conftest import (
    Aws,
    FakeLambdaContext,
    aws_client,
    capture_stdout_logs,
    fresh_module,
    status_event_publisher,
)

NOW = "2026-11-25T12:00:00.000Z"
CUSTOMER = "Carla Cancelname"


@pytest.fixture
def orders(aws: Aws) -> DynamoDbOrderRepository:
    return DynamoDbOrderRepository(aws_client("dynamodb"), definitions.ORDERS_TABLE)


@pytest.fixture
def stock(aws: Aws) -> DynamoDbStockLedger:
    return DynamoDbStockLedger(aws_client("dynamodb"), definitions.ORDERS_TABLE, definitions.INVENTORY_TABLE)


@pytest.fixture
def canceller(aws: Aws) -> ModuleType:
    return fresh_module("order_service.handlers.order_canceller")


@pytest.fixture
def cancel(canceller: ModuleType, lambda_context: FakeLambdaContext) -> Any:
    return lambda payload: canceller.handler(payload, lambda_context)


def put(orders: DynamoDbOrderRepository, order_id: str, units: int = 2) -> OrderRecord:
    item = SnackItem("Chips", units, Decimal("1.00"))
    record = OrderRecord.new(
        order_id, OrderRequest(CUSTOMER, (item,), item.line_total), datetime(2026, 1, 1, tzinfo=UTC)
    )
    orders.create(record)
    return record


def steps(orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger) -> OrderProcessor:
    return OrderProcessor(orders, stock, {}, lambda: NOW, status_events=status_event_publisher())


def test_cancelling_a_new_order_that_holds_stock_gives_it_back_once(
    cancel: Any, orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger
) -> None:
    stock.set_level("Chips", 5, NOW)
    put(orders, "k-1")
    steps(orders, stock).fulfil(StepContext("k-1"))
    assert dict(stock.all_levels()) == {"Chips": 3}

    first = cancel({"orderId": "k-1"})
    again = cancel({"orderId": "k-1"})

    assert (first["statusCode"], first["status"], first["changed"]) == (200, "CANCELLED", True)
    assert (again["statusCode"], again["status"], again["changed"]) == (200, "CANCELLED", False)
    assert first["order"]["status"] == "CANCELLED" and first["order"]["customerName"] == CUSTOMER
    assert first["order"]["cancellation"]["compensated"] == [
        {"kind": "releaseStock", "lines": [{"name": "Chips", "quantity": 2}]}
    ]
    assert "reservation" not in first["order"]
    assert dict(stock.all_levels()) == {"Chips": 5}


def test_a_failed_order_can_be_cancelled(cancel: Any, orders: DynamoDbOrderRepository) -> None:
    put(orders, "k-2")
    orders.transition("k-2", OrderStatus.NEW, OrderStatus.FAILED, NOW)
    reply = cancel({"orderId": "k-2"})
    assert (reply["statusCode"], reply["status"]) == (200, "CANCELLED")
    assert reply["order"]["cancellation"]["from"] == "FAILED"


@pytest.mark.parametrize("settled", [OrderStatus.PROCESSED, OrderStatus.REJECTED])
def test_a_settled_order_cannot_be_cancelled(
    cancel: Any, orders: DynamoDbOrderRepository, settled: OrderStatus
) -> None:
    put(orders, "k-3")
    orders.transition("k-3", OrderStatus.NEW, settled, NOW)
    reply = cancel({"orderId": "k-3"})
    assert (reply["statusCode"], reply["error"]) == (409, "OrderNotCancellable")
    assert orders.get("k-3").status is settled  # type: ignore[union-attr]


def test_an_unknown_order_is_404(cancel: Any) -> None:
    reply = cancel({"orderId": "no-such-order"})
    assert (reply["statusCode"], reply["error"]) == (404, "OrderNotFound")


@pytest.mark.parametrize(
    "payload",
    [[], "not json", {}, {"orderId": 5}, {"orderId": "  "}, {"orderId": "x" * 65}, {"orderId": "k", "why": "x"}],
)
def test_a_malformed_request_is_400_and_changes_nothing(cancel: Any, payload: Any) -> None:
    reply = cancel(payload)
    assert (reply["statusCode"], reply["error"]) == (400, "ValidationError")
    assert "Traceback" not in reply["message"]


def test_a_cancel_accepts_its_payload_as_json_text(cancel: Any, orders: DynamoDbOrderRepository) -> None:
    put(orders, "k-4")
    assert cancel('{"orderId": "k-4"}')["status"] == "CANCELLED"


def test_the_canceller_never_logs_the_customer_name(
    canceller: ModuleType, lambda_context: FakeLambdaContext, orders: DynamoDbOrderRepository, capsys: Any
) -> None:
    put(orders, "k-5")
    with capture_stdout_logs(canceller.logger, capsys) as lines:
        assert canceller.handler({"orderId": "k-5"}, lambda_context)["statusCode"] == 200
        output = lines()
    assert output and all(CUSTOMER not in line for line in output)
    assert any('"OrdersCancelled"' in line for line in output)


def test_a_cancel_whose_announcement_fails_is_still_a_cancel(
    canceller: ModuleType, lambda_context: FakeLambdaContext, orders: DynamoDbOrderRepository, aws: Aws, capsys: Any
) -> None:
    """PutEvents to a bus that is gone fails (ResourceNotFoundException); the order is CANCELLED and its stock
    back already, so the caller gets 200 and the missing notification is counted, not raised."""
    put(orders, "k-6")
    aws.events.delete_event_bus(Name=definitions.EVENT_BUS)
    with capture_stdout_logs(canceller.logger, capsys) as lines:
        reply = canceller.handler({"orderId": "k-6"}, lambda_context)
        output = lines()
    assert (reply["statusCode"], reply["status"]) == (200, "CANCELLED")
    assert orders.get("k-6").status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert any('"StatusEventsNotPublished"' in line for line in output)


# --- the workflow's steps cooperate ---------------------------------------------------------


def test_steps_that_find_the_order_cancelled_take_nothing_and_say_so(
    cancel: Any, orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger
) -> None:
    stock.set_level("Chips", 5, NOW)
    put(orders, "k-6")
    assert cancel({"orderId": "k-6"})["changed"] is True
    processor = steps(orders, stock)

    assert processor.validate(StepContext("k-6"))["action"] == "skip"
    assert processor.fulfil(StepContext("k-6"))["outcome"] == "cancelled"
    assert processor.mark_processed(StepContext("k-6")) == {
        "orderId": "k-6",
        "status": "CANCELLED",
        "processedAt": None,
        "changed": False,
        "announced": False,
    }
    assert processor.record_failure(StepContext("k-6"), "Fulfil", "X", "")["status"] == "CANCELLED"
    assert dict(stock.all_levels()) == {"Chips": 5}
    assert orders.get("k-6").status is OrderStatus.CANCELLED  # type: ignore[union-attr]


def test_cancel_after_the_reservation_then_the_workflow_goes_on(
    cancel: Any, orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger
) -> None:
    """Fulfil reserved, then the cancel wins the race to the order: MarkProcessed sees CANCELLED."""
    stock.set_level("Chips", 5, NOW)
    put(orders, "k-7")
    processor = steps(orders, stock)
    assert processor.fulfil(StepContext("k-7"))["outcome"] == "fulfilled"
    cancel({"orderId": "k-7"})

    assert processor.mark_processed(StepContext("k-7"))["status"] == "CANCELLED"
    assert dict(stock.all_levels()) == {"Chips": 5}


def test_mark_processed_first_means_the_cancel_is_refused(
    cancel: Any, orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger
) -> None:
    stock.set_level("Chips", 5, NOW)
    put(orders, "k-8")
    processor = steps(orders, stock)
    processor.fulfil(StepContext("k-8"))
    processor.mark_processed(StepContext("k-8"))

    assert cancel({"orderId": "k-8"})["statusCode"] == 409
    assert dict(stock.all_levels()) == {"Chips": 3}


def test_a_cancel_from_a_stale_read_never_strands_a_reservation(
    orders: DynamoDbOrderRepository, stock: DynamoDbStockLedger, cancel: Any
) -> None:
    """Read NEW without a reservation, reserved by the workflow before the write: the cancel's condition
    fails (nothing written), and the handler reads again and gives the units back."""
    stock.set_level("Chips", 5, NOW)
    stale = put(orders, "k-9")
    steps(orders, stock).fulfil(StepContext("k-9"))

    assert stock.cancel(stale, {"cancelledAt": NOW}, [], NOW) is False
    assert orders.get("k-9").status is OrderStatus.NEW  # type: ignore[union-attr]
    assert cancel({"orderId": "k-9"})["changed"] is True
    assert dict(stock.all_levels()) == {"Chips": 5}
