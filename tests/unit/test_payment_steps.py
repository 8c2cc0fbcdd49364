"""The payment steps against moto's DynamoDB and the Stripe emulator, through the real Stripe adapter."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from order_service.adapters.dynamodb_inventory import DynamoDbStockLedger
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.adapters.stripe_payments import StripePayments
from order_service.domain.order import OrderRecord, OrderRequest, OrderStatus, SnackItem
from order_service.domain.order_processing import OrderProcessor, StepContext
from snacks.local.stripe_emulator import StripeEmulator
from stacks import definitions
from tests.unit.conftest import Aws, aws_client, status_event_publisher

NOW = "2026-11-25T12:00:00.000Z"
EXECUTION = "arn:aws:states:us-east-1:123456789012:express:order-fulfillment:exec-1:run-1"


@pytest.fixture
def steps(aws: Aws, emulator: StripeEmulator) -> tuple[OrderProcessor, DynamoDbOrderRepository, DynamoDbStockLedger]:
    dynamodb = aws_client("dynamodb")
    orders = DynamoDbOrderRepository(dynamodb, definitions.ORDERS_TABLE)
    stock = DynamoDbStockLedger(dynamodb, definitions.ORDERS_TABLE, definitions.INVENTORY_TABLE)
    payments = StripePayments(lambda: emulator.secret_key, emulator.url, "test-secret")
    return OrderProcessor(orders, stock, {}, lambda: NOW, payments, status_event_publisher()), orders, stock


def reserved_card_order(processor: OrderProcessor, orders: Any, order_id: str, method: str) -> None:
    request = OrderRequest(
        "Pay Test", (SnackItem("Chips", 2, Decimal("1.50")),), Decimal("3.00"), payment_method=method
    )
    orders.create(OrderRecord.new(order_id, request, datetime(2026, 11, 25, tzinfo=UTC)))
    processor.fulfil(StepContext(order_id, EXECUTION))


def test_a_repeated_authorize_after_a_decline_reports_it_again_without_calling_the_provider(
    steps: Any, emulator: StripeEmulator
) -> None:
    """Step Functions repeats a step whose answer was lost: the repeat finds the order REJECTED with its
    declined payment and answers as the first did (repeated), with no second confirm at the provider."""
    processor, orders, stock = steps
    stock.set_level("Chips", 5, NOW)
    reserved_card_order(processor, orders, "d-1", "pm_card_chargeDeclined")
    first = processor.authorize_payment(StepContext("d-1", EXECUTION))
    calls = len(emulator.requests)
    again = processor.authorize_payment(StepContext("d-1", EXECUTION, attempt=1))

    assert (first["outcome"], first["repeated"]) == ("declined", False)
    assert (again["outcome"], again["repeated"]) == ("declined", True)
    assert again["rejection"] == first["rejection"]
    assert len(emulator.requests) == calls
    record = orders.get("d-1")
    assert record is not None and record.status is OrderStatus.REJECTED
    assert dict(stock.all_levels()) == {"Chips": 5}


def test_a_pay_at_pickup_order_never_reaches_the_provider(steps: Any, emulator: StripeEmulator) -> None:
    processor, orders, _ = steps
    reserved_card_order(processor, orders, "p-1", "pm_card_visa")  # warm the path with a card order first
    calls = len(emulator.requests)
    request = OrderRequest("Pickup", (SnackItem("Chips", 1, Decimal("1.50")),), Decimal("1.50"))
    orders.create(OrderRecord.new("p-2", request, datetime(2026, 11, 25, tzinfo=UTC)))
    processor.fulfil(StepContext("p-2", EXECUTION))
    assert processor.authorize_payment(StepContext("p-2", EXECUTION))["outcome"] == "notRequired"
    assert processor.mark_processed(StepContext("p-2", EXECUTION))["status"] == "PROCESSED"
    assert len(emulator.requests) == calls
    record = orders.get("p-2")
    assert record is not None and record.payment is None and "payment" not in record.as_item()
