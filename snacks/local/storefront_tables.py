"""The storefront's connections table on the local stack, as the CDK construct defines it."""

from __future__ import annotations

from typing import Any

from stacks import definitions
from stacks import storefront_definitions as sf


def create_connections_table(dynamodb: Any, names: definitions.ResourceNames = definitions.NAMES) -> str:
    table = sf.storefront_names(names).connections_table
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": sf.CONNECTIONS_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": sf.CONNECTIONS_SORT_KEY, "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": sf.CONNECTIONS_PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": sf.CONNECTIONS_SORT_KEY, "KeyType": "RANGE"},
        ],
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
    )
    dynamodb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    dynamodb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": sf.CONNECTIONS_TTL_ATTRIBUTE},
    )
    return table
