"""The AWS calls each Lambda handler makes, recorded while it runs its paths against moto.

Least privilege is "each principal gets only the actions it calls" (DESIGN.md §2). What a handler
calls is read from the code running, not copied from the grants: every boto3 API call passes
through ``BaseClient._make_api_call``, which is recorded (service, operation, the resource named
in the request) while the handler runs each of its paths. Needs the unit tests' ``aws`` fixture
(moto in-process with the pipeline's tables, bus and queues).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest.mock import patch

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository
from order_service.domain.order import OrderRecord, OrderRequest, OrderStatus, SnackItem
from order_service.settings import FULFILLMENT_FAULTS, STALE_AFTER_SECONDS
from stacks import definitions
from tests.unit.conftest import aws_client, fresh_module

ORDER: dict[str, Any] = {
    "customerName": "Ida Iam",
    "snackItems": [{"name": "Chips", "quantity": 2, "price": 1.99}],
    "totalAmount": 3.98,
}


@dataclass(frozen=True)
class Call:
    service: str  # the IAM service prefix (the API's signing name)
    operation: str  # the API operation: for DynamoDB and EventBridge, also the IAM action's name
    resource: str  # table, table/index/NAME, bus or queue the request names; "" if none
    params: str  # the request, as JSON (conditions are checked against it)

    @property
    def action(self) -> str:
        return f"{self.service}:{self.operation}"


def _resources(service: str, params: dict[str, Any]) -> list[str]:
    if service == "dynamodb":
        table = str(params.get("TableName", ""))
        return [f"{table}/index/{params['IndexName']}" if "IndexName" in params else table]
    if service == "events":
        return sorted({str(entry.get("EventBusName", "default")) for entry in params.get("Entries", [])})
    if service == "sqs":
        return [str(params.get("QueueUrl", ""))]
    return [""]


@contextmanager
def recorded_calls() -> Iterator[list[Call]]:
    calls: list[Call] = []
    real = BaseClient._make_api_call

    def make_api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.signing_name
        for resource in _resources(service, params):
            calls.append(Call(service, operation, resource, json.dumps(params, default=str, sort_keys=True)))
        return real(client, operation, params)

    with patch.object(BaseClient, "_make_api_call", make_api_call):
        yield calls


def _throttled_once(client: Any, table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next PutItem to ``table`` fails with throttling (the creator answers 503)."""
    real = client.put_item
    state = {"done": False}

    def put_item(**kwargs: Any) -> Any:
        if kwargs["TableName"] == table and not state["done"]:
            state["done"] = True
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, "PutItem")
        return real(**kwargs)

    monkeypatch.setattr(client, "put_item", put_item)


def creator_calls(context: Any, monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every path of order-creator: plain, idempotent first/repeat/reused key, and a failed attempt."""
    creator = fresh_module("order_service.handlers.order_creator")
    with recorded_calls() as calls:
        assert creator.handler(ORDER, context)["statusCode"] == 201
        assert creator.handler({**ORDER, "idempotencyKey": "k-1"}, context)["statusCode"] == 201
        assert creator.handler({**ORDER, "idempotencyKey": "k-1"}, context)["statusCode"] == 201  # replayed
        assert (
            creator.handler({**ORDER, "customerName": "Other", "idempotencyKey": "k-1"}, context)["statusCode"] == 409
        )
        assert creator.handler({"customerName": ""}, context)["statusCode"] == 400
        _throttled_once(creator.orders._client, definitions.ORDERS_TABLE, monkeypatch)
        assert creator.handler({**ORDER, "idempotencyKey": "k-2"}, context)["statusCode"] == 503
        assert creator.handler({**ORDER, "idempotencyKey": "k-2"}, context)["statusCode"] == 201
    return calls + idempotency_layer_calls(definitions.IDEMPOTENCY_TABLE)


def idempotency_layer_calls(table: str) -> list[Call]:
    """Every call Powertools' DynamoDB idempotency layer can make, read from its source: some are
    fallbacks no test here reaches (GetItem runs only when a failed conditional write does not
    return the old item, which DynamoDB and moto do return), yet the library may make them."""
    source = inspect.getsource(DynamoDBPersistenceLayer)
    operations = sorted(set(re.findall(r"self\.client\.(\w+)\(", source)))
    assert operations, "Powertools' persistence layer no longer calls self.client: update this scan"
    return [Call("dynamodb", "".join(part.title() for part in op.split("_")), table, "{}") for op in operations]


def _stored_order(order_id: str, age: timedelta = timedelta(0)) -> None:
    request = OrderRequest("Ida Iam", (SnackItem("Chips", 2, Decimal("1.99")),), Decimal("3.98"))
    record = OrderRecord.new(order_id, request, datetime.now(UTC) - age)
    DynamoDbOrderRepository(aws_client("dynamodb"), definitions.ORDERS_TABLE).create(record)


def processor_calls(context: Any, monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every step of order-processor, first runs and duplicates, success and failure."""
    monkeypatch.setenv(FULFILLMENT_FAULTS, "")
    processor = fresh_module("order_service.handlers.order_processor")
    _stored_order("p-1")
    _stored_order("p-2")

    def step(name: str, order_id: str, **extra: Any) -> Any:
        event = {"step": name, "orderId": order_id, "executionArn": "arn:x", "attempt": 0, **extra}
        return processor.handler(event, context)

    with recorded_calls() as calls:
        for name in ("validate", "fulfil", "markProcessed", "validate", "fulfil", "markProcessed"):
            step(name, "p-1")  # the second round is a duplicate execution
        step("recordFailure", "p-2", failedStep="Fulfil", error={"Error": "X", "Cause": "y"})
        step("recordFailure", "p-1", failedStep="Fulfil", error={"Error": "X", "Cause": "y"})  # settled
    stored = DynamoDbOrderRepository(aws_client("dynamodb"), definitions.ORDERS_TABLE).get("p-1")
    assert stored is not None and stored.status is OrderStatus.PROCESSED
    return calls


def reconciler_calls(context: Any, monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    monkeypatch.setenv(STALE_AFTER_SECONDS, "60")
    _stored_order("r-stale", age=timedelta(minutes=10))
    _stored_order("r-fresh")
    reconciler = fresh_module("order_service.handlers.order_reconciler")
    with recorded_calls() as calls:
        assert reconciler.handler({}, context)["republished"] == 1
    return calls


HANDLER_CALLS = {
    definitions.ORDER_CREATOR: creator_calls,
    definitions.ORDER_PROCESSOR: processor_calls,
    definitions.ORDER_RECONCILER: reconciler_calls,
}
