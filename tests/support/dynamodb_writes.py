"""Every write that reached moto's DynamoDB, recorded at the backend: side effects seen from the outside.

A test that counts what the code *says* it did (its own return flags) cannot notice the code
doing it twice. This recorder sits behind the API, at moto's backend, so it sees each write that
DynamoDB accepted, from any client (the handlers in-process, boto3 or the CLI over HTTP); a write
refused by its condition raises there and is not recorded.
"""

from __future__ import annotations

import inspect
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest.mock import patch

_ASSIGNED = re.compile(r"([#\w.]+)\s*=")
_CLAUSE = re.compile(r"\b(SET|REMOVE|ADD|DELETE)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Write:
    table: str
    key: str  # the item's partition key value
    action: str  # PutItem | UpdateItem
    attributes: frozenset[str]  # attributes the write set (all of them for a PutItem)
    status: str | None  # the item's ``status`` after the write

    def sets(self, attribute: str) -> bool:
        return attribute in self.attributes


def assigned_attributes(update_expression: str, names: dict[str, str] | None) -> frozenset[str]:
    """Attribute names a ``SET`` clause assigns, with ``#placeholders`` resolved."""
    parts = _CLAUSE.split(update_expression)
    assigned: set[str] = set()
    for keyword, clause in zip(parts[1::2], parts[2::2], strict=True):
        if keyword.upper() == "SET":
            assigned.update((names or {}).get(token, token) for token in _ASSIGNED.findall(clause))
    return frozenset(assigned)


class WriteRecorder:
    def __init__(self, key_attribute: str) -> None:
        self.key_attribute = key_attribute
        self._lock = threading.Lock()
        self._writes: list[Write] = []

    @property
    def writes(self) -> list[Write]:
        with self._lock:
            return list(self._writes)

    def _record(self, write: Write) -> None:
        with self._lock:
            self._writes.append(write)

    def _status_of(self, item: Any) -> str | None:
        status = getattr(item, "attrs", {}).get("status")
        return None if status is None else str(status.value)


@contextmanager
def recorded_writes(key_attribute: str = "orderId") -> Iterator[WriteRecorder]:
    """Record each accepted PutItem and UpdateItem of moto's DynamoDB backend while the block runs."""
    from moto.dynamodb.models import DynamoDBBackend

    recorder = WriteRecorder(key_attribute)
    real_put, real_update = DynamoDBBackend.put_item, DynamoDBBackend.update_item
    put_signature, update_signature = inspect.signature(real_put), inspect.signature(real_update)

    def put_item(backend: Any, *args: Any, **kwargs: Any) -> Any:
        item = real_put(backend, *args, **kwargs)  # raises on a failed condition: nothing recorded
        call = put_signature.bind(backend, *args, **kwargs).arguments
        attributes = call["item_attrs"]
        key = next(iter(attributes.get(key_attribute, {}).values()), "")
        recorder._record(
            Write(call["table_name"], str(key), "PutItem", frozenset(attributes), recorder._status_of(item))
        )
        return item

    def update_item(backend: Any, *args: Any, **kwargs: Any) -> Any:
        item = real_update(backend, *args, **kwargs)
        call = update_signature.bind(backend, *args, **kwargs).arguments
        key = next(iter(call["key"].get(key_attribute, {}).values()), "")
        assigned = assigned_attributes(call.get("update_expression") or "", call.get("expression_attribute_names"))
        recorder._record(Write(call["table_name"], str(key), "UpdateItem", assigned, recorder._status_of(item)))
        return item

    with patch.object(DynamoDBBackend, "put_item", put_item), patch.object(DynamoDBBackend, "update_item", update_item):
        yield recorder
