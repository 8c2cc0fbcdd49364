"""``snacks demo``: the whole order flow on an embedded local stack, explained as it happens."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from order_service.domain.order import OrderStatus, parse_utc_timestamp
from snacks import operations
from snacks.aws import Aws
from snacks.local import DEMO_FAULT_PLAN, LocalStack
from snacks.trace import build_trace, fetch_history, render_trace


@dataclass(frozen=True)
class DemoOrder:
    label: str
    payload: dict[str, Any]
    expected: OrderStatus


SEED_ORDERS = [
    DemoOrder(
        "seed: Alice Smith",
        {
            "customerName": "Alice Smith",
            "snackItems": [
                {"name": "Pretzels", "quantity": 1, "price": 2.99},
                {"name": "Coffee", "quantity": 1, "price": 4.50},
            ],
            "totalAmount": 7.49,
        },
        OrderStatus.PROCESSED,
    ),
    DemoOrder(
        "seed: Bob Wilson",
        {
            "customerName": "Bob Wilson",
            "snackItems": [{"name": "Nuts", "quantity": 3, "price": 5.99}],
            "totalAmount": 17.97,
        },
        OrderStatus.PROCESSED,
    ),
    DemoOrder(
        "seed: John Doe",
        {
            "customerName": "John Doe",
            "snackItems": [
                {"name": "Chips", "quantity": 2, "price": 3.99},
                {"name": "Soda", "quantity": 1, "price": 1.99},
            ],
            "totalAmount": 9.97,
        },
        OrderStatus.PROCESSED,
    ),
    DemoOrder(
        "flaky: fulfilment fails once, retried",
        {
            "customerName": "Carol Flake",
            "snackItems": [{"name": "Flaky Fries", "quantity": 2, "price": 2.50}],
            "totalAmount": 5.00,
        },
        OrderStatus.PROCESSED,
    ),
    DemoOrder(
        "doomed: fulfilment down on every attempt",
        {
            "customerName": "Dan Doom",
            "snackItems": [{"name": "Broken Biscuit", "quantity": 1, "price": 1.25}],
            "totalAmount": 1.25,
        },
        OrderStatus.FAILED,
    ),
]

# Stock for the demo: Gummy Bears are stock-limited, every other snack is unlimited (no stock record).
LIMITED_SNACK, LIMITED_STOCK = "Gummy Bears", 3
STOCK_ORDERS = [
    DemoOrder(
        f"stock-limited: 2 of {LIMITED_STOCK} {LIMITED_SNACK}",
        {
            "customerName": "Erin Stock",
            "snackItems": [{"name": LIMITED_SNACK, "quantity": 2, "price": 1.50}],
            "totalAmount": 3.00,
        },
        OrderStatus.PROCESSED,
    ),
    DemoOrder(
        f"out of stock: 4 {LIMITED_SNACK} (REJECTED, no DLQ)",
        {
            "customerName": "Frank Short",
            "snackItems": [
                {"name": "Pretzels", "quantity": 1, "price": 2.99},
                {"name": LIMITED_SNACK, "quantity": 4, "price": 1.50},
            ],
            "totalAmount": 8.99,
        },
        OrderStatus.REJECTED,
    ),
]

INVALID_ORDER = {"customerName": "", "snackItems": [{"name": "Chips", "quantity": 0, "price": 3.999}], "totalAmount": 1}


def run_demo(port: int = 0, out: Any = print, iam: str = "enforce", template: Path | None = None) -> int:
    started = time.perf_counter()
    with LocalStack(port=port, fulfillment_faults=DEMO_FAULT_PLAN, iam=iam, template=template) as stack:
        boot_ms = (time.perf_counter() - started) * 1000
        aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
        out(f"Local stack up at {stack.endpoint_url} in {boot_ms:.0f} ms (moto underneath: no AWS account, no Docker)")
        out(f"Fulfillment faults for the demo: {DEMO_FAULT_PLAN}\n")

        operations.set_stock(aws, LIMITED_SNACK, LIMITED_STOCK)
        out(f"Stock: `snacks inventory set '{LIMITED_SNACK}' {LIMITED_STOCK}`; snacks without a record are unlimited\n")

        out("1. Create orders: order-creator via Lambda Invoke (what `aws lambda invoke` does)")
        created: list[tuple[DemoOrder, str]] = []
        for order in [*SEED_ORDERS, *STOCK_ORDERS]:
            reply = operations.invoke_creator(aws, order.payload)
            out(f"   {order.label:<42} -> {reply['statusCode']} {reply.get('status', '')} {reply.get('orderId', '')}")
            created.append((order, reply["orderId"]))
        invalid = operations.invoke_creator(aws, INVALID_ORDER)
        out(f"   {'invalid order (nothing stored)':<42} -> {invalid['statusCode']} {invalid['error']}")
        for detail in invalid.get("details", []):
            out(f"      {detail['field']}: {detail['problem']}")

        out("\n2. EventBridge 'Order Created' -> EXPRESS workflow order-fulfillment -> order-processor steps")
        stack.wait_until_idle(timeout=60)
        failures = 0
        for order, order_id in created:
            record = operations.wait_for_final(aws, order_id, timeout=30)
            status = record.status if record else None
            ok = status is order.expected
            failures += not ok
            latency = ""
            if record is not None and record.status is not OrderStatus.NEW:
                end = record.processed_at or (record.failure or {}).get("failedAt") or record.updated_at
                latency = f"NEW -> {record.status.value} in {_ms_between(record.created_at, end):.0f} ms"
            verdict = "(as expected)" if ok else "(UNEXPECTED)"
            out(f"\n   {order.label}: {status.value if status else 'MISSING'} {verdict}")
            if latency:
                out(f"   {latency}")
            if record is not None and record.rejection:
                lines = ", ".join(
                    f"{x['name']}: {x['requested']} wanted, {x['available']} left" for x in record.rejection["lines"]
                )
                out(f"   rejected: {record.rejection['reason']} ({lines})")
            if record is not None and record.execution_arn:
                trace = build_trace(record.execution_arn, fetch_history(aws, record.execution_arn))
                out("   " + render_trace(trace).replace("\n", "\n   "))

        out("\n3. Dead-letter queue (what `snacks dlq list` shows)")
        letters = operations.list_dead_letters(aws)
        for letter in letters:
            out(f"   order {letter.order_id} failed at {letter.failed_step}: {letter.error}")
        expected_letters = sum(order.expected is OrderStatus.FAILED for order in SEED_ORDERS)
        if len(letters) != expected_letters:
            failures += 1
            out(f"   expected {expected_letters} message(s), found {len(letters)}")

        out("\n4. Cancel: order-canceller via Lambda Invoke (`snacks orders cancel ID`)")
        doomed = next(order_id for order, order_id in created if order.expected is OrderStatus.FAILED)
        processed_id = next(order_id for order, order_id in created if order.expected is OrderStatus.PROCESSED)
        for label, order_id, expected_code in (
            ("the FAILED order", doomed, 200),
            ("the same order again", doomed, 200),
            ("a PROCESSED order", processed_id, 409),
        ):
            reply = operations.invoke_canceller(aws, order_id)
            ok = reply["statusCode"] == expected_code
            failures += not ok
            answer = reply.get("status") or reply.get("error")
            out(f"   {label:<22} -> {reply['statusCode']} {answer} {'(as expected)' if ok else '(UNEXPECTED)'}")

        failures += _payments(stack, aws, out)

        out("\n6. Stock (what `snacks inventory list` shows)")
        for name, units in operations.list_stock(aws):
            out(f"   {name}: {units} available")
        if dict(operations.list_stock(aws)).get(LIMITED_SNACK) != LIMITED_STOCK - 2:
            failures += 1
            out(f"   expected {LIMITED_STOCK - 2} {LIMITED_SNACK} left")

        processed = sum(1 for order, _ in created if order.expected is OrderStatus.PROCESSED)
        rejected = sum(1 for order, _ in created if order.expected is OrderStatus.REJECTED)
        out(
            f"\nSummary: {processed} PROCESSED, {rejected} REJECTED out of stock, {expected_letters} FAILED with its "
            f"reason in the DLQ (then CANCELLED), 1 refused with field-level errors; card payments: 1 captured, "
            f"1 declined (REJECTED), 1 refunded (cancelled during its capture); "
            f"{'all as expected' if not failures else f'{failures} unexpected'}."
        )
        out("Next: `make local` serves this stack on :4566 for the aws CLI; see README 'Local stack'.")
    return 0 if failures == 0 else 1


CARD_ORDER = {
    "customerName": "Gina Card",
    "snackItems": [{"name": "Pretzels", "quantity": 2, "price": 2.99}],
    "totalAmount": 5.98,
}


def _payments(stack: LocalStack, aws: Aws, out: Any) -> int:
    """Card payments against the Stripe emulator: paid, declined, and a cancel that lands while the capture is
    under way (refunded); the provider's own state, read through the stripe SDK, says what happened."""
    import stripe

    out("\n5. Card payments (Stripe PaymentIntents, manual capture) against the local Stripe emulator")
    failures = 0
    provider = stripe.StripeClient(stack.stripe.secret_key, base_addresses={"api": stack.stripe.url})
    cases = [("paid: pm_card_visa", "pm_card_visa", OrderStatus.PROCESSED, "captured")]
    cases.append(("declined: pm_card_chargeDeclined", "pm_card_chargeDeclined", OrderStatus.REJECTED, "declined"))
    for label, method, expected, payment_status in cases:
        reply = operations.invoke_creator(aws, {**CARD_ORDER, "paymentMethod": method})
        record = operations.wait_for_final(aws, reply["orderId"], timeout=30)
        got = (record.status, (record.payment or {}).get("status")) if record else (None, None)
        ok = got == (expected, payment_status)
        failures += not ok
        reason = f" ({record.rejection['reason']})" if record and record.rejection else ""
        out(
            f"   {label:<36} -> {got[0].value if got[0] else 'MISSING'}{reason}, payment {got[1]} "
            f"{'(as expected)' if ok else '(UNEXPECTED)'}"
        )
    # A cancel while the capture is under way: the provider captured, the cancel wins the order and refunds.
    hold = stack.stripe.hold("capture")
    reply = operations.invoke_creator(aws, {**CARD_ORDER, "paymentMethod": "pm_card_visa"})
    try:
        if not hold.reached.wait(30):
            failures += 1
        cancelled = operations.invoke_canceller(aws, reply["orderId"])
    finally:
        stack.stripe.release("capture")
    stack.wait_until_idle(timeout=60)
    record = operations.get_order(aws, reply["orderId"])
    got = (record.status, (record.payment or {}).get("status")) if record else (None, None)
    ok = cancelled.get("statusCode") == 200 and got == (OrderStatus.CANCELLED, "refunded")
    failures += not ok
    out(
        f"   {'cancel during the capture':<36} -> {got[0].value if got[0] else 'MISSING'}, payment {got[1]} "
        f"{'(as expected)' if ok else '(UNEXPECTED)'}"
    )
    captured = refunded = 0
    for intent in provider.v1.payment_intents.list({"limit": 100}).auto_paging_iter():
        charge = intent.latest_charge
        if isinstance(charge, stripe.Charge) and charge.status == "succeeded" and charge.captured:
            captured += int(charge.amount)
            refunded += int(charge.amount_refunded)
    out(
        f"   the provider's own books: captured {captured / 100:.2f} USD, refunded {refunded / 100:.2f} USD "
        f"(one paid order of {CARD_ORDER['totalAmount']:.2f} kept)"
    )
    if captured - refunded != 598:
        failures += 1
    return failures


def _ms_between(start: str, end: str) -> float:
    return (parse_utc_timestamp(end) - parse_utc_timestamp(start)).total_seconds() * 1000
