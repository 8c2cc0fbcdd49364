"""JSON for the outside world: Decimal money leaves as a JSON number, never as a float artefact."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Convert Decimals (as DynamoDB and our models hold them) into exact JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(to_jsonable(value), separators=(",", ":"), ensure_ascii=False)
