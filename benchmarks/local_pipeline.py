"""The local pipeline under load: orders/s sustained and NEW -> PROCESSED latency, nothing lost.

Orders go in through the real entry point (Lambda Invoke of order-creator over HTTP, as the aws
CLI does) from a pool of client threads in a process of their own (benchmarks.load_generator), so
the clients' CPU is not charged to the stack; each order's latency is its own record's
``processedAt - createdAt`` (milliseconds, written by the handlers).
"""

from __future__ import annotations

import contextlib
import gc
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from benchmarks import cpu_profile
from benchmarks.load_generator import sample_order
from benchmarks.stats import median, percentile
from order_service.domain.order import OrderStatus, parse_utc_timestamp
from snacks import operations
from snacks.aws import Aws

__all__ = ["PipelineResult", "run", "sample_order"]


@dataclass(frozen=True)
class PipelineResult:
    orders: int
    seconds: float
    processed: int
    lost: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    startup_ms: float
    cpu_ms_per_order: float  # this process's CPU (all threads: stack, handlers, load generator)
    gc_ms_per_order: float  # of which Python's cyclic garbage collector
    profile: cpu_profile.Profile | None = None

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds


def _send(endpoint: str, region: str, orders: int, concurrency: int, rate: float | None, progress: bool) -> list[str]:
    """The order IDs created by benchmarks.load_generator, run in a process of its own."""
    command = [sys.executable, "-m", "benchmarks.load_generator", endpoint, "--region", region]
    command += ["--orders", str(orders), "--concurrency", str(concurrency)]
    command += ["--rate", str(rate)] * (rate is not None) + ["--progress"] * progress
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True, timeout=600 + orders)
    return [str(order_id) for order_id in json.loads(done.stdout)]


def run(
    orders: int,
    concurrency: int = 8,
    progress: bool = True,
    rate: float | None = None,
    profile: bool = False,
    iam: str = "enforce",
) -> PipelineResult:
    """``orders`` through a fresh local stack: as fast as ``concurrency`` clients go (saturation:
    throughput), or at ``rate`` orders/s (below saturation: latency without a queue in front).
    ``profile`` samples the run with py-spy (cpu_profile) when it is installed."""
    from snacks.local import LocalStack

    boot = time.perf_counter()
    with LocalStack(port=0, iam=iam) as stack, _gc_timer() as collector_seconds:
        startup_ms = (time.perf_counter() - boot) * 1000
        aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
        cpu_started, gc_started = time.process_time(), collector_seconds()
        with cpu_profile.sampled() if profile else _nothing() as profiles:
            ids = _send(stack.endpoint_url, stack.region, orders, concurrency, rate, progress)
            # Every order's event is handed to delivery before its creator returns, so an idle stack
            # has processed all it will. (Counting PROCESSED orders through the status index instead
            # made moto read every order each poll, under the DynamoDB lock: O(orders) per poll, which
            # slowed the 10,000-order run the bench compares with the 1,000-order one.)
            with contextlib.suppress(TimeoutError):
                stack.wait_until_idle(timeout=120 + orders / 20)
        cpu_ms = (time.process_time() - cpu_started) * 1000
        gc_ms = (collector_seconds() - gc_started) * 1000
        wanted = set(ids)
        records = [order for order in operations.list_orders(aws) if order.order_id in wanted]
        statuses = Counter(order.status for order in records)
        latencies = [
            (parse_utc_timestamp(order.processed_at) - parse_utc_timestamp(order.created_at)).total_seconds() * 1000
            for order in records
            if order.processed_at
        ]
        first = min(parse_utc_timestamp(order.created_at) for order in records)
        last = max(parse_utc_timestamp(order.processed_at) for order in records if order.processed_at)
        return PipelineResult(
            orders=orders,
            seconds=(last - first).total_seconds(),
            processed=statuses[OrderStatus.PROCESSED],
            lost=orders - statuses[OrderStatus.PROCESSED],
            p50_ms=median(latencies),
            p95_ms=percentile(latencies, 95),
            p99_ms=percentile(latencies, 99),
            startup_ms=startup_ms,
            cpu_ms_per_order=cpu_ms / orders,
            gc_ms_per_order=gc_ms / orders,
            profile=profiles[0] if profiles else None,
        )


@contextlib.contextmanager
def _nothing() -> Iterator[list[cpu_profile.Profile]]:
    yield []


@contextlib.contextmanager
def _gc_timer() -> Iterator[Callable[[], float]]:
    """CPU seconds spent in Python's garbage collector while the block runs (gc.callbacks).

    A collection runs in the thread whose allocation triggered it, so that thread's CPU clock
    times it without counting the waits a loaded machine adds to wall time.
    """
    spent, began = [0.0], [0.0]

    def callback(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            began[0] = time.thread_time()
        else:
            spent[0] += time.thread_time() - began[0]

    gc.callbacks.append(callback)
    try:
        yield lambda: spent[0]
    finally:
        gc.callbacks.remove(callback)
