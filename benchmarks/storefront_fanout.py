"""Live-status fan-out on the local stack: N WebSocket subscribers on one order, R status events.

    python -m benchmarks.storefront_fanout                  # 200 subscribers, 10 events
    python -m benchmarks.storefront_fanout --subscribers 50 --events 5 --no-write

Each event goes the deployed path: PutEvents on the order bus -> the status rule -> storefront-pusher
(the real handler, in-process) -> PostToConnection per subscriber -> the socket. Latency is from the
PutEvents call to each subscriber's receipt of that event; every subscriber must receive every event.
The result replaces its own section of benchmarks/results.md (``make bench`` keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from benchmarks import kept_sections
from benchmarks.stats import percentile
from order_service.domain.events import ORDER_EVENT_SOURCE, ORDER_FAILED_DETAIL_TYPE
from order_service.domain.order import utc_timestamp

RESULTS = Path(__file__).with_name("results.md")
BEGIN, END = "<!-- storefront-fanout -->", "<!-- /storefront-fanout -->"


def kept_section(path: Path = RESULTS) -> list[str]:
    """The fan-out section of the current results, for ``make bench`` to carry over."""
    return kept_sections.kept_section(path, BEGIN, END)


def run(subscribers: int, events: int) -> dict[str, float]:
    from datetime import UTC, datetime, timedelta

    from websockets.sync.client import connect

    from snacks.local import LocalStack

    with LocalStack(port=0) as stack:
        store = stack.storefront
        order = {
            "customerName": "Bench",
            "snackItems": [{"name": "Chips", "quantity": 1, "price": 1.0}],
            "totalAmount": 1.0,
        }
        request = urllib.request.Request(
            store.http_api_url + "/orders",
            json.dumps(order).encode(),
            {"content-type": "application/json"},
            method="POST",
        )
        placed = json.loads(urllib.request.urlopen(request, timeout=30).read())
        # Subscribe once the order has settled, so its own Order Processed is not among the measured pushes.
        stack.wait_until_idle(timeout=120)
        url = f"{store.websocket_url}/?{urlencode({'orderId': placed['orderId'], 'token': placed['orderToken']})}"
        sent: dict[int, float] = {}
        received: list[list[tuple[int, float]]] = [[] for _ in range(subscribers)]
        ready = threading.Barrier(subscribers + 1)
        started = time.perf_counter()

        def subscriber(index: int) -> None:
            with connect(url, open_timeout=120) as socket:
                socket.send("{}")
                socket.recv(timeout=120)  # the current status
                ready.wait(timeout=300)
                while len(received[index]) < events:
                    message = json.loads(socket.recv(timeout=120))
                    received[index].append((int(message["sequence"]), time.perf_counter()))

        threads = [threading.Thread(target=subscriber, args=(i,), daemon=True) for i in range(subscribers)]
        for thread in threads:
            thread.start()
        ready.wait(timeout=300)
        connect_seconds = time.perf_counter() - started
        events_client = stack.client("events")
        base = datetime.now(UTC)
        for round_ in range(events):
            stamp = utc_timestamp(base + timedelta(milliseconds=round_ + 1))
            detail = {"orderId": placed["orderId"], "status": "FAILED", "reason": "Benchmark", "timestamp": stamp}
            sequence = int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp() * 1000)
            sent[sequence] = time.perf_counter()
            events_client.put_events(
                Entries=[
                    {
                        "Source": ORDER_EVENT_SOURCE,
                        "DetailType": ORDER_FAILED_DETAIL_TYPE,
                        "Detail": json.dumps(detail),
                        "EventBusName": stack.names.event_bus,
                    }
                ]
            )
            # Paced: the next change once every subscriber has this one (an order's changes come seconds
            # apart), so each figure is one event's fan-out, not a backlog; bounded, never forever.
            deadline = time.monotonic() + 120
            while min(len(per) for per in received) <= round_ and time.monotonic() < deadline:
                time.sleep(0.002)
        for thread in threads:
            thread.join(timeout=300)
        latencies = [(at - sent[sequence]) * 1000 for per in received for sequence, at in per if sequence in sent]
        complete = sum(1 for per in received if sorted(s for s, _ in per) == sorted(sent))
    return {
        "subscribers": subscribers,
        "events": events,
        "complete": complete,
        "deliveries": len(latencies),
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "max": max(latencies) if latencies else float("nan"),
        "connect_s": connect_seconds,
    }


def section(result: dict[str, float]) -> str:
    load = os.getloadavg()[0]
    return "\n".join(
        [
            BEGIN,
            "## Live-status fan-out (storefront WebSocket, local stack)",
            "",
            "`python -m benchmarks.storefront_fanout "
            f"--subscribers {result['subscribers']} --events {result['events']}`, "
            f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, "
            f"load average {load:.1f} on {os.cpu_count()} shared cores. "
            "Latency: PutEvents of a status event -> the message on each subscriber's socket "
            "(rule -> storefront-pusher -> PostToConnection per connection, one pusher environment); "
            "events paced: each is published once every subscriber has the previous one.",
            "",
            "| subscribers | events | subscribers that got every event | deliveries | p50 | p99 | max | "
            "connect + first status, all |",
            "|---|---|---|---|---|---|---|---|",
            f"| {result['subscribers']} | {result['events']} | {result['complete']} | {result['deliveries']} | "
            f"{result['p50']:.0f} ms | {result['p99']:.0f} ms | {result['max']:.0f} ms | {result['connect_s']:.1f} s |",
            END,
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    text = section(run(args.subscribers, args.events))
    print(text)
    if not args.no_write:
        kept_sections.write_section(RESULTS, BEGIN, END, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
