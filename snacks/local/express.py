"""EXPRESS state machines as Step Functions runs them; moto treats every machine as STANDARD.

* Executions of an EXPRESS machine get the ``:express:`` ARN form,
  ``arn:aws:states:REGION:ACCOUNT:express:MACHINE:NAME:ID``.
* Their history goes to the machine's CloudWatch Logs group, as AWS writes it for logging level
  ALL: one JSON line per history event with ``id``, ``type``, ``details``, ``previous_event_id``,
  ``event_timestamp`` (epoch milliseconds, a string), ``execution_arn`` and ``redrive_count``
  (Step Functions Developer Guide, "Using CloudWatch Logs to log execution history"; LocalStack's
  recorded AWS events, tests/aws/services/stepfunctions/v2/express/test_express_async.snapshot.json).
  ``includeExecutionData: false`` leaves out inputs and outputs.
* A name is not an idempotency key for them: "Idempotency is not automatically managed. Starting
  multiple workflows with the same name results in concurrent executions" (Step Functions Developer
  Guide, "Execution guarantees"; "StartExecution isn't idempotent for EXPRESS workflows", API
  Reference, StartExecution). moto applies STANDARD's rule (the same name and input returns the
  running execution, anything else is ``ExecutionAlreadyExists``) to every machine; an EXPRESS
  machine skips it, and each execution gets an ARN (and a log stream) of its own.
* ``ListExecutions``, ``DescribeExecution``, ``StopExecution`` and ``GetExecutionHistory`` are
  refused for them with AWS's errors (LocalStack's recorded AWS answers,
  tests/aws/services/stepfunctions/v2/test_sfn_api_express.snapshot.json): a ``400
  StateMachineTypeNotSupported`` for the machine, a ``400 InvalidArn`` for an execution.

The stack itself still reads executions from moto's backend objects (busy counts, drain); clients
read the log group, locally as on AWS.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any

from snacks.local.moto_tuning import patched

EXPRESS = "EXPRESS"
NOT_SUPPORTED = ("StateMachineTypeNotSupported", "This operation is not supported by this type of state machine")
INVALID_EXPRESS_ARN = ("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: express'")
_EXECUTION_DATA_KEYS = ("input", "output", "inputDetails", "outputDetails", "parameters")


def express_execution_arn(state_machine_arn: str, name: str) -> str:
    prefix, machine = state_machine_arn.split(":stateMachine:", 1)
    return f"{prefix}:express:{machine}:{name}:{uuid.uuid4()}"


def _group_name(logging_configuration: dict[str, Any]) -> str | None:
    for destination in logging_configuration.get("destinations") or []:
        arn = str((destination.get("cloudWatchLogsLogGroup") or {}).get("logGroupArn", ""))
        if ":log-group:" in arn:
            return arn.split(":log-group:", 1)[1].removesuffix(":*")
    return None


class _Configuration:
    def __init__(self, include_execution_data: bool) -> None:
        self.include_execution_data = include_execution_data


class ExpressLogSession:
    """Stands in for moto's ``CloudWatchLoggingSession`` (whose publishing does not fit moto's own
    logs backend): writes each history event to the group, one stream per execution."""

    def __init__(self, execution_arn: str, group: str, level: str, include_execution_data: bool, logs: Any) -> None:
        self.execution_arn = execution_arn
        self.configuration = _Configuration(include_execution_data)
        self._group = group
        self._level = level
        self._logs = logs
        # Named after the execution's id, not its name: two executions may share a name.
        machine, execution_id = execution_arn.split(":")[6], execution_arn.split(":")[8]
        self._stream = f"states/{machine}/{time.strftime('%Y-%m-%d-%H-%M', time.gmtime())}/{execution_id}"
        self._lock = threading.Lock()
        self._created = False

    def log_level_filter(self, history_event_type: Any) -> bool:
        from moto.stepfunctions.parser.asl.eval.event.logging import is_logging_enabled_for

        return bool(is_logging_enabled_for(log_level=self._level, history_event_type=history_event_type))  # type: ignore[arg-type]

    def publish_history_log(self, history_log: dict[str, Any]) -> None:
        try:
            self._publish(history_log)
        except Exception as error:  # noqa: BLE001 - a log line lost must not fail the execution
            sys.stderr.write(f"snacks local: execution log not written for {self.execution_arn}: {error}\n")

    def _publish(self, history_log: dict[str, Any]) -> None:
        millis = _epoch_millis(history_log["event_timestamp"])
        record: dict[str, Any] = {
            "id": str(history_log["id"]),
            "type": str(getattr(history_log["type"], "value", history_log["type"])),
            "details": history_log.get("details") or {},
            "previous_event_id": str(history_log["previous_event_id"]),
            "event_timestamp": str(millis),
            "execution_arn": self.execution_arn,
            "redrive_count": "0",
        }
        if not self.configuration.include_execution_data:
            record["details"] = {k: v for k, v in record["details"].items() if k not in _EXECUTION_DATA_KEYS}
        message = json.dumps(record, separators=(",", ":"), default=str)
        with self._lock:
            self._logs.ensure_log_group(self._group)
            if not self._created:
                self._logs.create_log_stream(self._group, self._stream)
                self._created = True
            self._logs.put_log_events(self._group, self._stream, [{"timestamp": millis, "message": message}])


def _epoch_millis(stamp: Any) -> int:
    if isinstance(stamp, datetime):
        return int(stamp.timestamp() * 1000)
    if isinstance(stamp, int | float):
        return int(stamp * 1000) if stamp < 10**11 else int(stamp)
    parsed = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp() * 1000)


@contextmanager
def express_semantics() -> Iterator[None]:
    from moto.core.exceptions import JsonRESTError
    from moto.logs.models import logs_backends
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.responses import StepFunctionResponse

    original_init = Execution.__init__
    original_name_check = StateMachine._handle_name_input_idempotency

    @functools.wraps(original_name_check)
    def handle_name_input_idempotency(self: Any, name: str, execution_input: str) -> Any:
        if getattr(self, "type", None) == EXPRESS:
            return None  # a new, concurrent execution, whatever ran under that name
        return original_name_check(self, name, execution_input)

    @functools.wraps(original_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        machine: Any = kwargs.get("state_machine")
        if getattr(machine, "type", None) == EXPRESS and kwargs.get("exec_arn"):
            arn = express_execution_arn(machine.arn, str(kwargs["name"]))
            kwargs["exec_arn"] = arn
            logging_configuration = getattr(machine, "loggingConfiguration", None) or {}
            level = str(logging_configuration.get("level", "OFF"))
            group = _group_name(logging_configuration)
            if level != "OFF" and group and kwargs.get("cloud_watch_logging_session") is None:
                kwargs["cloud_watch_logging_session"] = ExpressLogSession(
                    arn,
                    group,
                    level,
                    bool(logging_configuration.get("includeExecutionData", False)),
                    logs_backends[str(kwargs["account_id"])][str(kwargs["region_name"])],
                )
        original_init(self, *args, **kwargs)

    def refusing(method: str, check: str) -> Any:
        original = getattr(StepFunctionResponse, method)

        @functools.wraps(original)
        def refuse(self: Any) -> Any:
            if check == "machine":
                machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
                if getattr(machine, "type", None) == EXPRESS:
                    raise JsonRESTError(*NOT_SUPPORTED)
            elif ":express:" in str(self._get_param("executionArn")):
                raise JsonRESTError(*INVALID_EXPRESS_ARN)
            return original(self)

        return refuse

    with ExitStack() as stack:
        stack.enter_context(patched(Execution, "__init__", __init__))
        stack.enter_context(patched(StateMachine, "_handle_name_input_idempotency", handle_name_input_idempotency))
        stack.enter_context(patched(StepFunctionResponse, "list_executions", refusing("list_executions", "machine")))
        for method in ("describe_execution", "stop_execution", "get_execution_history"):
            stack.enter_context(patched(StepFunctionResponse, method, refusing(method, "execution")))
        yield
