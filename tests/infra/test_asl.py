"""The fulfillment ASL: retries only what is transient, catches everything into RecordFailure -> DLQ -> Fail."""

from __future__ import annotations

import re
from typing import Any

import pytest

from order_service.domain.errors import PERMANENT_STEP_ERRORS, TRANSIENT_STEP_ERRORS
from order_service.domain.ports import EventPublishFailed
from stacks import definitions as d

# Lambda service errors AWS recommends retrying for Lambda tasks ("Handle Lambda service exceptions",
# https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html), plus the
# throttling error the same page names.
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
# Same page: "Unhandled errors in Lambda are reported as Lambda.Unknown ... These include out-of-memory
# errors and function timeouts"; Lambda's own error type for a timeout is Sandbox.Timedout.
FUNCTION_TIMEOUT_ERRORS = {"Lambda.Unknown", "Sandbox.Timedout"}
TASK_TIMEOUT = "States.Timeout"
RETRYABLE = set(TRANSIENT_STEP_ERRORS) | LAMBDA_SERVICE_ERRORS | FUNCTION_TIMEOUT_ERRORS | {TASK_TIMEOUT}
PROCESSOR = "${" + d.ASL_PROCESSOR_ARN + "}"
DLQ_URL = "${" + d.ASL_DLQ_URL + "}"
SEND_MESSAGE = "arn:aws:states:::sqs:sendMessage"
# "Add EventBridge events with Step Functions": the optimized integration's resource
# (https://docs.aws.amazon.com/step-functions/latest/dg/connect-eventbridge.html).
PUT_EVENTS = "arn:aws:states:::events:putEvents"
EVENT_BUS = "${" + d.ASL_EVENT_BUS + "}"
PROCESSOR_STEPS = {"validate", "fulfil", "authorizePayment", "markProcessed", "recordFailure"}


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return d.load_asl()


def states(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(asl["States"])


def processor_tasks(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in states(asl).items() if s["Type"] == "Task" and s["Resource"] == PROCESSOR}


def send_to_dlq(asl: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [(name, s) for name, s in states(asl).items() if s.get("Resource") == SEND_MESSAGE]
    return found


def test_is_valid_json_and_starts_at_a_known_state(asl: dict[str, Any]) -> None:
    assert asl["StartAt"] in asl["States"]
    for name, state in states(asl).items():
        for target in [state.get("Next"), state.get("Default")] + [c["Next"] for c in state.get("Catch", [])]:
            assert target is None or target in asl["States"], (name, target)
        for choice in state.get("Choices", []):
            assert choice["Next"] in asl["States"], name


def status_event_tasks(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in states(asl).items() if s.get("Resource") == PUT_EVENTS}


def test_every_task_is_a_processor_step_the_dlq_send_or_a_status_event(asl: dict[str, Any]) -> None:
    tasks = {name for name, s in states(asl).items() if s["Type"] == "Task"}
    assert tasks == set(processor_tasks(asl)) | {send_to_dlq(asl)[0]} | set(status_event_tasks(asl))
    assert {s["Parameters"]["step"] for s in processor_tasks(asl).values()} == PROCESSOR_STEPS


def test_placeholders_are_exactly_the_cdk_substitutions() -> None:
    assert set(re.findall(r"\$\{(\w+)\}", d.ASL_PATH.read_text())) == {
        d.ASL_PROCESSOR_ARN,
        d.ASL_DLQ_URL,
        d.ASL_EVENT_BUS,
    }


def test_dlq_send_uses_the_queue_placeholder_and_ends_in_fail(asl: dict[str, Any]) -> None:
    _, send = send_to_dlq(asl)
    assert send["Parameters"]["QueueUrl"] == DLQ_URL
    assert states(asl)[send["Next"]]["Type"] == "Fail"
    assert send["Retry"], "a lost DLQ message would lose the failure"
    body = send["Parameters"]["MessageBody"]
    for field in ("orderId.$", "failedStep.$", "error.$", "cause.$", "executionArn.$", "originalEvent.$"):
        assert field in body, field


@pytest.mark.parametrize("name", ["Validate", "Fulfil", "MarkProcessed", "RecordFailure"])
def test_processor_task_retries_transient_errors_only(asl: dict[str, Any], name: str) -> None:
    task = processor_tasks(asl)[name]
    (retry,) = task["Retry"]
    # MarkProcessed also retries its announcement of Order Processed (after the write), in the same retrier: one
    # counter, so the step's attempts stay three whatever fails (tests/infra/test_time_budget.py).
    announcement = {EventPublishFailed.__name__} if name == "MarkProcessed" else set()
    assert set(retry["ErrorEquals"]) == RETRYABLE | announcement
    assert "States.ALL" not in retry["ErrorEquals"]
    assert not set(retry["ErrorEquals"]) & set(PERMANENT_STEP_ERRORS)  # permanent: straight to Catch
    assert retry["MaxAttempts"] == 2
    assert retry["BackoffRate"] > 1
    assert task["TimeoutSeconds"] > 0


@pytest.mark.parametrize("name", ["Validate", "Fulfil", "MarkProcessed", "RecordFailure"])
def test_processor_task_catches_everything_into_the_dlq_then_fail(asl: dict[str, Any], name: str) -> None:
    task = processor_tasks(asl)[name]
    *announcement, catch = task["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"]
    # MarkProcessed's failed announcement is caught first, into a succeeding end: the order is PROCESSED.
    assert [(c["ErrorEquals"], states(asl)[c["Next"]]["Type"]) for c in announcement] == (
        [([EventPublishFailed.__name__], "Succeed")] if name == "MarkProcessed" else []
    )
    assert catch["ResultPath"] != "$"  # the state's data stays beside the error (the DLQ reads $$.Execution.Input)
    send_name, _ = send_to_dlq(asl)
    path = [catch["Next"]]
    while path[-1] != send_name:
        state = states(asl)[path[-1]]
        # A Choice on the way may only leave for the cancelled end (a cancelled order has nothing to replay).
        assert state["Type"] in ("Pass", "Task", "Choice") and len(path) < 6, path
        if state["Type"] == "Choice":
            # ... or for Order Failed on the bus, which goes on to the DLQ.
            for choice in state["Choices"]:
                target = states(asl)[choice["Next"]]
                assert target["Type"] == "Succeed" or (
                    target.get("Resource") == PUT_EVENTS and target["Next"] == send_name
                ), path
            assert {c["Variable"] for c in state["Choices"]} <= {
                "$.failureRecord.status",
                "$.failureRecord.recorded",
            }, path
        path.append(state["Next"] if "Next" in state else state["Default"])
    assert states(asl)[states(asl)[send_name]["Next"]]["Type"] == "Fail"
    if name != "RecordFailure":
        assert "RecordFailure" in path, "the order must be marked FAILED before it goes to the DLQ"


def test_error_names_in_the_asl_exist(asl: dict[str, Any]) -> None:
    names = {
        error
        for state in states(asl).values()
        for block in state.get("Retry", []) + state.get("Catch", [])
        for error in block["ErrorEquals"]
    }
    ours = {n for n in names if not n.startswith(("States.", "Lambda.")) and n not in FUNCTION_TIMEOUT_ERRORS}
    assert ours <= set(TRANSIENT_STEP_ERRORS) | set(PERMANENT_STEP_ERRORS) | {EventPublishFailed.__name__}


def test_the_workflow_announces_rejected_and_failed_once_each(asl: dict[str, Any]) -> None:
    """Cancelled is announced by order-canceller, which makes that transition; the workflow's Cancelled
    state only observes it. Processed is announced by markProcessed, the step that writes it
    (tests/unit/test_processed_announcement.py)."""
    detail_types = sorted(t["Parameters"]["Entries"][0]["DetailType"] for t in status_event_tasks(asl).values())
    # Order Rejected twice: out of stock (after Fulfil) and payment declined (after AuthorizePayment).
    assert detail_types == ["Order Failed", "Order Rejected", "Order Rejected"]
    assert sorted(d.WORKFLOW_STATUS_DETAIL_TYPES) == sorted(set(detail_types))  # the role's events:detail-type


@pytest.mark.parametrize("name", ["PublishRejected", "PublishPaymentDeclined", "PublishFailed"])
def test_status_event_task_never_fails_or_reruns_the_order(asl: dict[str, Any], name: str) -> None:
    """A status event goes on our bus from our source with orderId, status, reason and timestamp only (no
    customer name: the workflow logs execution data). A failed publish is retried, then caught to the same
    next state: the order's status is already written."""
    task = status_event_tasks(asl)[name]
    (entry,) = task["Parameters"]["Entries"]
    assert entry["EventBusName"] == EVENT_BUS
    assert entry["Source"] == d.RULE_EVENT_SOURCE
    assert entry["DetailType"] in d.STATUS_EVENT_DETAIL_TYPES
    assert {key.removesuffix(".$") for key in entry["Detail"]} == {"orderId", "status", "reason", "timestamp"}
    # The order id announced is the execution input's (the Order Created event), whatever the state's data.
    assert entry["Detail"]["orderId.$"] == "$$.Execution.Input.detail.orderId"
    # "ResultPath": null discards the task's result and keeps its input ("Use ResultPath to discard the
    # result and keep the original input", Step Functions Developer Guide, input-output-resultpath.html):
    # the execution's data stays the order's, and PutEvents' answer is not carried to later states (the
    # trace keeps it in TaskSucceeded). A failed publish is still kept, by the Catch's own ResultPath.
    assert "ResultPath" in task and task["ResultPath"] is None
    (retry,) = task["Retry"]
    (catch,) = task["Catch"]
    assert retry["ErrorEquals"] == catch["ErrorEquals"] == ["States.ALL"]
    assert catch["Next"] == task["Next"]
    assert catch["ResultPath"] not in (None, "$")
    assert states(asl)[task["Next"]]["Type"] in ("Succeed", "Task")
    assert task["TimeoutSeconds"] > 0
