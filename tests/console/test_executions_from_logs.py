"""On AWS an Express execution's events are only in the state machine's log group: the console finds
and draws them from there.

The log shape is Step Functions' ("Logging in CloudWatch Logs", Step Functions Developer Guide: each
record has id, type, details, previous_event_id, event_timestamp in epoch milliseconds as a string,
and execution_arn). Here the records are made from a real local execution's history, written to the
log group the local stack creates, and read back through CloudWatch Logs' FilterLogEvents.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from order_service.domain.order import OrderStatus
from snacks.aws import Aws
from snacks.console.executions import ExecutionFinder
from snacks.trace import fetch_history
from stacks import definitions
from tests.console.conftest import create_order, wait_for


def as_log_record(event: dict[str, Any], execution_arn: str) -> dict[str, Any]:
    details = next((value for key, value in event.items() if key.endswith("EventDetails")), {})
    stamp: datetime = event["timestamp"]
    return {
        "id": str(event["id"]),
        "type": event["type"],
        "details": details,
        "previous_event_id": str(event.get("previousEventId", 0)),
        "event_timestamp": str(int(stamp.timestamp() * 1000)),
        "execution_arn": execution_arn,
    }


def write_to_log_group(aws: Aws, records: list[dict[str, Any]]) -> None:
    logs = aws.client("logs")
    stream = f"states/order-fulfillment/{uuid.uuid4()}"
    logs.create_log_stream(logGroupName=definitions.STATE_MACHINE_LOG_GROUP, logStreamName=stream)
    logs.put_log_events(
        logGroupName=definitions.STATE_MACHINE_LOG_GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": int(r["event_timestamp"]), "message": json.dumps(r)} for r in records],
    )


def test_an_orders_executions_are_found_and_drawn_from_the_log_group(aws: Aws) -> None:
    retried = create_order(aws, "Log Reader", ("Flaky Fries", 1, "2.50"))
    other = create_order(aws, "Someone Else", ("Nuts", 1, "1.00"))
    records: list[dict[str, Any]] = []
    for order_id in (retried, other):
        arn = str(wait_for(aws, order_id, OrderStatus.PROCESSED).execution_arn)
        records.extend(as_log_record(event, arn) for event in fetch_history(aws, arn))
    write_to_log_group(aws, sorted(records, key=lambda record: int(record["event_timestamp"])))

    finder = ExecutionFinder(aws)
    from_logs = finder.from_log_group(retried)
    assert len(from_logs) == 1  # the other order's execution is not mixed in
    (from_api,) = finder.for_order(retried)
    assert from_logs[0]["executionArn"] == from_api["executionArn"]
    assert from_logs[0]["path"] == from_api["path"]
    assert [(s["name"], s["outcome"], s["attempts"]) for s in from_logs[0]["states"]] == [
        (s["name"], s["outcome"], s["attempts"]) for s in from_api["states"]
    ]
    fulfil = next(state for state in from_logs[0]["states"] if state["name"] == "Fulfil")
    assert fulfil["outcome"] == "retried" and fulfil["failures"][0]["error"] == "FulfillmentUnavailable"
