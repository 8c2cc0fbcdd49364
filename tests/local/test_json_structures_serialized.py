"""``moto_tuning.json_structures_serialized_from_present_keys``: the same answers, byte for byte.

The patch only changes how moto's serializer finds a structure's members on a ``dict`` (from the
keys present, not by looking every member up), so every answer must be what moto gives without it:
the raw body of each call is compared, for the operations the pipeline makes (DynamoDB items with
nested maps, lists, numbers, binary and null values; EventBridge; Step Functions) and for answers
built from moto's model objects and with timestamps (DescribeTable).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import boto3
from moto import mock_aws

from snacks.local.moto_tuning import attribute_aliases_cached, json_structures_serialized_from_present_keys

Item = dict[str, Any]
ITEM: Item = {
    "pk": {"S": "order#1"},
    "count": {"N": "3"},
    "price": {"N": "2.50"},
    "blob": {"B": b"\x00\x01binary"},
    "flag": {"BOOL": False},
    "nothing": {"NULL": True},
    "tags": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2"]},
    "lines": {"L": [{"M": {"name": {"S": "Pretzels"}, "quantity": {"N": "1"}}}, {"S": "x"}]},
    "fulfillment": {"M": {"reserved": {"BOOL": True}, "at": {"S": "2026-01-01T00:00:00Z"}, "empty": {"M": {}}}},
}


def _bodies(patched: bool) -> list[str]:
    """The raw JSON body of each answer, in order (volatile values masked)."""
    bodies: list[str] = []
    with ExitStack() as stack:
        stack.enter_context(mock_aws())
        stack.enter_context(attribute_aliases_cached())
        if patched:
            stack.enter_context(json_structures_serialized_from_present_keys())

        def client(service: str) -> Any:
            made = boto3.client(service, region_name="us-east-1")  # type: ignore[call-overload]
            made.meta.events.register("after-call", lambda http_response, **_: bodies.append(_masked(http_response)))
            return made

        _calls(client)
    return bodies


def _masked(response: Any) -> str:
    text = str(response.content.decode("utf-8"))
    try:
        body = json.loads(text)
    except ValueError:
        return text
    return json.dumps(_mask(body))


def _mask(value: Any) -> Any:
    volatile = {"CreationDateTime", "CreationTime", "LastModifiedTime", "creationDate", "EventId"}
    if isinstance(value, dict):
        return {k: ("<t>" if k in volatile else _mask(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _calls(client: Callable[[str], Any]) -> None:
    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.describe_table(TableName="orders")
    dynamodb.put_item(TableName="orders", Item=ITEM, ReturnConsumedCapacity="TOTAL")
    dynamodb.get_item(TableName="orders", Key={"pk": {"S": "order#1"}})
    dynamodb.get_item(TableName="orders", Key={"pk": {"S": "missing"}})
    dynamodb.update_item(
        TableName="orders",
        Key={"pk": {"S": "order#1"}},
        UpdateExpression="SET #s = :s ADD #c :one",
        ExpressionAttributeNames={"#s": "status", "#c": "count"},
        ExpressionAttributeValues={":s": {"S": "PROCESSED"}, ":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": "orders", "Key": {"pk": {"S": "order#1"}}}}])
    dynamodb.scan(TableName="orders")
    events = client("events")
    events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": json.dumps({"orderId": "1"})}])
    events.describe_event_bus()
    states = client("stepfunctions")
    machine = states.create_state_machine(
        name="m",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/r",
    )["stateMachineArn"]
    states.describe_state_machine(stateMachineArn=machine)
    states.list_state_machines()


def test_every_answer_is_the_same_with_and_without_the_patch() -> None:
    unpatched, patched = _bodies(patched=False), _bodies(patched=True)
    assert len(patched) == len(unpatched) == 13
    for before, after in zip(unpatched, patched, strict=True):
        assert after == before


def test_the_items_come_back_whole() -> None:
    with mock_aws(), attribute_aliases_cached(), json_structures_serialized_from_present_keys():
        bodies: list[str] = []

        def client(service: str) -> Any:
            made = boto3.client(service, region_name="us-east-1")  # type: ignore[call-overload]
            made.meta.events.register("after-call", lambda http_response, **_: bodies.append(_masked(http_response)))
            return made

        _calls(client)
        got = boto3.client("dynamodb", region_name="us-east-1").get_item(
            TableName="orders", Key={"pk": {"S": "order#1"}}
        )["Item"]
    assert got["lines"] == ITEM["lines"]
    assert got["fulfillment"] == ITEM["fulfillment"]
    assert got["blob"] == ITEM["blob"]
    assert got["nothing"] == {"NULL": True}
    assert got["status"] == {"S": "PROCESSED"}
