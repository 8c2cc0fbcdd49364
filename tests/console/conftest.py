"""Console fixtures: one local stack (with the demo's faults) and one console for the whole package."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from order_service.domain.order import OrderRecord, OrderStatus
from snacks import operations
from snacks.aws import Aws
from snacks.console.server import ConsoleServer


@pytest.fixture(scope="package")
def stack() -> Iterator[Any]:
    from snacks.local import DEMO_FAULT_PLAN, LocalStack

    with LocalStack(port=0, fulfillment_faults=DEMO_FAULT_PLAN, virtual_time=True) as local:
        yield local


@pytest.fixture(scope="package")
def aws(stack: Any) -> Aws:
    return Aws(endpoint_url=stack.endpoint_url, region=stack.region)


@pytest.fixture(scope="package")
def console(aws: Aws) -> Iterator[ConsoleServer]:
    with ConsoleServer(aws, port=0) as server:
        yield server


def create_order(aws: Aws, customer: str, *items: tuple[str, int, str]) -> str:
    payload = operations.order_payload(
        customer, [operations.parse_item(f"{name}:{quantity}:{price}") for name, quantity, price in items], None
    )
    reply = operations.invoke_creator(aws, payload)
    assert reply["statusCode"] == 201, reply
    return str(reply["orderId"])


def wait_for(aws: Aws, order_id: str, status: OrderStatus, timeout: float = 30) -> OrderRecord:
    deadline = time.monotonic() + timeout
    order = operations.get_order(aws, order_id)
    while (order is None or order.status is not status) and time.monotonic() < deadline:
        time.sleep(0.05)
        order = operations.get_order(aws, order_id)
    assert order is not None and order.status is status, order
    return order


def order_count(aws: Aws) -> int:
    return sum(1 for _ in operations.list_orders(aws))
