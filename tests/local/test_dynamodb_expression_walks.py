"""``moto_tuning.update_expression_traversal_streamlined`` and ``condition_expressions_lexed_once``:
moto answers every expression as it does without them.

Each case runs twice on a fresh moto, with and without the patch (on top of the stack's other
expression patches), and the answers must be the same: the item written, or the error's code and
message. The cases cover what the tuned code decides: which nodes a traverser processes, the one
traverser with a child hook (names on the left of ``SET`` are not resolved against the item), the
clauses ``find_clauses`` finds (one ``SET``/``REMOVE``/``ADD`` clause per expression), and, for the
lexer's cache, one expression string used with other names and values ("UpdateItem", Amazon DynamoDB
API Reference, https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html:
``ConditionExpression`` is evaluated with *this* request's ``ExpressionAttributeNames`` and
``ExpressionAttributeValues``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from snacks.local.moto_tuning import (
    condition_expressions_lexed_once,
    update_expression_copies_unpickled,
    update_expression_traversal_cached,
    update_expression_traversal_streamlined,
    update_expressions_cached,
)
from tests.support.moto_tables import orders_table_client

ITEM: dict[str, Any] = {
    "id": {"S": "a"},
    "status": {"S": "NEW"},
    "tries": {"N": "1"},
    "tags": {"SS": ["x", "y"]},
    "basket": {"L": [{"S": "Pretzels"}]},
    "labels": {"SS": ["p", "q"]},
    "address": {"M": {"city": {"S": "Leeds"}}},
    "pending": {"BOOL": True},
    "note": {"S": "keep"},
}

# (UpdateExpression, ExpressionAttributeNames, ExpressionAttributeValues, ConditionExpression or None)
UPDATES: list[tuple[str, dict[str, str], dict[str, Any], str | None]] = [
    ("SET #s = :s, processedAt = :t REMOVE pending", {"#s": "status"}, {":s": {"S": "PROCESSED"}, ":t": {"S": "now"}},
     None),
    ("SET tries = if_not_exists(tries, :zero) + :one, fresh = if_not_exists(fresh, :zero) + :one", {},
     {":zero": {"N": "0"}, ":one": {"N": "1"}}, None),
    ("SET basket = list_append(basket, :more), address.city = :c, basket[0] = :first", {},
     {":more": {"L": [{"S": "Fries"}]}, ":c": {"S": "York"}, ":first": {"S": "Soup"}}, None),
    ("ADD tries :one, tags :t DELETE labels :gone", {},
     {":one": {"N": "2"}, ":t": {"SS": ["z"]}, ":gone": {"SS": ["p"]}}, None),
    ("SET newer = note, #n = :v", {"#n": "other"}, {":v": {"S": "v"}}, None),  # a name on the left is not read
    ("SET a = :x SET b = :x", {}, {":x": {"S": "x"}}, None),  # two SET clauses: refused
    ("SET a = :x REMOVE note REMOVE pending", {}, {":x": {"S": "x"}}, None),  # two REMOVE clauses: refused
    ("SET note = :x, note = :y", {}, {":x": {"S": "x"}, ":y": {"S": "y"}}, None),  # overlapping paths
    ("SET id = :x", {}, {":x": {"S": "b"}}, None),  # the key cannot be updated
    ("SET tries = tries + :s", {}, {":s": {"S": "one"}}, None),  # type mismatch
    ("SET tries = absent + :one", {}, {":one": {"N": "1"}}, None),  # an operand that does not exist
    ("SET note = :undefined, extra = :x", {}, {":x": {"S": "x"}}, None),  # a value the request does not define
    ("SET #s = :s", {"#s": "status"}, {":s": {"S": "PROCESSED"}, ":new": {"S": "NEW"}},
     "#s = :new AND attribute_not_exists(fulfillment) AND size(basket) >= :one"),  # :one undefined
    ("SET #s = :s", {"#s": "status"}, {":s": {"S": "PROCESSED"}, ":new": {"S": "NEW"}, ":one": {"N": "1"}},
     "#s = :new AND attribute_not_exists(fulfillment) AND size(basket) >= :one"),
    ("SET #s = :s", {"#s": "status"}, {":s": {"S": "PROCESSED"}, ":new": {"S": "OLD"}},
     "#s = :new OR (begins_with(note, :k) AND NOT attribute_exists(gone))"),  # :k undefined
    ("SET #s = :s", {"#s": "status"}, {":s": {"S": "PROCESSED"}, ":new": {"S": "OLD"}, ":k": {"S": "ke"}},
     "#s = :new OR (begins_with(note, :k) AND NOT attribute_exists(gone))"),
    ("SET #s = :s", {"#s": "status"}, {":s": {"S": "PROCESSED"}, ":new": {"S": "OLD"}, ":k": {"S": "no"}},
     "#s = :new OR (begins_with(note, :k) AND NOT attribute_exists(gone))"),  # fails: ConditionalCheckFailed
    ("SET #s = :s", {"#s": "status"},
     {":s": {"S": "PROCESSED"}, ":k": {"S": "ke"}, ":lo": {"N": "0"}, ":hi": {"N": "5"}},
     "#s IN (:s, :k) OR tries BETWEEN :lo AND :hi"),
    ("SET #s = :s", {"#s": "status"}, {":s": {"S": "PROCESSED"}}, "#s = = :s"),  # does not parse
    ("SET #s = :s", {"#s": "status"}, {":s": {"S": "PROCESSED"}}, "#s = :s ~ x"),  # does not lex
]  # fmt: skip


def _answers(patch: Callable[[], AbstractContextManager[None]] | None) -> list[Any]:
    with ExitStack() as stack:
        stack.enter_context(mock_aws())
        stack.enter_context(update_expressions_cached())
        stack.enter_context(update_expression_traversal_cached())
        stack.enter_context(update_expression_copies_unpickled())
        if patch is not None:
            stack.enter_context(patch())
        client = orders_table_client()
        answers: list[Any] = []
        for _ in range(2):  # the second round meets every cache warm
            for expression, names, values, condition in UPDATES:
                client.put_item(TableName="orders", Item=ITEM)
                call: dict[str, Any] = {"UpdateExpression": expression, "ExpressionAttributeValues": values}
                call |= {"ExpressionAttributeNames": names} if names else {}
                call |= {"ConditionExpression": condition} if condition else {}
                try:
                    key = {"id": {"S": "a"}}
                    answer = client.update_item(TableName="orders", Key=key, ReturnValues="ALL_NEW", **call)
                    answers.append(("ok", answer["Attributes"]))
                except ClientError as error:
                    refused = error.response["Error"]
                    answers.append(("error", refused.get("Code"), refused.get("Message")))
                except (KeyError, ValueError) as error:  # moto's own exceptions for some undefined names and values
                    answers.append(("raised", type(error).__name__, str(error)))
        return answers


@pytest.fixture(scope="module")
def unpatched() -> list[Any]:
    return _answers(None)


@pytest.mark.parametrize("patch", [update_expression_traversal_streamlined, condition_expressions_lexed_once])
def test_every_update_and_condition_is_answered_as_moto_answers_it(
    patch: Callable[[], AbstractContextManager[None]], unpatched: list[Any]
) -> None:
    tuned = _answers(patch)
    cases = [case[0] + (f" IF {case[3]}" if case[3] else "") for case in UPDATES] * 2
    differing = [(case, want, got) for case, want, got in zip(cases, unpatched, tuned, strict=True) if want != got]
    assert not differing, differing
    assert sum(answer[0] == "ok" for answer in unpatched) >= 8 * 2, "the cases must include updates that apply"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws(), condition_expressions_lexed_once():
        client = orders_table_client()
        client.put_item(TableName="orders", Item={"id": {"S": "a"}, "status": {"S": "NEW"}, "stage": {"S": "PAID"}})
        yield client


def _holds(client: Any, names: dict[str, str], value: str) -> bool:
    try:
        client.update_item(
            TableName="orders",
            Key={"id": {"S": "a"}},
            UpdateExpression="SET checked = :v",
            ConditionExpression="#field = :v",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":v": {"S": value}},
        )
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
        return False
    return True


def test_one_condition_string_is_checked_with_each_requests_own_names_and_values(dynamodb: Any) -> None:
    assert _holds(dynamodb, {"#field": "status"}, "NEW")
    assert not _holds(dynamodb, {"#field": "status"}, "PAID"), "the first request's value leaked into the second"
    assert _holds(dynamodb, {"#field": "stage"}, "PAID")
    assert not _holds(dynamodb, {"#field": "stage"}, "NEW"), "the first request's name leaked into the second"
