"""Timeouts budgeted from the outside in, computed from stacks/definitions.py, the ASL and the SDK settings.

one AWS call at its worst + time to answer <= function timeout < task TimeoutSeconds, and the longest
path through the workflow, every state at its worst, stays within WORKFLOW_TIME_BUDGET_SECONDS, a
margin under Express's five minutes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.retries.standard import ExponentialBackoff, RetryContext, RetryEventAdapter, ThrottlingErrorDetector

from order_service.adapters import clients, stripe_payments
from stacks import definitions as d

PROCESSOR_RESOURCE = "${" + d.ASL_PROCESSOR_ARN + "}"


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return d.load_asl()


def test_call_worst_case_follows_botocores_standard_retry_backoff() -> None:
    """AWS SDKs and Tools reference, "Retry behavior" (standard mode): exponential backoff with jitter,
    ``rand(0,1) * min(2 ** attempt, 20 s)`` for throttling errors (the slowest base), at most
    ``max_attempts`` tries (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
    Pinned against botocore itself, with the jitter at its maximum."""
    backoff = ExponentialBackoff(random=lambda: 1.0, throttling_detector=ThrottlingErrorDetector(RetryEventAdapter()))
    throttled = {"Error": {"Code": "ThrottlingException"}}
    slowest = sum(
        backoff.delay_amount(RetryContext(attempt_number=attempt, parsed_response=throttled))
        for attempt in range(1, clients.MAX_ATTEMPTS)
    )
    assert clients.retry_backoff_ceiling_seconds() == pytest.approx(slowest)
    per_attempt = clients.CLIENT_CONFIG.connect_timeout + clients.CLIENT_CONFIG.read_timeout
    assert clients.call_worst_case_seconds() == clients.MAX_ATTEMPTS * per_attempt + slowest


def test_a_client_tries_a_failing_call_exactly_max_attempts_times() -> None:
    """Count the attempts a product client really makes when every one fails to connect (botocore's
    ``max_attempts`` counts retries and ``total_max_attempts`` tries: a mix-up costs a whole extra
    attempt of the budget)."""
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    client = session.client("dynamodb", config=clients.CLIENT_CONFIG, endpoint_url="http://127.0.0.1:9")
    attempts: list[int] = []

    def refuse(**_: Any) -> None:
        attempts.append(1)
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    client.meta.events.register("before-send", refuse)
    with pytest.raises(EndpointConnectionError):
        client.describe_table(TableName="Orders")
    assert len(attempts) == clients.MAX_ATTEMPTS


@pytest.mark.parametrize("role", [d.CREATOR, d.PROCESSOR, d.RECONCILER, d.CANCELLER])
def test_one_call_at_its_worst_and_the_answer_fit_in_every_function(role: str) -> None:
    """Lambda stops a function at its configured timeout wherever it is
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html); a function must be able to
    finish at least one call and answer, and refuses to start a call it could not finish."""
    needed = clients.call_worst_case_seconds() + clients.ANSWER_MARGIN_SECONDS
    assert needed <= d.FUNCTIONS[role].timeout_seconds


@pytest.mark.parametrize("role", d.PAYMENT_CALLERS)
def test_one_stripe_call_at_its_worst_and_the_answer_fit_in_every_payment_caller(role: str) -> None:
    """A payment caller refuses to start a Stripe call it could not finish (the same deadline check as the AWS
    clients); one call at its worst (no SDK retry: the workflow retries with the same idempotency keys) and
    the answer must fit in the function's timeout."""
    needed = stripe_payments.stripe_call_worst_case_seconds() + clients.ANSWER_MARGIN_SECONDS
    assert needed <= d.FUNCTIONS[role].timeout_seconds


def test_creator_can_write_and_complete_its_idempotency_record_within_its_timeout() -> None:
    """The creator starts the Orders write only with time for it and for the idempotency record's
    completion after it (two calls); otherwise it answers 503 first."""
    needed = 2 * clients.call_worst_case_seconds() + clients.ANSWER_MARGIN_SECONDS
    assert needed <= d.FUNCTIONS[d.CREATOR].timeout_seconds


# Each Lambda function the ASL invokes, by the placeholder CDK substitutes with its ARN. A task on a
# ``${...}`` resource missing here fails test_every_task_resource_is_costed: add its function.
LAMBDA_RESOURCES = {PROCESSOR_RESOURCE: d.PROCESSOR}


def _function_timeout(state: dict[str, Any]) -> int | None:
    """The timeout of the function a Task invokes (directly or through ``lambda:invoke``), else None."""
    resource = state.get("Resource", "")
    if resource.startswith("arn:aws:states:::lambda:invoke"):
        resource = state.get("Parameters", {}).get("FunctionName", "")
    role = LAMBDA_RESOURCES.get(resource)
    return None if role is None else d.FUNCTIONS[role].timeout_seconds


def _tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Task of the workflow, those in Parallel branches and Map item processors included."""
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _tasks(branch["States"])
        for processor in (state.get("ItemProcessor"), state.get("Iterator")):
            if processor:
                yield from _tasks(processor["States"])


def test_every_task_resource_is_costed(asl: dict[str, Any]) -> None:
    """A Task is a Lambda function this test knows (its timeout bounds an attempt) or a Step Functions
    service integration (``arn:aws:states:::``); every one has a TimeoutSeconds, or it may wait for the
    whole execution ("Task workflow state", TimeoutSeconds defaults to 99999999,
    https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html)."""
    for name, task in _tasks(asl["States"]):
        assert "TimeoutSeconds" in task, f"{name}: a task without TimeoutSeconds can wait for the whole execution"
        resource = task["Resource"]
        assert _function_timeout(task) is not None or (
            resource.startswith("arn:aws:states:::") and not resource.startswith("arn:aws:states:::lambda:")
        ), f"{name}: {resource} is not in LAMBDA_RESOURCES (map it to its function in stacks/definitions.py)"


def test_every_lambda_task_waits_longer_than_the_function_may_run(asl: dict[str, Any]) -> None:
    """With a task ``TimeoutSeconds`` at or below the function timeout, Step Functions gives up
    (States.Timeout) while the invocation still runs, and the retry overlaps it. Above it, a timed-out
    function comes back as ``Lambda.Unknown`` ("Handle Lambda service exceptions",
    https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html), which Retry matches."""
    lambda_tasks = [(name, task) for name, task in _tasks(asl["States"]) if _function_timeout(task) is not None]
    assert {"Validate", "Fulfil", "MarkProcessed", "RecordFailure"} <= {name for name, _ in lambda_tasks}
    for name, task in lambda_tasks:
        assert task["TimeoutSeconds"] > (_function_timeout(task) or 0), name
        retried = {error for retry in task["Retry"] for error in retry["ErrorEquals"]}
        assert {"Lambda.Unknown", "Sandbox.Timedout", "States.Timeout"} <= retried, name


def _retry_delays(retry: dict[str, Any]) -> float:
    """The longest total wait between attempts: IntervalSeconds x BackoffRate^n, capped by MaxDelaySeconds
    ("Retrying after an error", https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
    JitterStrategy FULL only shortens a delay, so the cap without jitter is the worst case."""
    delays = 0.0
    for retry_number in range(retry.get("MaxAttempts", 3)):
        delay = retry.get("IntervalSeconds", 1) * retry.get("BackoffRate", 2.0) ** retry_number
        delays += min(delay, retry.get("MaxDelaySeconds", delay))
    return delays


def _task_worst_case(state: dict[str, Any]) -> float:
    timeout = state["TimeoutSeconds"]
    retries = state.get("Retry", [])
    # Retriers count attempts separately; the worst case exhausts every one of them.
    attempts = 1 + sum(r.get("MaxAttempts", 3) for r in retries)
    return attempts * timeout + sum(_retry_delays(r) for r in retries)


def _state_worst_case(state: dict[str, Any]) -> float:
    """What one state can cost on its own, whatever its type; a type this test cannot bound fails it."""
    kind = state["Type"]
    if kind == "Task":
        return _task_worst_case(state)
    if kind in ("Pass", "Choice", "Succeed", "Fail"):
        return 0.0
    if kind == "Wait":
        assert "Seconds" in state, "a Wait on a timestamp or a path has no bound this test can compute"
        return float(state["Seconds"])
    if kind == "Parallel":
        branches = max((_longest_path(branch, branch["StartAt"]) for branch in state["Branches"]), default=0.0)
        return branches + sum(_retry_delays(r) for r in state.get("Retry", []))
    raise AssertionError(f"no worst case for a {kind} state: teach tests/infra/test_time_budget.py to bound it")


def _longest_path(asl: dict[str, Any], name: str, seen: frozenset[str] = frozenset()) -> float:
    state = asl["States"][name]
    assert name not in seen, f"cycle through {name}"
    nexts = [state.get("Next"), state.get("Default")]
    nexts += [choice["Next"] for choice in state.get("Choices", [])]
    nexts += [catch["Next"] for catch in state.get("Catch", [])]
    following = [_longest_path(asl, n, seen | {name}) for n in nexts if n]
    return _state_worst_case(state) + max(following, default=0.0)


def test_worst_execution_leaves_a_margin_under_the_express_limit(asl: dict[str, Any]) -> None:
    """Express workflows run for at most five minutes ("Step Functions service quotas", Quotas related to
    state machine executions: maximum execution time, Express 5 minutes,
    https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html); an execution stopped by
    that limit is not caught, so its order could be left FAILED without its DLQ message. Every state on
    the longest path (derived from the ASL: a state added anywhere counts) at its worst, every task
    timing out on every attempt with the longest retry delays, must leave the budget's margin for state
    transitions and Lambda's own overheads."""
    worst = _longest_path(asl, asl["StartAt"])
    assert d.WORKFLOW_TIME_BUDGET_SECONDS < d.EXPRESS_MAX_DURATION_SECONDS
    assert worst <= d.WORKFLOW_TIME_BUDGET_SECONDS, f"worst case {worst:.0f} s > {d.WORKFLOW_TIME_BUDGET_SECONDS} s"


def test_the_budget_walk_counts_a_state_added_on_the_path(asl: dict[str, Any]) -> None:
    """The walk is not a fixed list: a Lambda step inserted after Fulfil adds its own worst case."""
    before = _longest_path(asl, asl["StartAt"])
    grown = json.loads(json.dumps(asl))
    added = dict(grown["States"]["MarkProcessed"], Next=grown["States"]["Fulfil"]["Next"])
    grown["States"]["Fulfil"]["Next"] = "Added"
    grown["States"]["Added"] = added
    assert _longest_path(grown, grown["StartAt"]) == before + _task_worst_case(added)
