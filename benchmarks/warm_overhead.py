"""Warm per-invocation overhead of our code, excluding the AWS calls themselves.

Each handler runs warm, in-process, against the local stack's backends. Time spent inside AWS
calls (between botocore's ``before-call`` and ``after-call``) is subtracted from the handler's
wall time; what remains is our code, Powertools and request serialization. A bare handler making
the same calls with the same clients is measured the same way, interleaved; the difference is
the overhead our code adds.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from typing import Any, TextIO

from benchmarks.local_pipeline import sample_order
from benchmarks.stats import median
from stacks import definitions


@dataclass(frozen=True)
class OverheadResult:
    function: str
    ours_ms: float
    bare_ms: float

    @property
    def added_ms(self) -> float:
        return self.ours_ms - self.bare_ms


class AwsTimer:
    """Accumulates time spent inside AWS calls on the current thread."""

    def __init__(self) -> None:
        self.local = threading.local()

    def reset(self) -> None:
        self.local.total = 0.0

    @property
    def total(self) -> float:
        return float(getattr(self.local, "total", 0.0))

    def before(self, **_: Any) -> None:
        self.local.started = time.perf_counter()

    def after(self, **_: Any) -> None:
        self.local.total = self.total + time.perf_counter() - self.local.started


class Context:
    function_name = definitions.ORDER_CREATOR
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{definitions.ORDER_CREATOR}"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return definitions.CREATOR_TIMEOUT_SECONDS * 1000  # a fresh invocation


@contextmanager
def _handler_output_to(sink: TextIO, *loggers: Any) -> Iterator[None]:
    """Send the handlers' log lines (Powertools Logger) and EMF metrics (print) to ``sink``."""
    previous = [logger.registered_handler.setStream(sink) for logger in loggers]
    try:
        with redirect_stdout(sink):
            yield
    finally:
        for logger, stream in zip(loggers, previous, strict=True):
            logger.registered_handler.setStream(stream)


def _measure(call: Callable[[], Any], timer: AwsTimer) -> float:
    timer.reset()
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start - timer.total) * 1000


def measure(invocations: int = 400) -> list[OverheadResult]:
    from snacks.local import LocalStack

    with LocalStack(port=0) as stack:
        from snacks.aws import Aws

        aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
        from snacks import operations

        operations.invoke_creator(aws, sample_order(0))  # let the stack load the handler modules
        stack.wait_until_idle(timeout=30)
        creator = sys.modules["order_service.handlers.order_creator"]
        processor = sys.modules["order_service.handlers.order_processor"]
        dynamodb, events = creator.orders._client, creator.events._client
        step_dynamodb = processor.processor._orders._client
        timer = AwsTimer()
        for client in {id(c): c for c in (dynamodb, events, step_dynamodb)}.values():
            client.meta.events.register("before-call", timer.before)
            client.meta.events.register("after-call", timer.after)

        def bare_creator() -> None:
            order = sample_order(1)
            order_id = str(uuid.uuid4())
            dynamodb.put_item(
                TableName=definitions.ORDERS_TABLE,
                Item={
                    "orderId": {"S": order_id},
                    "status": {"S": "NEW"},
                    "customerName": {"S": order["customerName"]},
                    "totalAmount": {"N": str(order["totalAmount"])},
                    "createdAt": {"S": "2026-01-01T00:00:00.000Z"},
                },
            )
            events.put_events(
                Entries=[
                    {
                        "Source": "bench.bare",  # matches no rule: no workflow runs for the floor
                        "DetailType": "Bare",
                        "Detail": json.dumps({"orderId": order_id}),
                        "EventBusName": definitions.EVENT_BUS,
                    }
                ]
            )

        context = Context()
        created_ids: list[str] = []

        def our_creator() -> None:
            created_ids.append(creator.handler(sample_order(2), context)["orderId"])

        # Processor: the validate step of an existing order vs a bare GetItem of it.
        probe = creator.handler(sample_order(3), context)["orderId"]
        stack.wait_until_idle(timeout=30)
        step_event = {"step": "validate", "orderId": probe, "eventId": "bench", "executionArn": "bench"}

        def our_step() -> None:
            processor.handler(step_event, context)

        def bare_step() -> None:
            step_dynamodb.get_item(
                TableName=definitions.ORDERS_TABLE, Key={"orderId": {"S": probe}}, ConsistentRead=True
            )

        results = []
        # On Lambda, what a handler prints goes down a pipe to the runtime; a terminal is far slower.
        with open(os.devnull, "w") as sink, _handler_output_to(sink, creator.logger, processor.logger):
            for function, ours, bare in (
                (definitions.ORDER_CREATOR, our_creator, bare_creator),
                (definitions.ORDER_PROCESSOR, our_step, bare_step),
            ):
                ours_runs, bare_runs = [], []
                for _ in range(invocations):
                    ours_runs.append(_measure(ours, timer))
                    bare_runs.append(_measure(bare, timer))
                results.append(OverheadResult(function, median(ours_runs), median(bare_runs)))
        for client in {id(c): c for c in (dynamodb, events, step_dynamodb)}.values():
            client.meta.events.unregister("before-call", timer.before)
            client.meta.events.unregister("after-call", timer.after)
        stack.wait_until_idle(timeout=60)
        return results
