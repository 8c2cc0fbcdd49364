"""Faults injected at the AWS-call boundary of the running handlers; each case checks where the order ends.

The local stack runs the real handler modules in this process, so a fault is injected by
replacing one method of the handler's own boto3 client for the duration of the test. That needs
the local stack: every test here skips under ``SNACKS_DEPLOYED_STACK=1`` before touching AWS.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest.mock import patch

import pytest
from botocore.exceptions import ClientError

from order_service.domain.order import OrderStatus
from snacks import operations
from snacks.aws import Aws
from snacks.trace import build_trace, fetch_history
from stacks import definitions
from tests.support.dynamodb_writes import WriteRecorder, recorded_writes

from .conftest import handler_module

# Faults are injected into the handler modules the local stack runs: no local stack, no test.
pytestmark = pytest.mark.usefixtures("local_stack")

ORDER = {
    "customerName": "Fay Fault",
    "snackItems": [{"name": "Chips", "quantity": 2, "price": 3.99}],
    "totalAmount": 7.98,
}


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, operation)


def fails_first(times: int, error: Exception, real: Callable[..., Any]) -> Callable[..., Any]:
    calls = {"count": 0}

    def call(**kwargs: Any) -> Any:
        calls["count"] += 1
        if calls["count"] <= times:
            raise error
        return real(**kwargs)

    call.calls = calls  # type: ignore[attr-defined]
    return call


def creator_events_client() -> Any:
    return handler_module("order_creator").events._client


def creator_dynamodb_client() -> Any:
    return handler_module("order_creator").orders._client


def processor_dynamodb_client() -> Any:
    return handler_module("order_processor").processor._orders._client


def warm_up(pipeline: Aws) -> None:
    """Make sure the handler modules are loaded before their clients are patched."""
    reply = operations.invoke_creator(pipeline, ORDER)
    operations.wait_for_final(pipeline, reply["orderId"], timeout=20)


def dead_letters_for(pipeline: Aws, order_id: str) -> list[Any]:
    return [letter for letter in operations.list_dead_letters(pipeline) if letter.order_id == order_id]


def attempts_per_step(pipeline: Aws, execution_arn: str) -> dict[str, int]:
    trace = build_trace(execution_arn, fetch_history(pipeline, execution_arn))
    return {step.name: step.attempts for step in trace.steps if step.kind == "Task"}


@pytest.fixture
def writes() -> Iterator[WriteRecorder]:
    """Every write DynamoDB accepts during the test, recorded at moto's backend (the outside view)."""
    with recorded_writes() as recorder:
        yield recorder


def assert_processed_once(pipeline: Aws, order_id: str, writes: WriteRecorder) -> None:
    """The final state, and the history that led to it: one create, one fulfilment, one NEW -> PROCESSED."""
    order = operations.wait_for_final(pipeline, order_id, timeout=20)
    assert order is not None and order.status is OrderStatus.PROCESSED, order
    assert order.fulfillment is not None and order.fulfillment["attempt"] >= 1
    assert order.processed_at is not None and order.processed_at >= order.created_at
    assert dead_letters_for(pipeline, order_id) == []
    mine = [w for w in writes.writes if w.table == definitions.ORDERS_TABLE and w.key == order_id]
    assert [w.action for w in mine if w.action == "PutItem"] == ["PutItem"], mine
    assert len([w for w in mine if w.sets("fulfillment")]) == 1, mine
    assert [w.status for w in mine if w.action == "UpdateItem" and w.sets("status")] == ["PROCESSED"], mine


def test_publish_exception_leaves_order_new_until_reconciled(
    pipeline: Aws, local_stack: Any, writes: WriteRecorder
) -> None:
    warm_up(pipeline)
    client = creator_events_client()
    with patch.object(client, "put_events", side_effect=client_error("AccessDeniedException", "PutEvents")):
        reply = operations.invoke_creator(pipeline, ORDER)
    assert reply["statusCode"] == 201 and reply["eventPublished"] is False
    order_id = reply["orderId"]
    local_stack.wait_until_idle(timeout=20)
    order = operations.get_order(pipeline, order_id)
    assert order is not None and order.status is OrderStatus.NEW and order.fulfillment is None

    dry = operations.reconcile(pipeline, older_than_seconds=0, dry_run=True)
    assert order_id in dry.order_ids and dry.republished == 0
    assert operations.get_order(pipeline, order_id).status is OrderStatus.NEW  # type: ignore[union-attr]

    report = operations.reconcile(pipeline, older_than_seconds=0, dry_run=False)
    assert order_id in report.order_ids and report.publish_failures == 0
    assert_processed_once(pipeline, order_id, writes)


def test_partially_failed_put_events_is_retried(pipeline: Aws, writes: WriteRecorder) -> None:
    warm_up(pipeline)
    client = creator_events_client()
    real = client.put_events
    responses = iter(
        [{"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}]}]
    )

    def put_events(**kwargs: Any) -> Any:
        return next(responses, None) or real(**kwargs)

    with patch.object(client, "put_events", side_effect=put_events) as injected:
        reply = operations.invoke_creator(pipeline, ORDER)
    assert reply["statusCode"] == 201 and reply["eventPublished"] is True
    assert injected.call_count == 2
    assert_processed_once(pipeline, reply["orderId"], writes)


def test_throttled_put_events_defers_publication_then_reconciles(pipeline: Aws, writes: WriteRecorder) -> None:
    warm_up(pipeline)
    client = creator_events_client()
    with patch.object(client, "put_events", side_effect=client_error("ThrottlingException", "PutEvents")) as injected:
        reply = operations.invoke_creator(pipeline, ORDER)
    assert reply["statusCode"] == 201 and reply["eventPublished"] is False
    assert injected.call_count == 3  # the publisher's own attempts
    operations.reconcile(pipeline, older_than_seconds=0, dry_run=False)
    assert_processed_once(pipeline, reply["orderId"], writes)


def test_dynamodb_throttling_at_create_returns_503_and_creates_nothing(pipeline: Aws) -> None:
    warm_up(pipeline)
    before = {order.order_id for order in operations.list_orders(pipeline)}
    throttled = client_error("ProvisionedThroughputExceededException", "PutItem")
    with (
        patch.object(creator_dynamodb_client(), "put_item", side_effect=throttled),
        patch.object(creator_events_client(), "put_events") as put_events,
    ):
        reply = operations.invoke_creator(pipeline, ORDER)
    assert reply["statusCode"] == 503 and reply["error"] == "ServiceUnavailable"
    put_events.assert_not_called()
    assert {order.order_id for order in operations.list_orders(pipeline)} == before


def test_dynamodb_throttling_in_a_step_is_retried_and_processed_once(pipeline: Aws, writes: WriteRecorder) -> None:
    warm_up(pipeline)
    client = processor_dynamodb_client()
    injected = fails_first(1, client_error("ProvisionedThroughputExceededException", "GetItem"), client.get_item)
    with patch.object(client, "get_item", side_effect=injected):
        reply = operations.invoke_creator(pipeline, ORDER)
        order = operations.wait_for_final(pipeline, reply["orderId"], timeout=20)
    assert injected.calls["count"] >= 2  # type: ignore[attr-defined]
    assert_processed_once(pipeline, reply["orderId"], writes)
    assert order is not None and order.execution_arn
    assert attempts_per_step(pipeline, order.execution_arn)["Validate"] == 2


def test_step_that_always_fails_ends_failed_with_reason_in_dlq(pipeline: Aws) -> None:
    reply = operations.invoke_creator(
        pipeline,
        {
            "customerName": "Gus",
            "snackItems": [{"name": "Broken Biscuit", "quantity": 1, "price": 1.25}],
            "totalAmount": 1.25,
        },
    )
    order = operations.wait_for_final(pipeline, reply["orderId"], timeout=30)
    assert order is not None and order.status is OrderStatus.FAILED
    assert order.failure is not None
    assert order.failure["step"] == "Fulfil" and order.failure["error"] == "FulfillmentUnavailable"
    assert order.fulfillment is None and order.processed_at is None
    deadline = time.monotonic() + 10
    letters = dead_letters_for(pipeline, order.order_id)
    while not letters and time.monotonic() < deadline:
        time.sleep(0.1)
        letters = dead_letters_for(pipeline, order.order_id)
    assert len(letters) == 1
    assert letters[0].failed_step == "Fulfil" and letters[0].error == "FulfillmentUnavailable"
    assert order.execution_arn and attempts_per_step(pipeline, order.execution_arn)["Fulfil"] == 3
