"""The local stack's virtual time for tests (snacks/local/virtual_time.py): waits take no wall time,
are recorded, and move the execution's own clock; the test moves the stack's clock explicitly.

Retry backoff is checked against the real ASL in tests/statemachine/test_fulfillment_workflow.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from snacks import operations
from snacks.aws import Aws
from snacks.trace import fetch_history
from stacks import definitions

WAIT_SECONDS = 3600
ORDER = {"customerName": "Clock", "snackItems": [{"name": "Pretzels", "quantity": 1, "price": 2}], "totalAmount": 2}


def test_an_hour_long_wait_state_ends_at_once_an_hour_later_in_the_executions_time(stack: Any, aws: Aws) -> None:
    """A Wait state with ``Seconds`` "delays the state machine from continuing for a specified time"
    (Step Functions Developer Guide, "Wait workflow state",
    https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html). In virtual time the hour is
    recorded, and the execution's history stamps the next state an hour after the wait began."""
    sfn = aws.client("stepfunctions")
    role = f"arn:aws:iam::{stack.account_id}:role/virtual-time-test"
    definition = {
        "StartAt": "Nap",
        "States": {"Nap": {"Type": "Wait", "Seconds": WAIT_SECONDS, "Next": "Done"}, "Done": {"Type": "Succeed"}},
    }
    machine = sfn.create_state_machine(name="virtual-wait", definition=json.dumps(definition), roleArn=role)
    started = time.monotonic()
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
    deadline = started + 30
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, "the Wait state did not end"
        time.sleep(0.02)
    assert status == "SUCCEEDED"
    assert time.monotonic() - started < WAIT_SECONDS / 10  # not an hour of wall time (generous for CI)

    ((delay),) = stack.clock.delays(arn)
    assert (delay.kind, delay.state, delay.seconds) == ("Wait", "Nap", WAIT_SECONDS)
    events = sfn.get_execution_history(executionArn=arn)["events"]
    entered = next(e["timestamp"] for e in events if e["type"] == "WaitStateEntered")
    exited = next(e["timestamp"] for e in events if e["type"] == "WaitStateExited")
    assert (exited - entered).total_seconds() >= WAIT_SECONDS


def test_the_reconciler_finds_an_order_stale_only_once_the_test_moves_the_clock_past_its_age(
    stack: Any, aws: Aws
) -> None:
    """order-reconciler re-publishes NEW orders older than STALE_AFTER_SECONDS, by the functions'
    clock (order_service.adapters.clock), which the stack's virtual clock drives: no test waits
    five minutes for an order to become stale."""
    events = aws.client("events")
    rule = events.list_rules(EventBusName=aws.names.event_bus)["Rules"][0]["Name"]
    events.disable_rule(Name=rule, EventBusName=aws.names.event_bus)  # the publication is lost
    try:
        order_id = operations.invoke_creator(aws, ORDER)["orderId"]
        stack.wait_until_idle(timeout=30)
    finally:
        events.enable_rule(Name=rule, EventBusName=aws.names.event_bus)

    def reconcile() -> dict[str, Any]:
        reply = aws.client("lambda").invoke(FunctionName=aws.names.order_reconciler, Payload=b"{}")
        return dict(json.loads(reply["Payload"].read()))

    assert reconcile()["republished"] == 0  # just created: not stale yet
    advanced_at = time.time()  # the wall clock when the stack's clock moved: later steps take real time too
    stack.clock.advance(definitions.STALE_NEW_ORDER_SECONDS + 1)
    assert reconcile()["republished"] == 1
    final = operations.wait_for_final(aws, order_id, timeout=30)
    assert final is not None and final.status.value == "PROCESSED"
    # The workflow ran in the moved time too: its history is stamped after the advance.
    assert final.execution_arn is not None
    started = next(e for e in fetch_history(aws, final.execution_arn) if e["type"] == "ExecutionStarted")
    assert started["timestamp"] / 1000 >= advanced_at + definitions.STALE_NEW_ORDER_SECONDS


class FakeTime:
    """monotonic() for VirtualClock.task_wait, moved only by the waits it makes."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


def test_a_tasks_timeout_does_not_run_while_a_test_holds_an_execution() -> None:
    """A Task's TimeoutSeconds ("If the task runs longer than the specified seconds, this state fails
    with a States.Timeout error", Step Functions Developer Guide, Task workflow state) runs on time
    not spent held: a test that holds an execution (waiting for another to catch up) never turns a
    loaded machine's slowness into a States.Timeout. Without a hold, it times out on time."""
    from snacks.local import virtual_time

    fake = FakeTime()
    clock = virtual_time.VirtualClock()
    hold = clock.holding()
    held: list[str] = []

    def task_never_ends(seconds: float) -> bool:
        if fake.now >= 2.0 and not held:
            hold.__enter__()  # a test begins to hold, 2 s into a 10 s timeout ...
            held.append("from 2 s")
        elif fake.now >= 32.0 and held == ["from 2 s"]:
            hold.__exit__(None, None, None)  # ... and lets go 30 s later
            held.append("to 32 s")
        fake.now += seconds
        return False

    assert clock.task_wait(task_never_ends, 10, now=fake.monotonic) is False
    assert held == ["from 2 s", "to 32 s"]
    assert fake.now == pytest.approx(40.0, abs=0.2)  # 10 s of the timeout ran, around 30 s held

    fake.now = 0.0
    assert virtual_time.VirtualClock().task_wait(task_never_ends, 10, now=fake.monotonic) is False  # none held
    assert fake.now == pytest.approx(10.0, abs=0.2)
