"""TransactWriteItems without copying whole tables: moto's rollback, item by item.

moto backs a transaction up by deep-copying every table it touches and restores the copy if any
action fails. Every order's reservation is a transaction touching ``Orders``, so each one copied
the whole table: O(orders) per order, quadratic over a soak. DynamoDB's contract is only that the
transaction's own items change together or not at all ("TransactWriteItems", Amazon DynamoDB API
Reference), so a backup of just those items gives the same result. Safe because the local stack
serialises DynamoDB calls (``moto_tuning.atomic_dynamodb``): no other write runs meanwhile.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from snacks.local.moto_tuning import patched


class _NoTableCopy:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend while a transaction runs."""

    @staticmethod
    def deepcopy(value: Any) -> Any:
        return value  # the "backup" is the live table; restoring it is a no-op, the items are restored below


def _key_of(table: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


@contextmanager
def item_level_transaction_rollback() -> Iterator[None]:
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backup: list[tuple[Any, DynamoType, DynamoType | None, Any]] = []
        for entry in transact_items:
            if len(entry) != 1:
                continue  # moto refuses it (TransactWriteSingleOpException) before writing anything
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName", ""))
            if table is None or op_type not in ("Put", "Update", "Delete", "ConditionCheck"):
                continue
            key = _key_of(table, op_type, op)
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            backup.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
        with patched(models, "copy", _NoTableCopy):
            try:
                original(self, transact_items)
            except Exception:
                for table, hash_value, range_value, item in reversed(backup):
                    if item is None:
                        table.delete_item(hash_value, range_value)
                    elif range_value is not None:
                        table.items[hash_value][range_value] = item
                    else:
                        table.items[hash_value] = item
                raise

    with patched(DynamoDBBackend, "transact_write_items", transact_write_items):
        yield
