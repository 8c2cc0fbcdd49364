"""What an execution trace can show at the state machine's execution-log level.

Express executions keep no history of their own: the state machine's log group is all there is,
and what goes there depends on its logging level (Step Functions Developer Guide, "Log levels"):
ALL writes every history event; ERROR only the failure events (TaskFailed, LambdaFunctionFailed,
FailStateEntered, ExecutionFailed, ...); FATAL only ExecutionFailed/Aborted/TimedOut; OFF nothing.
``snacks trace``, ``snacks orders watch`` and the console read the level with DescribeStateMachine
(Express machines answer it, on AWS and locally) and say what is missing instead of an empty trace.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from snacks.aws import Aws
from stacks import definitions

FULL_TRACE = definitions.DEFAULT_WORKFLOW_LOG_LEVEL
_FOR_FULL_TRACES = (
    "full traces need level ALL: cdk deploy -c workflowLogLevel=ALL (locally: snacks local --workflow-log-level ALL)"
)
NOTES = {
    "ERROR": "workflow log level is ERROR: only failed steps are recorded (LambdaFunctionFailed, TaskFailed, "
    "FailStateEntered, ExecutionFailed); successful executions and steps have no trace; " + _FOR_FULL_TRACES,
    "FATAL": "workflow log level is FATAL: only failed executions are recorded, not their steps; " + _FOR_FULL_TRACES,
    "OFF": "workflow log level is OFF: Step Functions records no execution history; the order's status, its "
    "failure field and its dead letter are what remains; " + _FOR_FULL_TRACES,
}


def workflow_log_level(aws: Aws) -> str | None:
    """The deployed state machine's logging level; None when it cannot be read (not deployed, no access)."""
    try:
        described = aws.client("stepfunctions").describe_state_machine(stateMachineArn=aws.state_machine_arn())
    except (ClientError, BotoCoreError, LookupError):
        return None
    # A machine created without a LoggingConfiguration describes as level OFF.
    return str((described.get("loggingConfiguration") or {}).get("level") or "OFF")


def coverage_note(level: str | None) -> str | None:
    """One line saying what a trace cannot show at ``level``; None at ALL (or when the level is unknown)."""
    if level is None or level == FULL_TRACE:
        return None
    return NOTES.get(level, f"workflow log level is {level}: traces may be incomplete; " + _FOR_FULL_TRACES)


def records_history(level: str | None) -> bool:
    """Whether the log group can hold anything of an execution at ``level`` (unknown: assume it can)."""
    return level != "OFF"
