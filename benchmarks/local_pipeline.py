"""The local pipeline under load: orders/s sustained and NEW -> PROCESSED latency, nothing lost.

Orders go in through the real entry point (Lambda Invoke of order-creator over HTTP, as the aws
CLI does) from a pool of client threads; each order's latency is its own record's
``processedAt - createdAt`` (milliseconds, written by the handlers).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from benchmarks.stats import median, percentile
from order_service.domain.order import OrderStatus, parse_utc_timestamp
from snacks import operations
from snacks.aws import Aws
from stacks import definitions


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

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds


def sample_order(index: int) -> dict[str, Any]:
    quantity, price = 1 + index % 3, 1.0 + (index % 7) * 0.5
    return {
        "customerName": f"Bench Customer {index}",
        "snackItems": [{"name": "Pretzels", "quantity": quantity, "price": price}],
        "totalAmount": round(quantity * price, 2),
    }


def _processed_count(aws: Aws) -> int:
    """PROCESSED orders, through the status index; a COUNT query still pages at 1 MB read."""
    pages = (
        aws.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=definitions.ORDERS_TABLE,
            IndexName=definitions.STATUS_INDEX,
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": OrderStatus.PROCESSED.value}},
            Select="COUNT",
        )
    )
    return sum(int(page["Count"]) for page in pages)


def _progress(done: int, total: int, started: float, label: str) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    rate = done / max(time.perf_counter() - started, 1e-9)
    sys.stderr.write(f"\r  {label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}  {rate:6.0f}/s")
    sys.stderr.flush()


def _paced(aws: Aws, index: int, start: float, rate: float | None) -> dict[str, Any]:
    if rate:
        time.sleep(max(0.0, start + index / rate - time.perf_counter()))
    return operations.invoke_creator(aws, sample_order(index))


def run(orders: int, concurrency: int = 8, progress: bool = True, rate: float | None = None) -> PipelineResult:
    """``orders`` through a fresh local stack: as fast as ``concurrency`` clients go (saturation:
    throughput), or at ``rate`` orders/s (below saturation: latency without a queue in front)."""
    from snacks.local import LocalStack

    boot = time.perf_counter()
    with LocalStack(port=0) as stack:
        startup_ms = (time.perf_counter() - boot) * 1000
        aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
        started = time.perf_counter()
        ids: list[str] = []
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for reply in pool.map(lambda i: _paced(aws, i, started, rate), range(orders)):
                ids.append(reply["orderId"])
                if progress and len(ids) % 100 == 0:
                    _progress(len(ids), orders, started, "created  ")
        processed, deadline = 0, time.monotonic() + 120 + orders / 20
        while processed < orders and time.monotonic() < deadline:
            processed = _processed_count(aws)
            if progress:
                _progress(processed, orders, started, "processed")
            if processed < orders:
                time.sleep(2.0)  # each count is a GSI query moto answers by reading every item: keep it rare
        stack.wait_until_idle(timeout=30)
        if progress:
            sys.stderr.write("\n")
        records = [order for order in operations.list_orders(aws) if order.order_id in set(ids)]
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
        )
