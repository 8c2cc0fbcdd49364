"""Soak: many orders, with failures, racing duplicates and dropped publications; nothing is lost or done twice.

Categories are encoded in the quantity of the order's single item, because that is what the
injected faults can see at their boundary (the event detail carries ``itemCount``):

* quantity 1-3  normal;
* quantity 11   publication dropped: the creator's PutEvents fails -> order left NEW -> reconcile;
* quantity 12   doomed: "Outage Oatcake" fails fulfilment on every attempt during the outage ->
                FAILED + DLQ; after the outage ends, ``dlq replay`` brings it to PROCESSED;
* quantity 13   published twice: the creator's PutEvents is sent twice back to back (a retried
                call whose first attempt got through), so two executions start together;
* quantity 14   delivered twice: once its first execution has passed Validate, the stack starts a
                second execution with the same event (EventBridge delivers at least once).

Async Express workflows run at least once ("Standard vs. Express Workflows", AWS Step Functions
Developer Guide) and EventBridge delivers at least once ("Amazon EventBridge events", EventBridge
User Guide), so a duplicate may run *while* the original does. Here it does, by construction:
the first execution of a racing order to reach Fulfil waits (outside the function, between
steps) until the other execution has passed Validate too. The test then proves each overlap
from the executions' own records in the state machine's log group (Express has no history API):
two executions for the order, both entered Fulfil.

Nothing is counted from the code's own return flags: writes are counted where DynamoDB accepted
them, executions and their steps from Step Functions, events from a queue the bus feeds, failures
from the DLQ. Every printed figure is measured; every injection is confirmed from that data.

Default size keeps CI quick; ``make soak`` (or ``--soak-orders N``) scales it.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from botocore.exceptions import ClientError

from order_service.domain.events import order_created_pattern
from order_service.domain.fulfillment import FaultRule
from order_service.domain.order import OrderStatus
from order_service.domain.order_recovery import REPLAYED
from snacks import operations
from snacks.aws import Aws
from snacks.local.lambda_runtime import DirectInvokeClient
from stacks import definitions
from tests.support.dynamodb_writes import Write, recorded_writes

from .conftest import handler_module

NORMAL, DROPPED, DOOMED, DUPLICATED, REDELIVERED = 0, 11, 12, 13, 14
RACING = (DUPLICATED, REDELIVERED)
SHARE = 20  # one order in SHARE of each special category
SPECIAL = {1: DROPPED, 2: DOOMED, 3: DUPLICATED, 4: REDELIVERED}
# Well inside the Fulfil Task's TimeoutSeconds: a missed overlap is reported (gave_up), never
# turned into a States.Timeout retry that would let the execution go on unnoticed.
OVERLAP_WAIT_SECONDS = definitions.load_asl()["States"]["Fulfil"]["TimeoutSeconds"] / 3

# What each category must leave behind, counted from the outside.
EVENTS_FIRST_PASS = {NORMAL: 1, DROPPED: 0, DOOMED: 1, DUPLICATED: 2, REDELIVERED: 1}
EVENTS_IN_ALL = {NORMAL: 1, DROPPED: 1, DOOMED: 2, DUPLICATED: 2, REDELIVERED: 1}  # + reconcile, + replay
EXECUTIONS = {NORMAL: 1, DROPPED: 1, DOOMED: 2, DUPLICATED: 2, REDELIVERED: 2}
FAILED_WRITES = {NORMAL: 0, DROPPED: 0, DOOMED: 1, DUPLICATED: 0, REDELIVERED: 0}


def category_of(index: int) -> int:
    return SPECIAL.get(index % SHARE, NORMAL)


def order_for(index: int) -> dict[str, Any]:
    category = category_of(index)
    quantity = category or 1 + index % 3
    name = "Outage Oatcake" if category == DOOMED else f"Snack {index % 7}"
    price = 0.5 + (index % 9) * 0.25
    return {
        "customerName": f"Soak Customer {index}",
        "snackItems": [{"name": name, "quantity": quantity, "price": price}],
        "totalAmount": round(quantity * price, 2),
    }


@dataclass
class Overlaps:
    """Makes each racing order's two executions overlap, at the stack's Task -> Lambda boundary.

    Wraps the Step Functions interpreter's Lambda client: the first execution of a racing order to
    ask for Fulfil waits there, holding no function and no lock, until both executions have
    passed Validate. For a REDELIVERED order, the second execution is started (same event) as soon
    as the first has passed Validate.
    """

    category: dict[str, int]
    redeliver: Callable[[str], None]
    condition: threading.Condition = field(default_factory=threading.Condition)
    validated: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    waiting_at_fulfil: set[str] = field(default_factory=set)
    gave_up: set[str] = field(default_factory=set)

    @contextmanager
    def installed(self) -> Iterator[None]:
        real_invoke = DirectInvokeClient.invoke
        overlaps = self

        def invoke(client: DirectInvokeClient, **parameters: Any) -> dict[str, Any]:
            request = json.loads(parameters.get("Payload") or b"{}")
            order_id, step = request.get("orderId", ""), request.get("step")
            if overlaps.category.get(order_id) not in RACING:
                return real_invoke(client, **parameters)
            if step == "fulfil":
                overlaps.wait_for_both_validations(order_id)
            response = real_invoke(client, **parameters)
            if step == "validate":
                payload = response["Payload"].read()
                response["Payload"] = io.BytesIO(payload)
                if json.loads(payload).get("action") == "process":
                    overlaps.passed_validate(order_id, str(request.get("executionArn")))
            return response

        with patch.object(DirectInvokeClient, "invoke", invoke):
            yield

    def passed_validate(self, order_id: str, execution_arn: str) -> None:
        with self.condition:
            first = not self.validated[order_id]
            self.validated[order_id].add(execution_arn)
            self.condition.notify_all()
        if first and self.category[order_id] == REDELIVERED:
            self.redeliver(execution_arn)

    def wait_for_both_validations(self, order_id: str) -> None:
        with self.condition:
            if order_id in self.waiting_at_fulfil:
                return  # the second execution (or a retry): it goes on
            self.waiting_at_fulfil.add(order_id)
            if not self.condition.wait_for(lambda: len(self.validated[order_id]) >= 2, OVERLAP_WAIT_SECONDS):
                self.gave_up.add(order_id)  # the proof below will fail for this order


class BusTap:
    """A log group fed by its own rule on the pipeline's bus: every Order Created event, counted per order.

    A log group, not a queue: moto's SQS receive rescans the whole queue per message, too slow
    for thousands of events."""

    RULE = "soak-tap-order-created"
    GROUP = "/aws/events/soak-tap"

    def __init__(self, pipeline: Aws) -> None:
        self.logs, events = pipeline.client("logs"), pipeline.client("events")
        self.logs.create_log_group(logGroupName=self.GROUP)
        group_arn = f"arn:aws:logs:{pipeline.region}:{local_account(pipeline)}:log-group:{self.GROUP}"
        events.put_rule(
            Name=self.RULE, EventBusName=definitions.EVENT_BUS, EventPattern=json.dumps(order_created_pattern())
        )
        tap = {"Id": "tap", "Arn": group_arn}
        events.put_targets(Rule=self.RULE, EventBusName=definitions.EVENT_BUS, Targets=[tap])

    def per_order(self) -> Counter[str]:
        """Events per order published so far."""
        pages = self.logs.get_paginator("filter_log_events").paginate(logGroupName=self.GROUP)
        return Counter(json.loads(event["message"])["detail"]["orderId"] for page in pages for event in page["events"])


def local_account(pipeline: Aws) -> str:
    return str(pipeline.client("sts").get_caller_identity()["Account"])


def in_process_client(stack: Any, service: str) -> Any:
    """A client of the same Step Functions API without the HTTP round trip: moto intercepts it in
    this process, where the stack runs (thousands of reads would otherwise dominate the test)."""
    return boto3.client(  # type: ignore[call-overload]
        service, region_name=stack.region, aws_access_key_id="local", aws_secret_access_key="local"
    )


@dataclass
class ExecutionLogs:
    """Every execution of the workflow as its log group records it (the outside view of an EXPRESS
    machine: Step Functions neither lists nor describes Express executions, "Standard vs. Express
    Workflows", AWS Step Functions Developer Guide; their history is in CloudWatch Logs)."""

    by_order: dict[str, list[str]]
    entered: dict[str, list[str]]


def read_execution_logs(logs: Any, log_group: str) -> ExecutionLogs:
    by_order: dict[str, list[str]] = defaultdict(list)
    entered: dict[str, list[str]] = defaultdict(list)
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=log_group):
        for line in page["events"]:
            record = json.loads(line["message"])
            arn, details = str(record["execution_arn"]), record.get("details") or {}
            if record["type"] == "ExecutionStarted":
                by_order[str(json.loads(details["input"])["detail"]["orderId"])].append(arn)
            elif record["type"].endswith("StateEntered"):
                entered[arn].append(str(details["name"]))
    return ExecutionLogs(by_order=dict(by_order), entered=dict(entered))


def execution_input(logs: Any, log_group: str, execution_arn: str) -> str:
    """The input an execution started with, from its ExecutionStarted record."""
    pattern = f'{{ $.execution_arn = "{execution_arn}" }}'
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=log_group, filterPattern=pattern):
        for line in page["events"]:
            record = json.loads(line["message"])
            if record["execution_arn"] == execution_arn and record["type"] == "ExecutionStarted":
                return str(record["details"]["input"])
    raise AssertionError(f"no ExecutionStarted record for {execution_arn}")


def proven_overlaps(executions: ExecutionLogs, orders: list[str]) -> set[str]:
    """Orders with exactly two executions that both went past Validate into Fulfil: each read the
    order NEW and unfulfilled, so the second began before the first had settled it."""

    def overlapped(order_id: str) -> bool:
        runs = executions.by_order.get(order_id, [])
        return len(runs) == 2 and all("Fulfil" in executions.entered.get(arn, []) for arn in runs)

    return {order_id for order_id in orders if overlapped(order_id)}


def writes_per_order(writes: list[Write], which: Callable[[Write], bool]) -> Counter[str]:
    return Counter(w.key for w in writes if w.table == definitions.ORDERS_TABLE and which(w))


def statuses_of(stack: Any, pipeline: Aws, order_ids: list[str], timeout: float) -> dict[str, OrderStatus]:
    stack.wait_until_idle(timeout=timeout)
    wanted = set(order_ids)
    return {order.order_id: order.status for order in operations.list_orders(pipeline) if order.order_id in wanted}


@pytest.mark.soak
def test_soak_no_order_lost_or_processed_twice(pipeline: Aws, local_stack: Any, request: pytest.FixtureRequest) -> None:
    total = int(request.config.getoption("--soak-orders"))
    operations.invoke_creator(pipeline, order_for(0))  # load the handler modules before patching them
    local_stack.wait_until_idle(timeout=30)
    creator, processor = handler_module("order_creator"), handler_module("order_processor").processor
    events_client = creator.events._client
    real_put_events = events_client.put_events
    category: dict[str, int] = {}  # filled as events are published, before any execution starts
    tap = BusTap(pipeline)
    sfn = pipeline.client("stepfunctions")
    logs_here = in_process_client(local_stack, "logs")
    machine_arn = pipeline.state_machine_arn()

    def put_events(**kwargs: Any) -> Any:
        detail = json.loads(kwargs["Entries"][0]["Detail"])
        kind = detail["itemCount"] if detail["itemCount"] in SPECIAL.values() else NORMAL
        category[detail["orderId"]] = kind
        if kind == DROPPED:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "injected"}}, "PutEvents")
        if kind == DUPLICATED:
            real_put_events(**kwargs)  # the first attempt got through; the creator never saw its reply
        return real_put_events(**kwargs)

    def redeliver(execution_arn: str) -> None:
        event = execution_input(logs_here, pipeline.names.state_machine_log_group, execution_arn)
        sfn.start_execution(stateMachineArn=machine_arn, input=event)

    overlaps = Overlaps(category, redeliver)
    outage = {"outage oatcake": FaultRule("transient")}  # not in the stack's own fault plan
    started = time.perf_counter()
    with (
        recorded_writes() as recorder,
        overlaps.installed(),
        patch.object(events_client, "put_events", side_effect=put_events),
    ):
        with patch.dict(processor.fault_plan, outage):
            with ThreadPoolExecutor(max_workers=8) as pool:
                replies = list(
                    pool.map(lambda i: operations.invoke_creator(pipeline, order_for(i)), range(1, total + 1))
                )
            assert all(reply["statusCode"] == 201 for reply in replies)
            ids = [reply["orderId"] for reply in replies]
            kind = {reply["orderId"]: category_of(i) for i, reply in enumerate(replies, 1)}
            by_kind = {k: {oid for oid in ids if kind[oid] == k} for k in EXECUTIONS}
            statuses = statuses_of(local_stack, pipeline, ids, timeout=120 + total / 20)
            first_pass_seconds = time.perf_counter() - started

            # The injections happened: dropped orders never reached the bus, doomed ones failed.
            events_first_pass = tap.per_order()
            assert {oid for oid in ids if events_first_pass[oid] != EVENTS_FIRST_PASS[kind[oid]]} == set()
            dropped_measured = {oid for oid in ids if events_first_pass[oid] == 0 and statuses[oid] is OrderStatus.NEW}
            failed_measured = {oid for oid, status in statuses.items() if status is OrderStatus.FAILED}
            assert dropped_measured == by_kind[DROPPED]
            assert failed_measured == by_kind[DOOMED]

            report = operations.reconcile(pipeline, older_than_seconds=0, dry_run=False)
            assert set(report.order_ids) == by_kind[DROPPED] and report.publish_failures == 0
            statuses = statuses_of(local_stack, pipeline, ids, timeout=60)

        # Every order is now PROCESSED, or FAILED with its reason in the DLQ.
        in_dlq = {letter.order_id for letter in operations.list_dead_letters(pipeline)}
        failed = {oid for oid, status in statuses.items() if status is OrderStatus.FAILED}
        assert failed == by_kind[DOOMED] and failed <= in_dlq
        assert all(status in (OrderStatus.PROCESSED, OrderStatus.FAILED) for status in statuses.values())

        # The outage is over (the patched fault plan is restored): replay the DLQ.
        outcomes = operations.replay_dead_letters(pipeline, order_id=None, dry_run=False)
        assert {o.letter.order_id for o in outcomes if o.outcome == REPLAYED} == by_kind[DOOMED]
        statuses = statuses_of(local_stack, pipeline, ids, timeout=60)

    assert overlaps.gave_up == set(), f"{len(overlaps.gave_up)} duplicate(s) never reached Validate in time"
    writes = recorder.writes
    events = tap.per_order()
    executions = read_execution_logs(logs_here, pipeline.names.state_machine_log_group)
    racing = sorted(by_kind[DUPLICATED] | by_kind[REDELIVERED])
    overlapped = proven_overlaps(executions, racing)

    created = writes_per_order(writes, lambda w: w.action == "PutItem")
    fulfilled = writes_per_order(writes, lambda w: w.sets("fulfillment"))
    processed = writes_per_order(writes, lambda w: w.sets("status") and w.status == OrderStatus.PROCESSED.value)
    failed_writes = writes_per_order(writes, lambda w: w.sets("status") and w.status == OrderStatus.FAILED.value)
    lost = sorted(oid for oid in ids if statuses.get(oid) is not OrderStatus.PROCESSED)
    double_fulfilled = sorted(oid for oid in ids if fulfilled[oid] > 1)
    double_processed = sorted(oid for oid in ids if processed[oid] > 1)

    # Injections confirmed from the data, per order.
    assert overlapped == set(racing), f"no overlap proven for {sorted(set(racing) - overlapped)[:5]}"
    assert {oid for oid in ids if events[oid] != EVENTS_IN_ALL[kind[oid]]} == set()
    assert {oid for oid in ids if len(executions.by_order.get(oid, [])) != EXECUTIONS[kind[oid]]} == set()
    assert {oid for oid in ids if failed_writes[oid] != FAILED_WRITES[kind[oid]]} == set()
    # Nothing lost, nothing done twice: one create, one fulfilment, one NEW -> PROCESSED per order.
    assert double_fulfilled == [], f"{len(double_fulfilled)} order(s) fulfilled twice"
    assert double_processed == [], f"{len(double_processed)} order(s) written PROCESSED twice"
    assert lost == [], f"{len(lost)} order(s) not PROCESSED"
    assert [(letter.order_id, letter.error) for letter in operations.list_dead_letters(pipeline)] == []
    assert all(created[oid] == 1 and fulfilled[oid] == 1 and processed[oid] == 1 for oid in ids)
    print(
        f"\nsoak: orders={len(ids)} executions={sum(len(executions.by_order.get(oid, [])) for oid in ids)} "
        f"duplicates_raced={len(overlapped & by_kind[DUPLICATED])} "
        f"redeliveries_raced={len(overlapped & by_kind[REDELIVERED])} "
        f"failures_injected={len(failed_measured)} publications_dropped={len(dropped_measured)} "
        f"lost={len(lost)} double_fulfilled={len(double_fulfilled)} double_processed={len(double_processed)} "
        f"first_pass={first_pass_seconds:.1f}s ({len(ids) / first_pass_seconds:.0f} orders/s)"
    )
