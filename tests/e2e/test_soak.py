"""Soak: many orders, with failures, racing duplicates, dropped publications, stock-limited snacks and
cancellations racing the workflow; nothing is lost, done twice or oversold, and stock is conserved.

Categories are encoded in the order's unit count, because that is what the injected faults can see
at their boundary (the event detail carries ``itemCount``):

* 1-3 units     normal (an unlimited snack), or stock-limited: one of the ``Soak Stock`` snacks, whose
                stock covers about half of what is asked for -> PROCESSED or REJECTED (OutOfStock);
* 11 units      publication dropped: the creator's PutEvents fails -> order left NEW -> reconcile;
* 12 units      doomed: "Outage Oatcake" (stock-limited, exactly enough for every doomed order)
                reserves, then fails fulfilment on every attempt during the outage -> FAILED, stock
                given back (the saga's compensation), DLQ; after the outage ``dlq replay`` reserves
                again and brings it to PROCESSED;
* 13 units      published twice: the creator's PutEvents is sent twice back to back (a retried
                call whose first attempt got through), so two executions start together;
* 14 units      delivered twice: once its first execution has passed Validate, the stack starts a
                second execution with the same event (EventBridge delivers at least once);
* 15 units      cancelled at Fulfil: order-canceller is invoked (the real Lambda, through the local
                stack's Lambda API) when the execution asks for Fulfil -> CANCELLED, nothing reserved;
* 16 units      cancelled at MarkProcessed: the same, once Fulfil has reserved the stock -> the cancel
                gives it back and the execution ends Cancelled (or the order was REJECTED first);
* 17 units      cancel racing MarkProcessed: for one in two, order-canceller is invoked on a thread
                of its own as the execution asks for MarkProcessed, so the cancel's transaction and
                the step's conditional write race: whichever comes first wins (200 CANCELLED, or 409
                PROCESSED); for the other, it is invoked as soon as MarkProcessed has answered, the
                execution still running (409, nothing changes, Order Processed still announced).

Every other order (even index) pays by card (``paymentMethod: pm_card_visa``) through the local Stripe
emulator: authorized after its reservation, captured with PROCESSED, voided or refunded when it ends any
other way (a cancel racing MarkProcessed may land after the capture: refunded). At the end the provider's
own books, read through the stripe SDK, must match the orders to the cent: what is captured and not
refunded is exactly the PROCESSED card orders' totals, and no authorization is left held.

Racing duplicates (13, 14) take one unit of a ``Soak Stock`` snack every other round, so duplicates
race on stock too; cancelled orders always take one (their other units are of an unlimited snack).

Async Express workflows run at least once ("Standard vs. Express Workflows", AWS Step Functions
Developer Guide) and EventBridge delivers at least once ("Amazon EventBridge events", EventBridge
User Guide), so a duplicate may run *while* the original does. Here it does, by construction:
the first execution of a racing order to reach Fulfil waits (outside the function, before the
step runs) until the other execution has passed Validate too.

No wall-clock deadline decides anything here, so a loaded machine only makes the soak slower: a
held execution waits for the event it needs (the other execution past Validate), with the
Task timeouts stopped meanwhile (``clock.holding()``, snacks/local/virtual_time.py), and gives up
only when nothing else runs in the stack, so that the event can no longer come; the waits for
the stack to settle fail only when it stops making progress (no write, no delivery) for
``STALL_SECONDS``, however long the work takes. The test then proves each overlap
from the executions' own records in the state machine's log group (Express has no history API):
two executions for the order, both told to process it by Validate (each read it NEW).

Nothing is counted from the code's own return flags: writes are counted where DynamoDB accepted
them, executions and their steps from Step Functions, events from a queue the bus feeds, failures
from the DLQ, statuses, reservations and stock from the tables at the end. Every printed figure is
measured; every injection is confirmed from that data.

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
from order_service.domain.order import OrderRecord, OrderStatus
from order_service.domain.order_processing import PROCESS
from order_service.domain.order_recovery import REPLAYED
from snacks import operations
from snacks.aws import Aws
from snacks.local.iam_enforcement import operator_client
from snacks.local.lambda_runtime import DirectInvokeClient
from snacks.local.virtual_time import VirtualClock
from stacks import definitions
from tests.support.dynamodb_writes import Write, recorded_writes

from .conftest import handler_module

NORMAL, LIMITED, DROPPED, DOOMED, DUPLICATED, REDELIVERED = 0, 10, 11, 12, 13, 14
CANCEL_AT_FULFIL, CANCEL_AT_MARK, CANCEL_RACED = 15, 16, 17
RACING = (DUPLICATED, REDELIVERED)
CANCELS = (CANCEL_AT_FULFIL, CANCEL_AT_MARK, CANCEL_RACED)
# The categories an injection tells apart by the event's itemCount (LIMITED needs no injection).
INJECTED = frozenset({DROPPED, DOOMED, *RACING, *CANCELS})
SHARE = 20  # orders per round; each special category has its slots in every round
SLOTS = {
    1: DROPPED,
    2: DOOMED,
    3: DUPLICATED,
    4: REDELIVERED,
    5: CANCEL_AT_FULFIL,
    6: CANCEL_AT_MARK,
    7: CANCEL_RACED,
    8: LIMITED,
    9: LIMITED,
    10: LIMITED,
    11: LIMITED,
}
# Stock-limited snacks: stock for about half of what the orders ask (REJECTED OutOfStock for the rest).
# A snack of its own every ROUNDS_PER_SNACK rounds, so stock runs out many times over a soak, each
# time with orders of that snack in flight (duplicates, cancels, the last units taken and given back).
LIMITED_PREFIX = "Soak Stock "
ROUNDS_PER_SNACK = 2
OUTAGE_SNACK = "Outage Oatcake"  # stock-limited too, with exactly the doomed orders' units
# A settling stack that has written nothing and delivered nothing for this long has stalled.
STALL_SECONDS = 120
# How often a held execution looks whether the stack still has other work (its partner may come).
HOLD_POLL_SECONDS = 0.1

# What each category must leave behind, counted from the outside.
ONE = {NORMAL: 1, LIMITED: 1, **dict.fromkeys(CANCELS, 1)}
EVENTS_FIRST_PASS = {**ONE, DROPPED: 0, DOOMED: 1, DUPLICATED: 2, REDELIVERED: 1}
EVENTS_IN_ALL = {**ONE, DROPPED: 1, DOOMED: 2, DUPLICATED: 2, REDELIVERED: 1}  # + reconcile, + replay
EXECUTIONS = {**ONE, DROPPED: 1, DOOMED: 2, DUPLICATED: 2, REDELIVERED: 2}
FAILED_WRITES = {kind: int(kind == DOOMED) for kind in EXECUTIONS}
PROCESSED, REJECTED, CANCELLED = OrderStatus.PROCESSED, OrderStatus.REJECTED, OrderStatus.CANCELLED
# Where each order may end (a racing cancel: as its reply said, checked on its own).
SETTLED_AS = {
    NORMAL: {PROCESSED},
    DROPPED: {PROCESSED},
    DOOMED: {PROCESSED},
    CANCEL_AT_FULFIL: {CANCELLED},
    CANCEL_AT_MARK: {CANCELLED, REJECTED},  # REJECTED: out of stock before it reached MarkProcessed
    CANCEL_RACED: {CANCELLED, PROCESSED, REJECTED},
}


def category_of(index: int) -> int:
    return SLOTS.get(index % SHARE, NORMAL)


def limited_snack(index: int) -> str | None:
    """The stock-limited snack an order takes units of, if any."""
    category = category_of(index)
    if category == LIMITED or category in CANCELS or (category in RACING and (index // SHARE) % 2):
        return f"{LIMITED_PREFIX}{index // (SHARE * ROUNDS_PER_SNACK):04d}"
    return None


def order_for(index: int) -> dict[str, Any]:
    category = category_of(index)
    price = 0.5 + (index % 9) * 0.25
    unlimited = f"Snack {index % 7}"
    limited = limited_snack(index)
    if category == LIMITED:
        lines = [(str(limited), 1 + index % 3)]
    elif limited:  # one unit of stock; the rest of the count (the category's code) unlimited
        lines = [(limited, 1), (unlimited, category - 1)]
    elif category == DOOMED:
        lines = [(OUTAGE_SNACK, category)]
    else:
        lines = [(unlimited, category or 1 + index % 3)]
    order: dict[str, Any] = {
        "customerName": f"Soak Customer {index}",
        "snackItems": [{"name": name, "quantity": quantity, "price": price} for name, quantity in lines],
        "totalAmount": round(sum(quantity for _, quantity in lines) * price, 2),
    }
    if index % 2 == 0 and index > 0:  # paid by card (every total is at least Stripe's 0.50); 0 warms up, at pickup
        order["paymentMethod"] = "pm_card_visa"
    return order


@dataclass(frozen=True)
class ProviderBooks:
    """The provider's own state per order (intent metadata), through the stripe SDK: cents captured and not
    refunded, cents refunded, authorizations still held, intents."""

    kept: Counter[str]
    refunded: Counter[str]
    held: Counter[str]
    intents: Counter[str]

    @classmethod
    def read(cls, stack: Any) -> ProviderBooks:
        import stripe

        provider = stripe.StripeClient(stack.stripe.secret_key, base_addresses={"api": stack.stripe.url})
        kept: Counter[str] = Counter()
        refunded: Counter[str] = Counter()
        held: Counter[str] = Counter()
        intents: Counter[str] = Counter()
        for intent in provider.v1.payment_intents.list({"limit": 100}).auto_paging_iter():
            order_id = str(intent.metadata.to_dict().get("orderId"))
            intents[order_id] += 1
            charge = intent.latest_charge
            if intent.status == "requires_capture":
                held[order_id] += int(intent.amount)
            if charge is not None and charge.status == "succeeded" and charge.captured:
                kept[order_id] += int(charge.amount) - int(charge.amount_refunded)
                refunded[order_id] += int(charge.amount_refunded)
        return cls(kept, refunded, held, intents)


def initial_stock(total: int) -> dict[str, int]:
    """Half of what orders 1..total ask of each limited snack; exactly what the doomed ones ask of the other."""
    asked: Counter[str] = Counter()
    for index in range(1, total + 1):
        for item in order_for(index)["snackItems"]:
            if item["name"].startswith(LIMITED_PREFIX) or item["name"] == OUTAGE_SNACK:
                asked[item["name"]] += item["quantity"]
    return {name: units if name == OUTAGE_SNACK else units // 2 for name, units in asked.items()}


@dataclass
class Overlaps:
    """Makes each racing order's two executions overlap, at the stack's Task -> Lambda boundary.

    Wraps the Step Functions interpreter's Lambda client: the first execution of a racing order to
    ask for Fulfil waits there, holding no function and no lock, until both executions have
    passed Validate. For a REDELIVERED order, the second execution is started (same event) as soon
    as the first has passed Validate. While it waits, no Task timeout runs (``clock.holding()``),
    and it gives up (reported, and the proof then fails) only when the stack has no work besides
    the held executions: then the other execution can no longer come.
    """

    category: dict[str, int]
    redeliver: Callable[[str], None]
    busy: Callable[[], int]
    clock: VirtualClock
    condition: threading.Condition = field(default_factory=threading.Condition)
    validated: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    waiting_at_fulfil: set[str] = field(default_factory=set)
    gave_up: set[str] = field(default_factory=set)
    holding: int = 0

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
            self.holding += 1
        try:
            with self.clock.holding(), self.condition:
                idle_checks = 0
                while len(self.validated[order_id]) < 2:
                    # Nothing but held executions in the stack, twice in a row: the partner cannot come.
                    idle_checks = idle_checks + 1 if self.busy() <= self.holding else 0
                    if idle_checks >= 2:
                        self.gave_up.add(order_id)  # the proof below will fail for this order
                        return
                    self.condition.wait(HOLD_POLL_SECONDS)
        finally:
            with self.condition:
                self.holding -= 1


@dataclass
class CancelsInFlight:
    """Cancels orders while their execution is in flight, at the stack's Task -> Lambda boundary.

    When an execution of a CANCEL_AT_FULFIL (CANCEL_AT_MARK) order asks for Fulfil (MarkProcessed),
    order-canceller is invoked through the local stack's Lambda API, the way a customer would, and
    only then does the step run: the step must find the order CANCELLED and leave it so. For a
    CANCEL_RACED order the cancel runs on its own thread while MarkProcessed runs (a true race), or
    right after it answered.
    """

    category: dict[str, int]
    cancel: Callable[[str], dict[str, Any]]
    clock: VirtualClock
    lock: threading.Lock = field(default_factory=threading.Lock)
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    races: int = 0
    late: set[str] = field(default_factory=set)

    AT_STEP = {CANCEL_AT_FULFIL: "fulfil", CANCEL_AT_MARK: "markProcessed", CANCEL_RACED: "markProcessed"}

    @contextmanager
    def installed(self) -> Iterator[None]:
        real_invoke = DirectInvokeClient.invoke  # the overlaps' wrapper, if installed first
        cancels = self

        def invoke(client: DirectInvokeClient, **parameters: Any) -> dict[str, Any]:
            request = json.loads(parameters.get("Payload") or b"{}")
            order_id = request.get("orderId", "")
            kind = cancels.category.get(order_id, NORMAL)
            if cancels.AT_STEP.get(kind) != request.get("step"):
                return real_invoke(client, **parameters)
            if kind != CANCEL_RACED:
                cancels.cancel_once(order_id)
                return real_invoke(client, **parameters)
            if cancels.next_race_is_late(order_id):
                response = real_invoke(client, **parameters)
                cancels.cancel_once(order_id)  # PROCESSED, but its execution has not ended: 409
                return response
            # Neither waits for the other: the cancel's transaction and the step's conditional write race.
            step: dict[str, Any] = {}
            racer = threading.Thread(target=cancels.cancel_once, args=(order_id,))
            racer.start()
            try:
                step["response"] = real_invoke(client, **parameters)
            finally:
                racer.join()  # the execution goes on once both have answered
            return step["response"]  # type: ignore[no-any-return]

        with patch.object(DirectInvokeClient, "invoke", invoke):
            yield

    def next_race_is_late(self, order_id: str) -> bool:
        """Every other CANCEL_RACED order is cancelled just after MarkProcessed answered, not during it."""
        with self.lock:
            self.races += 1
            if self.races % 2 == 0:
                self.late.add(order_id)
            return order_id in self.late

    def cancel_once(self, order_id: str) -> None:
        with self.lock:
            if order_id in self.replies:
                return  # a retried step: the order was cancelled before its first attempt
            self.replies[order_id] = {}
        with self.clock.holding():  # the execution waits on the cancel: its Task timeout must not run
            reply = self.cancel(order_id)
        with self.lock:
            self.replies[order_id] = reply


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
    client = boto3.client(  # type: ignore[call-overload]
        service, region_name=stack.region, aws_access_key_id="local", aws_secret_access_key="local"
    )
    return operator_client(client)  # the test's reads, from whatever thread, are the operator's (not IAM-checked)


@dataclass
class ExecutionLogs:
    """Every execution of the workflow as its log group records it (the outside view of an EXPRESS
    machine: Step Functions neither lists nor describes Express executions, "Standard vs. Express
    Workflows", AWS Step Functions Developer Guide; their history is in CloudWatch Logs)."""

    by_order: dict[str, list[str]]
    entered: dict[str, list[str]]
    verdicts: dict[str, str]  # execution ARN -> Validate's action (process, or skip for a settled order)


def read_execution_logs(logs: Any, log_group: str) -> ExecutionLogs:
    by_order: dict[str, list[str]] = defaultdict(list)
    entered: dict[str, list[str]] = defaultdict(list)
    verdicts: dict[str, str] = {}
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=log_group):
        for line in page["events"]:
            record = json.loads(line["message"])
            arn, details = str(record["execution_arn"]), record.get("details") or {}
            if record["type"] == "ExecutionStarted":
                by_order[str(json.loads(details["input"])["detail"]["orderId"])].append(arn)
            elif record["type"].endswith("StateEntered"):
                entered[arn].append(str(details["name"]))
            elif record["type"] == "TaskStateExited" and details.get("name") == "Validate":
                verdicts[arn] = str(json.loads(details["output"])["action"])
    return ExecutionLogs(by_order=dict(by_order), entered=dict(entered), verdicts=verdicts)


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
    """Orders with exactly two executions that Validate both sent on to process the order: each read it
    NEW, so the second began before the first had settled it. (Entering Fulfil proves nothing: a
    duplicate for a settled order enters it too, and Fulfil answers "settled" at once.)"""

    def overlapped(order_id: str) -> bool:
        runs = executions.by_order.get(order_id, [])
        return len(runs) == 2 and all(executions.verdicts.get(arn) == PROCESS for arn in runs)

    return {order_id for order_id in orders if overlapped(order_id)}


def writes_per_order(writes: list[Write], which: Callable[[Write], bool]) -> Counter[str]:
    return Counter(w.key for w in writes if w.table == definitions.ORDERS_TABLE and which(w))


def settle(stack: Any, progress: Callable[[], int]) -> None:
    """Until the stack is idle, however long that takes; fails only if it stalls: busy, and
    ``progress`` (writes and deliveries so far) unchanged for ``STALL_SECONDS``."""
    seen = progress()
    while True:
        try:
            stack.wait_until_idle(timeout=STALL_SECONDS)
            return
        except TimeoutError:
            now = progress()
            if now == seen:
                stalled = f"the stack stalled: {stack.busy()} unit(s) of work, no progress in {STALL_SECONDS} s"
                raise TimeoutError(stalled) from None
            seen = now


def records_of(stack: Any, pipeline: Aws, order_ids: list[str], progress: Callable[[], int]) -> dict[str, OrderRecord]:
    settle(stack, progress)
    wanted = set(order_ids)
    return {order.order_id: order for order in operations.list_orders(pipeline) if order.order_id in wanted}


def statuses_of(stack: Any, pipeline: Aws, order_ids: list[str], progress: Callable[[], int]) -> dict[str, OrderStatus]:
    return {oid: record.status for oid, record in records_of(stack, pipeline, order_ids, progress).items()}


@dataclass(frozen=True)
class StockLedgerCheck:
    """Per stock-limited snack, from the tables at the end: what it started with, what is left, and the
    units of the orders that ended PROCESSED."""

    initial: dict[str, int]
    available: dict[str, int]
    processed_units: dict[str, int]

    @classmethod
    def measure(cls, pipeline: Aws, initial: dict[str, int], records: list[OrderRecord]) -> StockLedgerCheck:
        available = {name: units for name, units in operations.list_stock(pipeline) if name in initial}
        processed_units: Counter[str] = Counter()
        for record in records:
            if record.status is OrderStatus.PROCESSED:
                for item in record.snack_items:
                    if item.name in initial:
                        processed_units[item.name] += item.quantity
        return cls(initial, available, {name: processed_units[name] for name in initial})

    def oversold(self) -> list[str]:
        """Snacks below zero, or of which more units were PROCESSED than there ever were."""
        return sorted(
            name
            for name in self.initial
            if self.available.get(name, 0) < 0 or self.processed_units[name] > self.initial[name]
        )

    def not_conserved(self) -> list[str]:
        """Snacks where initial != available + PROCESSED units (units leaked, or given back twice)."""
        return sorted(
            name
            for name in self.initial
            if self.initial[name] != self.available.get(name, 0) + self.processed_units[name]
        )

    def figures(self) -> str:
        """``name=initial/available/processed units`` per snack."""
        return " ".join(
            f"{name.removeprefix(LIMITED_PREFIX)}={self.initial[name]}/{self.available.get(name)}/"
            f"{self.processed_units[name]}"
            for name in sorted(self.initial)
        )


def reserved_units(record: OrderRecord) -> dict[str, int]:
    return {str(line["name"]): int(line["quantity"]) for line in (record.reservation or {}).get("lines", [])}


@pytest.mark.soak
@pytest.mark.timeout(0)  # no wall-clock limit: settle() fails a stalled soak, a slow one may finish
def test_soak_no_order_lost_or_processed_twice(pipeline: Aws, local_stack: Any, request: pytest.FixtureRequest) -> None:
    total = int(request.config.getoption("--soak-orders"))
    operations.invoke_creator(pipeline, order_for(0))  # load the handler modules before patching them
    settle(local_stack, lambda: local_stack.stats()["deliveries"])
    creator, processor = handler_module("order_creator"), handler_module("order_processor").processor
    events_client = creator.events._client
    real_put_events = events_client.put_events
    category: dict[str, int] = {}  # filled as events are published, before any execution starts
    tap = BusTap(pipeline)
    sfn = pipeline.client("stepfunctions")
    logs_here = in_process_client(local_stack, "logs")
    machine_arn = pipeline.state_machine_arn()
    stock = initial_stock(total)
    for name, units in stock.items():
        operations.set_stock(pipeline, name, units)

    def put_events(**kwargs: Any) -> Any:
        detail = json.loads(kwargs["Entries"][0]["Detail"])
        kind = detail["itemCount"] if detail["itemCount"] in INJECTED else NORMAL
        category[detail["orderId"]] = kind
        if kind == DROPPED:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "injected"}}, "PutEvents")
        if kind == DUPLICATED:
            real_put_events(**kwargs)  # the first attempt got through; the creator never saw its reply
        return real_put_events(**kwargs)

    def redeliver(execution_arn: str) -> None:
        event = execution_input(logs_here, pipeline.names.state_machine_log_group, execution_arn)
        sfn.start_execution(stateMachineArn=machine_arn, input=event)

    overlaps = Overlaps(category, redeliver, local_stack.busy, local_stack.clock)
    cancels = CancelsInFlight(
        category, lambda order_id: operations.invoke_canceller(pipeline, order_id), local_stack.clock
    )
    outage = {OUTAGE_SNACK.casefold(): FaultRule("transient")}  # not in the stack's own fault plan
    started = time.perf_counter()
    with (
        recorded_writes() as recorder,
        overlaps.installed(),
        cancels.installed(),
        patch.object(events_client, "put_events", side_effect=put_events),
    ):

        def progress() -> int:
            return len(recorder.writes) + int(local_stack.stats()["deliveries"])

        with patch.dict(processor.fault_plan, outage):
            with ThreadPoolExecutor(max_workers=8) as pool:
                replies = list(
                    pool.map(lambda i: operations.invoke_creator(pipeline, order_for(i)), range(1, total + 1))
                )
            assert all(reply["statusCode"] == 201 for reply in replies)
            ids = [reply["orderId"] for reply in replies]
            kind = {reply["orderId"]: category_of(i) for i, reply in enumerate(replies, 1)}
            limited = {reply["orderId"]: limited_snack(i) for i, reply in enumerate(replies, 1)}
            by_kind = {k: {oid for oid in ids if kind[oid] == k} for k in EXECUTIONS}
            statuses = statuses_of(local_stack, pipeline, ids, progress)
            first_pass_seconds = time.perf_counter() - started

            # The injections happened: dropped orders never reached the bus, doomed ones failed.
            events_first_pass = tap.per_order()
            unexpected = [
                (kind[o], events_first_pass[o], statuses.get(o))
                for o in ids
                if events_first_pass[o] != EVENTS_FIRST_PASS[kind[o]]
            ]
            assert unexpected == [], f"(category, Order Created events, status) {Counter(unexpected)}"
            dropped_measured = {oid for oid in ids if events_first_pass[oid] == 0 and statuses[oid] is OrderStatus.NEW}
            failed_measured = {oid for oid, status in statuses.items() if status is OrderStatus.FAILED}
            assert dropped_measured == by_kind[DROPPED]
            assert failed_measured == by_kind[DOOMED]

            report = operations.reconcile(pipeline, older_than_seconds=0, dry_run=False)
            assert set(report.order_ids) == by_kind[DROPPED] and report.publish_failures == 0
            statuses = statuses_of(local_stack, pipeline, ids, progress)

        # Every order is now settled; the doomed ones FAILED, with their reason in the DLQ.
        in_dlq = {letter.order_id for letter in operations.list_dead_letters(pipeline)}
        failed = {oid for oid, status in statuses.items() if status is OrderStatus.FAILED}
        assert failed == by_kind[DOOMED] and failed <= in_dlq
        assert all(status is not OrderStatus.NEW for status in statuses.values())

        # The outage is over (the patched fault plan is restored): replay the DLQ.
        outcomes = operations.replay_dead_letters(pipeline, order_id=None, dry_run=False)
        assert {o.letter.order_id for o in outcomes if o.outcome == REPLAYED} == by_kind[DOOMED]
        records = records_of(local_stack, pipeline, ids, progress)

    assert overlaps.gave_up == set(), f"{len(overlaps.gave_up)} duplicate(s) never reached Validate in time"
    writes = recorder.writes
    events = tap.per_order()
    executions = read_execution_logs(logs_here, pipeline.names.state_machine_log_group)
    racing = sorted(by_kind[DUPLICATED] | by_kind[REDELIVERED])
    overlapped = proven_overlaps(executions, racing)
    statuses = {oid: record.status for oid, record in records.items()}
    raced_cancel = {oid: cancels.replies[oid] for oid in by_kind[CANCEL_RACED] if oid in cancels.replies}
    final = Counter(status.value for status in statuses.values())

    created = writes_per_order(writes, lambda w: w.action == "PutItem")
    fulfilled = writes_per_order(writes, lambda w: w.sets("fulfillment"))
    processed = writes_per_order(writes, lambda w: w.sets("status") and w.status == OrderStatus.PROCESSED.value)
    failed_writes = writes_per_order(writes, lambda w: w.sets("status") and w.status == OrderStatus.FAILED.value)

    def may_end(oid: str) -> set[OrderStatus]:
        if kind[oid] == CANCEL_RACED:  # as its cancel answered: 200 CANCELLED, or 409 PROCESSED first
            reply = raced_cancel.get(oid)  # none: REJECTED before it reached MarkProcessed
            return {REJECTED} if reply is None else {CANCELLED} if reply["statusCode"] == 200 else {PROCESSED}
        return SETTLED_AS.get(kind[oid]) or ({PROCESSED, REJECTED} if limited[oid] else {PROCESSED})

    lost = sorted(oid for oid in ids if statuses.get(oid) not in may_end(oid))
    double_fulfilled = sorted(oid for oid in ids if fulfilled[oid] > 1)
    double_processed = sorted(oid for oid in ids if processed[oid] > 1)
    ledger = StockLedgerCheck.measure(pipeline, stock, list(records.values()))
    oversold, not_conserved = ledger.oversold(), ledger.not_conserved()
    # Only a PROCESSED order holds stock, and exactly its stock-limited units.
    held_wrongly = sorted(
        oid
        for oid, record in records.items()
        if reserved_units(record)
        != ({i.name: i.quantity for i in record.snack_items if i.name in stock} if record.status is PROCESSED else {})
    )
    # Money, from the provider's books: captured-and-kept is exactly each PROCESSED card order's total, in cents.
    books = ProviderBooks.read(local_stack)
    card = {oid for oid in ids if records[oid].payment_method}
    owed = {oid: int(records[oid].total_amount * 100) if statuses[oid] is PROCESSED else 0 for oid in card}
    money_wrong = sorted(oid for oid in ids if books.kept[oid] != owed.get(oid, 0))
    still_held = sorted(oid for oid in ids if books.held[oid])
    pay_at_pickup_charged = sorted(oid for oid in ids if oid not in card and books.intents[oid])
    cancelled = {k: {oid for oid in by_kind[k] if statuses[oid] is CANCELLED} for k in CANCELS}
    cancelled_after_fulfil = cancelled[CANCEL_AT_MARK] | cancelled[CANCEL_RACED]
    # A cancel between Fulfil and MarkProcessed gave back what Fulfil reserved: the race is in the record.
    gave_back = {
        oid for oid in cancelled_after_fulfil if (records[oid].extra.get("cancellation") or {}).get("compensated")
    }

    # Injections confirmed from the data, per order.
    assert overlapped == set(racing), f"no overlap proven for {sorted(set(racing) - overlapped)[:5]}"
    assert {oid for oid in ids if events[oid] != EVENTS_IN_ALL[kind[oid]]} == set()
    assert {oid for oid in ids if len(executions.by_order.get(oid, [])) != EXECUTIONS[kind[oid]]} == set()
    assert {oid for oid in ids if failed_writes[oid] != FAILED_WRITES[kind[oid]]} == set()
    reached_mark = {oid for oid in by_kind[CANCEL_AT_MARK] | by_kind[CANCEL_RACED] if statuses[oid] is not REJECTED}
    assert set(cancels.replies) == by_kind[CANCEL_AT_FULFIL] | reached_mark, "a cancel in flight was not issued"
    assert all(cancels.replies[oid]["statusCode"] == 200 for oid in cancels.replies if kind[oid] != CANCEL_RACED), (
        "a cancel before the step's write was refused"
    )
    assert cancelled[CANCEL_AT_FULFIL] == by_kind[CANCEL_AT_FULFIL]
    assert gave_back == cancelled_after_fulfil, "a cancel after the reservation gave nothing back"
    assert all(reply["statusCode"] in (200, 409) for reply in raced_cancel.values()), raced_cancel
    assert all(raced_cancel[oid]["statusCode"] == 409 for oid in cancels.late), "a PROCESSED order was cancelled"
    # Nothing lost, nothing done twice, nothing oversold, every unit accounted for.
    assert double_fulfilled == [], f"{len(double_fulfilled)} order(s) fulfilled twice"
    assert double_processed == [], f"{len(double_processed)} order(s) written PROCESSED twice"
    assert lost == [], f"{len(lost)} order(s) not settled as expected: {[(o, statuses.get(o)) for o in lost[:5]]}"
    assert oversold == [], f"oversold: {ledger.figures()}"
    assert not_conserved == [], f"stock not conserved: {ledger.figures()}"
    assert held_wrongly == [], f"{len(held_wrongly)} order(s) hold stock they should not (or lack theirs)"
    assert [(letter.order_id, letter.error) for letter in operations.list_dead_letters(pipeline)] == []
    assert money_wrong == [], (
        f"provider's books differ from the orders: {[(o, books.kept[o], owed.get(o)) for o in money_wrong[:5]]}"
    )
    assert still_held == [], f"{len(still_held)} authorization(s) neither captured nor voided"
    assert pay_at_pickup_charged == []
    assert sum(books.kept.values()) == sum(owed.values())
    assert all(created[oid] == 1 for oid in ids)
    assert all((fulfilled[oid], processed[oid]) == (1, 1) for oid in ids if statuses[oid] is PROCESSED), (
        "a PROCESSED order not fulfilled and marked exactly once"
    )
    assert all(processed[oid] == 0 for oid in ids if statuses[oid] is not PROCESSED)
    raced = {
        when: dict(Counter(str(reply.get("status", reply["statusCode"])) for reply in replies))
        for when, replies in (
            ("during", [r for oid, r in raced_cancel.items() if oid not in cancels.late]),
            ("after", [r for oid, r in raced_cancel.items() if oid in cancels.late]),
        )
    }
    print(
        f"\nsoak: orders={len(ids)} executions={sum(len(executions.by_order.get(oid, [])) for oid in ids)} "
        f"final={dict(sorted(final.items()))} "
        f"duplicates_raced={len(overlapped & by_kind[DUPLICATED])} "
        f"redeliveries_raced={len(overlapped & by_kind[REDELIVERED])} "
        f"failures_injected={len(failed_measured)} publications_dropped={len(dropped_measured)} "
        f"cancelled_at_fulfil={len(cancelled[CANCEL_AT_FULFIL])} "
        f"cancelled_after_reservation={len(gave_back)} "
        f"cancels_racing_mark_processed={raced} "
        f"lost={len(lost)} double_fulfilled={len(double_fulfilled)} double_processed={len(double_processed)} "
        f"oversold={len(oversold)} not_conserved={len(not_conserved)}\n"
        f"soak payments: card_orders={len(card)} captured_kept_usd={sum(books.kept.values()) / 100:.2f} "
        f"processed_card_total_usd={sum(owed.values()) / 100:.2f} "
        f"refunded_usd={sum(books.refunded.values()) / 100:.2f} "
        f"refunded_orders={sum(1 for oid in ids if books.refunded[oid])} held={len(still_held)}\n"
        f"soak stock (snack=initial/available/processed units): {ledger.figures()}\n"
        f"soak: first_pass={first_pass_seconds:.1f}s ({len(ids) / first_pass_seconds:.0f} orders/s)"
    )
