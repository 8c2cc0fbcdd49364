"""The local stack's item-level rollback of TransactWriteItems keeps DynamoDB's contract: the actions
of one transaction succeed or fail together, a failed condition cancels all of them and nothing is
written ("TransactWriteItems", Amazon DynamoDB API Reference,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html), and it
never copies the tables (moto's own backup deep-copied each touched table per transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from snacks.local.dynamodb_transactions import item_level_transaction_rollback


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws(), item_level_transaction_rollback():
        client = boto3.session.Session(region_name="us-east-1").client("dynamodb")
        for name in ("Stock", "Orders"):
            client.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            )
        client.put_item(TableName="Stock", Item={"id": {"S": "a"}, "n": {"N": "5"}})
        client.put_item(TableName="Stock", Item={"id": {"S": "b"}, "n": {"N": "1"}})
        client.put_item(TableName="Orders", Item={"id": {"S": "other"}, "status": {"S": "NEW"}})
        yield client


def take(table: str, key: str, units: int) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table,
            "Key": {"id": {"S": key}},
            "UpdateExpression": "SET n = n - :u",
            "ConditionExpression": "n >= :u",
            "ExpressionAttributeValues": {":u": {"N": str(units)}},
        }
    }


def level(dynamodb: Any, key: str) -> int:
    return int(dynamodb.get_item(TableName="Stock", Key={"id": {"S": key}})["Item"]["n"]["N"])


def test_a_cancelled_transaction_restores_every_item_it_touched(dynamodb: Any) -> None:
    new_order = {"Put": {"TableName": "Orders", "Item": {"id": {"S": "o-1"}}}}
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[take("Stock", "a", 2), new_order, take("Stock", "b", 2)])

    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert (level(dynamodb, "a"), level(dynamodb, "b")) == (5, 1)
    assert "Item" not in dynamodb.get_item(TableName="Orders", Key={"id": {"S": "o-1"}})
    assert dynamodb.get_item(TableName="Orders", Key={"id": {"S": "other"}})["Item"]["status"]["S"] == "NEW"


def test_a_transaction_that_passes_writes_all_of_it(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=[take("Stock", "a", 2), take("Stock", "b", 1)])
    assert (level(dynamodb, "a"), level(dynamodb, "b")) == (3, 0)


def test_no_table_is_copied(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models.table import Table

    copied: list[str] = []
    monkeypatch.setattr(Table, "__deepcopy__", lambda table, memo: copied.append(table.name), raising=False)
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=[take("Stock", "a", 2), take("Stock", "b", 2)])
    assert copied == []
