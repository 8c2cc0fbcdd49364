"""The ``Orders`` table behind the ``OrderRepository`` port (low-level client: lighter cold start)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from order_service.adapters.aws_errors import error_code, transient_errors_as
from order_service.domain.order import OrderRecord, OrderStatus
from order_service.domain.ports import OrderAlreadyExists, Transition

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

STATUS_INDEX_NAME = "status-createdAt-index"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_attributes(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in item.items()}


def from_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in attributes.items()}


def _is_condition_failure(error: ClientError) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


# The order's payment "as read": its intent id and status (names and values for a condition expression).
PAYMENT_NAMES = {"#pay": "payment", "#payIntent": "paymentIntentId", "#payStatus": "status"}
PAYMENT_AS_READ = "#pay.#payIntent = :payIntent AND #pay.#payStatus = :payStatus"


def payment_as_read_values(payment: dict[str, Any]) -> dict[str, Any]:
    return {":payIntent": payment["paymentIntentId"], ":payStatus": payment["status"]}


class DynamoDbOrderRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def create(self, record: OrderRecord) -> None:
        with transient_errors_as("DynamoDB"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=to_attributes(record.as_item()),
                    ConditionExpression="attribute_not_exists(orderId)",
                )
            except ClientError as error:
                if _is_condition_failure(error):
                    raise OrderAlreadyExists(record.order_id) from error
                raise

    def get(self, order_id: str) -> OrderRecord | None:
        with transient_errors_as("DynamoDB"):
            response = self._client.get_item(
                TableName=self._table, Key={"orderId": {"S": order_id}}, ConsistentRead=True
            )
        item = response.get("Item")
        return OrderRecord.from_item(from_attributes(item)) if item else None

    def transition(
        self,
        order_id: str,
        current: OrderStatus,
        target: OrderStatus,
        now: str,
        updates: dict[str, Any] | None = None,
        removals: tuple[str, ...] = (),
        requires: tuple[str, ...] = (),
        payment_as_read: dict[str, Any] | None = None,
    ) -> OrderRecord | None:
        outcome = self._transition(order_id, current, target, now, updates, removals, requires, (), payment_as_read)
        return outcome.order if outcome.written else None

    def try_transition(
        self,
        order_id: str,
        current: OrderStatus,
        target: OrderStatus,
        now: str,
        updates: dict[str, Any] | None = None,
        requires: tuple[str, ...] = (),
        lacks: tuple[str, ...] = (),
        payment_as_read: dict[str, Any] | None = None,
    ) -> Transition:
        return self._transition(order_id, current, target, now, updates, (), requires, lacks, payment_as_read)

    def _transition(
        self,
        order_id: str,
        current: OrderStatus,
        target: OrderStatus,
        now: str,
        updates: dict[str, Any] | None,
        removals: tuple[str, ...],
        requires: tuple[str, ...],
        lacks: tuple[str, ...],
        payment_as_read: dict[str, Any] | None,
    ) -> Transition:
        values = {"status": target.value, "updatedAt": now, **(updates or {})}
        names = {f"#f{index}": key for index, key in enumerate(values)}
        names.update({f"#r{index}": key for index, key in enumerate(removals)})
        names.update({f"#q{index}": key for index, key in enumerate(requires)})
        names.update({f"#l{index}": key for index, key in enumerate(lacks)})
        names["#status"] = "status"
        condition = " AND ".join(
            [
                "#status = :current",
                *(f"attribute_exists(#q{i})" for i in range(len(requires))),
                *(f"attribute_not_exists(#l{i})" for i in range(len(lacks))),
            ]
        )
        expression = "SET " + ", ".join(f"#f{index} = :f{index}" for index in range(len(values)))
        if removals:
            expression += " REMOVE " + ", ".join(f"#r{index}" for index in range(len(removals)))
        attribute_values = to_attributes({f":f{index}": value for index, value in enumerate(values.values())})
        attribute_values[":current"] = {"S": current.value}
        if payment_as_read is not None:
            condition += " AND " + PAYMENT_AS_READ
            names.update(PAYMENT_NAMES)
            attribute_values.update(to_attributes(payment_as_read_values(payment_as_read)))
        with transient_errors_as("DynamoDB"):
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key={"orderId": {"S": order_id}},
                    UpdateExpression=expression,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=attribute_values,
                    ReturnValues="ALL_NEW",
                    # A failed condition returns the item it was checked against (no item: no such order), so
                    # the caller needs no read to tell why (DynamoDB API Reference, UpdateItem).
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                if _is_condition_failure(error):
                    found: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
                    return Transition(False, OrderRecord.from_item(from_attributes(found)) if found else None)
                raise
        return Transition(True, OrderRecord.from_item(from_attributes(response["Attributes"])))

    def record_fulfillment(
        self, order_id: str, fulfillment: dict[str, Any], execution_arn: str | None, now: str
    ) -> bool:
        values: dict[str, Any] = {":fulfillment": fulfillment, ":now": now, ":new": OrderStatus.NEW.value}
        expression = "SET fulfillment = :fulfillment, updatedAt = :now"
        if execution_arn:
            values[":arn"] = execution_arn
            expression += ", executionArn = :arn"
        with transient_errors_as("DynamoDB"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"orderId": {"S": order_id}},
                    UpdateExpression=expression,
                    ConditionExpression="#status = :new AND attribute_not_exists(fulfillment)",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=to_attributes(values),
                )
            except ClientError as error:
                if _is_condition_failure(error):
                    return False
                raise
        return True

    def _update_payment(self, order_id: str, condition: str, values: dict[str, Any]) -> bool:
        with transient_errors_as("DynamoDB"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"orderId": {"S": order_id}},
                    UpdateExpression="SET #pay = :payment, updatedAt = :now",
                    ConditionExpression=condition,
                    # DynamoDB refuses names the expressions do not use.
                    ExpressionAttributeNames={
                        key: value
                        for key, value in {"#status": "status", **PAYMENT_NAMES}.items()
                        if key == "#pay" or re.search(f"{key}\\b", condition)
                    },
                    ExpressionAttributeValues=to_attributes(values),
                )
            except ClientError as error:
                if _is_condition_failure(error):
                    return False
                raise
        return True

    def start_payment(self, order_id: str, payment: dict[str, Any], replaced: dict[str, Any] | None, now: str) -> bool:
        values: dict[str, Any] = {":payment": payment, ":now": now, ":new": OrderStatus.NEW.value}
        condition = "#status = :new AND attribute_exists(reservation) AND "
        if replaced is None:
            condition += "attribute_not_exists(#pay)"
        else:
            condition += PAYMENT_AS_READ
            values.update(payment_as_read_values(replaced))
        return self._update_payment(order_id, condition, values)

    def advance_payment(self, order_id: str, payment: dict[str, Any], as_read: dict[str, Any], now: str) -> bool:
        values = {":payment": payment, ":now": now, ":new": OrderStatus.NEW.value, **payment_as_read_values(as_read)}
        return self._update_payment(order_id, "#status = :new AND " + PAYMENT_AS_READ, values)

    def settle_payment(self, order_id: str, payment: dict[str, Any], now: str) -> bool:
        values = {
            ":payment": payment,
            ":now": now,
            ":new": OrderStatus.NEW.value,
            ":payIntent": payment["paymentIntentId"],
            ":pending": "pending",
            ":authorized": "authorized",
            ":captured": "captured",
        }
        condition = (
            "#status <> :new AND #pay.#payIntent = :payIntent AND #pay.#payStatus IN (:pending, :authorized, :captured)"
        )
        return self._update_payment(order_id, condition, values)

    def list_by_status(self, status: OrderStatus, created_before: str | None = None) -> Iterator[OrderRecord]:
        condition = "#status = :status"
        values: dict[str, Any] = {":status": {"S": status.value}}
        if created_before:
            condition += " AND createdAt < :before"
            values[":before"] = {"S": created_before}
        paginator = self._client.get_paginator("query")
        with transient_errors_as("DynamoDB"):
            pages = paginator.paginate(
                TableName=self._table,
                IndexName=STATUS_INDEX_NAME,
                KeyConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
            for page in pages:
                for item in page.get("Items", []):
                    yield OrderRecord.from_item(from_attributes(item))
