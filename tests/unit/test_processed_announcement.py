"""markProcessed announces ``Order Processed`` itself: once per execution that made the order PROCESSED, again on
that execution's own retry, never by a duplicate execution; a failed announcement fails the attempt, not the order.

Delivery is moto's EventBridge (a rule on the status pattern into an SQS queue), not a recording fake. The workflow
side (EventPublishFailed retried, then caught into a succeeding end state) is pinned against the ASL: Step Functions
evaluates a state's retriers and then its catchers in order, the first whose ErrorEquals names the error wins
("Handling errors in Step Functions workflows", https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from order_service.adapters.dynamodb_inventory import DynamoDbStockLedger
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.adapters.eventbridge_publisher import EventBridgePublisher
from order_service.domain.events import ORDER_EVENT_SOURCE, ORDER_PROCESSED_DETAIL_TYPE, order_status_pattern
from order_service.domain.order import OrderRecord, OrderRequest, OrderStatus, SnackItem
from order_service.domain.order_processing import OrderProcessor, StepContext
from order_service.domain.ports import EventPublishFailed
from stacks import definitions
from tests.unit.conftest import Aws, aws_client, status_event_publisher

NOW = "2026-12-07T06:00:00.000Z"
EXECUTION = "arn:aws:states:us-east-1:123456789012:express:order-fulfillment:exec-1:run-1"
TWIN = "arn:aws:states:us-east-1:123456789012:express:order-fulfillment:exec-1:run-2"  # Express names may repeat
PICKUP = OrderRequest("Announce Test", (SnackItem("Chips", 1, Decimal("1.50")),), Decimal("1.50"))


@pytest.fixture
def status_queue(aws: Aws) -> str:
    """Every status event the bus delivers, through a rule on the pattern the storefront and notifications use."""
    url = aws.sqs.create_queue(QueueName="test-status-events")["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.events.put_rule(
        Name="test-status-to-sqs", EventBusName=definitions.EVENT_BUS, EventPattern=json.dumps(order_status_pattern())
    )
    aws.events.put_targets(
        Rule="test-status-to-sqs", EventBusName=definitions.EVENT_BUS, Targets=[{"Id": "q", "Arn": arn}]
    )
    return str(url)


def delivered(aws: Aws, queue_url: str) -> list[dict[str, Any]]:
    messages = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    )
    return [json.loads(message["Body"]) for message in messages]


def steps(publisher: Any) -> OrderProcessor:
    client = aws_client("dynamodb")
    orders = DynamoDbOrderRepository(client, definitions.ORDERS_TABLE)
    stock = DynamoDbStockLedger(client, definitions.ORDERS_TABLE, definitions.INVENTORY_TABLE)
    return OrderProcessor(orders, stock, {}, lambda: NOW, status_events=publisher)


def reserved_order(order_id: str) -> OrderProcessor:
    processor = steps(status_event_publisher())
    DynamoDbOrderRepository(aws_client("dynamodb"), definitions.ORDERS_TABLE).create(
        OrderRecord.new(order_id, PICKUP, datetime(2026, 12, 7, 5, 59, tzinfo=UTC))
    )
    processor.fulfil(StepContext(order_id, EXECUTION))
    return processor


def test_the_write_that_made_the_order_processed_announces_it(aws: Aws, status_queue: str) -> None:
    processor = reserved_order("a-1")

    result = processor.mark_processed(StepContext("a-1", EXECUTION))

    assert (result["changed"], result["announced"]) == (True, True)
    [event] = delivered(aws, status_queue)
    # The detail the workflow's PublishProcessed state sent, key for key; the execution named in resources.
    assert (event["source"], event["detail-type"]) == (ORDER_EVENT_SOURCE, ORDER_PROCESSED_DETAIL_TYPE)
    assert event["detail"] == {"orderId": "a-1", "status": "PROCESSED", "reason": "Fulfilled", "timestamp": NOW}
    assert event["resources"] == [EXECUTION]


def test_a_retry_of_the_execution_whose_announcement_failed_announces_again(aws: Aws, status_queue: str) -> None:
    reserved_order("a-2")
    # A real failure: PutEvents on a bus that does not exist (ResourceNotFoundException, not retryable).
    broken = steps(EventBridgePublisher(aws_client("events"), "no-such-bus", sleep=lambda _: None))
    with pytest.raises(EventPublishFailed):
        broken.mark_processed(StepContext("a-2", EXECUTION))
    order = DynamoDbOrderRepository(aws_client("dynamodb"), definitions.ORDERS_TABLE).get("a-2")
    assert order is not None and order.status is OrderStatus.PROCESSED  # the write stands; only the event is missing
    assert delivered(aws, status_queue) == []

    retry = steps(status_event_publisher()).mark_processed(StepContext("a-2", EXECUTION, attempt=1))

    assert (retry["changed"], retry["announced"]) == (False, True)
    [event] = delivered(aws, status_queue)
    assert event["detail"]["timestamp"] == order.processed_at  # when it was processed, not when announced


def test_a_duplicate_execution_finds_the_order_processed_and_does_not_announce(aws: Aws, status_queue: str) -> None:
    processor = reserved_order("a-3")
    processor.mark_processed(StepContext("a-3", EXECUTION))
    assert len(delivered(aws, status_queue)) == 1

    duplicate = processor.mark_processed(StepContext("a-3", TWIN))

    assert (duplicate["status"], duplicate["changed"], duplicate["announced"]) == ("PROCESSED", False, False)
    assert delivered(aws, status_queue) == []  # the customer hears once


def test_a_cancel_that_won_is_not_announced_as_processed(aws: Aws, status_queue: str) -> None:
    processor = reserved_order("a-4")
    orders = DynamoDbOrderRepository(aws_client("dynamodb"), definitions.ORDERS_TABLE)
    assert orders.transition("a-4", OrderStatus.NEW, OrderStatus.CANCELLED, NOW) is not None

    result = processor.mark_processed(StepContext("a-4", EXECUTION))

    assert (result["status"], result["announced"]) == ("CANCELLED", False)
    assert delivered(aws, status_queue) == []


def test_the_workflow_retries_a_failed_announcement_then_ends_the_order_processed_not_failed() -> None:
    state = definitions.load_asl()["States"]["MarkProcessed"]
    error = EventPublishFailed.__name__  # the Lambda's errorType: the exception's class name
    [retrier] = [retrier for retrier in state["Retry"] if error in retrier["ErrorEquals"]]
    assert retrier["MaxAttempts"] == 2
    first_catch = next(catcher for catcher in state["Catch"] if {error, "States.ALL"} & set(catcher["ErrorEquals"]))
    assert error in first_catch["ErrorEquals"], "a failed announcement would mark a PROCESSED order FAILED"
    assert definitions.load_asl()["States"][first_catch["Next"]]["Type"] == "Succeed"
    assert state.get("End") is True  # nothing runs after the announcement on the processed path
