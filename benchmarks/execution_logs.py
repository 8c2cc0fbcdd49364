"""Execution-log bytes per order at each workflow log level, measured from the local stack's log group.

The local stack writes each Express execution's history to ``/aws/vendedlogs/states/<machine>`` in
the format Step Functions uses, filtered by level as AWS's "Log levels" table says (Step Functions
Developer Guide, cloudwatch-log-level.html). One stack; the level is switched with
UpdateStateMachine, the call ``cdk deploy -c workflowLogLevel=LEVEL`` makes; at each level three
orders are run: processed paid at pickup, processed paid by card (the local Stripe emulator), rejected
(out of stock), failed (retries exhausted, then the DLQ).

Size of an order's log: the UTF-8 bytes of each event's message plus 26 bytes per event, how
CloudWatch Logs sizes a PutLogEvents batch (CloudWatch Logs API reference, PutLogEvents), taken
as the ingested volume. The records' sizes follow what moto's interpreter puts in ``details``
(inputs, outputs, causes), which is AWS's shape; a real account's figures differ by ids and
timestamps only, give or take a few bytes per event.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from typing import Any

from snacks import operations
from snacks.aws import Aws
from stacks import definitions

PER_EVENT_OVERHEAD = 26  # bytes, PutLogEvents batch-size rule
FAILING = "Broken Biscuit"  # transient forever: 3 attempts, then the catch path and the DLQ
SCARCE = "Scarce Scones"  # stock 0: REJECTED (OutOfStock)
CARD = "pm_card_visa"  # the emulator authorizes and captures it
# scenario -> (item, payment method: None pays at pickup)
SCENARIOS: dict[str, tuple[str, str | None]] = {
    "processed pickup": ("Bench Pretzels:1:2.00", None),
    "processed card": ("Bench Pretzels:1:2.00", CARD),
    "rejected": (f"{SCARCE}:1:2.00", None),
    "failed": (f"{FAILING}:1:2.00", None),
}
PROCESSED = ("processed pickup", "processed card")
EXPECTED_STATUS = {
    "processed pickup": "PROCESSED",
    "processed card": "PROCESSED",
    "rejected": "REJECTED",
    "failed": "FAILED",
}
# The execution ARN every record carries, and the record with nothing in ``details``: each event's floor.
EMPTY_RECORD = (
    '{"id":"10","type":"LambdaFunctionStarted","details":{},"previous_event_id":"9",'
    '"event_timestamp":"1796612127288","execution_arn":"%s","redrive_count":"0"}'
)


# Before issue 21 shaped the state payloads: measured on that commit's tree (its ASL and code) with this
# module, 3 orders per scenario and level (python -m benchmarks.execution_logs 3, 2026-12-07): (bytes, events)
# per order. A record of a past measurement, kept so that every run prints today's figures beside it.
BEFORE_COMMIT = "3a397b6"
BEFORE: dict[tuple[str, str], tuple[float, float]] = {
    ("ALL", "processed pickup"): (36_932, 37),
    ("ALL", "processed card"): (36_910, 37),
    ("ALL", "rejected"): (19_910, 23),
    ("ALL", "failed"): (57_188, 40),
    ("ERROR", "processed pickup"): (0, 0),
    ("ERROR", "processed card"): (0, 0),
    ("ERROR", "rejected"): (0, 0),
    ("ERROR", "failed"): (8_790, 5),
    ("OFF", "processed pickup"): (0, 0),
    ("OFF", "processed card"): (0, 0),
    ("OFF", "rejected"): (0, 0),
    ("OFF", "failed"): (0, 0),
}


@dataclass(frozen=True)
class LogVolume:
    level: str
    scenario: str
    events: float  # log events per order (mean over the orders run)
    bytes: float  # ingested bytes per order (mean)
    floor: float = 0.0  # the same events with empty details: what the event count alone costs (mean)


def measure(orders_per_scenario: int = 3) -> list[LogVolume]:
    from snacks.local import LocalStack

    volumes: list[LogVolume] = []
    # Virtual time: the failed order's Retry backoffs are recorded, not slept (snacks/local/virtual_time.py);
    # the records written, and so their bytes, are the same, and the section takes seconds less.
    with LocalStack(port=0, fulfillment_faults=f"{FAILING}=transient", virtual_time=True) as stack:
        aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
        operations.set_stock(aws, SCARCE, 0)
        for level in definitions.WORKFLOW_LOG_LEVELS:
            _set_level(aws, level)
            for scenario, (item, payment) in SCENARIOS.items():
                sizes = [_one_order(stack, aws, scenario, item, payment) for _ in range(orders_per_scenario)]
                volumes.append(
                    LogVolume(
                        level=level,
                        scenario=scenario,
                        events=statistics.fmean(events for events, _, _ in sizes),
                        bytes=statistics.fmean(size for _, size, _ in sizes),
                        floor=statistics.fmean(floor for _, _, floor in sizes),
                    )
                )
    return volumes


def _set_level(aws: Aws, level: str) -> None:
    from snacks.local.provision import logging_configuration

    logs = aws.client("logs")
    group = logs.describe_log_groups(logGroupNamePrefix=aws.names.state_machine_log_group)["logGroups"][0]
    aws.client("stepfunctions").update_state_machine(
        stateMachineArn=aws.state_machine_arn(),
        loggingConfiguration=logging_configuration(definitions.workflow_logging(level), str(group["arn"])),
    )


def _one_order(stack: Any, aws: Aws, scenario: str, item: str, payment: str | None) -> tuple[int, int, int]:
    """(events, bytes, floor bytes) the order's execution wrote to the log group."""
    payload = operations.order_payload("Bench Logs", [operations.parse_item(item)], None)
    if payment is not None:
        payload["paymentMethod"] = payment
    reply = operations.invoke_creator(aws, payload)
    order = operations.wait_for_final(aws, str(reply["orderId"]), timeout=60)
    if order is None or order.status.value != EXPECTED_STATUS[scenario] or not order.execution_arn:
        raise RuntimeError(f"{scenario} order did not end {EXPECTED_STATUS[scenario]}: {order}")
    stack.wait_until_idle(timeout=60)  # every history event of the execution is written
    pattern = f'{{ $.execution_arn = "{order.execution_arn}" }}'
    events: list[dict[str, Any]] = []
    paginator = aws.client("logs").get_paginator("filter_log_events")
    for page in paginator.paginate(logGroupName=aws.names.state_machine_log_group, filterPattern=pattern):
        events.extend(event for event in page["events"] if _arn(event) == order.execution_arn)
    size = sum(len(event["message"].encode()) + PER_EVENT_OVERHEAD for event in events)
    return len(events), size, len(events) * event_floor(order.execution_arn)


def event_floor(execution_arn: str) -> int:
    """Bytes of one log event whose ``details`` are empty (ids, type, timestamps, the execution ARN) + 26."""
    return len((EMPTY_RECORD % execution_arn).encode()) + PER_EVENT_OVERHEAD


def _arn(event: dict[str, Any]) -> str:
    return str(json.loads(event["message"]).get("execution_arn"))


def bytes_by(volumes: list[LogVolume]) -> dict[tuple[str, str], float]:
    """``(level, scenario) -> bytes per order``."""
    return {(volume.level, volume.scenario): volume.bytes for volume in volumes}


def before_bytes() -> dict[tuple[str, str], float]:
    return {key: size for key, (size, _) in BEFORE.items()}


def per_order(
    bytes_of: dict[tuple[str, str], float], level: str, rejection_rate: float, failure_rate: float, card_share: float
) -> float:
    """Bytes per order at ``level`` for an order mix: the rest of the orders are processed, ``card_share`` of
    them paid by card, the others at pickup."""
    processed = 1.0 - rejection_rate - failure_rate
    return (
        processed * card_share * bytes_of[(level, "processed card")]
        + processed * (1.0 - card_share) * bytes_of[(level, "processed pickup")]
        + rejection_rate * bytes_of[(level, "rejected")]
        + failure_rate * bytes_of[(level, "failed")]
    )


if __name__ == "__main__":  # python -m benchmarks.execution_logs [orders per scenario]
    import sys

    for volume in measure(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        print(
            f"{volume.level:<5} {volume.scenario:<16} {volume.events:5.1f} events {volume.bytes:9.0f} bytes"
            f" (floor {volume.floor:6.0f})"
        )
