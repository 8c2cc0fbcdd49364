"""What the CLI does, wired from the product's own domain code and adapters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from order_service.adapters.dynamodb_inventory import DynamoDbStockLedger
from order_service.adapters.dynamodb_orders import DynamoDbOrderRepository, from_attributes
from order_service.adapters.eventbridge_publisher import EventBridgePublisher
from order_service.adapters.sqs_dead_letters import HIDE_WHILE_LISTING_SECONDS, SqsDeadLetterQueue
from order_service.domain.errors import OrderValidationError
from order_service.domain.order import OrderRecord, OrderStatus, utc_timestamp
from order_service.domain.order_recovery import (
    DeadLetter,
    DeadLetterReplayer,
    ReconcileReport,
    ReplayOutcome,
    reconcile_stale_orders,
)
from order_service.domain.validation import validate_snack_name
from snacks.aws import Aws


def invoke_creator(aws: Aws, payload: dict[str, Any]) -> dict[str, Any]:
    """The seed's ``aws lambda invoke --function-name order-creator`` through boto3."""
    response = aws.client("lambda").invoke(
        FunctionName=aws.names.order_creator, Payload=json.dumps(payload).encode("utf-8")
    )
    body: dict[str, Any] = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise RuntimeError(f"{aws.names.order_creator} failed: {body}")
    return body


def invoke_canceller(aws: Aws, order_id: str) -> dict[str, Any]:
    """``aws lambda invoke --function-name order-canceller --payload '{"orderId": ...}'`` through boto3."""
    response = aws.client("lambda").invoke(
        FunctionName=aws.names.order_canceller, Payload=json.dumps({"orderId": order_id}).encode("utf-8")
    )
    body: dict[str, Any] = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise RuntimeError(f"{aws.names.order_canceller} failed: {body}")
    return body


def repository(aws: Aws) -> DynamoDbOrderRepository:
    return DynamoDbOrderRepository(aws.client("dynamodb"), aws.names.orders_table)


def stock_ledger(aws: Aws) -> DynamoDbStockLedger:
    return DynamoDbStockLedger(aws.client("dynamodb"), aws.names.orders_table, aws.names.inventory_table)


class InvalidSnackName(ValueError):
    """A snack name that breaks the rules of an order's snack names; the message says which."""


def set_stock(aws: Aws, snack: str, units: int) -> str:
    """Make ``units`` the available units of ``snack`` (it becomes stock-limited); the name as stored.

    The name must pass the rules of an order's snack names (InvalidSnackName, nothing written),
    and is normalised as theirs are: stock for " Pretzels" is the stock "Pretzels" orders take."""
    try:
        name = validate_snack_name(snack)
    except OrderValidationError as error:
        raise InvalidSnackName("; ".join(problem.problem for problem in error.problems)) from None
    stock_ledger(aws).set_level(name, units, utc_timestamp(datetime.now(UTC)))
    return name


def list_stock(aws: Aws) -> list[tuple[str, int]]:
    return sorted(stock_ledger(aws).all_levels())


def get_order(aws: Aws, order_id: str) -> OrderRecord | None:
    return repository(aws).get(order_id)


def list_orders(aws: Aws, status: OrderStatus | None = None) -> Iterator[OrderRecord]:
    """By status through the index; everything with a paginated scan (what the seed does)."""
    if status is not None:
        yield from repository(aws).list_by_status(status)
        return
    for page in aws.client("dynamodb").get_paginator("scan").paginate(TableName=aws.names.orders_table):
        for item in page["Items"]:
            yield OrderRecord.from_item(from_attributes(item))


def reconcile(aws: Aws, older_than_seconds: int, dry_run: bool) -> ReconcileReport:
    publisher = EventBridgePublisher(aws.client("events"), aws.names.event_bus)
    return reconcile_stale_orders(
        repository(aws),
        publisher,
        now=datetime.now(UTC),
        stale_after=timedelta(seconds=older_than_seconds),
        dry_run=dry_run,
    )


def dead_letter_queue(aws: Aws) -> SqsDeadLetterQueue:
    return SqsDeadLetterQueue(aws.client("sqs"), aws.dead_letter_queue_url())


def list_dead_letters(aws: Aws) -> list[DeadLetter]:
    """Every visible message (seen and released at once)."""
    queue = dead_letter_queue(aws)
    letters = queue.receive_all(hide_for_seconds=HIDE_WHILE_LISTING_SECONDS)
    queue.release(letters)
    return letters


SETTLED = (OrderStatus.PROCESSED, OrderStatus.REJECTED, OrderStatus.CANCELLED)


def split_settled(aws: Aws, letters: list[DeadLetter]) -> tuple[list[DeadLetter], list[tuple[DeadLetter, OrderStatus]]]:
    """(live failures, letters whose order has settled since: cancelled after it failed, or the like).

    A settled order's letter is no failure to act on: a replay only removes it (DeadLetterReplayer:
    already-processed / already-settled). A letter naming no order, or an order not found, stays live."""
    statuses: dict[str, OrderStatus | None] = {}
    live: list[DeadLetter] = []
    settled: list[tuple[DeadLetter, OrderStatus]] = []
    for letter in letters:
        if letter.order_id is not None and letter.order_id not in statuses:
            order = get_order(aws, letter.order_id)
            statuses[letter.order_id] = None if order is None else order.status
        status = statuses.get(letter.order_id) if letter.order_id is not None else None
        if status in SETTLED:
            assert status is not None
            settled.append((letter, status))
        else:
            live.append(letter)
    return live, settled


def dead_letters_in_flight(aws: Aws) -> int:
    """Messages received by someone else (a replay, another listing) and hidden for now."""
    return dead_letter_queue(aws).depth().in_flight


def replay_dead_letters(aws: Aws, order_id: str | None, dry_run: bool) -> list[ReplayOutcome]:
    replayer = DeadLetterReplayer(
        repository(aws),
        EventBridgePublisher(aws.client("events"), aws.names.event_bus),
        clock=lambda: utc_timestamp(datetime.now(UTC)),
    )
    return replayer.replay(dead_letter_queue(aws), order_id=order_id, dry_run=dry_run)


def parse_item(spec: str) -> dict[str, Any]:
    """``NAME:QUANTITY:PRICE`` -> a snack item (price kept exact); ValueError says what to type."""
    name, _, rest = spec.rpartition(":")
    name, _, quantity = name.rpartition(":")
    example = "use NAME:QUANTITY:PRICE, e.g. 'Chips:2:3.99'"
    if not name or not quantity or not rest:
        raise ValueError(f"item {spec!r}: {example}")
    if not quantity.strip().isdigit():
        raise ValueError(f"item {spec!r}: quantity {quantity!r} is not a whole number; {example}")
    try:
        price = Decimal(rest)
    except InvalidOperation:
        raise ValueError(f"item {spec!r}: price {rest!r} is not a number; {example}") from None
    if not price.is_finite():
        raise ValueError(f"item {spec!r}: price {rest!r} is not a number; {example}")
    return {"name": name, "quantity": int(quantity), "price": price}


def order_payload(customer: str, items: list[dict[str, Any]], total: Decimal | None) -> dict[str, Any]:
    computed = sum((Decimal(item["price"]) * item["quantity"] for item in items), Decimal("0"))
    amount = total if total is not None else computed
    return {
        "customerName": customer,
        "snackItems": [{**item, "price": float(item["price"])} for item in items],
        "totalAmount": float(amount),
    }


def wait_for_final(aws: Aws, order_id: str, timeout: float = 30.0) -> OrderRecord | None:
    """Poll until the order leaves NEW (or the timeout passes)."""
    import time

    deadline = time.monotonic() + timeout
    order = get_order(aws, order_id)
    while order is not None and order.status is OrderStatus.NEW and time.monotonic() < deadline:
        time.sleep(0.05)
        order = get_order(aws, order_id)
    return order
