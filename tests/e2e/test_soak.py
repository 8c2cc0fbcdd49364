"""Soak: many orders, with failures, duplicates and dropped publications; nothing is lost or done twice.

Categories are encoded in the quantity of the order's single item, because that is what the
injected faults can see at their boundary (the event detail carries ``itemCount``):

* quantity 1-3  normal;
* quantity 11   publication dropped: the creator's PutEvents fails -> order left NEW -> reconcile;
* quantity 12   doomed: "Outage Oatcake" fails fulfilment on every attempt during the outage ->
                FAILED + DLQ; after the outage ends, ``dlq replay`` brings it to PROCESSED;
* quantity 13   delivered twice: its Order Created event is published a second time.

Default size keeps CI quick; ``make soak`` (or ``--soak-orders N``) scales it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from unittest.mock import patch

import pytest
from botocore.exceptions import ClientError

from order_service.domain.fulfillment import FaultRule
from order_service.domain.order import OrderStatus
from order_service.domain.order_recovery import REPLAYED
from snacks import operations
from snacks.aws import Aws
from stacks import definitions

from .conftest import handler_module

DROPPED, DOOMED, DUPLICATED = 11, 12, 13
SHARE = 20  # one order in SHARE of each special category


def order_for(index: int) -> dict[str, Any]:
    category = index % SHARE
    quantity = {1: DROPPED, 2: DOOMED, 3: DUPLICATED}.get(category, 1 + index % 3)
    name = "Outage Oatcake" if quantity == DOOMED else f"Snack {index % 7}"
    price = 0.5 + (index % 9) * 0.25
    return {
        "customerName": f"Soak Customer {index}",
        "snackItems": [{"name": name, "quantity": quantity, "price": price}],
        "totalAmount": round(quantity * price, 2),
    }


class StepCounter:
    """Counts, per order, the writes that must happen exactly once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fulfilled: Counter[str] = Counter()
        self.processed: Counter[str] = Counter()

    def wrap(self, processor: Any) -> tuple[Any, Any]:
        real_fulfil, real_mark = processor.fulfil, processor.mark_processed

        def fulfil(step: Any) -> Any:
            result = real_fulfil(step)
            if not result["repeated"]:
                with self.lock:
                    self.fulfilled[step.order_id] += 1
            return result

        def mark_processed(step: Any) -> Any:
            result = real_mark(step)
            if result["changed"]:
                with self.lock:
                    self.processed[step.order_id] += 1
            return result

        return fulfil, mark_processed


def wait_idle(stack: Any, pipeline: Aws, order_ids: list[str], timeout: float) -> dict[str, OrderStatus]:
    stack.wait_until_idle(timeout=timeout)
    return {
        order.order_id: order.status for order in operations.list_orders(pipeline) if order.order_id in set(order_ids)
    }


@pytest.mark.soak
def test_soak_no_order_lost_or_processed_twice(pipeline: Aws, local_stack: Any, request: pytest.FixtureRequest) -> None:
    total = int(request.config.getoption("--soak-orders"))
    operations.invoke_creator(pipeline, order_for(0))  # load the handler modules before patching them
    local_stack.wait_until_idle(timeout=30)
    creator, processor_module = handler_module("order_creator"), handler_module("order_processor")
    processor = processor_module.processor
    events_client = creator.events._client
    real_put_events = events_client.put_events

    def put_events(**kwargs: Any) -> Any:
        detail = json.loads(kwargs["Entries"][0]["Detail"])
        if detail["itemCount"] == DROPPED:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "injected"}}, "PutEvents")
        return real_put_events(**kwargs)

    counter = StepCounter()
    fulfil, mark_processed = counter.wrap(processor)
    outage = {"outage oatcake": FaultRule("transient")}  # not in the stack's own fault plan
    started = time.perf_counter()
    with (
        patch.object(events_client, "put_events", side_effect=put_events),
        patch.object(processor, "fulfil", side_effect=fulfil),
        patch.object(processor, "mark_processed", side_effect=mark_processed),
    ):
        with patch.dict(processor.fault_plan, outage):
            with ThreadPoolExecutor(max_workers=8) as pool:
                replies = list(
                    pool.map(lambda i: operations.invoke_creator(pipeline, order_for(i)), range(1, total + 1))
                )
            assert all(reply["statusCode"] == 201 for reply in replies)
            ids = [reply["orderId"] for reply in replies]
            category = {
                reply["orderId"]: order_for(i)["snackItems"][0]["quantity"] for i, reply in enumerate(replies, 1)
            }

            # Redeliver the duplicates' events (at-least-once delivery, as EventBridge may do).
            bus = pipeline.client("events")
            for order_id in (oid for oid in ids if category[oid] == DUPLICATED):
                detail = json.dumps({"orderId": order_id, "itemCount": DUPLICATED, "totalAmount": "0", "createdAt": ""})
                bus.put_events(
                    Entries=[{"Source": definitions.RULE_EVENT_SOURCE, "DetailType": definitions.RULE_DETAIL_TYPE,
                              "Detail": detail, "EventBusName": definitions.EVENT_BUS}]
                )  # fmt: skip
            statuses = wait_idle(local_stack, pipeline, ids, timeout=120 + total / 20)
            first_pass_seconds = time.perf_counter() - started

            dropped = {oid for oid in ids if category[oid] == DROPPED}
            doomed = {oid for oid in ids if category[oid] == DOOMED}
            assert {oid for oid, status in statuses.items() if status is OrderStatus.NEW} == dropped
            assert {oid for oid, status in statuses.items() if status is OrderStatus.FAILED} == doomed

            report = operations.reconcile(pipeline, older_than_seconds=0, dry_run=False)
            assert dropped <= set(report.order_ids) and report.publish_failures == 0
            statuses = wait_idle(local_stack, pipeline, ids, timeout=60)

        # Every order is now PROCESSED, or FAILED with its reason in the DLQ.
        letters = operations.list_dead_letters(pipeline)
        in_dlq = {letter.order_id for letter in letters}
        failed = {oid for oid, status in statuses.items() if status is OrderStatus.FAILED}
        assert failed == doomed and failed <= in_dlq
        assert all(status in (OrderStatus.PROCESSED, OrderStatus.FAILED) for status in statuses.values())

        # The outage is over (the patched fault plan is restored): replay the DLQ.
        outcomes = operations.replay_dead_letters(pipeline, order_id=None, dry_run=False)
        assert {o.letter.order_id for o in outcomes if o.outcome == REPLAYED} >= doomed
        statuses = wait_idle(local_stack, pipeline, ids, timeout=60)

    assert Counter(statuses.values()) == Counter({OrderStatus.PROCESSED: total})
    assert operations.list_dead_letters(pipeline) == []
    assert all(counter.fulfilled[oid] == 1 for oid in ids), "an order was fulfilled twice or never"
    assert all(counter.processed[oid] == 1 for oid in ids), "an order was marked PROCESSED twice or never"
    duplicates = sum(1 for oid in ids if category[oid] == DUPLICATED)
    print(
        f"\nsoak: orders={total} duplicates_injected={duplicates} failures_injected={len(doomed)} "
        f"publications_dropped={len(dropped)} lost=0 double_processed=0 first_pass={first_pass_seconds:.1f}s "
        f"({total / first_pass_seconds:.0f} orders/s)"
    )
