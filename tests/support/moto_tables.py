"""A one-key DynamoDB table in moto, for tests of the local stack's DynamoDB patches."""

from __future__ import annotations

from typing import Any

import boto3


def orders_table_client(table: str = "orders") -> Any:
    """A client with ``table`` created (key ``id``, on demand); call inside ``mock_aws()``."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client
