"""Orders into a running local stack from a process of its own, as the aws CLI would send them.

``python -m benchmarks.load_generator ENDPOINT --orders N [--rate R] [--concurrency C]`` invokes
order-creator N times over HTTP from C client threads (at R orders/s if given) and prints the
created order IDs as one JSON list. A separate process, so the clients' CPU and GIL are not charged
to the stack being measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from snacks import operations
from snacks.aws import Aws


def sample_order(index: int) -> dict[str, Any]:
    quantity, price = 1 + index % 3, 1.0 + (index % 7) * 0.5
    return {
        "customerName": f"Bench Customer {index}",
        "snackItems": [{"name": "Pretzels", "quantity": quantity, "price": price}],
        "totalAmount": round(quantity * price, 2),
    }


def _progress(done: int, total: int, started: float) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    rate = done / max(time.perf_counter() - started, 1e-9)
    sys.stderr.write(f"\r  created [{'#' * filled}{'.' * (width - filled)}] {done}/{total}  {rate:6.0f}/s")
    sys.stderr.flush()


def send(aws: Aws, orders: int, concurrency: int, rate: float | None, progress: bool) -> list[str]:
    started = time.perf_counter()

    def one(index: int) -> str:
        if rate:
            time.sleep(max(0.0, started + index / rate - time.perf_counter()))
        return str(operations.invoke_creator(aws, sample_order(index))["orderId"])

    ids: list[str] = []
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for order_id in pool.map(one, range(orders)):
            ids.append(order_id)
            if progress and len(ids) % 100 == 0:
                _progress(len(ids), orders, started)
    if progress:
        sys.stderr.write("\n")
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_generator")
    parser.add_argument("endpoint")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--orders", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    aws = Aws(endpoint_url=args.endpoint, region=args.region)
    print(json.dumps(send(aws, args.orders, args.concurrency, args.rate, args.progress)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
