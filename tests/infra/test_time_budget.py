"""Timeouts budgeted from the outside in, computed from stacks/definitions.py, the ASL and the SDK settings.

one AWS call at its worst + time to answer <= function timeout < task TimeoutSeconds, and the longest
path through the workflow, every task at its worst, stays under Express's five minutes.
"""

from __future__ import annotations

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


def test_every_lambda_task_waits_longer_than_the_function_may_run(asl: dict[str, Any]) -> None:
    """With a task ``TimeoutSeconds`` at or below the function timeout, Step Functions gives up
    (States.Timeout) while the invocation still runs, and the retry overlaps it. Above it, a timed-out
    function comes back as ``Lambda.Unknown`` ("Handle Lambda service exceptions",
    https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html), which Retry matches."""
    tasks = [s for s in asl["States"].values() if s.get("Resource") == PROCESSOR_RESOURCE]
    assert len(tasks) == 5
    for task in tasks:
        assert task["TimeoutSeconds"] > d.FUNCTIONS[d.PROCESSOR].timeout_seconds
        (retry,) = task["Retry"]
        assert {"Lambda.Unknown", "Sandbox.Timedout", "States.Timeout"} <= set(retry["ErrorEquals"])


def _retry_delays(retry: dict[str, Any]) -> float:
    """The longest total wait between attempts: IntervalSeconds x BackoffRate^n, capped by MaxDelaySeconds
    ("Retrying after an error", https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html)."""
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


def _longest_path(asl: dict[str, Any], name: str, seen: frozenset[str] = frozenset()) -> float:
    state = asl["States"][name]
    assert name not in seen, f"cycle through {name}"
    cost = _task_worst_case(state) if state["Type"] == "Task" else 0.0
    nexts = [state.get("Next"), state.get("Default")]
    nexts += [choice["Next"] for choice in state.get("Choices", [])]
    nexts += [catch["Next"] for catch in state.get("Catch", [])]
    following = [_longest_path(asl, n, seen | {name}) for n in nexts if n]
    return cost + max(following, default=0.0)


def test_worst_execution_stays_under_the_express_limit(asl: dict[str, Any]) -> None:
    """Express workflows run for at most five minutes ("Choosing workflow type in Step Functions",
    https://docs.aws.amazon.com/step-functions/latest/dg/choosing-workflow-type.html); an execution
    stopped by that limit is not caught, so its order would neither be PROCESSED nor reach the DLQ.
    Every task on the longest path timing out on every attempt, with the longest retry delays."""
    for state in asl["States"].values():
        if state["Type"] == "Task":
            assert "TimeoutSeconds" in state, "a task without TimeoutSeconds can wait for the whole execution"
    worst = _longest_path(asl, asl["StartAt"])
    assert worst < d.EXPRESS_MAX_DURATION_SECONDS, f"worst case {worst:.0f} s"
