"""An order's execution, step by step: what the Step Functions console shows, in a terminal.

Express executions have no ``GetExecutionHistory``: their history is in the state machine's log
group (logging level ALL, execution data included). It is read from there, on AWS and on the
local stack alike (which writes the same records). Below level ALL the log holds only failure
events (snacks.trace_coverage says what is missing): failed attempts of states whose entry was not
logged are kept apart, as ``unplaced_failures``.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from snacks.aws import Aws

ENTERED = "StateEntered"
EXITED = "StateExited"


@dataclass
class StepTrace:
    name: str
    kind: str
    entered: datetime
    exited: datetime | None = None
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)  # each failed attempt: error + full cause
    input: str | None = None
    output: str | None = None
    caught: bool = False  # left through a Catch (no Exited event)

    @property
    def duration_ms(self) -> float | None:
        return None if self.exited is None else (self.exited - self.entered).total_seconds() * 1000


@dataclass
class ExecutionTrace:
    execution_arn: str
    status: str
    steps: list[StepTrace]
    started: datetime | None
    stopped: datetime | None
    # Failed attempts with no StateEntered before them (level ERROR logs failures, not entries).
    unplaced_failures: list[dict[str, str]] = field(default_factory=list)

    @property
    def duration_ms(self) -> float | None:
        if self.started is None or self.stopped is None:
            return None
        return (self.stopped - self.started).total_seconds() * 1000


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, (int, float)):  # CloudWatch Logs: epoch milliseconds
        return datetime.fromtimestamp(float(value) / 1000).astimezone()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def build_trace(execution_arn: str, events: list[dict[str, Any]]) -> ExecutionTrace:
    """Fold history events (API or log shape: ``type`` + ``timestamp`` + details) into steps."""
    steps: list[StepTrace] = []
    unplaced: list[dict[str, str]] = []
    open_step: StepTrace | None = None
    status, started, stopped = "RUNNING", None, None
    for event in events:
        kind = str(event["type"])
        moment = _as_datetime(event["timestamp"])
        details = _details(event)
        if kind == "ExecutionStarted":
            started = moment
        elif kind in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            status, stopped = kind.removeprefix("Execution").upper(), moment
            if open_step is not None and open_step.exited is None:  # e.g. a Fail state: no Exited event
                open_step.exited = moment
        elif kind.endswith(ENTERED):
            if open_step is not None:  # left through a Catch: no Exited event
                open_step.exited = moment
                open_step.caught = True
            open_step = StepTrace(
                name=str(details.get("name", "?")),
                kind=kind.removesuffix(ENTERED),
                entered=moment,
                input=_text_or_none(details.get("input")),
            )
            steps.append(open_step)
        elif kind.endswith(EXITED) and open_step is not None:
            open_step.exited = moment
            open_step.output = _text_or_none(details.get("output"))
            open_step = None
        elif kind.endswith("Scheduled") and open_step is not None:
            open_step.attempts += 1
        elif kind.endswith(("Failed", "TimedOut")):
            error, cause = str(details.get("error", kind)), str(details.get("cause", ""))
            if open_step is None:
                unplaced.append({"type": kind, "error": error, "cause": cause})
                continue
            open_step.errors.append(f"{error}: {short_cause(cause)}")
            open_step.failures.append({"error": error, "cause": cause})
    return ExecutionTrace(execution_arn, status, steps, started, stopped, unplaced)


def _details(event: dict[str, Any]) -> dict[str, Any]:
    if isinstance(event.get("details"), dict):  # CloudWatch Logs shape
        return dict(event["details"])
    for key, value in event.items():  # API shape: <camelCaseType>EventDetails
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def short_cause(cause: Any, limit: int = 120) -> str:
    text = str(cause)
    with contextlib.suppress(ValueError, AttributeError):  # Lambda causes: JSON with errorMessage
        text = str(json.loads(text).get("errorMessage", text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fetch_history(aws: Aws, execution_arn: str) -> list[dict[str, Any]]:
    """The execution's history events, in order, from the state machine's log group."""
    return history_from_logs(aws, execution_arn)


def history_from_logs(aws: Aws, execution_arn: str) -> list[dict[str, Any]]:
    logs = aws.client("logs")
    events: list[dict[str, Any]] = []
    paginator = logs.get_paginator("filter_log_events")
    pattern = f'{{ $.execution_arn = "{execution_arn}" }}'
    for page in paginator.paginate(logGroupName=aws.names.state_machine_log_group, filterPattern=pattern):
        for line in page["events"]:
            record = json.loads(line["message"])
            if record.get("execution_arn") != execution_arn:
                continue  # a JSON filter pattern already ensures this on AWS; cheap to be sure
            events.append({"type": record["type"], "timestamp": int(record["event_timestamp"]), **record})
    return sorted(events, key=lambda event: (event["timestamp"], int(event.get("id", 0))))


def render_trace(trace: ExecutionTrace) -> str:
    if trace.duration_ms is not None:
        total = f"{trace.duration_ms:.0f} ms"
    else:
        total = "running" if trace.status == "RUNNING" else "duration not logged"
    lines = [f"execution {trace.execution_arn.rsplit(':', 1)[-1]}  {trace.status}  ({total})"]
    if trace.unplaced_failures:
        lines.append("  failed attempts (the states they belong to are not logged at this level):")
        lines.extend(
            f"      ! {failure['type']} {failure['error']}: {short_cause(failure['cause'])}"
            for failure in trace.unplaced_failures
        )
    for step in trace.steps:
        took = f"{step.duration_ms:7.0f} ms" if step.duration_ms is not None else "    ... "
        attempts = f"  attempts={step.attempts}" if step.attempts > 1 else ""
        lines.append(f"  {step.name:<22} {step.kind:<8} {took}{attempts}")
        lines.extend(f"      ! {error}" for error in step.errors)
    return "\n".join(lines)
