"""A storm of polls on one order's GET /orders/{id}, with and without the (emulated) CloudFront cache.

    python -m benchmarks.storefront_polls                   # 50 clients x 20 polls/s x 10 s, both modes
    python -m benchmarks.storefront_polls --clients 10 --seconds 3 --no-write

Each client keeps one HTTP connection to the local HTTP API and polls the order with its token at the
given rate (the storefront page's loop, gone wrong). The figure that matters is DynamoDB's: every
GetItem the Orders table serves is counted inside moto (the backend's get_item), not estimated.
"With cache" turns on snacks/local/edge_cache.py (SNACKS_EDGE_CACHE=1): one edge location honouring the
cache policy the CDK construct deploys (key path + Authorization + Origin, TTL from the origin's
max-age within [min, max]). The result replaces its own section of benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks import kept_sections
from snacks.local import edge_cache

RESULTS = Path(__file__).with_name("results.md")
BEGIN, END = "<!-- storefront-polls -->", "<!-- /storefront-polls -->"


def kept_section(path: Path = RESULTS) -> list[str]:
    """The poll-storm section of the current results, for ``make bench`` to carry over."""
    return kept_sections.kept_section(path, BEGIN, END)


class GetItemCounter:
    """Counts the GetItem calls moto's DynamoDB backend serves on one table (the Orders table)."""

    def __init__(self, table_name: str) -> None:
        from moto.dynamodb.models import DynamoDBBackend

        self.table_name, self.count, self._lock = table_name, 0, threading.Lock()
        self._backend, self._original = DynamoDBBackend, DynamoDBBackend.get_item
        counter = self

        def get_item(backend: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
            if table_name == counter.table_name:
                with counter._lock:
                    counter.count += 1
            return counter._original(backend, table_name, *args, **kwargs)

        DynamoDBBackend.get_item = get_item  # type: ignore[method-assign]

    def close(self) -> None:
        self._backend.get_item = self._original  # type: ignore[method-assign]


def run(clients: int, rate: float, seconds: float, cached: bool) -> dict[str, Any]:
    from snacks.local import LocalStack

    os.environ[edge_cache.EDGE_CACHE_ENV] = "1" if cached else "0"
    with LocalStack(port=0) as stack:
        store = stack.storefront
        order = {
            "customerName": "Bench",
            "snackItems": [{"name": "Chips", "quantity": 1, "price": 1.0}],
            "totalAmount": 1.0,
        }
        request = urllib.request.Request(
            store.http_api_url + "/orders", json.dumps(order).encode(), {"content-type": "application/json"}
        )
        placed = json.loads(urllib.request.urlopen(request, timeout=30).read())
        order_id, token = placed["order"]["orderId"], placed["orderToken"]
        target = urlsplit(store.http_api_url)
        settle = time.monotonic() + 60  # the pipeline's own reads of the order are not the storm's
        while True:
            read = urllib.request.Request(
                f"{store.http_api_url}/orders/{order_id}", headers={"authorization": f"Bearer {token}"}
            )
            status = json.loads(urllib.request.urlopen(read, timeout=30).read())["order"]["status"]
            if status != "NEW" or time.monotonic() > settle:
                break
            time.sleep(0.2)
        counter = GetItemCounter(stack.names.orders_table)
        hits_before = store.edge_cache.hits if store.edge_cache else 0
        answers: list[int] = []
        lock = threading.Lock()
        start = time.monotonic() + 0.5

        def client() -> None:
            connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
            headers = {"authorization": f"Bearer {token}"}
            mine: list[int] = []
            tick = 0
            while True:
                due = start + tick / rate
                if due >= start + seconds:
                    break
                time.sleep(max(0.0, due - time.monotonic()))
                connection.request("GET", f"/orders/{order_id}", headers=headers)
                response = connection.getresponse()
                response.read()
                mine.append(response.status)
                tick += 1
            connection.close()
            with lock:
                answers.extend(mine)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - start
        counter.close()
        cache = store.edge_cache
        return {
            "cached": cached,
            "clients": clients,
            "rate": rate,
            "seconds": seconds,
            "polls": len(answers),
            "ok": sum(1 for status in answers if status == 200),
            "elapsed": elapsed,
            "get_items": counter.count,
            "hits": cache.hits - hits_before if cache else 0,
        }


def section(results: list[dict[str, Any]]) -> str:
    load = os.getloadavg()[0]
    first = results[0]
    rows = [
        f"| {'CloudFront emulated' if r['cached'] else 'no cache (API Gateway only)'} | {r['polls']} | {r['ok']} | "
        f"{r['polls'] / r['elapsed']:.0f} | {r['get_items']} | {r['get_items'] / max(r['polls'], 1):.3f} | "
        f"{r['get_items'] / r['elapsed']:.1f} | {r['hits']} |"
        for r in results
    ]
    return "\n".join(
        [
            BEGIN,
            "## Poll storm on one order (storefront GET /orders/{id}, local stack)",
            "",
            f"`python -m benchmarks.storefront_polls --clients {first['clients']} --rate {first['rate']:g} "
            f"--seconds {first['seconds']:g}`, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, "
            f"load average {load:.1f} on {os.cpu_count()} shared cores. Offered: "
            f"{first['clients'] * first['rate']:g} polls/s with one order's token; GetItem counted in moto on the "
            "Orders table. The cache is snacks/local/edge_cache.py, one edge location of the deployed cache "
            "policy (on AWS each edge location a page's viewers reach keeps its own copy). Without the cache every "
            "poll is a GetItem, so the reads follow the polls: the local server runs the function per poll and "
            "serves fewer polls than offered (on AWS the stage throttle, 50/s, would answer the rest 429); with "
            "it, one GetItem per TTL whatever the rate.",
            "",
            "| mode | polls answered | 200 | polls/s served | Orders GetItem | GetItem per poll | GetItem/s | "
            "cache hits |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            END,
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=float, default=20.0, help="polls per second per client")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results = [run(args.clients, args.rate, args.seconds, cached) for cached in (False, True)]
    text = section(results)
    print(text)
    if not args.no_write:
        kept_sections.write_section(RESULTS, BEGIN, END, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
