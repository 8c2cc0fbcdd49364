"""Input validation: decode_payload + validate_order, table-driven, plus properties."""

from __future__ import annotations

import copy
import json
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from order_service.adapters.dynamodb_orders import from_attributes, to_attributes
from order_service.domain.errors import OrderValidationError, PayloadTooLargeError
from order_service.domain.order import OrderRecord, OrderStatus
from order_service.domain.serialization import dumps, to_jsonable
from order_service.domain.validation import (
    MAX_ITEMS,
    MAX_JSON_DEPTH,
    MAX_PAYLOAD_BYTES,
    MAX_REPORTED_PROBLEMS,
    canonical_numbers,
    decode_payload,
    validate_order,
)

# The seed's example order (floats, as the Lambda runtime hands a direct invoke payload over).
SEED: dict[str, Any] = {
    "customerName": "John Doe",
    "snackItems": [
        {"name": "Chips", "quantity": 2, "price": 1.99},
        {"name": "Soda", "quantity": 1, "price": 2.49},
    ],
    "totalAmount": 6.47,
}


def seed(**changes: Any) -> dict[str, Any]:
    order = copy.deepcopy(SEED)
    order.update(changes)
    return order


def seed_item(index: int, **changes: Any) -> dict[str, Any]:
    """The seed with ``snackItems[index]`` changed (a value of ``...`` deletes the field)."""
    order = copy.deepcopy(SEED)
    for key, value in changes.items():
        if value is ...:
            del order["snackItems"][index][key]
        else:
            order["snackItems"][index][key] = value
    return order


def without(*fields: str) -> dict[str, Any]:
    order = copy.deepcopy(SEED)
    for name in fields:
        del order[name]
    return order


def problems(payload: object) -> list[dict[str, str]]:
    with pytest.raises(OrderValidationError) as caught:
        validate_order(payload)
    return [problem.as_dict() for problem in caught.value.problems]


# --- valid orders ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(SEED, id="dict"),
        pytest.param(json.dumps(SEED), id="json-text"),
        pytest.param(json.dumps(SEED).encode("utf-8"), id="json-bytes"),
        pytest.param(bytearray(json.dumps(SEED).encode("utf-8")), id="json-bytearray"),
    ],
)
def test_seed_order_validates_with_decimal_money(payload: object) -> None:
    order = validate_order(payload)

    assert order.customer_name == "John Doe"
    assert [(i.name, i.quantity, i.price) for i in order.snack_items] == [
        ("Chips", 2, Decimal("1.99")),
        ("Soda", 1, Decimal("2.49")),
    ]
    assert order.total_amount == Decimal("6.47")
    assert all(isinstance(item.price, Decimal) for item in order.snack_items)
    assert isinstance(order.total_amount, Decimal)
    assert str(order.total_amount) == "6.47"  # no float artefacts
    assert order.idempotency_key is None


def test_money_is_normalised_to_cents() -> None:
    order = validate_order(seed_item(0, price=2) | {"totalAmount": 6.49})
    assert str(order.snack_items[0].price) == "2.00"
    assert str(order.total_amount) == "6.49"


def test_names_are_trimmed_and_nfc_normalised() -> None:
    order = validate_order(
        seed(customerName="  Zoe\u0301  ")
        | {"snackItems": [{"name": " e\u0301 ", "quantity": 1, "price": 1}], "totalAmount": 1}
    )
    assert order.customer_name == "Zo\u00e9"
    assert order.snack_items[0].name == "\u00e9"


def test_valid_idempotency_key_is_kept() -> None:
    assert validate_order(seed(idempotencyKey="order-2024.01:abc_1")).idempotency_key == "order-2024.01:abc_1"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("\U0001f36b Chocolate Lover \U0001f369", id="emoji"),
        pytest.param("Ame\u0301lie " + "e\u0301" * 93, id="combining-chars-100-after-nfc"),
        pytest.param("\u05d3\u05d5\u05d3 \u05db\u05d4\u05df", id="rtl-hebrew"),
        pytest.param("\u0645\u062d\u0645\u062f \u0639\u0644\u064a", id="rtl-arabic"),
        pytest.param("a\u200fb", id="rtl-mark-format-char"),
        pytest.param("\u5f20\u4f1f", id="cjk"),
        pytest.param("x" * 100, id="exactly-100-chars"),
        pytest.param("\U0001f600" * 100, id="100-astral-emoji"),
    ],
)
def test_unicode_names_within_limit_are_accepted(name: str) -> None:
    """Accepted as written: kept whole (NFC-normalised, the only change), never cut or stripped of
    characters; a snack name the same."""
    order = validate_order(seed(customerName=name))
    assert order.customer_name == unicodedata.normalize("NFC", name)
    assert len(order.customer_name) <= 100
    item = validate_order(seed(snackItems=[{"name": name, "quantity": 1, "price": 1}], totalAmount=1))
    assert item.snack_items[0].name == unicodedata.normalize("NFC", name)


def test_boundary_values_are_accepted() -> None:
    order = validate_order(
        seed(
            snackItems=[
                {"name": "cheap", "quantity": 1, "price": 0.01},
                {"name": "max qty", "quantity": 1000, "price": 0.01},
                {"name": "max price", "quantity": 1, "price": 10000},
            ],
            totalAmount=Decimal("10010.01"),
        )
    )
    assert order.total_amount == Decimal("10010.01")
    assert (
        len(
            validate_order(
                seed(snackItems=[{"name": "n", "quantity": 1, "price": 1}] * MAX_ITEMS, totalAmount=50)
            ).snack_items
        )
        == MAX_ITEMS
    )


# --- field-level errors ---------------------------------------------------------------------

CASES: list[Any] = [
    # missing fields
    pytest.param(without("customerName"), "customerName", "is required", id="missing-customerName"),
    pytest.param(without("snackItems"), "snackItems", "is required", id="missing-snackItems"),
    pytest.param(without("totalAmount"), "totalAmount", "is required", id="missing-totalAmount"),
    pytest.param(seed_item(0, name=...), "snackItems[0].name", "is required", id="missing-item-name"),
    pytest.param(seed_item(1, quantity=...), "snackItems[1].quantity", "is required", id="missing-item-quantity"),
    pytest.param(seed_item(1, price=...), "snackItems[1].price", "is required", id="missing-item-price"),
    # unknown fields
    pytest.param(seed(discount=1), "discount", "is not a known field", id="unknown-top-level"),
    pytest.param(seed(status="PROCESSED"), "status", "is not a known field", id="unknown-status-injection"),
    pytest.param(seed(orderId="x"), "orderId", "is not a known field", id="unknown-orderId-injection"),
    pytest.param(seed_item(1, sku="A1"), "snackItems[1].sku", "is not a known field", id="unknown-item-field"),
    # customerName
    pytest.param(seed(customerName=""), "customerName", "must not be empty", id="name-empty"),
    pytest.param(seed(customerName="  \t "), "customerName", "must not be empty", id="name-blank"),
    pytest.param(seed(customerName="x" * 101), "customerName", "at most 100 characters", id="name-101"),
    pytest.param(seed(customerName="x" * 1000), "customerName", "at most 100 characters", id="name-huge"),
    pytest.param(seed(customerName=42), "customerName", "must be a string, not a number", id="name-number"),
    pytest.param(seed(customerName=None), "customerName", "must be a string, not null", id="name-null"),
    pytest.param(seed(customerName=["a"]), "customerName", "must be a string, not an array", id="name-array"),
    pytest.param(seed(customerName="a\x00b"), "customerName", "control characters", id="name-nul"),
    pytest.param(seed(customerName="a\nb"), "customerName", "control characters", id="name-newline"),
    pytest.param(seed(customerName="a\x1bb"), "customerName", "control characters", id="name-escape"),
    pytest.param(seed(customerName="a\x7fb"), "customerName", "control characters", id="name-del"),
    pytest.param(seed(customerName="a\ud800b"), "customerName", "unpaired surrogate", id="name-lone-surrogate"),
    pytest.param(seed_item(0, name="x" * 101), "snackItems[0].name", "at most 100 characters", id="item-name-101"),
    pytest.param(seed_item(1, name=""), "snackItems[1].name", "must not be empty", id="item-name-empty"),
    pytest.param(seed_item(1, name=7), "snackItems[1].name", "must be a string", id="item-name-number"),
    # snackItems
    pytest.param(seed(snackItems=[]), "snackItems", "between 1 and 50 items (got 0)", id="items-empty"),
    pytest.param(
        seed(snackItems=[{"name": "n", "quantity": 1, "price": 1}] * 51, totalAmount=51),
        "snackItems",
        "between 1 and 50 items (got 51)",
        id="items-51",
    ),
    pytest.param(
        seed(snackItems={"name": "Chips"}), "snackItems", "must be an array, not an object", id="items-object"
    ),
    pytest.param(seed(snackItems="Chips"), "snackItems", "must be an array, not a string", id="items-string"),
    pytest.param(seed(snackItems=None), "snackItems", "must be an array, not null", id="items-null"),
    pytest.param(seed(snackItems=["Chips"]), "snackItems[0]", "must be an object", id="item-string"),
    pytest.param(seed(snackItems=[None]), "snackItems[0]", "not null", id="item-null"),
    # quantity
    pytest.param(seed_item(0, quantity=True), "snackItems[0].quantity", "whole number, not a boolean", id="qty-bool"),
    pytest.param(seed_item(0, quantity=False), "snackItems[0].quantity", "whole number, not a boolean", id="qty-false"),
    pytest.param(seed_item(0, quantity=2.0), "snackItems[0].quantity", "whole number, not a number", id="qty-float"),
    pytest.param(seed_item(0, quantity=1.5), "snackItems[0].quantity", "whole number", id="qty-fraction"),
    pytest.param(seed_item(0, quantity="2"), "snackItems[0].quantity", "whole number, not a string", id="qty-string"),
    pytest.param(seed_item(0, quantity=0), "snackItems[0].quantity", "between 1 and 1000", id="qty-0"),
    pytest.param(seed_item(0, quantity=-1), "snackItems[0].quantity", "between 1 and 1000", id="qty-negative"),
    pytest.param(seed_item(0, quantity=1001), "snackItems[0].quantity", "between 1 and 1000", id="qty-1001"),
    pytest.param(seed_item(0, quantity=10**400), "snackItems[0].quantity", "between 1 and 1000", id="qty-huge-int"),
    # price
    pytest.param(seed_item(0, price=1.999), "snackItems[0].price", "at most 2 decimal places", id="price-3dp"),
    pytest.param(
        seed_item(0, price=Decimal("1.991")), "snackItems[0].price", "at most 2 decimal places", id="price-3dp-decimal"
    ),
    pytest.param(seed_item(0, price=0), "snackItems[0].price", "between 0.01 and 10000.00", id="price-0"),
    pytest.param(seed_item(0, price=-1.99), "snackItems[0].price", "between 0.01 and 10000.00", id="price-negative"),
    pytest.param(
        seed_item(0, price=-0.0), "snackItems[0].price", "between 0.01 and 10000.00", id="price-negative-zero"
    ),
    pytest.param(seed_item(0, price=10000.01), "snackItems[0].price", "between 0.01 and 10000.00", id="price-over-max"),
    pytest.param(
        seed_item(0, price="1.99"), "snackItems[0].price", "must be a number, not a string", id="price-string"
    ),
    pytest.param(seed_item(0, price=True), "snackItems[0].price", "must be a number, not a boolean", id="price-bool"),
    pytest.param(seed_item(0, price=None), "snackItems[0].price", "must be a number, not null", id="price-null"),
    pytest.param(seed_item(0, price=float("nan")), "snackItems[0].price", "finite", id="price-nan-float"),
    pytest.param(seed_item(0, price=float("inf")), "snackItems[0].price", "finite", id="price-inf-float"),
    pytest.param(seed_item(0, price=Decimal("NaN")), "snackItems[0].price", "finite", id="price-nan-decimal"),
    pytest.param(seed_item(0, price=Decimal("sNaN")), "snackItems[0].price", "finite", id="price-snan-decimal"),
    pytest.param(seed_item(0, price=Decimal("1e400")), "snackItems[0].price", "between", id="price-1e400-decimal"),
    pytest.param(seed_item(0, price=Decimal("1e-400")), "snackItems[0].price", "between", id="price-1e-400-decimal"),
    # totalAmount
    pytest.param(seed(totalAmount=6.48), "totalAmount", "must equal the sum", id="total-one-cent-over"),
    pytest.param(seed(totalAmount=6.46), "totalAmount", "must equal the sum", id="total-one-cent-under"),
    pytest.param(seed(totalAmount="6.47"), "totalAmount", "must be a number, not a string", id="total-string"),
    pytest.param(seed(totalAmount=6.471), "totalAmount", "at most 2 decimal places", id="total-3dp"),
    pytest.param(seed(totalAmount=0), "totalAmount", "between 0.01 and 100000.00", id="total-0"),
    pytest.param(seed(totalAmount=-0.0), "totalAmount", "between 0.01 and 100000.00", id="total-negative-zero"),
    pytest.param(seed(totalAmount=100000.01), "totalAmount", "between 0.01 and 100000.00", id="total-over-max"),
    pytest.param(seed(totalAmount=1e400), "totalAmount", "finite", id="total-1e400-float-is-inf"),
    # idempotencyKey
    pytest.param(seed(idempotencyKey=""), "idempotencyKey", "1-128 characters", id="key-empty"),
    pytest.param(seed(idempotencyKey="a" * 129), "idempotencyKey", "1-128 characters", id="key-129"),
    pytest.param(seed(idempotencyKey="has space"), "idempotencyKey", "1-128 characters", id="key-space"),
    pytest.param(seed(idempotencyKey=12), "idempotencyKey", "1-128 characters", id="key-number"),
    pytest.param(seed(idempotencyKey="ключ"), "idempotencyKey", "1-128 characters", id="key-non-ascii"),
]


@pytest.mark.parametrize(("payload", "field", "problem"), CASES)
def test_field_errors_name_the_field(payload: object, field: str, problem: str) -> None:
    found = problems(payload)
    assert any(p["field"] == field and problem in p["problem"] for p in found), found


# Cases whose values have a strict-JSON text form that the parser does not reject first.
TEXT_CASES = [
    case
    for case in CASES
    if case.id
    not in {
        "qty-huge-int",  # > 20 digits: rejected by the parser at "$"
        "price-nan-float",
        "price-inf-float",
        "price-nan-decimal",
        "price-snan-decimal",
        "price-1e400-decimal",
        "total-1e400-float-is-inf",
    }
]


@pytest.mark.parametrize(("payload", "field", "problem"), TEXT_CASES)
def test_field_errors_also_apply_to_json_text(payload: object, field: str, problem: str) -> None:
    """The same rules hold when the order arrives as JSON text (numbers parsed as Decimal)."""
    text = json.dumps(to_jsonable(payload), allow_nan=False)
    found = problems(text)
    assert any(p["field"] == field and problem in p["problem"] for p in found), found


def test_all_problems_are_reported_in_one_round_trip() -> None:
    payload = {
        "customerName": "",
        "snackItems": [{"name": "Chips", "quantity": 0, "price": 1.999, "colour": "red"}],
        "totalAmount": "x",
        "coupon": "FREE",
    }
    fields = {p["field"] for p in problems(payload)}
    assert fields == {
        "customerName",
        "snackItems[0].quantity",
        "snackItems[0].price",
        "snackItems[0].colour",
        "totalAmount",
        "coupon",
    }


def test_total_mismatch_message_names_the_expected_total() -> None:
    [problem] = problems(seed(totalAmount=6.48))
    assert problem == {
        "field": "totalAmount",
        "problem": "must equal the sum of quantity x price over snackItems (6.47), got 6.48",
    }


def test_problem_list_is_capped_with_a_count_of_the_rest() -> None:
    payload = seed(**{f"extra{i}": i for i in range(40)})
    found = problems(payload)
    assert len(found) == MAX_REPORTED_PROBLEMS + 1
    assert found[-1] == {"field": "$", "problem": "15 more problem(s) not listed"}


def test_unknown_field_with_long_name_is_truncated_in_the_report() -> None:
    [problem] = problems(seed(**{"k" * 500: 1}))
    assert problem["field"] == "k" * 64 + "..."


def test_error_messages_do_not_echo_the_customer_name() -> None:
    secret = "Zed Secretname"
    for payload in (seed(customerName=secret + "\x00"), seed(customerName=secret * 20)):
        with pytest.raises(OrderValidationError) as caught:
            validate_order(payload)
        assert "Secretname" not in str(caught.value)


# --- whole-payload errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        pytest.param([SEED], "an array", id="list"),
        pytest.param("just text", None, id="non-json-string"),
        pytest.param('"a json string"', "a string", id="json-string"),
        pytest.param(json.dumps(json.dumps(SEED)), "a string", id="double-encoded"),
        pytest.param(42, "a number", id="int"),
        pytest.param(4.2, "a number", id="float"),
        pytest.param("42", "a number", id="json-number"),
        pytest.param(None, "null", id="none"),
        pytest.param("null", "null", id="json-null"),
        pytest.param(True, "a boolean", id="bool"),
        pytest.param("[]", "an array", id="json-array"),
        pytest.param("", None, id="empty-string"),
        pytest.param(b"", None, id="empty-bytes"),
        pytest.param((1, 2), "an array", id="tuple"),
        pytest.param(object(), "object", id="python-object"),
    ],
)
def test_non_object_payloads_are_rejected_at_the_root(payload: object, kind: str | None) -> None:
    [problem] = problems(payload)
    assert problem["field"] == "$"
    if kind is None:
        assert "not valid JSON" in problem["problem"]
    else:
        assert problem["problem"] == f"the order must be a JSON object, not {kind}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('{"totalAmount": NaN}', "NaN is not a number", id="NaN"),
        pytest.param('{"totalAmount": Infinity}', "Infinity is not a number", id="Infinity"),
        pytest.param('{"totalAmount": -Infinity}', "-Infinity is not a number", id="-Infinity"),
        pytest.param(
            '{"customerName": "a", "customerName": "b"}', "duplicate field 'customerName'", id="duplicate-key"
        ),
        pytest.param(
            '{"snackItems": [{"name": "a", "name": "b"}]}', "duplicate field 'name'", id="duplicate-nested-key"
        ),
        pytest.param('{"totalAmount": 123456789012345678901}', "more than 20 digits", id="21-digit-int"),
        pytest.param('{"totalAmount": 1.00000000000000000000000000001}', "too long", id="long-decimal"),
        pytest.param('{"totalAmount": 6.47,}', "not valid JSON", id="trailing-comma"),
        pytest.param("{'totalAmount': 6.47}", "not valid JSON", id="single-quotes"),
    ],
)
def test_hostile_json_literals_are_rejected(text: str, expected: str) -> None:
    [problem] = problems(text)
    assert problem["field"] == "$"
    assert expected in problem["problem"]


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        pytest.param("1e400", "totalAmount", "between 0.01 and 100000.00", id="1e400"),
        pytest.param("1E+400", "totalAmount", "between 0.01 and 100000.00", id="1E+400"),
        pytest.param("1e-400", "totalAmount", "between 0.01 and 100000.00", id="1e-400"),
        pytest.param("-0.0", "totalAmount", "between 0.01 and 100000.00", id="negative-zero"),
        pytest.param("-0", "totalAmount", "between 0.01 and 100000.00", id="negative-zero-int"),
        pytest.param("6.470", "", "", id="trailing-zero-is-fine"),
        pytest.param("6.47e0", "", "", id="exponent-form-is-fine"),
    ],
)
def test_exotic_numbers_in_json_text(text: str, field: str, expected: str) -> None:
    body = json.dumps({k: v for k, v in SEED.items() if k != "totalAmount"})[:-1] + f', "totalAmount": {text}}}'
    if not field:
        assert validate_order(body).total_amount == Decimal("6.47")
        return
    found = problems(body)
    assert found == [{"field": field, "problem": f"must be {expected}"}]


def test_json_numbers_are_parsed_as_decimal_not_float() -> None:
    # 0.1 + 0.2 style: the float sum would be 0.30000000000000004.
    body = (
        '{"customerName":"a","snackItems":[{"name":"x","quantity":1,"price":0.1},'
        '{"name":"y","quantity":1,"price":0.2}],"totalAmount":0.3}'
    )
    order = validate_order(body)
    assert order.total_amount == Decimal("0.30")


def test_nesting_beyond_the_limit_is_rejected_before_parsing() -> None:
    deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    assert problems(deep) == [{"field": "$", "problem": f"JSON is nested deeper than {MAX_JSON_DEPTH} levels"}]
    # hostile: far deeper than Python's recursion limit, still a clean validation error
    hostile = "[" * 60_000
    assert len(hostile) < MAX_PAYLOAD_BYTES
    assert problems(hostile)[0]["problem"].startswith("JSON is nested deeper")


def test_nesting_at_the_limit_is_parsed() -> None:
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert decode_payload('{"x": ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}") == {
        "x": json.loads("[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1))
    }
    assert problems(nested)[0]["problem"] == "the order must be a JSON object, not an array"


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    # quotes and backslashes are escaped in the text: the pre-scan must follow the escapes
    for name in ("{[" * 40, '[{"\\' * 20, '\\"[[[[' * 12):
        assert validate_order(json.dumps(seed(customerName=name))).customer_name == name


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("x" * (MAX_PAYLOAD_BYTES + 1), id="str"),
        pytest.param(b" " * (MAX_PAYLOAD_BYTES + 1), id="bytes"),
        pytest.param(json.dumps(seed(customerName="\u00e9" * (MAX_PAYLOAD_BYTES // 2))), id="str-multibyte"),
    ],
)
def test_payloads_over_64kb_are_too_large(payload: object) -> None:
    with pytest.raises(PayloadTooLargeError):
        decode_payload(payload)
    with pytest.raises(PayloadTooLargeError):
        validate_order(payload)


def test_payload_of_exactly_64kb_is_not_too_large() -> None:
    text = json.dumps(SEED)
    padded = text + " " * (MAX_PAYLOAD_BYTES - len(text))
    assert len(padded.encode()) == MAX_PAYLOAD_BYTES
    assert validate_order(padded).total_amount == Decimal("6.47")
    assert validate_order(padded.encode()).total_amount == Decimal("6.47")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\xff\xfe{}", id="bom-like"),
        pytest.param(b'{"customerName": "\xc3"}', id="truncated-sequence"),
        pytest.param(b'{"customerName": "\xed\xa0\x80"}', id="encoded-surrogate"),
    ],
)
def test_invalid_utf8_bytes_are_a_validation_error(raw: bytes) -> None:
    [problem] = problems(raw)
    assert problem["field"] == "$"
    assert "not valid UTF-8" in problem["problem"]


# --- known product bugs ---------------------------------------------------------------------


def test_idempotency_key_with_trailing_newline_is_rejected() -> None:
    assert problems(seed(idempotencyKey="abc\n"))[0]["field"] == "idempotencyKey"


# --- properties ------------------------------------------------------------------------------

names = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1, max_size=40)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000.00"), places=2)
items = st.fixed_dictionaries({"name": names, "quantity": st.integers(min_value=1, max_value=1000), "price": prices})


@st.composite
def valid_orders(draw: st.DrawFn) -> dict[str, Any]:
    snack_items = draw(st.lists(items, min_size=1, max_size=8))
    total = sum((item["price"] * item["quantity"] for item in snack_items), Decimal("0.00"))
    if total > Decimal("100000.00"):
        # keep within the total limit without rejecting the example
        snack_items = [dict(item, quantity=1) for item in snack_items]
        total = sum((item["price"] for item in snack_items), Decimal("0.00"))
    assume(total <= Decimal("100000.00"))
    return {"customerName": draw(names), "snackItems": snack_items, "totalAmount": total}


@settings(max_examples=150, deadline=None)
@given(order=valid_orders())
def test_property_valid_orders_validate_and_round_trip_to_the_record(order: dict[str, Any]) -> None:
    request = validate_order(order)
    assert request.total_amount == order["totalAmount"]
    assert [item.price for item in request.snack_items] == [item["price"] for item in order["snackItems"]]

    # The same order as JSON text (floats through the serializer) validates to the same request.
    assert validate_order(dumps(order)) == request

    record = OrderRecord.new("order-1", request, datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC))
    item = record.as_item()
    assert item["status"] == OrderStatus.NEW.value
    assert item["createdAt"] == item["updatedAt"] == "2024-05-06T07:08:09.123Z"
    assert isinstance(item["totalAmount"], Decimal)

    stored = from_attributes(to_attributes(item))
    assert OrderRecord.from_item(stored) == record
    assert stored["totalAmount"] == order["totalAmount"]


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                ["customerName", "snackItems", "totalAmount", "idempotencyKey", "name", "quantity", "price"]
            )
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


def _as_text(value: Any) -> str:
    return json.dumps(to_jsonable(value), default=str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, form=st.sampled_from(["object", "text", "bytes"]))
def test_property_arbitrary_json_only_raises_validation_errors(value: Any, form: str) -> None:
    payload: object = value
    if form != "object":
        try:
            payload = _as_text(value)
        except (ValueError, TypeError, ArithmeticError):
            payload = repr(value)
        if form == "bytes":
            payload = payload.encode("utf-8", "surrogatepass")
    try:
        result = validate_order(payload)
    except (OrderValidationError, PayloadTooLargeError):
        return
    # Whatever passed is a fully valid order.
    assert result.customer_name
    assert result.snack_items
    assert isinstance(result.total_amount, Decimal)


# --- boundaries the mutation run found unguarded (docs/mutation-survivors.md) -------------------

NESTED_TOO_DEEP = [{"field": "$", "problem": f"JSON is nested deeper than {MAX_JSON_DEPTH} levels"}]


def test_nesting_after_a_string_with_an_escape_is_still_counted() -> None:
    # The pre-scan must leave the key (with its escaped quote) and count the brackets after it:
    # '{' plus MAX_JSON_DEPTH '[' is one level too deep.
    text = '{"a\\"b": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"
    assert problems(text) == NESTED_TOO_DEEP


def test_nesting_reached_after_a_sibling_closes_is_counted() -> None:
    # Down to depth MAX - 1, one sibling opened and closed, then two more levels: MAX + 1 deep.
    text = "[" * (MAX_JSON_DEPTH - 1) + "[]," + "[[]]" + "]" * (MAX_JSON_DEPTH - 1)
    assert problems(text) == NESTED_TOO_DEEP


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("X" * (MAX_JSON_DEPTH + 1), id="letters-only"),
        pytest.param("XXXX" + "[" * (MAX_JSON_DEPTH + 1), id="letters-then-too-deep"),
    ],
)
def test_only_brackets_count_as_nesting(text: str) -> None:
    expected = "payload is not valid JSON" if text.startswith("X" * (MAX_JSON_DEPTH + 1)) else "JSON is nested"
    assert problems(text)[0]["problem"].startswith(expected)


def test_a_28_character_decimal_is_parsed_and_a_29_character_one_is_not() -> None:
    price = "1." + "0" * 26  # 28 characters, worth 1.00
    total = "2." + "0" * 26
    body = (
        '{"customerName":"A","snackItems":[{"name":"x","quantity":2,"price":' + price + "}],"
        '"totalAmount":' + total + "}"
    )
    assert len(price) == 28
    order = validate_order(body)
    assert order.total_amount == Decimal("2.00")
    assert order.snack_items[0].price == Decimal("1.00")
    too_long = body.replace(price, price + "0")
    assert problems(too_long)[0] == {"field": "$", "problem": f"number {(price + '0')[:24]}... is too long"}


def test_a_20_digit_integer_reaches_the_field_check() -> None:
    body = json.dumps(seed_item(0, quantity=1)).replace('"quantity": 1', '"quantity": ' + "1" * 20, 1)
    assert problems(body) == [{"field": "snackItems[0].quantity", "problem": "must be between 1 and 1000"}]


def test_the_cheap_length_bound_counts_before_trimming() -> None:
    # Four times the limit is the most a name may be before trimming; beyond it, rejected even
    # if trimming would leave it short.
    assert validate_order(seed(customerName=" " * 300 + "A" * 100)).customer_name == "A" * 100
    assert problems(seed(customerName=" " * 350 + "A" * 100)) == [
        {"field": "customerName", "problem": "must be at most 100 characters"}
    ]


def test_unknown_field_names_are_shown_whole_up_to_64_characters() -> None:
    key64, key65 = "k" * 64, "k" * 65
    reported = {p["field"] for p in problems(seed(**{key64: 1, key65: 1}))}
    assert reported == {key64, key65[:64] + "..."}


def test_invalid_snack_items_do_not_also_blame_the_total() -> None:
    for raw_items in ("chips", 7, None):
        assert [p["field"] for p in problems(seed(snackItems=raw_items))] == ["snackItems"]
    assert [p["field"] for p in problems(without("snackItems"))] == ["snackItems"]


def test_a_snack_item_that_is_not_an_object_is_named_by_its_type() -> None:
    assert problems(seed(snackItems=["chips"])) == [
        {"field": "snackItems[0]", "problem": "must be an object with name, quantity and price, not a string"}
    ]


def test_canonical_numbers_reach_into_lists() -> None:
    assert canonical_numbers([2.5, Decimal("2.50"), {"p": [Decimal("2.5e0")]}]) == [
        Decimal("2.5"),
        Decimal("2.5"),
        {"p": [Decimal("2.5")]},
    ]
