"""Every workflow execution of one order, with what each state did: the data the graph shows.

Where Step Functions keeps execution history (the local stack, Standard workflows) the executions
are listed with ``ListExecutions`` and read with ``GetExecutionHistory``, as ``snacks trace`` does.
Express executions on AWS have neither API ("ListExecutions ... is not supported by EXPRESS state
machines", Step Functions API reference); their events are in the state machine's log group
(logging level ALL, execution data included), found there by the order id they carry.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from snacks.aws import Aws
from snacks.trace import ExecutionTrace, StepTrace, build_trace, fetch_history, history_from_logs


@dataclass(frozen=True)
class StateView:
    name: str
    kind: str
    outcome: str  # succeeded | retried | caught | failed | running
    attempts: int
    failures: list[dict[str, str]]
    duration_ms: float | None
    input: str | None
    output: str | None
    entered: str


def state_outcome(step: StepTrace, is_last: bool) -> str:
    """Succeeded, succeeded after retries, failed and caught (the run went on), failed, or running."""
    if step.exited is None:
        return "running"
    last_attempt_failed = step.attempts > 0 and len(step.failures) >= step.attempts
    if step.kind == "Fail" or ((step.caught or last_attempt_failed) and is_last):
        return "failed"
    if step.caught or last_attempt_failed:
        return "caught"
    return "retried" if step.failures else "succeeded"


def execution_view(trace: ExecutionTrace) -> dict[str, Any]:
    states = [
        StateView(
            name=step.name,
            kind=step.kind,
            outcome=state_outcome(step, is_last=index == len(trace.steps) - 1),
            attempts=max(step.attempts, 1) if step.kind == "Task" else step.attempts,
            failures=step.failures,
            duration_ms=None if step.duration_ms is None else round(step.duration_ms, 1),
            input=step.input,
            output=step.output,
            entered=step.entered.isoformat(),
        )
        for index, step in enumerate(trace.steps)
    ]
    names = [state.name for state in states]
    path = list(itertools.pairwise(names))
    return {
        "executionArn": trace.execution_arn,
        "name": trace.execution_arn.rsplit(":", 1)[-1],
        "status": trace.status,
        "started": trace.started.isoformat() if trace.started else None,
        "durationMs": None if trace.duration_ms is None else round(trace.duration_ms, 1),
        "states": [vars(state) for state in states],
        "path": [list(pair) for pair in path],
        # Below level ALL: failed attempts whose state's entry was not logged (snacks.trace_coverage).
        "unplacedFailures": [{"type": f["type"], "error": f["error"]} for f in trace.unplaced_failures],
    }


class ExecutionFinder:
    """Maps executions to orders; an execution's input never changes, so each is described once."""

    def __init__(self, aws: Aws) -> None:
        self._aws = aws
        self._order_of: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def for_order(self, order_id: str) -> list[dict[str, Any]]:
        """The order's executions as the console draws them, oldest first."""
        return [execution_view(trace) for trace in self.traces_for(order_id)]

    def traces_for(self, order_id: str) -> list[ExecutionTrace]:
        """Every execution of the order, oldest first: what ``snacks trace`` prints and the console draws."""
        try:
            arns = self._listed_for(order_id)
        except ClientError:
            return self._traced_from_log_group(order_id)
        traces = [build_trace(arn, fetch_history(self._aws, arn)) for arn in arns]
        return sorted(traces, key=_started)

    def _listed_for(self, order_id: str) -> list[str]:
        client = self._aws.client("stepfunctions")
        machine = self._aws.state_machine_arn()
        found: list[str] = []
        for page in client.get_paginator("list_executions").paginate(stateMachineArn=machine):
            for execution in page["executions"]:
                arn = str(execution["executionArn"])
                with self._lock:
                    known = arn in self._order_of
                if not known:
                    described = client.describe_execution(executionArn=arn)
                    with self._lock:
                        self._order_of[arn] = _order_id_of(described.get("input"))
                if self._order_of.get(arn) == order_id:
                    found.append(arn)
        return found

    def from_log_group(self, order_id: str) -> list[dict[str, Any]]:
        return [execution_view(trace) for trace in self._traced_from_log_group(order_id)]

    def _traced_from_log_group(self, order_id: str) -> list[ExecutionTrace]:
        logs = self._aws.client("logs")
        arns: set[str] = set()
        # A quoted term matches the raw log line (order ids are checked to be plain tokens first);
        # not every event of an execution names the order, so each one found is then read whole.
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=self._aws.names.state_machine_log_group, filterPattern=f'"{order_id}"'
        ):
            arns.update(str(json.loads(line["message"])["execution_arn"]) for line in page["events"])
        traces = [build_trace(arn, history_from_logs(self._aws, arn)) for arn in arns]
        return sorted(traces, key=_started)


def _started(trace: ExecutionTrace) -> str:
    return trace.started.isoformat() if trace.started else ""


def _order_id_of(execution_input: Any) -> str | None:
    try:
        document = json.loads(execution_input or "null")
        return str(document["detail"]["orderId"])
    except (ValueError, TypeError, KeyError):
        return None
