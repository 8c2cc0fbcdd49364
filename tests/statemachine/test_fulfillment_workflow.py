"""The fulfillment ASL, executed by Step Functions (the local stack), driven with a boto3 SFN client.

Each test stores a NEW order directly (no creator, so no automatic Order Created event), starts an
execution with the event EventBridge would deliver, and asserts on the execution history: which
states ran, how often each task was attempted, and where failures were caught.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from order_service.domain.order import OrderRecord, OrderRequest, OrderStatus, SnackItem
from snacks import operations
from snacks.aws import Aws
from snacks.local.target_input import target_input
from snacks.trace import build_trace, fetch_history
from stacks import definitions

FAULTS = "Flaky Fries=transient:1; Broken Biscuit=transient; Doom Donut=permanent"


# The states an order paid at pickup, in stock and not cancelled passes through, in order (a card order also
# passes AuthorizePayment and Paid between InStock and MarkProcessed: test_payment_workflow).
HAPPY_PATH = [
    "Validate",
    "Fulfil",
    "InStock",  # paid at pickup: nothing to authorize, no AuthorizePayment invocation
    "MarkProcessed",  # writes PROCESSED and announces Order Processed; the execution ends there
]


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from snacks.local import LocalStack

    with LocalStack(port=0, fulfillment_faults=FAULTS, virtual_time=True) as local:
        yield local


@pytest.fixture(scope="module")
def aws(stack: Any) -> Aws:
    return Aws(endpoint_url=stack.endpoint_url, region=stack.region)


@pytest.fixture(scope="module")
def sfn(aws: Aws) -> Any:
    return aws.client("stepfunctions")


def new_order(aws: Aws, item: str, quantities: tuple[int, ...] = (2,), payment_method: str | None = None) -> str:
    """A NEW order of ``item``: one line per quantity (two lines of one snack: ``(1, 1)``), 1.50 a unit; paid
    at pickup unless a ``payment_method`` (the local Stripe emulator's test cards) is given."""
    order_id = str(uuid.uuid4())
    lines = tuple(SnackItem(name=item, quantity=quantity, price=Decimal("1.50")) for quantity in quantities)
    request = OrderRequest(
        customer_name="State Machine Test",
        snack_items=lines,
        total_amount=sum((line.line_total for line in lines), Decimal("0.00")),
        payment_method=payment_method,
    )
    operations.repository(aws).create(OrderRecord.new(order_id, request, datetime.now(UTC)))
    return order_id


def order_created_event(order_id: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": definitions.RULE_DETAIL_TYPE,
        "source": definitions.RULE_EVENT_SOURCE,
        "account": "123456789012",
        "time": "2026-11-25T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"orderId": order_id, "itemCount": 2, "totalAmount": "3.00", "createdAt": ""},
    }


def execution_input(event: dict[str, Any]) -> str:
    """What the order-created rule starts the workflow with: its target's InputTransformer
    (stacks/definitions.py, as CDK synthesizes it) applied to the event, ``{"id", "detail"}``."""
    transformer = {
        "InputPathsMap": definitions.RULE_TARGET_INPUT_PATHS,
        "InputTemplate": definitions.RULE_TARGET_INPUT_TEMPLATE,
    }
    return target_input({"InputTransformer": transformer}, event, "")


def run(sfn: Any, aws: Aws, event: dict[str, Any], timeout: float = 30) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run one execution of ``event``, with the input the rule would give it, to its end (StartSyncExecution:
    EXPRESS has no DescribeExecution) and read its history from the state machine's log group, as
    ``snacks trace`` does on AWS."""
    execution = sfn.start_sync_execution(stateMachineArn=aws.state_machine_arn(), input=execution_input(event))
    arn = execution["executionArn"]
    deadline = time.monotonic() + timeout
    while not ended(history := fetch_history(aws, arn)):
        assert time.monotonic() < deadline, f"no end of execution {arn} in its log group after {timeout} s"
        time.sleep(0.05)
    return execution, history


def ended(history: list[dict[str, Any]]) -> bool:
    return any(e["type"] in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut") for e in history)


def entered(history: list[dict[str, Any]]) -> list[str]:
    return [e["details"]["name"] for e in history if e["type"].endswith("StateEntered")]


def task_attempts(history: list[dict[str, Any]]) -> Counter[str]:
    """Lambda invocations per task state (a retried state is entered once, invoked per attempt)."""
    attempts: Counter[str] = Counter()
    current = None
    for event in history:
        if event["type"] == "TaskStateEntered":
            current = event["details"]["name"]
        elif event["type"] == "LambdaFunctionScheduled":
            attempts[str(current)] += 1
    return attempts


def in_state(history: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The events between a task state's entry and its exit."""
    events, inside = [], False
    for event in history:
        if event["type"] == "TaskStateEntered":
            inside = event["details"]["name"] == name
        elif inside:
            events.append(event)
    return events


def failures(history: list[dict[str, Any]]) -> list[str]:
    return [e["details"]["error"] for e in history if e["type"] == "LambdaFunctionFailed"]


def dead_letters_for(aws: Aws, order_id: str) -> list[Any]:
    return [letter for letter in operations.list_dead_letters(aws) if letter.order_id == order_id]


def test_happy_path_runs_validate_fulfil_mark_processed_once_each(sfn: Any, aws: Aws) -> None:
    order_id = new_order(aws, "Pretzels")
    execution, history = run(sfn, aws, order_created_event(order_id))

    assert execution["status"] == "SUCCEEDED"
    assert entered(history) == HAPPY_PATH
    assert task_attempts(history) == Counter({"Validate": 1, "Fulfil": 1, "MarkProcessed": 1})
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is OrderStatus.PROCESSED and record.processed_at
    assert record.execution_arn == execution["executionArn"]
    assert dead_letters_for(aws, order_id) == []


# Small state payloads (issue 21). "Processing input and output in Step Functions" (Step Functions Developer
# Guide, https://docs.aws.amazon.com/step-functions/latest/dg/concepts-input-output-filtering.html): Parameters
# build a task's input, ResultSelector shapes its result, and ResultPath "$" makes that result the state's
# output, replacing its input (input-output-resultpath.html, "Use ResultPath to replace input with the task
# result"); a "$$." path reads the context object, whose $$.Execution.Input is the execution's input
# (input-output-contextobject.html). So each step reads the order id from the Order Created event without the
# event being carried from state to state. Best practices (sfn-best-practices.html, "Use Amazon S3 ARNs
# instead of passing large payloads") say to pass only what the next state needs; at log level ALL every
# state's input and output is logged, so whatever is carried is paid for on every event.
MAX_STATE_DATA = 512  # bytes of any state's logged input or output (before: the envelope + results, ~1.4 KB)


def state_data(history: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(event type, state, text) of every logged state input and output, and of the execution's output."""
    data = []
    for event in history:
        details = event["details"]
        if event["type"].endswith("StateEntered"):
            data.append((event["type"], details["name"], str(details["input"])))
        elif event["type"].endswith("StateExited") or event["type"] == "ExecutionSucceeded":
            data.append((event["type"], details.get("name", ""), str(details["output"])))
    return data


@pytest.mark.parametrize(
    ("item", "payment_method", "status"),
    [
        ("Shaped Shortbread", None, OrderStatus.PROCESSED),
        ("Shaped Shortbread", "pm_card_visa", OrderStatus.PROCESSED),
        ("Shaped Scones", None, OrderStatus.REJECTED),  # out of stock: PublishRejected reads Fulfil's result
        ("Doom Donut", None, OrderStatus.FAILED),  # the catch path: RecordFailure, PublishFailed, SendToDLQ
    ],
    ids=["processed-pickup", "processed-card", "rejected", "failed"],
)
def test_no_state_carries_the_event_envelope_or_earlier_results(
    sfn: Any, aws: Aws, item: str, payment_method: str | None, status: OrderStatus
) -> None:
    if status is OrderStatus.REJECTED:
        operations.set_stock(aws, item, 0)
    order_id = new_order(aws, item, payment_method=payment_method)
    event = order_created_event(order_id)
    execution, history = run(sfn, aws, event)
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is status

    (first, *rest) = state_data(history)
    # The first state's input is the execution's input, the event's id and detail (the rule's input
    # transformer); nothing after it carries them.
    assert first[:2] == ("TaskStateEntered", "Validate")
    assert json.loads(first[2]) == {"id": event["id"], "detail": event["detail"]}
    for kind, name, text in rest:
        assert event["id"] not in text and "detail-type" not in text, (kind, name, text)
        if status is not OrderStatus.FAILED:  # a failure's data holds its cause, as long as the error made it
            assert len(text.encode()) <= MAX_STATE_DATA, (kind, name, len(text.encode()), text)
    # The trace keeps, per state, what went in and what came out (snacks trace, the console).
    steps = build_trace(execution["executionArn"], history).steps
    assert [step.name for step in steps] == entered(history)
    assert all(step.input is not None for step in steps)
    assert all(step.output is not None for step in steps if step.kind != "Fail" and not step.caught)


def test_step_failing_once_is_retried_and_the_order_processed(sfn: Any, aws: Aws) -> None:
    order_id = new_order(aws, "Flaky Fries")
    execution, history = run(sfn, aws, order_created_event(order_id))

    assert execution["status"] == "SUCCEEDED"
    assert task_attempts(history)["Fulfil"] == 2
    assert failures(history) == ["FulfillmentUnavailable"]
    assert "FulfilFailed" not in entered(history)
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is OrderStatus.PROCESSED


def test_retries_exhausted_mark_the_order_failed_and_dead_letter_it(sfn: Any, aws: Aws) -> None:
    order_id = new_order(aws, "Broken Biscuit")
    event = order_created_event(order_id)
    execution, history = run(sfn, aws, event)

    assert execution["status"] == "FAILED"
    assert task_attempts(history)["Fulfil"] == 3  # the first attempt and 2 retries
    assert failures(history) == ["FulfillmentUnavailable"] * 3
    assert entered(history)[-6:] == [
        "FulfilFailed",
        "RecordFailure",
        "FailedOrCancelled",
        "PublishFailed",
        "SendToDLQ",
        "OrderFailed",
    ]
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is OrderStatus.FAILED
    assert record.failure is not None and record.failure["error"] == "FulfillmentUnavailable"
    (letter,) = dead_letters_for(aws, order_id)
    assert letter.failed_step == "Fulfil" and letter.error == "FulfillmentUnavailable"
    # originalEvent is $$.Execution.Input: the event's id and detail, enough to replay (order_recovery reads
    # the orderId; the replay re-publishes the event from the order record).
    assert json.loads(letter.body)["originalEvent"] == {"id": event["id"], "detail": event["detail"]}


def test_retry_backoff_follows_the_asl_in_virtual_time(stack: Any, sfn: Any, aws: Aws) -> None:
    """Before retry n (n = 1, 2, ...) Step Functions waits IntervalSeconds x BackoffRate^(n-1), capped
    at MaxDelaySeconds; with JitterStrategy FULL, a random delay between 0 and that ("Handling errors
    in Step Functions workflows", Retry fields,
    https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).

    The stack's virtual clock (snacks/local/virtual_time.py) records each delay instead of sleeping:
    the execution's own timestamps move past it, the test's wall clock does not.
    """
    retrier = definitions.load_asl()["States"]["Fulfil"]["Retry"][0]
    interval, rate, cap = retrier["IntervalSeconds"], retrier["BackoffRate"], retrier["MaxDelaySeconds"]
    expected = [min(interval * rate**n, cap) for n in range(retrier["MaxAttempts"])]
    assert rate > 1 and len(set(expected)) > 1  # else a rate ignored would go unnoticed

    order_id = new_order(aws, "Broken Biscuit")  # fails every attempt: every retry is taken
    execution, history = run(sfn, aws, order_created_event(order_id))

    delays = [d for d in stack.clock.delays(execution["executionArn"]) if d.state == "Fulfil"]
    assert [d.backoff_seconds for d in delays] == pytest.approx(expected)
    assert [d.retry_count for d in delays] == list(range(len(expected)))
    assert all(0 <= d.seconds <= d.backoff_seconds for d in delays)  # FULL jitter
    # The execution's own clock moved past each delay: its next attempt is stamped that much later.
    fulfil = in_state(history, "Fulfil")
    failed = [e["timestamp"] for e in fulfil if e["type"] == "LambdaFunctionFailed"]
    scheduled = [e["timestamp"] for e in fulfil if e["type"] == "LambdaFunctionScheduled"]
    for delay, failed_at, retried_at in zip(delays, failed[:-1], scheduled[1:], strict=True):
        assert retried_at - failed_at >= int(delay.seconds * 1000) - 1


def test_permanent_error_goes_to_the_dlq_without_retries(sfn: Any, aws: Aws) -> None:
    order_id = new_order(aws, "Doom Donut")
    execution, history = run(sfn, aws, order_created_event(order_id))

    assert execution["status"] == "FAILED"
    assert task_attempts(history)["Fulfil"] == 1
    assert failures(history) == ["FulfillmentRejected"]
    (letter,) = dead_letters_for(aws, order_id)
    assert letter.error == "FulfillmentRejected"
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is OrderStatus.FAILED


def test_unknown_order_fails_validation_without_retries(sfn: Any, aws: Aws) -> None:
    order_id = str(uuid.uuid4())  # never stored
    execution, history = run(sfn, aws, order_created_event(order_id))

    assert execution["status"] == "FAILED"
    assert task_attempts(history)["Validate"] == 1
    assert failures(history)[0] == "OrderNotFound"
    assert "ValidateFailed" in entered(history)
    (letter,) = dead_letters_for(aws, order_id)
    assert letter.failed_step == "Validate"


def test_same_event_delivered_twice_is_processed_once(sfn: Any, aws: Aws) -> None:
    order_id = new_order(aws, "Pretzels")
    event = order_created_event(order_id)
    first, first_history = run(sfn, aws, event)
    processed_at = operations.get_order(aws, order_id).processed_at  # type: ignore[union-attr]
    second, second_history = run(sfn, aws, event)

    assert first["status"] == second["status"] == "SUCCEEDED"
    assert "Fulfil" in entered(first_history)
    assert entered(second_history) == ["Validate", "Fulfil", "InStock", "AlreadySettled"]  # Fulfil: "settled"
    assert operations.get_order(aws, order_id).processed_at == processed_at  # type: ignore[union-attr]


def test_bus_rule_starts_the_workflow_for_order_created_events_only(stack: Any, aws: Aws) -> None:
    order_id = new_order(aws, "Pretzels")
    events = aws.client("events")
    other = {**order_created_event(order_id), "detail-type": "Order Shipped"}
    for event in (other, order_created_event(order_id)):
        events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "EventBusName": definitions.EVENT_BUS,
                }
            ]
        )
    stack.wait_until_idle(timeout=30)
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is OrderStatus.PROCESSED
    started = aws.client("logs").filter_log_events(
        logGroupName=definitions.STATE_MACHINE_LOG_GROUP, filterPattern='{ $.type = "ExecutionStarted" }'
    )["events"]
    started_for_order = [
        e for e in started if json.loads(json.loads(e["message"])["details"]["input"])["detail"]["orderId"] == order_id
    ]
    assert len(started_for_order) == 1  # the "Order Shipped" event matched no rule


@pytest.mark.parametrize("quantities", [(2,), (1, 1)], ids=["one-line-of-2", "two-lines-of-1"])
def test_out_of_stock_ends_the_order_rejected_without_dlq_or_reservation(
    sfn: Any, aws: Aws, quantities: tuple[int, ...]
) -> None:
    """Not enough stock is a business outcome: a Choice sends the execution to a Succeed state. Two lines
    of one snack are one demand of their summed units (each line alone fits the stock; both do not)."""
    snack = f"Limited Lollies {uuid.uuid4().hex[:8]}"
    operations.set_stock(aws, snack, 1)
    order_id = new_order(aws, snack, quantities)  # wants 2 in all
    execution, history = run(sfn, aws, order_created_event(order_id))

    assert execution["status"] == "SUCCEEDED"
    assert entered(history) == ["Validate", "Fulfil", "InStock", "PublishRejected", "OrderRejected"]
    output = json.loads(execution["output"])
    # The execution's data: Fulfil's selected result (PublishRejected keeps it, ResultPath null).
    assert output["outcome"] == "rejected"
    assert output["rejection"]["lines"] == [{"name": snack, "requested": 2, "available": 1}]
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is OrderStatus.REJECTED
    assert record.rejection is not None and record.rejection["reason"] == "OutOfStock"
    assert record.reservation is None
    assert dict(operations.list_stock(aws))[snack] == 1
    assert dead_letters_for(aws, order_id) == []


def test_in_stock_order_takes_its_units_once_even_when_its_event_comes_twice(sfn: Any, aws: Aws) -> None:
    snack = f"Counted Cookies {uuid.uuid4().hex[:8]}"
    operations.set_stock(aws, snack, 3)
    order_id = new_order(aws, snack)  # wants 2
    event = order_created_event(order_id)
    first, history = run(sfn, aws, event)
    second, _ = run(sfn, aws, event)

    assert first["status"] == second["status"] == "SUCCEEDED"
    assert entered(history) == HAPPY_PATH
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is OrderStatus.PROCESSED
    assert record.reservation is not None and record.reservation["lines"] == [{"name": snack, "quantity": 2}]
    assert dict(operations.list_stock(aws))[snack] == 1


def test_a_failure_after_the_reservation_releases_it_and_a_replay_reserves_again(
    stack: Any, sfn: Any, aws: Aws
) -> None:
    """Doom Donut passes the reservation and then fails fulfilment for good (permanent fault)."""
    operations.set_stock(aws, "Doom Donut", 7)
    order_id = new_order(aws, "Doom Donut")  # wants 2
    execution, history = run(sfn, aws, order_created_event(order_id))

    assert execution["status"] == "FAILED"
    assert entered(history)[-6:] == [
        "FulfilFailed",
        "RecordFailure",
        "FailedOrCancelled",
        "PublishFailed",
        "SendToDLQ",
        "OrderFailed",
    ]
    released = [{"kind": "releaseStock", "lines": [{"name": "Doom Donut", "quantity": 2}]}]
    record_failure = next(
        json.loads(e["details"]["output"])
        for e in history
        if e["type"] == "LambdaFunctionSucceeded" and "compensated" in e["details"]["output"]
    )
    assert record_failure["compensated"] == released
    assert dict(operations.list_stock(aws))["Doom Donut"] == 7
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is OrderStatus.FAILED and record.reservation is None

    # The replay re-reserves (and, the fault being permanent, releases again: the stock is whole).
    (outcome,) = operations.replay_dead_letters(aws, order_id, dry_run=False)
    assert outcome.outcome == "replayed"
    stack.wait_until_idle(timeout=30)
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is OrderStatus.FAILED and record.replay_count == 1
    assert record.failure is not None and record.failure["compensated"] == released
    assert dict(operations.list_stock(aws))["Doom Donut"] == 7


def test_an_order_cancelled_before_its_execution_is_left_alone(sfn: Any, aws: Aws) -> None:
    order_id = new_order(aws, "Pretzels")
    reply = operations.invoke_canceller(aws, order_id)
    assert (reply["statusCode"], reply["status"]) == (200, "CANCELLED")

    execution, history = run(sfn, aws, order_created_event(order_id))
    assert execution["status"] == "SUCCEEDED"
    assert entered(history) == ["Validate", "Fulfil", "InStock", "AlreadySettled"]
    assert operations.get_order(aws, order_id).status is OrderStatus.CANCELLED  # type: ignore[union-attr]


def test_cancels_racing_the_workflow_restore_stock_exactly(stack: Any, aws: Aws) -> None:
    """Each order is cancelled right after it is created, while its workflow runs: whichever write
    comes first wins (PROCESSED, and the cancel answers 409; or CANCELLED, and its units are back)."""
    snack = f"Raced Rolls {uuid.uuid4().hex[:8]}"
    operations.set_stock(aws, snack, 100)
    outcomes: Counter[str] = Counter()
    order_ids = []
    for _ in range(8):
        created = operations.invoke_creator(
            aws, operations.order_payload("Race Tester", [{"name": snack, "quantity": 2, "price": Decimal("1")}], None)
        )
        reply = operations.invoke_canceller(aws, created["orderId"])
        assert reply["statusCode"] in (200, 409), reply
        order_ids.append(created["orderId"])
    stack.wait_until_idle(timeout=60)
    for order_id in order_ids:
        record = operations.get_order(aws, order_id)
        assert record is not None and record.status in (OrderStatus.PROCESSED, OrderStatus.CANCELLED)
        outcomes[record.status.value] += 1
    assert dict(operations.list_stock(aws))[snack] == 100 - 2 * outcomes["PROCESSED"]
    assert dead_letters_for(aws, order_ids[0]) == []


def test_no_oversell_under_concurrency_duplicates_and_injected_failures(stack: Any, aws: Aws) -> None:
    """Stock N, M > N concurrent one-unit orders, every Order Created event delivered twice, and every
    execution's first Fulfil attempt failing after its reservation (Flaky Fries=transient:1): exactly N
    PROCESSED, M - N REJECTED, 0 available, and each PROCESSED order holds exactly its one unit."""
    stock, orders_wanted = 5, 12
    dynamodb = aws.client("dynamodb")
    operations.set_stock(aws, "Flaky Fries", stock)
    try:
        order_ids = []
        for _ in range(orders_wanted):
            order_id = str(uuid.uuid4())
            item = SnackItem(name="Flaky Fries", quantity=1, price=Decimal("1.50"))
            request = OrderRequest(customer_name="Oversell Test", snack_items=(item,), total_amount=Decimal("1.50"))
            operations.repository(aws).create(OrderRecord.new(order_id, request, datetime.now(UTC)))
            order_ids.append(order_id)
        entries = [
            {
                "Source": definitions.RULE_EVENT_SOURCE,
                "DetailType": definitions.RULE_DETAIL_TYPE,
                "Detail": json.dumps({"orderId": order_id}),
                "EventBusName": definitions.EVENT_BUS,
            }
            for order_id in order_ids
            for _ in range(2)  # a duplicate delivery of every event
        ]
        events = aws.client("events")
        for start in range(0, len(entries), 10):  # PutEvents takes at most 10 entries
            assert events.put_events(Entries=entries[start : start + 10])["FailedEntryCount"] == 0
        stack.wait_until_idle(timeout=120)

        records = [operations.get_order(aws, order_id) for order_id in order_ids]
        statuses = Counter(record.status.value for record in records if record is not None)
        print(f"\nno-oversell: stock {stock}, {orders_wanted} orders x2 deliveries -> {dict(statuses)}")
        assert statuses == Counter({"PROCESSED": stock, "REJECTED": orders_wanted - stock})
        assert dict(operations.list_stock(aws))["Flaky Fries"] == 0
        for record in records:
            assert record is not None
            if record.status is OrderStatus.PROCESSED:
                assert record.reservation is not None
                assert record.reservation["lines"] == [{"name": "Flaky Fries", "quantity": 1}]
            else:
                assert record.reservation is None
                assert record.rejection is not None and record.rejection["reason"] == "OutOfStock"
        letters = [letter for letter in operations.list_dead_letters(aws) if letter.order_id in order_ids]
        assert letters == [], [(letter.failed_step, letter.error, letter.cause[:300]) for letter in letters]
    finally:  # other tests order Flaky Fries unlimited
        dynamodb.delete_item(
            TableName=definitions.INVENTORY_TABLE, Key={definitions.INVENTORY_PARTITION_KEY: {"S": "Flaky Fries"}}
        )


# --- status events ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def status_events(aws: Aws) -> str:
    """A queue on a rule for the four status detail-types, as a consumer of them would set up (moto
    delivers SQS targets itself); returns its URL."""
    sqs, events = aws.client("sqs"), aws.client("events")
    url = sqs.create_queue(QueueName="status-events-under-test")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="status-events-under-test",
        EventBusName=definitions.EVENT_BUS,
        EventPattern=json.dumps(definitions.STATUS_EVENT_PATTERN),
    )
    events.put_targets(
        Rule="status-events-under-test", EventBusName=definitions.EVENT_BUS, Targets=[{"Id": "queue", "Arn": arn}]
    )
    return str(url)


def announced(aws: Aws, queue_url: str, order_id: str, expected: int = 1, timeout: float = 15) -> list[dict[str, Any]]:
    """The status events for one order, waiting (with a deadline) until ``expected`` have arrived;
    messages of other orders go back to the queue."""
    sqs = aws.client("sqs")
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < expected and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        for message in messages:
            event = json.loads(message["Body"])
            if event["detail"]["orderId"] == order_id:
                found.append(event)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
    return found


def assert_status_event(event: dict[str, Any], order_id: str, detail_type: str, status: str, reason: str) -> None:
    assert event["source"] == definitions.RULE_EVENT_SOURCE
    assert event["detail-type"] == detail_type
    assert set(event["detail"]) == {"orderId", "status", "reason", "timestamp"}
    assert event["detail"]["orderId"] == order_id
    assert (event["detail"]["status"], event["detail"]["reason"]) == (status, reason)
    datetime.fromisoformat(event["detail"]["timestamp"].replace("Z", "+00:00"))
    assert "State Machine Test" not in json.dumps(event)  # never the customer's name


def test_processed_is_announced_once_and_starts_no_workflow(sfn: Any, aws: Aws, status_events: str) -> None:
    """Step Functions' EventBridge integration ("Add EventBridge events with Step Functions",
    https://docs.aws.amazon.com/step-functions/latest/dg/connect-eventbridge.html) puts the event on
    our bus; the Order Created rule does not match it, and a duplicate execution announces nothing."""
    order_id = new_order(aws, "Pretzels")
    event = order_created_event(order_id)
    run(sfn, aws, event)
    run(sfn, aws, event)  # the duplicate delivery: AlreadySettled, no second announcement

    (processed,) = announced(aws, status_events, order_id)
    assert_status_event(processed, order_id, "Order Processed", "PROCESSED", "Fulfilled")
    record = operations.get_order(aws, order_id)
    assert record is not None and processed["detail"]["timestamp"] == record.processed_at
    assert announced(aws, status_events, order_id, expected=1, timeout=1) == []
    started = aws.client("logs").filter_log_events(
        logGroupName=definitions.STATE_MACHINE_LOG_GROUP, filterPattern='{ $.type = "ExecutionStarted" }'
    )["events"]
    inputs = [json.loads(json.loads(e["message"])["details"]["input"]) for e in started]
    assert [i for i in inputs if i["detail"]["orderId"] == order_id] == [json.loads(execution_input(event))] * 2


def test_rejected_failed_and_cancelled_are_announced(sfn: Any, aws: Aws, status_events: str) -> None:
    snack = f"Scarce Scones {uuid.uuid4().hex[:8]}"
    operations.set_stock(aws, snack, 1)
    rejected = new_order(aws, snack)  # wants 2
    run(sfn, aws, order_created_event(rejected))
    (event,) = announced(aws, status_events, rejected)
    assert_status_event(event, rejected, "Order Rejected", "REJECTED", "OutOfStock")

    failed = new_order(aws, "Broken Biscuit")
    run(sfn, aws, order_created_event(failed))
    (event,) = announced(aws, status_events, failed)
    assert_status_event(event, failed, "Order Failed", "FAILED", "FulfillmentUnavailable")

    # order-canceller makes the CANCELLED transition and announces it; cancelling again does not.
    assert operations.invoke_canceller(aws, failed)["status"] == "CANCELLED"
    assert operations.invoke_canceller(aws, failed)["status"] == "CANCELLED"
    (event,) = announced(aws, status_events, failed)
    assert_status_event(event, failed, "Order Cancelled", "CANCELLED", "CancelledByRequest")
    assert announced(aws, status_events, failed, expected=1, timeout=1) == []


def test_a_failed_publish_neither_fails_nor_reruns_the_order(
    sfn: Any, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PutEvents answers 200 with ``FailedEntryCount`` > 0 when an entry fails (InternalFailure, throttling;
    "PutEvents", Amazon EventBridge API Reference, https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html).
    markProcessed writes PROCESSED, then announces; its publisher retries the entry, then fails the attempt with
    EventPublishFailed; the workflow retries the step (which finds the order PROCESSED by this execution and
    announces again, never writing it twice), then catches it into ProcessedUnannounced: the order stays
    PROCESSED, written once, and the execution succeeds with the error in its output."""
    from moto.events.models import EventsBackend

    from order_service.adapters.eventbridge_publisher import PUBLISH_ATTEMPTS

    original = EventsBackend.put_events
    attempts: list[str] = []

    def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if any(e.get("DetailType") in definitions.STATUS_EVENT_DETAIL_TYPES for e in events):
            attempts.append(events[0]["DetailType"])
            return [{"ErrorCode": "InternalFailure", "ErrorMessage": "injected"} for _ in events]
        return original(self, events)  # type: ignore[no-any-return]

    monkeypatch.setattr(EventsBackend, "put_events", put_events)
    order_id = new_order(aws, "Pretzels")
    execution, history = run(sfn, aws, order_created_event(order_id))

    assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
    assert entered(history)[-2:] == ["MarkProcessed", "ProcessedUnannounced"]
    step_attempts = definitions.load_asl()["States"]["MarkProcessed"]["Retry"][0]["MaxAttempts"] + 1
    assert attempts == ["Order Processed"] * (step_attempts * PUBLISH_ATTEMPTS)  # each attempt's entry, retried
    assert failures(history) == ["EventPublishFailed"] * step_attempts
    output = json.loads(execution["output"])
    assert output["statusEventError"]["Error"] == "EventPublishFailed"
    assert task_attempts(history) == Counter({"Validate": 1, "Fulfil": 1, "MarkProcessed": step_attempts})
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is OrderStatus.PROCESSED  # a retry never rewrites it (unit tests)


def failed_publish_filter_pattern() -> str:
    """The alarm's metric filter pattern, as the synthesized template deploys it."""
    from stacks.constructs.monitoring import STATUS_EVENT_PUBLISH_FAILURES
    from tests.support.synth import synthesize

    template = synthesize(nag=False).raw
    (pattern,) = [
        resource["Properties"]["FilterPattern"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Logs::MetricFilter"
        and resource["Properties"]["MetricTransformations"][0]["MetricName"] == STATUS_EVENT_PUBLISH_FAILURES
    ]
    return str(pattern)


def test_the_alarm_filter_counts_each_failed_status_publish_attempt_and_nothing_else(
    sfn: Any, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``...-status-events-not-published`` alarm counts, from the workflow's execution log, the records
    Step Functions writes for a failed attempt of an ``events:putEvents`` task: ``TaskFailed`` with
    ``details.resourceType`` "events", and ``TaskTimedOut`` (error States.Timeout) for an attempt that ran
    past the task's TimeoutSeconds, whose details carry resourceType and resource too (TaskTimedOutEventDetails,
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_TaskTimedOutEventDetails.html)
    ("Log levels for Step Functions execution events": TaskFailed and TaskTimedOut are logged
    at ALL and ERROR, https://docs.aws.amazon.com/step-functions/latest/dg/cloudwatch-log-level.html; the
    Express record format, "Using CloudWatch Logs to log execution history in Step Functions",
    https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html; resource "putEvents", resourceType
    "events", error "EventBridge.FailedEntry" as AWS recorded them in LocalStack's
    tests/aws/services/stepfunctions/v2/services/test_events_task_service.snapshot.json; the pattern's
    syntax, "Filter pattern syntax for metric filters, subscription filters, and filter log events",
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html).

    markProcessed announces Order Processed itself: an attempt whose publish failed is a ``LambdaFunctionFailed``
    record with ``details.error`` EventPublishFailed (LambdaFunctionFailedEventDetails,
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_LambdaFunctionFailedEventDetails.html).

    The pattern is the one in the synthesized template, run by FilterLogEvents over the log group the
    local stack wrote: it matches each attempt of the failed and of the timed-out publish, and nothing of
    runs whose Lambda step failed and was retried, or which failed for good and went to the DLQ."""
    from moto.events.models import EventsBackend
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_events import (
        StateTaskServiceEvents,
    )

    pattern = failed_publish_filter_pattern()
    original = EventsBackend.put_events

    def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if any(e.get("DetailType") in definitions.STATUS_EVENT_DETAIL_TYPES for e in events):
            return [{"ErrorCode": "InternalFailure", "ErrorMessage": "injected"} for _ in events]
        return original(self, events)  # type: ignore[no-any-return]

    def outlasts_its_timeout(self: Any, *args: Any, **kwargs: Any) -> None:
        # What moto's interpreter raises when the call does not finish within TimeoutSeconds (its
        # _evaluate_with_timeout), without making the test wait those seconds of wall time.
        raise EvalTimeoutError()

    def out_of_stock_order() -> str:  # its Order Rejected is the workflow's PublishRejected task
        snack = f"Gone Gumdrops {uuid.uuid4().hex[:8]}"
        operations.set_stock(aws, snack, 0)
        return new_order(aws, snack)

    with monkeypatch.context() as failing:
        failing.setattr(EventsBackend, "put_events", put_events)
        not_announced, _ = run(sfn, aws, order_created_event(new_order(aws, "Pretzels")))
        rejection_not_announced, _ = run(sfn, aws, order_created_event(out_of_stock_order()))
    with monkeypatch.context() as hanging:
        hanging.setattr(StateTaskServiceEvents, "_eval_service_task", outlasts_its_timeout)
        timed_out, timed_out_history = run(sfn, aws, order_created_event(out_of_stock_order()))
    assert timed_out["status"] == "SUCCEEDED" and "TaskTimedOut" in [e["type"] for e in timed_out_history]
    retried, retried_history = run(sfn, aws, order_created_event(new_order(aws, "Flaky Fries")))
    failed, failed_history = run(sfn, aws, order_created_event(new_order(aws, "Broken Biscuit")))
    assert failures(retried_history) == ["FulfillmentUnavailable"]  # error records the filter must skip
    assert failed["status"] == "FAILED" and "ExecutionFailed" in [e["type"] for e in failed_history]

    pages = aws.client("logs").get_paginator("filter_log_events")
    matched = [
        json.loads(event["message"])
        for page in pages.paginate(logGroupName=definitions.STATE_MACHINE_LOG_GROUP, filterPattern=pattern)
        for event in page["events"]
    ]
    per_execution = Counter(record["execution_arn"] for record in matched)
    states = definitions.load_asl()["States"]
    attempts = states["PublishRejected"]["Retry"][0]["MaxAttempts"] + 1
    step_attempts = states["MarkProcessed"]["Retry"][0]["MaxAttempts"] + 1
    assert per_execution[rejection_not_announced["executionArn"]] == attempts
    assert per_execution[timed_out["executionArn"]] == attempts
    assert per_execution[not_announced["executionArn"]] == step_attempts
    assert per_execution[retried["executionArn"]] == per_execution[failed["executionArn"]] == 0

    def seen(execution: dict[str, Any]) -> set[tuple[str, str | None, str]]:
        return {
            (record["type"], record["details"].get("resource"), record["details"]["error"])
            for record in matched
            if record["execution_arn"] == execution["executionArn"]
        }

    # markProcessed's own announcement: each attempt that failed to publish (LambdaFunctionFailedEventDetails).
    assert seen(not_announced) == {("LambdaFunctionFailed", None, "EventPublishFailed")}
    assert seen(rejection_not_announced) == {("TaskFailed", "putEvents", "EventBridge.FailedEntry")}
    assert seen(timed_out) == {("TaskTimedOut", "putEvents", "States.Timeout")}


# --- customer notifications ------------------------------------------------------------------


@pytest.fixture(scope="module")
def notifications(aws: Aws) -> str:
    """A queue subscribed to the order-status topic, as a customer-facing service would subscribe."""
    sqs, sns = aws.client("sqs"), aws.client("sns")
    url = sqs.create_queue(QueueName="order-status-notifications-under-test")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    (topic_arn,) = [
        t["TopicArn"]
        for t in sns.list_topics()["Topics"]
        if t["TopicArn"].endswith(f":{definitions.ORDER_STATUS_TOPIC}")
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return str(url)


def notified(aws: Aws, queue_url: str, order_id: str, expected: int, timeout: float = 15) -> list[dict[str, Any]]:
    """The notifications about one order: SNS's envelope around the event EventBridge delivered
    ("Amazon SQS queues" subscriptions, https://docs.aws.amazon.com/sns/latest/dg/sns-sqs-as-subscriber.html)."""
    sqs = aws.client("sqs")
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < expected and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            envelope = json.loads(message["Body"])
            assert envelope["Type"] == "Notification"
            event = json.loads(envelope["Message"])
            if event["detail"]["orderId"] == order_id:
                found.append(event)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
    return found


def test_customers_are_notified_of_every_terminal_status(sfn: Any, aws: Aws, notifications: str) -> None:
    """The order-status rule sends each status event to the topic; a subscribed queue reads what a
    customer would receive: one notification per transition, never the customer's name."""
    processed = new_order(aws, "Pretzels")
    run(sfn, aws, order_created_event(processed))
    snack = f"Notified Nougat {uuid.uuid4().hex[:8]}"
    operations.set_stock(aws, snack, 0)
    rejected = new_order(aws, snack)
    run(sfn, aws, order_created_event(rejected))
    failed = new_order(aws, "Doom Donut")
    run(sfn, aws, order_created_event(failed))
    assert operations.invoke_canceller(aws, failed)["status"] == "CANCELLED"

    (event,) = notified(aws, notifications, processed, expected=1)
    assert_status_event(event, processed, "Order Processed", "PROCESSED", "Fulfilled")
    (event,) = notified(aws, notifications, rejected, expected=1)
    assert_status_event(event, rejected, "Order Rejected", "REJECTED", "OutOfStock")
    failed_then_cancelled = notified(aws, notifications, failed, expected=2)
    assert sorted(e["detail"]["status"] for e in failed_then_cancelled) == ["CANCELLED", "FAILED"]
    for event in failed_then_cancelled:
        if event["detail"]["status"] == "FAILED":
            assert_status_event(event, failed, "Order Failed", "FAILED", "FulfillmentRejected")
        else:
            assert_status_event(event, failed, "Order Cancelled", "CANCELLED", "CancelledByRequest")


def test_a_cancel_while_the_execution_is_held_before_mark_processed_ends_it_cancelled(
    stack: Any, sfn: Any, aws: Aws, status_events: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real execution held between Fulfil (stock reserved) and MarkProcessed (Express executions
    cannot be stopped: "StopExecution" is for Standard workflows only,
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html). The cancel wins,
    gives the units back, and the released step finds CANCELLED: the workflow ends there, no Order
    Processed, one Order Cancelled. Held outside the function, with the Task timeouts
    stopped (``clock.holding()``): a slow machine cannot turn the hold into a States.Timeout."""
    snack = f"Held Halva {uuid.uuid4().hex[:8]}"
    operations.set_stock(aws, snack, 5)
    order_id = new_order(aws, snack)  # wants 2

    def cancel_while_held() -> None:
        assert dict(operations.list_stock(aws))[snack] == 3  # reserved
        reply = operations.invoke_canceller(aws, order_id)
        assert (reply["statusCode"], reply["status"]) == (200, "CANCELLED")

    result = run_held_before_step(stack, sfn, aws, monkeypatch, order_id, "markProcessed", cancel_while_held)

    assert result["execution"]["status"] == "SUCCEEDED"
    assert entered(result["history"])[-1] == "MarkProcessed"  # the end: nothing to announce
    output = json.loads(result["execution"]["output"])  # MarkProcessed's result
    assert (output["status"], output["announced"]) == ("CANCELLED", False)
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is OrderStatus.CANCELLED
    assert dict(operations.list_stock(aws))[snack] == 5  # given back exactly once
    (event,) = announced(aws, status_events, order_id)
    assert_status_event(event, order_id, "Order Cancelled", "CANCELLED", "CancelledByRequest")
    assert dead_letters_for(aws, order_id) == []


def test_two_executions_racing_to_mark_processed_announce_it_once(
    stack: Any, sfn: Any, aws: Aws, notifications: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A duplicate delivery (EventBridge delivers at least once, "Amazon EventBridge events"; async Express
    runs at least once, "Standard vs. Express Workflows",
    https://docs.aws.amazon.com/step-functions/latest/dg/concepts-standard-vs-express.html) gives two
    executions of one order. Both pass Validate and Fulfil and are held before MarkProcessed until both
    are there, then go on together: one conditional write makes the order PROCESSED, the other finds it so
    (``changed`` false) by another execution, and only the first announces it: the customer hears once."""
    from snacks.local.lambda_runtime import DirectInvokeClient

    order_id = new_order(aws, "Pretzels")
    both_there = threading.Barrier(2, timeout=60)
    real_invoke = DirectInvokeClient.invoke

    def invoke(client: Any, **parameters: Any) -> Any:
        request = json.loads(parameters.get("Payload") or b"{}")
        if request.get("orderId") == order_id and request.get("step") == "markProcessed":
            with stack.clock.holding():  # no Task timeout runs while one waits for the other
                both_there.wait()  # outside the function: the held execution holds nothing
        return real_invoke(client, **parameters)

    monkeypatch.setattr(DirectInvokeClient, "invoke", invoke)
    event = order_created_event(order_id)
    results: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    workers = [threading.Thread(target=lambda: results.append(run(sfn, aws, event))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert len(results) == 2 and not both_there.broken, "the two executions never met before MarkProcessed"
    assert all(execution["status"] == "SUCCEEDED" for execution, _ in results)
    received = notified(aws, notifications, order_id, expected=2, timeout=3)  # a second one must not come
    assert [event["detail-type"] for event in received] == ["Order Processed"]
    (event_received,) = received
    assert_status_event(event_received, order_id, "Order Processed", "PROCESSED", "Fulfilled")
    assert [entered(history)[-2:] for _, history in results] == [["InStock", "MarkProcessed"]] * 2
    outputs = sorted(
        (output["changed"], output["announced"]) for output in (json.loads(e["output"]) for e, _ in results)
    )
    assert outputs == [(False, False), (True, True)]  # both tried the write; the one that made it announced
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is OrderStatus.PROCESSED
    assert event_received["detail"]["timestamp"] == record.processed_at


def test_a_cancel_while_the_execution_is_held_before_fulfil_ends_it_cancelled(
    stack: Any, sfn: Any, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validate passed, then the cancel wins before Fulfil runs: the released Fulfil finds CANCELLED,
    reserves nothing, and the workflow ends in its Cancelled state. Fulfil's cancelled answer goes through
    the state's ResultSelector, whose paths must all be in the result: a path that selects nothing fails the
    execution with States.Runtime, which "isn't retriable" and which "a retry or catch on States.ALL won't
    catch" (Step Functions Developer Guide, Error handling, concepts-error-handling.html; the local stack's
    wording of that error is pinned in tests/local/test_express.py). Planted: Fulfil's cancelled answer
    without "rejection" -> this execution FAILS."""
    snack = f"Held Hummus {uuid.uuid4().hex[:8]}"
    operations.set_stock(aws, snack, 5)
    order_id = new_order(aws, snack)

    def cancel_while_held() -> None:
        reply = operations.invoke_canceller(aws, order_id)
        assert (reply["statusCode"], reply["status"]) == (200, "CANCELLED")

    result = run_held_before_step(stack, sfn, aws, monkeypatch, order_id, "fulfil", cancel_while_held)

    assert result["execution"]["status"] == "SUCCEEDED", result["execution"]
    assert entered(result["history"])[-3:] == ["Fulfil", "InStock", "Cancelled"]
    record = operations.get_order(aws, order_id)
    assert record is not None and record.status is OrderStatus.CANCELLED
    assert dict(operations.list_stock(aws))[snack] == 5  # nothing was reserved
    assert dead_letters_for(aws, order_id) == []


def run_held_before_step(
    stack: Any,
    sfn: Any,
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    order_id: str,
    step: str,
    while_held: Callable[[], None],
) -> dict[str, Any]:
    """Run the order's execution, hold it just before order-processor's ``step`` (outside the function,
    with the Task timeouts stopped by ``clock.holding()``: a slow machine cannot turn the hold into a
    States.Timeout), call ``while_held``, release it; the execution's description and history."""
    from snacks.local.lambda_runtime import DirectInvokeClient

    held, release = threading.Event(), threading.Event()
    real_invoke = DirectInvokeClient.invoke

    def invoke(client: Any, **parameters: Any) -> Any:
        request = json.loads(parameters.get("Payload") or b"{}")
        if request.get("orderId") == order_id and request.get("step") == step:
            with stack.clock.holding():
                held.set()
                assert release.wait(60), "never released"
        return real_invoke(client, **parameters)

    monkeypatch.setattr(DirectInvokeClient, "invoke", invoke)
    result: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: result.update(
            zip(("execution", "history"), run(sfn, aws, order_created_event(order_id)), strict=True)
        )
    )
    worker.start()
    try:
        assert held.wait(30), f"the execution never reached {step}"
        while_held()
    finally:
        release.set()
        worker.join(60)
    return result
