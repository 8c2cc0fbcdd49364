"""The WebSocket connections table behind ``ConnectionRegistry``.

Two items per connection, written together: ``(order#<id>, connection#<cid>)`` so a push finds an
order's connections with one strongly consistent Query (a GSI would be eventually consistent: a
client connecting just before a change could miss it), and ``(connection#<cid>, order)`` so
``$disconnect``, which carries only the connection id, finds what to delete. Both expire by TTL after
API Gateway's longest connection life, so a disconnect that never arrives leaks nothing for long.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from order_service.adapters.aws_errors import transient_errors_as

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expiresAt"
# API Gateway WebSocket quotas: "Connection duration for WebSocket API" is 2 hours
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html); an hour of slack.
CONNECTION_LIFETIME_SECONDS = 3 * 3600
_ORDER = "order#"
_CONNECTION = "connection#"
_ORDER_OF = "order"


class DynamoDbConnectionRegistry:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def add(self, connection_id: str, order_id: str, connected_at: int) -> None:
        expires = str(connected_at + CONNECTION_LIFETIME_SECONDS)
        items = (
            {PARTITION_KEY: {"S": _ORDER + order_id}, SORT_KEY: {"S": _CONNECTION + connection_id}},
            {PARTITION_KEY: {"S": _CONNECTION + connection_id}, SORT_KEY: {"S": _ORDER_OF}, "orderId": {"S": order_id}},
        )
        with transient_errors_as("DynamoDB"):
            self._client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": {**item, TTL_ATTRIBUTE: {"N": expires}}}}
                    for item in items
                ]
            )

    def order_of(self, connection_id: str) -> str | None:
        with transient_errors_as("DynamoDB"):
            item = self._client.get_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": _CONNECTION + connection_id}, SORT_KEY: {"S": _ORDER_OF}},
                ConsistentRead=True,
            ).get("Item")
        return item["orderId"]["S"] if item else None

    def remove(self, connection_id: str, order_id: str | None = None) -> None:
        order_id = order_id or self.order_of(connection_id)
        keys = [{PARTITION_KEY: {"S": _CONNECTION + connection_id}, SORT_KEY: {"S": _ORDER_OF}}]
        if order_id:
            keys.append({PARTITION_KEY: {"S": _ORDER + order_id}, SORT_KEY: {"S": _CONNECTION + connection_id}})
        with transient_errors_as("DynamoDB"):
            for key in keys:  # DeleteItem of a missing item succeeds: removing twice is harmless
                self._client.delete_item(TableName=self._table, Key=key)

    def connections_of(self, order_id: str) -> Iterator[str]:
        paginator = self._client.get_paginator("query")
        with transient_errors_as("DynamoDB"):
            pages = paginator.paginate(
                TableName=self._table,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": PARTITION_KEY},
                ExpressionAttributeValues={":pk": {"S": _ORDER + order_id}},
                ConsistentRead=True,
            )
            for page in pages:
                for item in page.get("Items", []):
                    yield item[SORT_KEY]["S"].removeprefix(_CONNECTION)
