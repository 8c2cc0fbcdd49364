"""End-to-end fixtures: a local stack started by the test, or the deployed stack when opted in.

``SNACKS_DEPLOYED_STACK=1`` (with real AWS credentials and region) runs the seed-flow tests
against the stack in your account instead; tests that inject faults stay local-only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from snacks.aws import Aws

DEPLOYED = bool(os.environ.get("SNACKS_DEPLOYED_STACK"))
SOAK_ORDERS = 500


def pytest_addoption(parser: pytest.Parser) -> None:
    # 500: 25 orders of each injected category (dropped, doomed, published twice, delivered twice) and
    # 50 proven races per run, in seconds; `make soak` runs 10,000.
    parser.addoption(
        "--soak-orders", type=int, default=SOAK_ORDERS, help=f"orders in the soak test (default {SOAK_ORDERS})"
    )


@pytest.fixture(scope="module")
def local_stack() -> Iterator[object]:
    if DEPLOYED:
        pytest.skip("fault injection needs the local stack (SNACKS_DEPLOYED_STACK is set)")
    from snacks.local import DEMO_FAULT_PLAN, LocalStack

    with LocalStack(port=0, fulfillment_faults=DEMO_FAULT_PLAN, virtual_time=True) as stack:
        yield stack


@pytest.fixture(scope="module")
def pipeline(request: pytest.FixtureRequest) -> Iterator[Aws]:
    """Clients for the pipeline under test: local by default, deployed when opted in."""
    if DEPLOYED:
        yield Aws()
        return
    stack = request.getfixturevalue("local_stack")
    yield Aws(endpoint_url=stack.endpoint_url, region=stack.region)  # type: ignore[attr-defined]


def handler_module(name: str) -> ModuleType:
    """The handler module the local stack runs (to inject faults at its AWS clients)."""
    return sys.modules[f"order_service.handlers.{name}"]
