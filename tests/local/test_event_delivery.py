"""EventBridge -> Step Functions target delivery of the local stack: retry, dead-letter, back-pressure."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from snacks.local.event_delivery import StepFunctionsTargetDelivery
from stacks import definitions

RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/serverless-snacks-orders/order-created-starts-fulfillment"
MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:order-fulfillment"
DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:serverless-snacks-dlq"
EVENT = {"id": "e-1", "source": "serverless-snacks.orders", "time": 1795600000, "detail": {"orderId": "o-1"}}


class Recorder:
    def __init__(self, fail_times: int = 0) -> None:
        self.fail_times = fail_times
        self.started: list[tuple[str, str, str]] = []
        self.running: set[str] = set()
        self.dead_letters: list[tuple[str, str, dict[str, str]]] = []
        self.running_checks = 0  # how often the scheduler asked whether an execution still runs
        self.lock = threading.Lock()

    def start_execution(self, arn: str, name: str, execution_input: str) -> str:
        with self.lock:
            if self.fail_times > 0:
                self.fail_times -= 1
                raise RuntimeError("StateMachineDoesNotExist: injected")
            self.started.append((arn, name, execution_input))
            self.running.add(name)
        return name

    def is_running(self, name: Any) -> bool:
        with self.lock:
            self.running_checks += 1
            return name in self.running

    def send_to_dlq(self, arn: str, body: str, attributes: dict[str, str]) -> None:
        self.dead_letters.append((arn, body, attributes))


@pytest.fixture
def make_delivery() -> Iterator[Callable[..., tuple[StepFunctionsTargetDelivery, Recorder]]]:
    made: list[StepFunctionsTargetDelivery] = []

    def make(recorder: Recorder, **kwargs: Any) -> tuple[StepFunctionsTargetDelivery, Recorder]:
        delivery = StepFunctionsTargetDelivery(
            recorder.start_execution, recorder.is_running, recorder.send_to_dlq, **kwargs
        )
        delivery.start()
        made.append(delivery)
        return delivery, recorder

    yield make
    for delivery in made:
        delivery.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def target(retries: int = 2, max_age: int = 3600) -> dict[str, Any]:
    return {
        "Id": "workflow",
        "Arn": MACHINE_ARN,
        "RetryPolicy": {"MaximumRetryAttempts": retries, "MaximumEventAgeInSeconds": max_age},
        "DeadLetterConfig": {"Arn": DLQ_ARN},
    }


def test_event_starts_an_execution_with_the_event_as_input_and_iso_time(make_delivery: Any) -> None:
    delivery, recorder = make_delivery(Recorder())
    delivery.submit(RULE_ARN, target(), EVENT)
    wait_for(lambda: delivery.pending == 0)
    ((arn, _, execution_input),) = recorder.started
    assert arn == MACHINE_ARN
    delivered = json.loads(execution_input)
    assert delivered["detail"] == {"orderId": "o-1"} and delivered["time"] == "2026-11-25T09:46:40Z"


def transformed_target(retries: int = 2) -> dict[str, Any]:
    """The order-created rule's target: its InputTransformer as stacks/definitions.py (and CDK) define it."""
    transformer = {
        "InputPathsMap": definitions.RULE_TARGET_INPUT_PATHS,
        "InputTemplate": definitions.RULE_TARGET_INPUT_TEMPLATE,
    }
    return {**target(retries=retries), "InputTransformer": transformer}


def test_a_target_input_transformer_shapes_the_execution_input(make_delivery: Any) -> None:
    """ "The transformed event is sent to a target instead of the original event" (EventBridge User Guide,
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html); the rules
    themselves: tests/local/test_target_input.py."""
    delivery, recorder = make_delivery(Recorder())
    delivery.submit(RULE_ARN, transformed_target(), EVENT)
    wait_for(lambda: delivery.pending == 0)
    ((_, _, execution_input),) = recorder.started
    assert json.loads(execution_input) == {"id": "e-1", "detail": {"orderId": "o-1"}}


def test_an_undelivered_transformed_event_reaches_the_dlq_whole(make_delivery: Any) -> None:
    """A target's DLQ stores "events that couldn't successfully be delivered to a target" (EventBridge User
    Guide, "Using dead-letter queues to process undelivered events", eb-rule-dlq.html): the event, envelope
    and all, not what the transformer would have made of it."""
    delivery, recorder = make_delivery(Recorder(fail_times=5))
    delivery.submit(RULE_ARN, transformed_target(retries=0), EVENT)
    wait_for(lambda: delivery.pending == 0)
    ((_, body, _),) = recorder.dead_letters
    assert json.loads(body) == {**EVENT, "time": "2026-11-25T09:46:40Z"}


def test_failed_start_is_retried_then_succeeds(make_delivery: Any) -> None:
    delivery, recorder = make_delivery(Recorder(fail_times=1))
    delivery.submit(RULE_ARN, target(retries=2), EVENT)
    wait_for(lambda: delivery.pending == 0)
    assert len(recorder.started) == 1 and delivery.retried == 1 and recorder.dead_letters == []


def test_retries_exhausted_send_the_event_to_the_target_dlq_with_eventbridge_attributes(make_delivery: Any) -> None:
    delivery, recorder = make_delivery(Recorder(fail_times=5))
    delivery.submit(RULE_ARN, target(retries=1), EVENT)
    wait_for(lambda: delivery.pending == 0)
    assert recorder.started == []
    ((arn, body, attributes),) = recorder.dead_letters
    assert arn == DLQ_ARN and json.loads(body)["id"] == "e-1"
    assert attributes["RULE_ARN"] == RULE_ARN and attributes["TARGET_ARN"] == MACHINE_ARN
    assert attributes["ERROR_CODE"] == "RuntimeError" and "injected" in attributes["ERROR_MESSAGE"]
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts" and attributes["RETRY_ATTEMPTS"] == "1"


def test_events_wait_while_the_running_execution_budget_is_full(make_delivery: Any) -> None:
    delivery, recorder = make_delivery(Recorder(), max_running_executions=2)
    for number in range(5):
        delivery.submit(RULE_ARN, target(), {**EVENT, "id": f"e-{number}"})
    wait_for(lambda: len(recorder.started) == 2)
    with recorder.lock:
        checks = recorder.running_checks
    # The scheduler has looked at the full budget three more times (both executions each time), and held back.
    wait_for(lambda: recorder.running_checks >= checks + 3 * 2)
    assert len(recorder.started) == 2 and delivery.pending == 3  # held back, not dropped
    with recorder.lock:
        recorder.running.clear()  # the two executions finish
    wait_for(lambda: len(recorder.started) == 4)
    with recorder.lock:
        recorder.running.clear()
    wait_for(lambda: delivery.pending == 0)
    assert [json.loads(started[2])["id"] for started in recorder.started] == [f"e-{n}" for n in range(5)]
