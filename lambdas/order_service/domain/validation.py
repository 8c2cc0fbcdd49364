"""Strict validation of an input order.

Every rule has a limit and every violation becomes a ``FieldProblem`` naming the field, so a
caller learns everything that is wrong in one round trip. Money is ``Decimal`` from the first
moment: floats handed over by the Lambda runtime are converted through their shortest repr
(``3.99`` -> ``Decimal("3.99")``), and JSON text is parsed with ``parse_float=Decimal``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from order_service.domain.errors import FieldProblem, OrderValidationError, PayloadTooLargeError
from order_service.domain.order import CENT, MAX_ITEMS, OrderRequest, SnackItem, items_total
from order_service.domain.payment import CURRENCY, MINIMUM_CHARGE

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_JSON_DEPTH = 16
MAX_NUMBER_DIGITS = 20
MAX_REPORTED_PROBLEMS = 25

CUSTOMER_NAME_MAX_CHARS = 100
ITEM_NAME_MAX_CHARS = 100
MAX_QUANTITY = 1000
MIN_PRICE = Decimal("0.01")
MAX_PRICE = Decimal("10000.00")
MAX_TOTAL = Decimal("100000.00")
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

# A Stripe PaymentMethod id (``pm_...``), e.g. the test ids ``pm_card_visa`` and ``pm_card_chargeDeclined``.
PAYMENT_METHOD_PATTERN = re.compile(r"pm_[A-Za-z0-9_]{1,96}")

ORDER_FIELDS = frozenset({"customerName", "snackItems", "totalAmount", "idempotencyKey", "paymentMethod"})
ITEM_FIELDS = frozenset({"name", "quantity", "price"})


class _Problems:
    """Collects problems; reports at most ``MAX_REPORTED_PROBLEMS`` plus a count of the rest."""

    def __init__(self) -> None:
        self.items: list[FieldProblem] = []

    def add(self, field: str, problem: str) -> None:
        self.items.append(FieldProblem(field, problem))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        reported = self.items[:MAX_REPORTED_PROBLEMS]
        hidden = len(self.items) - len(reported)
        if hidden:
            reported.append(FieldProblem("$", f"{hidden} more problem(s) not listed"))
        raise OrderValidationError(reported)


class _RejectedJson(ValueError):
    """A JSON literal our orders never contain (NaN, Infinity, huge numbers, duplicate keys)."""


def _reject_constant(name: str) -> Any:
    raise _RejectedJson(f"{name} is not a number an order may contain")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _RejectedJson(f"number {text[:24]}... has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _parse_decimal(text: str) -> Decimal:
    if len(text) > MAX_NUMBER_DIGITS + 8:
        raise _RejectedJson(f"number {text[:24]}... is too long")
    return Decimal(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _RejectedJson(f"duplicate field {key!r}")
        result[key] = value
    return result


def _json_depth_exceeds(text: str, limit: int) -> bool:
    """Cheap pre-scan so that hostile nesting never reaches the recursive parser."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def decode_payload(payload: object) -> dict[str, Any]:
    """Turn what the Lambda runtime hands us into a JSON object, or raise a field-level error.

    A direct ``aws lambda invoke`` arrives as a dict; a JSON document arriving as text (a
    double-encoded payload, a queue message, a test) is parsed strictly here.
    """
    if isinstance(payload, (bytes, bytearray)):
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise PayloadTooLargeError(f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as error:
            raise OrderValidationError(
                [FieldProblem("$", f"payload is not valid UTF-8 (byte {error.start})")]
            ) from None
    if isinstance(payload, str):
        if len(payload.encode("utf-8", "surrogatepass")) > MAX_PAYLOAD_BYTES:
            raise PayloadTooLargeError(f"payload is larger than {MAX_PAYLOAD_BYTES} bytes")
        if _json_depth_exceeds(payload, MAX_JSON_DEPTH):
            raise OrderValidationError([FieldProblem("$", f"JSON is nested deeper than {MAX_JSON_DEPTH} levels")])
        try:
            payload = json.loads(
                payload,
                parse_float=_parse_decimal,
                parse_int=_parse_int,
                parse_constant=_reject_constant,
                object_pairs_hook=_unique_keys,
            )
        except _RejectedJson as error:
            raise OrderValidationError([FieldProblem("$", str(error))]) from None
        except ValueError as error:
            raise OrderValidationError([FieldProblem("$", f"payload is not valid JSON: {error}")]) from None
    if not isinstance(payload, dict):
        raise OrderValidationError([FieldProblem("$", f"the order must be a JSON object, not {_json_type(payload)}")])
    return payload


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _text(value: object, field: str, max_chars: int, problems: _Problems) -> str | None:
    if not isinstance(value, str):
        problems.add(field, f"must be a string, not {_json_type(value)}")
        return None
    if len(value) > max_chars * 4:  # cheap bound before any per-character work
        problems.add(field, f"must be at most {max_chars} characters")
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        problems.add(field, "must be valid Unicode text (it contains an unpaired surrogate)")
        return None
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        problems.add(field, "must not be empty")
        return None
    if len(text) > max_chars:
        problems.add(field, f"must be at most {max_chars} characters (got {len(text)})")
        return None
    if any(unicodedata.category(char) == "Cc" for char in text):
        problems.add(field, "must not contain control characters")
        return None
    return text


def _as_decimal(value: object, field: str, problems: _Problems) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        problems.add(field, f"must be a number, not {_json_type(value)}")
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        problems.add(field, "must be a number")
        return None
    if not number.is_finite():
        problems.add(field, "must be a finite number")
        return None
    return number


def _money(value: object, field: str, minimum: Decimal, maximum: Decimal, problems: _Problems) -> Decimal | None:
    number = _as_decimal(value, field, problems)
    if number is None:
        return None
    if number < minimum or number > maximum or number.is_signed():
        problems.add(field, f"must be between {minimum} and {maximum}")
        return None
    if number != number.quantize(CENT):
        problems.add(field, "must have at most 2 decimal places")
        return None
    return number.quantize(CENT)


def _quantity(value: object, field: str, problems: _Problems) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(field, f"must be a whole number, not {_json_type(value)}")
        return None
    if not 1 <= value <= MAX_QUANTITY:
        problems.add(field, f"must be between 1 and {MAX_QUANTITY}")
        return None
    return value


def _unknown_fields(payload: dict[str, Any], allowed: frozenset[str], prefix: str, problems: _Problems) -> None:
    for key in payload:
        if key not in allowed:
            shown = key if isinstance(key, str) and len(key) <= 64 else f"{str(key)[:64]}..."
            problems.add(f"{prefix}{shown}", "is not a known field")


def _snack_item(value: object, field: str, problems: _Problems) -> SnackItem | None:
    if not isinstance(value, dict):
        problems.add(field, f"must be an object with name, quantity and price, not {_json_type(value)}")
        return None
    _unknown_fields(value, ITEM_FIELDS, f"{field}.", problems)
    for required in sorted(ITEM_FIELDS - value.keys()):
        problems.add(f"{field}.{required}", "is required")
    name = _text(value["name"], f"{field}.name", ITEM_NAME_MAX_CHARS, problems) if "name" in value else None
    quantity = _quantity(value["quantity"], f"{field}.quantity", problems) if "quantity" in value else None
    price = _money(value["price"], f"{field}.price", MIN_PRICE, MAX_PRICE, problems) if "price" in value else None
    if name is None or quantity is None or price is None:
        return None
    return SnackItem(name=name, quantity=quantity, price=price)


def validate_order(payload: object) -> OrderRequest:
    """Validate an input order and return it typed, or raise ``OrderValidationError``."""
    order = decode_payload(payload)
    problems = _Problems()
    _unknown_fields(order, ORDER_FIELDS, "", problems)
    for required in ("customerName", "snackItems", "totalAmount"):
        if required not in order:
            problems.add(required, "is required")

    customer_name = (
        _text(order["customerName"], "customerName", CUSTOMER_NAME_MAX_CHARS, problems)
        if "customerName" in order
        else None
    )

    items: list[SnackItem] | None = None
    raw_items = order.get("snackItems")
    if "snackItems" in order:
        if not isinstance(raw_items, list):
            problems.add("snackItems", f"must be an array, not {_json_type(raw_items)}")
        elif not 1 <= len(raw_items) <= MAX_ITEMS:
            problems.add("snackItems", f"must hold between 1 and {MAX_ITEMS} items (got {len(raw_items)})")
        else:
            parsed = [_snack_item(raw, f"snackItems[{index}]", problems) for index, raw in enumerate(raw_items)]
            items = [item for item in parsed if item is not None] if all(parsed) else None

    total = (
        _money(order["totalAmount"], "totalAmount", MIN_PRICE, MAX_TOTAL, problems) if "totalAmount" in order else None
    )
    if total is not None and items is not None:
        expected = items_total(items)
        if expected != total:
            problems.add(
                "totalAmount", f"must equal the sum of quantity x price over snackItems ({expected}), got {total}"
            )

    key: str | None = None
    if "idempotencyKey" in order:
        raw_key = order["idempotencyKey"]
        if not isinstance(raw_key, str) or not IDEMPOTENCY_KEY_PATTERN.fullmatch(raw_key):
            problems.add("idempotencyKey", "must be 1-128 characters of letters, digits, '.', '_', ':' or '-'")
        else:
            key = raw_key

    payment_method: str | None = None
    if "paymentMethod" in order:
        raw_method = order["paymentMethod"]
        if not isinstance(raw_method, str) or not PAYMENT_METHOD_PATTERN.fullmatch(raw_method):
            problems.add(
                "paymentMethod",
                "must be a Stripe PaymentMethod id: 'pm_' then 1-96 letters, digits or '_' (e.g. pm_card_visa); "
                "leave it out to pay at pickup",
            )
        else:
            payment_method = raw_method
            if total is not None and total < MINIMUM_CHARGE:
                problems.add(
                    "totalAmount",
                    f"a card payment must be at least {MINIMUM_CHARGE} {CURRENCY.upper()} (Stripe's minimum charge), "
                    f"got {total}; leave out paymentMethod to pay at pickup",
                )

    problems.raise_if_any()
    assert customer_name is not None and items is not None and total is not None  # guaranteed by no problems
    return OrderRequest(
        customer_name=customer_name,
        snack_items=tuple(items),
        total_amount=total,
        idempotency_key=key,
        payment_method=payment_method,
    )


def validate_snack_name(value: object, field: str = "name") -> str:
    """A snack name alone (a stock record's key): the rules of ``snackItems[].name``, normalised as an order's
    are, so a stock level set for a name is the one an order of that name meets."""
    problems = _Problems()
    name = _text(value, field, ITEM_NAME_MAX_CHARS, problems)
    problems.raise_if_any()
    assert name is not None  # guaranteed by no problems
    return name


def canonical_numbers(value: Any) -> Any:
    """``value`` with every non-integer number as a normalised ``Decimal`` (2.5, 2.50 and 2.5e0 alike).

    A payload arrives with floats (a JSON object) or Decimals (JSON text, parsed exactly); anything
    that compares requests, such as the idempotency fingerprint, must not see the difference.
    """
    if isinstance(value, dict):
        return {key: canonical_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [canonical_numbers(item) for item in value]
    if isinstance(value, float):
        return Decimal(repr(value)).normalize()
    if isinstance(value, Decimal):
        return value.normalize()
    return value
