"""Unit-test fixtures: moto in-process AWS with the pipeline's resources, and fresh handler modules.

The handlers create their boto3 clients at import time (through ``order_service.adapters.clients``,
which caches one boto3 session). A client talks to moto only if its session was created after
moto was imported, so the fixtures hand ``clients`` one such session (shared by all tests: a new
session reloads the endpoint and service models, ~0.3 s each time) and import a fresh copy of the
handler module inside ``mock_aws``, which starts every test with empty AWS state. Handler modules
imported before a test are put back afterwards, never modified.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from order_service.adapters import clients
from order_service.domain.events import order_created_pattern
from snacks.local.provision import create_tables
from stacks import definitions

REGION = "us-east-1"

# Created after moto is imported, so every client it makes goes through moto's stubber.
SESSION = boto3.session.Session(region_name=REGION)


@functools.cache
def aws_client(service: str) -> Any:
    """The tests' own clients (reused: moto resets its state, not the clients, per test)."""
    return SESSION.client(service)


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:test-function"
    aws_request_id: str = "req-00000000-0000-0000-0000-000000000001"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "stream"
    # A fresh invocation of order-creator; tests of the deadline set less.
    remaining_ms: int = definitions.CREATOR_TIMEOUT_SECONDS * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Aws:
    """moto clients plus the names of what was created."""

    dynamodb: Any
    events: Any
    sqs: Any
    event_queue_url: str
    dlq_url: str
    created: list[str] = field(default_factory=list)

    def scan_orders(self) -> list[dict[str, Any]]:
        from order_service.adapters.dynamodb_orders import from_attributes

        items = self.dynamodb.scan(TableName=definitions.ORDERS_TABLE, ConsistentRead=True)["Items"]
        return [from_attributes(item) for item in items]

    def published_events(self) -> list[dict[str, Any]]:
        """Every event the rule delivered to the test queue (drains the queue)."""
        events: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.event_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.event_queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    """The local Stripe stand-in (snacks/local/stripe_emulator.py), one per module that asks for it."""
    from snacks.local.stripe_emulator import StripeEmulator

    local = StripeEmulator()
    local.start()
    yield local
    local.stop()


def status_event_publisher() -> Any:
    """What order-processor announces Order Processed with: the real adapter on moto's bus."""
    from order_service.adapters.eventbridge_publisher import EventBridgePublisher

    return EventBridgePublisher(aws_client("events"), definitions.EVENT_BUS)


def create_resources() -> Aws:
    dynamodb = aws_client("dynamodb")
    create_tables(dynamodb)  # the local stack's tables: the stack's key schema, index and TTL
    events = aws_client("events")
    events.create_event_bus(Name=definitions.EVENT_BUS)
    sqs = aws_client("sqs")
    queue_url = sqs.create_queue(QueueName="test-order-created-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="test-order-created-to-sqs",
        EventBusName=definitions.EVENT_BUS,
        EventPattern=json.dumps(order_created_pattern()),
    )
    events.put_targets(
        Rule="test-order-created-to-sqs",
        EventBusName=definitions.EVENT_BUS,
        Targets=[{"Id": "queue", "Arn": queue_arn}],
    )
    dlq_url = sqs.create_queue(QueueName=definitions.DEAD_LETTER_QUEUE)["QueueUrl"]
    return Aws(dynamodb=dynamodb, events=events, sqs=sqs, event_queue_url=queue_url, dlq_url=dlq_url)


HANDLER_MODULES = (
    "order_service.handlers.order_creator",
    "order_service.handlers.order_processor",
    "order_service.handlers.order_reconciler",
    "order_service.handlers.order_canceller",
)


@pytest.fixture
def aws() -> Iterator[Aws]:
    saved = {name: sys.modules.get(name) for name in HANDLER_MODULES}
    with mock_aws():
        clients._session = SESSION  # handler modules imported from here on talk to moto
        try:
            yield create_resources()
        finally:
            clients._session = None
            _restore_modules(saved)


def _restore_modules(saved: dict[str, ModuleType | None]) -> None:
    """Put back whatever handler modules were imported before the test (moto-bound copies go away)."""
    import order_service.handlers as package

    for name, module in saved.items():
        attribute = name.rsplit(".", 1)[1]
        if module is None:
            sys.modules.pop(name, None)
            if hasattr(package, attribute):
                delattr(package, attribute)
        else:
            sys.modules[name] = module
            setattr(package, attribute, module)


def fresh_module(name: str) -> ModuleType:
    """A new copy of a handler module, imported now so its module-level clients are moto's.

    Only for use inside the ``aws`` fixture, which restores the previous module afterwards; a
    copy imported earlier (by other code) is never modified.
    """
    sys.modules.pop(name, None)
    return importlib.import_module(name)


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


class _CurrentStdout:
    """A stream that writes to whatever ``sys.stdout`` is at write time (capsys swaps it per test phase)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@contextlib.contextmanager
def capture_stdout_logs(logger: Any, capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[str]]]:
    """A handler's stdout (Powertools JSON logs and EMF metrics), one entry per line.

    Powertools' log handler keeps the ``sys.stdout`` of the moment its logger was first built, so
    for the duration of the block it writes to the live ``sys.stdout`` that capsys captures.
    """
    handler = logger.registered_handler
    # Swapped without setStream, which flushes the old stream: under mutmut, pytest runs several
    # sessions in one process and that stream may be an earlier session's capture, now closed.
    previous, handler.stream = handler.stream, _CurrentStdout()
    try:
        yield lambda: [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    finally:
        handler.stream = previous
