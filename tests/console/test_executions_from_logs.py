"""An Express execution's events are only in the state machine's log group: the console finds and
draws them from there, on AWS and on the local stack alike.

The log shape is Step Functions' ("Logging in CloudWatch Logs", Step Functions Developer Guide: each
record has id, type, details, previous_event_id, event_timestamp in epoch milliseconds as a string,
and execution_arn). The local stack writes those records for every execution of the EXPRESS state
machine and refuses ListExecutions for it, as AWS does, so the console reads the log group here too.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from order_service.domain.order import OrderStatus
from snacks.aws import Aws
from snacks.console.executions import ExecutionFinder
from tests.console.conftest import create_order, wait_for


def test_an_orders_executions_are_found_and_drawn_from_the_log_group(aws: Aws) -> None:
    retried = create_order(aws, "Log Reader", ("Flaky Fries", 1, "2.50"))
    other = create_order(aws, "Someone Else", ("Nuts", 1, "1.00"))
    for order_id in (retried, other):
        wait_for(aws, order_id, OrderStatus.PROCESSED)

    with pytest.raises(ClientError):  # Express: no ListExecutions, so for_order reads the log group
        aws.client("stepfunctions").list_executions(stateMachineArn=aws.state_machine_arn())
    finder = ExecutionFinder(aws)
    from_logs = finder.from_log_group(retried)
    assert len(from_logs) == 1  # the other order's execution is not mixed in
    assert finder.for_order(retried) == from_logs
    assert from_logs[0]["status"] == "SUCCEEDED"
    assert [state["name"] for state in from_logs[0]["states"]][:4] == [
        "Validate",
        "Fulfil",
        "InStock",
        "MarkProcessed",
    ]
    fulfil = next(state for state in from_logs[0]["states"] if state["name"] == "Fulfil")
    assert fulfil["outcome"] == "retried" and fulfil["failures"][0]["error"] == "FulfillmentUnavailable"
