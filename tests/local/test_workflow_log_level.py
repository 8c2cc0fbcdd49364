"""The workflow's execution-log level on the local stack, and what the trace tooling says at it.

AWS's rules (Step Functions Developer Guide, "Log levels", cloudwatch-log-level.html): at ERROR only
the failure events of the table below reach the log group, at OFF nothing does; a successful
execution therefore leaves no record below ALL. The records that are written keep the format of
level ALL ("Using CloudWatch Logs to log execution history in Step Functions"): the failed-publish
metric filter counts TaskFailed records at ALL and ERROR alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from order_service.domain.order import OrderRecord, OrderStatus
from snacks import operations
from snacks.aws import Aws
from snacks.cli import main
from stacks import definitions

FAILING = "Broken Biscuit"  # transient forever: two retries, then the catch path and the DLQ
# "Log levels", event types logged at ERROR.
ERROR_LEVEL_EVENT_TYPES = {
    "ExecutionAborted",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "FailStateEntered",
    "LambdaFunctionFailed",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut",
    "MapStateAborted",
    "MapStateFailed",
    "MapIterationAborted",
    "MapIterationFailed",
    "MapRunAborted",
    "MapRunFailed",
    "ParallelStateAborted",
    "ParallelStateFailed",
    "TaskFailed",
    "TaskStartFailed",
    "TaskStateAborted",
    "TaskSubmitFailed",
    "TaskTimedOut",
    "WaitStateAborted",
}
RECORD_KEYS = {"id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn", "redrive_count"}


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from snacks.local import LocalStack

    with LocalStack(
        port=0, fulfillment_faults=f"{FAILING}=transient", workflow_log_level="ERROR", virtual_time=True
    ) as local:
        yield local


@contextmanager
def switched_to(stack: Any, aws: Aws, level: str) -> Iterator[None]:
    """The level changed as `cdk deploy -c workflowLogLevel=LEVEL` changes it: UpdateStateMachine."""
    from snacks.local.provision import logging_configuration

    sfn = aws.client("stepfunctions")
    group_arn = aws.client("logs").describe_log_groups(logGroupNamePrefix=aws.names.state_machine_log_group)[
        "logGroups"
    ][0]["arn"]

    def update(to: str) -> None:
        sfn.update_state_machine(
            stateMachineArn=aws.state_machine_arn(),
            loggingConfiguration=logging_configuration(definitions.workflow_logging(to), group_arn),
        )

    update(level)
    try:
        yield
    finally:
        update(stack.workflow_logging.level)


def settled(stack: Any, aws: Aws, item: str) -> OrderRecord:
    payload = operations.order_payload("Level Tester", [operations.parse_item(item)], None)
    reply = operations.invoke_creator(aws, payload)
    assert reply["statusCode"] == 201, reply
    order = operations.wait_for_final(aws, str(reply["orderId"]), timeout=30)
    assert order is not None and order.execution_arn
    stack.wait_until_idle(timeout=30)  # the execution has written everything it will write
    return order


def logged(aws: Aws, execution_arn: str) -> list[dict[str, Any]]:
    events = aws.client("logs").filter_log_events(logGroupName=aws.names.state_machine_log_group)["events"]
    records = [json.loads(event["message"]) for event in events]
    return sorted(
        (record for record in records if record["execution_arn"] == execution_arn), key=lambda r: int(r["id"])
    )


def snacks(stack: Any, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["--endpoint-url", stack.endpoint_url, "--region", stack.region, *argv])
    return code, capsys.readouterr().out


def test_the_stack_runs_the_workflow_at_the_level_asked(stack: Any, aws: Aws) -> None:
    described = aws.client("stepfunctions").describe_state_machine(stateMachineArn=aws.state_machine_arn())
    configuration = described["loggingConfiguration"]
    assert configuration["level"] == "ERROR" and configuration["includeExecutionData"] is True
    assert configuration["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"].endswith(
        f":log-group:{aws.names.state_machine_log_group}:*"
    )
    assert stack.health()["workflowLogLevel"] == "ERROR"


def test_at_error_a_processed_or_rejected_order_logs_nothing(stack: Any, aws: Aws) -> None:
    """Neither run has a failure event: at ERROR their executions leave no record at all."""
    operations.set_stock(aws, "Scarce Scones", 0)
    processed = settled(stack, aws, "Level Pretzels:1:2.00")
    rejected = settled(stack, aws, "Scarce Scones:1:2.00")
    assert (processed.status, rejected.status) == (OrderStatus.PROCESSED, OrderStatus.REJECTED)
    assert logged(aws, str(processed.execution_arn)) == []
    assert logged(aws, str(rejected.execution_arn)) == []


def test_at_error_a_failed_order_logs_its_failure_events_only_in_the_all_format(stack: Any, aws: Aws) -> None:
    """Three failed attempts of the Lambda task (1 + MaxAttempts 2), the Fail state and the execution's
    failure; no Scheduled, Started, Entered or Exited events. With execution data, FailStateEntered
    carries the order id (how the console finds the execution)."""
    failed = settled(stack, aws, f"{FAILING}:1:2.00")
    assert failed.status == OrderStatus.FAILED
    records = logged(aws, str(failed.execution_arn))
    types = [record["type"] for record in records]
    assert types == ["LambdaFunctionFailed"] * 3 + ["FailStateEntered", "ExecutionFailed"], types
    assert set(types) <= ERROR_LEVEL_EVENT_TYPES
    assert all(set(record) == RECORD_KEYS for record in records), records[0]
    assert failed.order_id in records[3]["details"]["input"]


def test_trace_and_watch_say_what_level_error_cannot_show(
    stack: Any, aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    processed = settled(stack, aws, "Level Pretzels:1:2.00")
    code, out = snacks(stack, capsys, "trace", processed.order_id)
    assert code == 0
    assert "workflow log level is ERROR: only failed steps are recorded" in out
    assert "successful executions and steps have no trace" in out
    assert re.search(r"execution \S+: nothing logged \(at level ERROR", out), out

    failed = settled(stack, aws, f"{FAILING}:1:2.00")
    code, out = snacks(stack, capsys, "trace", failed.order_id)
    assert code == 0 and "workflow log level is ERROR" in out
    assert re.search(r"execution \S+  FAILED  \(duration not logged\)", out), out
    assert out.count("! LambdaFunctionFailed FulfillmentUnavailable") == 3, out

    code, out = snacks(stack, capsys, "orders", "watch", failed.order_id, "--timeout", "5")
    assert code == 1 and "workflow log level is ERROR: only failed steps are recorded" in out, out
    assert "step   OrderFailed (failed)" in out, out


def test_the_console_says_what_level_error_cannot_show(stack: Any, aws: Aws) -> None:
    from snacks.console.app import create_app

    client = create_app(aws).test_client()
    failed = settled(stack, aws, f"{FAILING}:1:2.00")
    reply = client.get(f"/api/orders/{failed.order_id}").get_json()
    assert reply["workflowLogLevel"] == "ERROR"
    assert "only failed steps are recorded" in reply["traceCoverage"]
    (execution,) = reply["executions"]
    assert execution["status"] == "FAILED"
    assert [f["type"] for f in execution["unplacedFailures"]] == ["LambdaFunctionFailed"] * 3

    processed = settled(stack, aws, "Level Pretzels:1:2.00")
    page = client.get(f"/orders/{processed.order_id}").get_data(as_text=True)
    assert 'id="trace-coverage"' in page and "successful executions and steps have no trace" in page
    assert "No execution of this order is in the workflow's log." in page


def test_at_off_nothing_is_logged_and_the_tooling_says_so(
    stack: Any, aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    from snacks.console.app import create_app

    with switched_to(stack, aws, "OFF"):
        failed = settled(stack, aws, f"{FAILING}:1:2.00")
        assert failed.status == OrderStatus.FAILED
        assert logged(aws, str(failed.execution_arn)) == []
        code, out = snacks(stack, capsys, "trace", failed.order_id)
        assert code == 0 and "workflow log level is OFF: Step Functions records no execution history" in out
        assert not re.search(r"^\s*execution ", out, re.MULTILINE), out  # no trace is drawn: none can exist
        reply = create_app(aws).test_client().get(f"/api/orders/{failed.order_id}").get_json()
        assert reply["executions"] == [] and "level is OFF" in reply["traceCoverage"]


def test_snacks_local_refuses_a_bad_level_before_starting(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage_error:
        main(["local", "--port", "0", "--workflow-log-level", "VERBOSE"])
    assert usage_error.value.code == 2
    assert "must be one of ALL, ERROR, OFF" in capsys.readouterr().err
