"""The ``Orders`` table behind the ``OrderRepository`` port (low-level client: lighter cold start)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from order_service.adapters.aws_errors import error_code, transient_errors_as
from order_service.domain.order import OrderRecord, OrderStatus
from order_service.domain.ports import OrderAlreadyExists

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
    ) -> OrderRecord | None:
        values = {"status": target.value, "updatedAt": now, **(updates or {})}
        names = {f"#f{index}": key for index, key in enumerate(values)}
        names.update({f"#r{index}": key for index, key in enumerate(removals)})
        names.update({f"#q{index}": key for index, key in enumerate(requires)})
        names["#status"] = "status"
        condition = " AND ".join(["#status = :current", *(f"attribute_exists(#q{i})" for i in range(len(requires)))])
        expression = "SET " + ", ".join(f"#f{index} = :f{index}" for index in range(len(values)))
        if removals:
            expression += " REMOVE " + ", ".join(f"#r{index}" for index in range(len(removals)))
        attribute_values = to_attributes({f":f{index}": value for index, value in enumerate(values.values())})
        attribute_values[":current"] = {"S": current.value}
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
                )
            except ClientError as error:
                if _is_condition_failure(error):
                    return None
                raise
        return OrderRecord.from_item(from_attributes(response["Attributes"]))

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
