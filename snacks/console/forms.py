"""The create-order form: form fields -> the creator's JSON payload, and its errors -> form fields.

The form does no validation of its own: the order-creator's field-level answer is the one truth,
shown next to the field it names. Text is only turned into the JSON types the creator expects
when it plainly is one (a whole number for a quantity, a decimal for money), so anything else
reaches the creator as text and comes back as that field's error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

ITEM_ROWS = 5
_WHOLE = re.compile(r"^[+-]?\d{1,12}$")
_FIELD = re.compile(r"^snackItems\[(\d+)\]\.(\w+)$")


@dataclass
class OrderForm:
    customer: str = ""
    items: list[dict[str, str]] = field(default_factory=lambda: [_blank_row() for _ in range(ITEM_ROWS)])
    total: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)  # form field name -> problems

    def error(self, name: str) -> list[str]:
        return self.errors.get(name, [])


def _blank_row() -> dict[str, str]:
    return {"name": "", "quantity": "", "price": ""}


def read_form(form: Mapping[str, str]) -> OrderForm:
    rows = [
        {key: str(form.get(f"item-{index}-{key}", "")).strip() for key in ("name", "quantity", "price")}
        for index in range(ITEM_ROWS)
    ]
    return OrderForm(str(form.get("customerName", "")), rows, str(form.get("totalAmount", "")).strip())


def payload_of(order: OrderForm) -> tuple[dict[str, Any], list[int]]:
    """The payload, and for each of its items the form row it came from (blank rows are skipped)."""
    filled = [index for index, row in enumerate(order.items) if any(row.values())]
    items = [
        {
            "name": order.items[index]["name"],
            "quantity": _number(order.items[index]["quantity"], whole=True),
            "price": _number(order.items[index]["price"]),
        }
        for index in filled
    ]
    payload: dict[str, Any] = {"customerName": order.customer, "snackItems": items}
    if order.total:
        payload["totalAmount"] = _number(order.total)
    else:
        computed = _computed_total(items)
        if computed is not None:
            payload["totalAmount"] = computed
    return payload, filled


def attach_errors(order: OrderForm, details: list[dict[str, Any]], rows: list[int]) -> None:
    """Put each of the creator's ``{field, problem}`` next to the form field it is about."""
    for detail in details:
        name = str(detail.get("field", ""))
        problem = str(detail.get("problem", ""))
        match = _FIELD.match(name)
        if match and int(match.group(1)) < len(rows):
            key = f"item-{rows[int(match.group(1))]}-{match.group(2)}"
        elif name.startswith("snackItems"):
            key = "snackItems"
        elif name in ("customerName", "totalAmount"):
            key = name
        else:
            key = "form"
        order.errors.setdefault(key, []).append(problem if key != "form" else f"{name}: {problem}")


def _number(text: str, whole: bool = False) -> Any:
    if whole and _WHOLE.match(text):
        return int(text)
    if not whole:
        try:
            number = Decimal(text)
        except InvalidOperation:
            return text
        if number.is_finite():
            return float(number)  # JSON has no decimal type; the creator reads floats exactly (via repr)
    return text


def _computed_total(items: list[dict[str, Any]]) -> float | None:
    total = Decimal("0")
    for item in items:
        if not isinstance(item["quantity"], int) or not isinstance(item["price"], float):
            return None
        total += Decimal(repr(item["price"])) * item["quantity"]
    return float(total) if items else None
