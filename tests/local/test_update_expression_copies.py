"""``moto_tuning.update_expression_copies_unpickled``: each UpdateItem still gets its own copy of the tree.

With ``update_expressions_cached`` one parsed tree serves every call with the same expression;
moto's Validator fills a copy of it with the call's values. If the copy were not independent, a
second call would write the first call's values ("UpdateItem", Amazon DynamoDB API Reference:
the item gets the values of *this* request's ExpressionAttributeValues).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from moto import mock_aws

from snacks.local.moto_tuning import update_expression_copies_unpickled, update_expressions_cached
from tests.support.moto_tables import orders_table_client

EXPRESSION = "SET #s = :status, fulfillment = :f, tries = if_not_exists(tries, :zero) + :one REMOVE pending"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with ExitStack() as stack:
        stack.enter_context(mock_aws())
        stack.enter_context(update_expressions_cached())
        stack.enter_context(update_expression_copies_unpickled())
        client = orders_table_client()
        yield client


def _update(client: Any, key: str, status: str, line: str) -> dict[str, Any]:
    client.put_item(TableName="orders", Item={"id": {"S": key}, "pending": {"BOOL": True}})
    client.update_item(
        TableName="orders",
        Key={"id": {"S": key}},
        UpdateExpression=EXPRESSION,
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":status": {"S": status},
            ":f": {"M": {"line": {"S": line}}},
            ":zero": {"N": "0"},
            ":one": {"N": "1"},
        },
    )
    item: dict[str, Any] = client.get_item(TableName="orders", Key={"id": {"S": key}})["Item"]
    return item


def test_each_update_writes_its_own_values_through_the_shared_tree(dynamodb: Any) -> None:
    first = _update(dynamodb, "a", "PROCESSED", "Pretzels")
    second = _update(dynamodb, "b", "REJECTED", "Fries")
    third = _update(dynamodb, "a", "CANCELLED", "Donut")
    assert first == {
        "id": {"S": "a"},
        "status": {"S": "PROCESSED"},
        "fulfillment": {"M": {"line": {"S": "Pretzels"}}},
        "tries": {"N": "1"},
    }
    assert (second["status"], second["fulfillment"]) == ({"S": "REJECTED"}, {"M": {"line": {"S": "Fries"}}})
    assert (third["status"], third["fulfillment"]) == ({"S": "CANCELLED"}, {"M": {"line": {"S": "Donut"}}})


def test_a_copy_is_a_new_tree_equal_to_a_deepcopy() -> None:
    import copy

    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    tree = UpdateExpressionParser.make(EXPRESSION)
    with update_expression_copies_unpickled():
        copied = validators.deepcopy(tree)
        again = validators.deepcopy(tree)
        other = validators.deepcopy({"not": ["a tree"]})
    assert copied is not tree and again is not copied
    assert _shape(copied) == _shape(copy.deepcopy(tree)) == _shape(tree)
    assert not {id(node) for node in _nodes(copied)} & {id(node) for node in _nodes(tree)}  # nothing shared
    assert other == {"not": ["a tree"]}


def _nodes(root: Any) -> list[Any]:
    """Every object of the tree (node, list, dict), each once, depth first."""
    seen: set[int] = set()
    found: list[Any] = []
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen or isinstance(node, str | int | float | bool | type(None)):
            continue
        seen.add(id(node))
        found.append(node)
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list | tuple) else []
        pending.extend(reversed(list(children) + list(getattr(node, "__dict__", {}).values())))
    return found


def _shape(root: Any) -> list[tuple[str, list[Any]]]:
    """The tree's types and scalar values in order: equal for equal trees, whatever their ids."""
    scalars = (str, int, float, bool, type(None))
    return [
        (type(node).__name__, [v for v in getattr(node, "__dict__", {}).values() if isinstance(v, scalars)])
        for node in _nodes(root)
    ]
