"""The AWS calls each workflow step makes, and the safety each removed read leaves to a condition.

Express workflows run at least once ("Standard vs. Express Workflows", AWS Step Functions Developer
Guide, https://docs.aws.amazon.com/step-functions/latest/dg/choosing-workflow-type.html): a step may
run twice, or beside a duplicate execution or a cancel. A read that only told a step what its next
conditional write would find is not needed: the write's condition decides, and when it fails DynamoDB
returns the item it was checked against ("ReturnValuesOnConditionCheckFailure: ALL_OLD", and the
``ConditionalCheckFailedException``'s ``Item``, DynamoDB API Reference, UpdateItem,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html).
The counts here are what benchmarks/aws_calls.py reports per order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from order_service.adapters.dynamodb_inventory import DynamoDbStockLedger
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.adapters.stripe_payments import StripePayments
from order_service.domain.errors import OrderNotFound
from order_service.domain.order import OrderRecord, OrderRequest, OrderStatus, SnackItem
from order_service.domain.order_processing import OrderProcessor, StepContext
from snacks.local.stripe_emulator import StripeEmulator
from stacks import definitions
from tests.support.handler_calls import recorded_calls
from tests.unit.conftest import Aws, aws_client, status_event_publisher

NOW = "2026-12-07T03:00:00.000Z"
CREATED = datetime(2026, 12, 7, 2, 59, tzinfo=UTC)
EXECUTION = "arn:aws:states:us-east-1:123456789012:express:order-fulfillment:exec-1:run-1"
PICKUP = OrderRequest("Call Counter", (SnackItem("Chips", 2, Decimal("1.50")),), Decimal("3.00"))
CARD = OrderRequest(
    "Call Counter", (SnackItem("Chips", 2, Decimal("1.50")),), Decimal("3.00"), payment_method="pm_card_visa"
)


@pytest.fixture
def orders(aws: Aws) -> DynamoDbOrderRepository:
    return DynamoDbOrderRepository(aws_client("dynamodb"), definitions.ORDERS_TABLE)


@pytest.fixture
def processor(orders: DynamoDbOrderRepository, emulator: StripeEmulator) -> OrderProcessor:
    stock = DynamoDbStockLedger(aws_client("dynamodb"), definitions.ORDERS_TABLE, definitions.INVENTORY_TABLE)
    payments = StripePayments(lambda: emulator.secret_key, emulator.url, "test-secret")
    return OrderProcessor(orders, stock, {}, lambda: NOW, payments, status_event_publisher())


def operations(step: Any) -> tuple[list[str], Any]:
    with recorded_calls() as calls:
        result = step()
    return [f"{call.operation} {call.resource}" for call in calls], result


def stored(orders: DynamoDbOrderRepository, order_id: str) -> OrderRecord:
    record = orders.get(order_id)
    assert record is not None
    return record


def test_fulfil_reads_the_order_once_and_never_reads_it_back_after_reserving(
    orders: DynamoDbOrderRepository, processor: OrderProcessor
) -> None:
    """The reservation's transaction is conditional on the order being NEW without a reservation, so when
    it commits the order is the one read plus what it set; the fulfillment's write is conditional again."""
    orders.create(OrderRecord.new("c-1", PICKUP, CREATED))

    calls, result = operations(lambda: processor.fulfil(StepContext("c-1", EXECUTION)))

    assert calls == [
        f"GetItem {definitions.ORDERS_TABLE}",
        "TransactGetItems ",  # the stock of each line (a transaction names no one table)
        "TransactWriteItems ",
        f"UpdateItem {definitions.ORDERS_TABLE}",
    ]
    assert (result["outcome"], result["repeated"]) == ("fulfilled", False)
    record = stored(orders, "c-1")
    assert record.reservation is not None and record.fulfillment == result["fulfillment"]
    # At least once: the repeat finds both on the order and takes nothing again.
    again = processor.fulfil(StepContext("c-1", EXECUTION, attempt=1))
    assert (again["repeated"], again["fulfillment"]) == (True, result["fulfillment"])


def reserved(orders: DynamoDbOrderRepository, processor: OrderProcessor, order_id: str, request: OrderRequest) -> None:
    orders.create(OrderRecord.new(order_id, request, CREATED))
    processor.fulfil(StepContext(order_id, EXECUTION))


def test_mark_processed_of_a_pickup_order_is_one_conditional_write(
    orders: DynamoDbOrderRepository, processor: OrderProcessor
) -> None:
    reserved(orders, processor, "c-2", PICKUP)

    calls, result = operations(lambda: processor.mark_processed(StepContext("c-2", EXECUTION)))

    # The write, then its announcement (Order Processed; the workflow's PublishProcessed state made that call before).
    assert calls == [f"UpdateItem {definitions.ORDERS_TABLE}", f"PutEvents {definitions.EVENT_BUS}"]
    assert (result["status"], result["changed"], result["paymentCaptured"]) == ("PROCESSED", True, False)
    assert stored(orders, "c-2").status is OrderStatus.PROCESSED


def test_a_duplicate_mark_processed_never_overwrites_processed_and_needs_no_read(
    orders: DynamoDbOrderRepository, processor: OrderProcessor
) -> None:
    reserved(orders, processor, "c-3", PICKUP)
    processor.mark_processed(StepContext("c-3", EXECUTION))
    first = stored(orders, "c-3")

    calls, again = operations(lambda: processor.mark_processed(StepContext("c-3", EXECUTION + "-twin")))

    assert calls == [
        f"UpdateItem {definitions.ORDERS_TABLE}"
    ]  # failed its condition; the item came back; no announcing
    assert again == {
        "orderId": "c-3",
        "status": "PROCESSED",
        "processedAt": first.processed_at,
        "changed": False,
        "announced": False,
    }
    assert stored(orders, "c-3") == first  # not one attribute rewritten (executionArn stays the first's)


def test_a_cancel_that_wrote_first_wins_and_mark_processed_reports_it(
    orders: DynamoDbOrderRepository, processor: OrderProcessor
) -> None:
    reserved(orders, processor, "c-4", PICKUP)
    assert orders.transition("c-4", OrderStatus.NEW, OrderStatus.CANCELLED, NOW) is not None

    calls, result = operations(lambda: processor.mark_processed(StepContext("c-4", EXECUTION)))

    assert calls == [f"UpdateItem {definitions.ORDERS_TABLE}"]
    assert result == {
        "orderId": "c-4",
        "status": "CANCELLED",
        "processedAt": None,
        "changed": False,
        "announced": False,
    }
    assert stored(orders, "c-4").status is OrderStatus.CANCELLED


def test_a_card_order_is_never_marked_processed_by_the_pickup_write(
    orders: DynamoDbOrderRepository, processor: OrderProcessor, emulator: StripeEmulator
) -> None:
    """The write tried first requires no ``paymentMethod``: a card order fails it, is captured, then written."""
    reserved(orders, processor, "c-5", CARD)
    assert processor.authorize_payment(StepContext("c-5", EXECUTION))["outcome"] == "authorized"

    calls, result = operations(lambda: processor.mark_processed(StepContext("c-5", EXECUTION)))

    assert calls == [f"UpdateItem {definitions.ORDERS_TABLE}"] * 2 + [f"PutEvents {definitions.EVENT_BUS}"]
    assert (result["status"], result["changed"], result["paymentCaptured"]) == ("PROCESSED", True, True)
    record = stored(orders, "c-5")
    assert record.status is OrderStatus.PROCESSED and record.payment is not None
    assert record.payment["status"] == "captured"


def test_mark_processed_of_an_unreserved_order_still_refuses(
    orders: DynamoDbOrderRepository, processor: OrderProcessor
) -> None:
    """A stale execution of a replayed order (NEW, no reservation) must not mark it PROCESSED."""
    orders.create(OrderRecord.new("c-6", PICKUP, CREATED))
    with pytest.raises(Exception, match="is NEW; cannot mark it PROCESSED"):
        processor.mark_processed(StepContext("c-6", EXECUTION))
    assert stored(orders, "c-6").status is OrderStatus.NEW
    with pytest.raises(OrderNotFound):
        processor.mark_processed(StepContext("c-missing", EXECUTION))


def test_a_failed_conditional_transition_returns_the_order_as_dynamodb_found_it(
    orders: DynamoDbOrderRepository,
) -> None:
    """ReturnValuesOnConditionCheckFailure=ALL_OLD: the ConditionalCheckFailedException carries the item
    (DynamoDB API Reference, UpdateItem, Errors); no item for a key that does not exist."""
    orders.create(OrderRecord.new("c-7", PICKUP, CREATED))
    failed = orders.try_transition("c-7", OrderStatus.NEW, OrderStatus.PROCESSED, NOW, requires=("reservation",))
    assert not failed.written and failed.order == stored(orders, "c-7")
    missing = orders.try_transition("c-none", OrderStatus.NEW, OrderStatus.PROCESSED, NOW)
    assert (missing.written, missing.order) == (False, None)
    assert orders.get("c-none") is None
    done = orders.try_transition("c-7", OrderStatus.NEW, OrderStatus.CANCELLED, NOW, lacks=("paymentMethod",))
    assert done.written and done.order is not None and done.order.status is OrderStatus.CANCELLED
