"""Card payment rules: the input field, Stripe's minimum, cents from Decimal, idempotency keys."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from order_service.domain import payment as pay
from order_service.domain.errors import OrderValidationError
from order_service.domain.validation import validate_order

ORDER: dict[str, Any] = {
    "customerName": "Pat Card",
    "snackItems": [
        {"name": "Pretzels", "quantity": 1, "price": 2.99},
        {"name": "Coffee", "quantity": 1, "price": 4.50},
    ],
    "totalAmount": 7.49,
}


def problems(payload: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(OrderValidationError) as raised:
        validate_order(payload)
    return [problem.as_dict() for problem in raised.value.problems]


def test_no_payment_method_is_pay_at_pickup_and_the_seed_format_stays_valid() -> None:
    assert validate_order(ORDER).payment_method is None


@pytest.mark.parametrize("method", ["pm_card_visa", "pm_card_chargeDeclined", "pm_1Q0PsIJvEtkwdCNYMSaVuRz6"])
def test_a_stripe_payment_method_id_requests_a_card_payment(method: str) -> None:
    assert validate_order({**ORDER, "paymentMethod": method}).payment_method == method


@pytest.mark.parametrize(
    "method", ["", "card_visa", "pm_", "pm_card visa", "pm_" + "x" * 97, 42, None, ["pm_card_visa"], "tok_visa"]
)
def test_a_malformed_payment_method_is_a_field_level_error(method: object) -> None:
    (problem,) = problems({**ORDER, "paymentMethod": method})
    assert problem["field"] == "paymentMethod"
    assert "pm_" in problem["problem"] and "pickup" in problem["problem"]


def test_a_card_total_under_stripes_minimum_is_refused_with_a_clear_message() -> None:
    """Stripe's minimum charge for USD is $0.50 ("Minimum and maximum charge amounts",
    https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts)."""
    small = {"customerName": "Pat", "snackItems": [{"name": "Gum", "quantity": 1, "price": 0.49}], "totalAmount": 0.49}
    (problem,) = problems({**small, "paymentMethod": "pm_card_visa"})
    assert problem["field"] == "totalAmount"
    assert "0.50 USD" in problem["problem"] and "minimum" in problem["problem"]
    assert validate_order(small).payment_method is None  # paid at pickup: no minimum
    at_minimum = {**small, "snackItems": [{"name": "Gum", "quantity": 1, "price": 0.50}], "totalAmount": 0.50}
    assert validate_order({**at_minimum, "paymentMethod": "pm_card_visa"}).total_amount == Decimal("0.50")


@pytest.mark.parametrize(
    ("amount", "cents"), [("7.49", 749), ("0.5", 50), ("100000.00", 10_000_000), ("0.29", 29), ("1.10", 110)]
)
def test_amounts_are_whole_cents_computed_without_float(amount: str, cents: int) -> None:
    # 0.29 * 100 as a float is 28.999999999999996: a float conversion would charge 28 cents.
    assert pay.minor_units(Decimal(amount)) == cents


def test_a_fraction_of_a_cent_is_refused() -> None:
    with pytest.raises(ValueError, match="whole number of cents"):
        pay.minor_units(Decimal("1.005"))


def test_idempotency_keys_differ_by_step_and_generation_and_repeat_exactly() -> None:
    keys = {pay.idempotency_key("o-1", generation, step) for generation in (0, 1) for step in pay.Step}
    assert len(keys) == 2 * len(pay.Step)
    assert pay.idempotency_key("o-1", 0, pay.Step.CAPTURE) == pay.idempotency_key("o-1", 0, pay.Step.CAPTURE)
    assert all(len(key) <= 255 for key in keys)  # Stripe's limit for an idempotency key
