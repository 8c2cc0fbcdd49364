"""Step Functions rules moto's interpreter gets wrong for this pipeline, put right while a stack runs.

* A path that is not in a state's input (``"eventId.$": "$.id"`` with no ``id``) is ``States.Runtime``,
  and "A States.Runtime error isn't retriable, and will always cause the execution to fail. A retry
  or catch on States.ALL won't catch States.Runtime errors." (Step Functions Developer Guide, Error
  handling, Error names: https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
  moto raises a bare ``NoSuchJsonPathError`` for input paths, which a Task reports as a Lambda
  failure its ``Catch`` then catches (a DLQ message for an order that does not exist). The cause
  is AWS's: "The JSONPath '$.id' specified for the field 'eventId.$' could not be found in the
  input '{"detail":{}}'" (LocalStack's recorded AWS answers, test_base_scenarios.snapshot.json,
  test_invalid_jsonpath; the input as compact JSON, as AWS prints it: '{\"flagged\":false}' in
  an execution history on AWS quoted by the AWS study group's Step Functions workshop), which the
  execution's failure prefixes with "An error occurred while executing the state 'Validate'
  (entered at the event id #2). ".
* moto's interpreter logs every failure with the repr of the state's whole syntax tree
  (``Exception=FailureEventException, ... continue_with ...``); a failed execution is an answer,
  not a crash, so those lines are silenced (the execution's history and status carry the error).
"""

from __future__ import annotations

import importlib
import json
import logging
import math
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from typing import Any

from snacks.local.moto_tuning import patched

STATES_RUNTIME = "States.Runtime"
_FIELD_ATTRIBUTE = "snacks_field_name"  # the field whose path was missing, set where it is evaluated
_NOISY_LOGGER = "moto.stepfunctions.parser.asl.component.eval_component"
_TASK_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs",
)


def _missing_path_cause(ex: Exception) -> str:
    field = getattr(ex, _FIELD_ATTRIBUTE, None)
    if field is None:
        return str(ex)
    data = json.dumps(getattr(ex, "data", None), separators=(",", ":"), ensure_ascii=False, default=str)
    path = getattr(ex, "json_path", "")
    return f"The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{data}'"


def _runtime_failure(env: Any, ex: Exception) -> Any:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    return FailureEvent(
        env=env,
        error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(  # type: ignore[typeddict-item]
            taskFailedEventDetails=TaskFailedEventDetails(error=STATES_RUNTIME, cause=_missing_path_cause(ex))
        ),
    )


def _is_states_runtime(failure_event: Any) -> bool:
    name = getattr(failure_event, "error_name", None)
    return getattr(name, "error_name", None) == STATES_RUNTIME


@contextmanager
def states_runtime_is_fatal() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.common.catch.catch_outcome import CatchOutcome
    from moto.stepfunctions.parser.asl.component.common.retry.retry_outcome import RetryOutcome
    from moto.stepfunctions.parser.asl.component.common.string.string_expression import StringJsonPath
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError

    original_path_eval = StringJsonPath._eval_body

    def path_eval(self: Any, env: Any) -> None:
        try:
            original_path_eval(self, env)
        except NoSuchJsonPathError as error:
            # The field being evaluated (``eventId.$``) is known here, in the Task's own frame; the
            # failure is reported from the state's frame, which never saw it.
            setattr(error, _FIELD_ATTRIBUTE, env.next_field_name)
            raise

    original_from_error = ExecutionState._from_error
    original_retry = ExecutionState._handle_retry
    original_catch = ExecutionState._handle_catch

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, NoSuchJsonPathError):
            return _runtime_failure(env, ex)
        return original_from_error(self, env, ex)

    def _handle_retry(self: Any, env: Any, failure_event: Any) -> Any:
        if _is_states_runtime(failure_event):
            return RetryOutcome.CannotRetry
        return original_retry(self, env, failure_event)

    def _handle_catch(self: Any, env: Any, failure_event: Any) -> None:
        if _is_states_runtime(failure_event):
            env.stack.append(CatchOutcome.NotCaught)
            return
        original_catch(self, env, failure_event)

    def patch_subclasses(stack: ExitStack, name: str, replacement: Any) -> None:
        # Task states override _from_error; wrap each override that exists, then the base.
        classes = [ExecutionState, *_all_subclasses(ExecutionState)]
        for cls in classes:
            if name in vars(cls):
                original = vars(cls)[name]

                def wrapped(self: Any, env: Any, ex: Exception, _original: Any = original) -> Any:
                    if isinstance(ex, NoSuchJsonPathError):
                        return _runtime_failure(env, ex)
                    return _original(self, env, ex)

                stack.enter_context(patched(cls, name, wrapped if cls is not ExecutionState else replacement))

    for module in _TASK_MODULES:  # their classes must exist to be found as subclasses
        importlib.import_module(module)
    noisy = logging.getLogger(_NOISY_LOGGER)
    with ExitStack() as stack:
        patch_subclasses(stack, "_from_error", _from_error)
        stack.enter_context(patched(ExecutionState, "_handle_retry", _handle_retry))
        stack.enter_context(patched(ExecutionState, "_handle_catch", _handle_catch))
        stack.enter_context(patched(StringJsonPath, "_eval_body", path_eval))
        stack.callback(noisy.setLevel, noisy.level)
        noisy.setLevel(logging.CRITICAL)
        yield


def _all_subclasses(cls: type) -> list[type]:
    found: list[type] = []
    sub: type
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


# An Express workflow runs for at most five minutes; a synchronous start waits that long at most.
EXPRESS_MAX_SECONDS = 300
_SYNC_POLL_SECONDS = 0.02

# Express billing (AWS Step Functions pricing, Express Workflows): "Duration is calculated from the
# time your workflow begins executing until it completes or otherwise terminates, rounded up to
# the nearest 100ms, and the amount of memory used in the execution of your workflow, billed in
# 64-MB chunks", the memory being "50 MB + state machine definition size + execution data size x
# Number of Parallel or Map Steps". LocalStack's recorded AWS answers (test_express_sync.snapshot.json)
# bill a one-Pass-state execution 100 ms and 64 MB, one with a retry 7600 ms and 64 MB.
BILLED_DURATION_STEP_MS = 100
BILLED_MEMORY_CHUNK_MB = 64
BASE_MEMORY_MB = 50
_BRANCHING = ("Map", "Parallel")


def _to_millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def billing_details(
    definition: str, execution_data: list[str], started: datetime | None, stopped: datetime | None
) -> dict[str, int]:
    """``billingDetails`` of a StartSyncExecution answer, computed as AWS's pricing describes it."""
    # From the dates as the answer gives them, in whole milliseconds, so the two agree.
    elapsed_ms = (_to_millis(stopped) - _to_millis(started)) // timedelta(milliseconds=1) if started and stopped else 0
    billed_ms = max(1, -(-elapsed_ms // BILLED_DURATION_STEP_MS)) * BILLED_DURATION_STEP_MS
    try:
        states = json.loads(definition).get("States", {})
    except (ValueError, AttributeError):
        states = {}
    branching = sum(
        1 for state in states.values() if isinstance(state, dict) and state.get("Type") in ("Map", "Parallel")
    )
    data_bytes = max((len(data.encode("utf-8")) for data in execution_data), default=0)
    used_bytes = BASE_MEMORY_MB * 2**20 + len(definition.encode("utf-8")) + data_bytes * max(1, branching)
    billed_mb = math.ceil(used_bytes / (BILLED_MEMORY_CHUNK_MB * 2**20)) * BILLED_MEMORY_CHUNK_MB
    return {"billedMemoryUsedInMB": billed_mb, "billedDurationInMilliseconds": billed_ms}


@contextmanager
def start_sync_execution_served() -> Iterator[None]:
    """``StartSyncExecution`` for EXPRESS state machines (moto answers "not implemented").

    It starts the execution as ``StartExecution`` does, waits for its end, and answers with the
    fields of the API's response (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartSyncExecution.html).
    The method is added before the server serves (moto lists a response class's methods once).
    """
    import time

    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def start_sync_execution(self: Any) -> Any:
        arn = self._get_param("stateMachineArn")
        machine = self.stepfunction_backend.describe_state_machine(arn)
        if str(getattr(machine, "type", "STANDARD")) != "EXPRESS":
            from moto.core.exceptions import JsonRESTError

            raise JsonRESTError("StateMachineTypeNotSupported", "This operation is only supported for EXPRESS")
        execution = self.stepfunction_backend.start_execution(
            arn, self._get_param("name"), self._get_param("input", if_none="{}")
        )
        deadline = time.monotonic() + EXPRESS_MAX_SECONDS
        while str(getattr(execution.status, "value", execution.status)) == "RUNNING":
            if time.monotonic() > deadline:
                break
            time.sleep(_SYNC_POLL_SECONDS)
        status = str(getattr(execution.status, "value", execution.status))
        output = execution.output
        output_text = None if output is None or isinstance(output, str) else json.dumps(output)
        output_text = output if isinstance(output, str) else output_text
        response: dict[str, Any] = {
            "executionArn": execution.execution_arn,
            "stateMachineArn": arn,
            "name": execution.name,
            "startDate": execution.start_date,
            "stopDate": execution.stop_date,
            "status": "TIMED_OUT" if status == "RUNNING" else status,
            "input": execution.execution_input,
            "inputDetails": {"included": True},
            # Failed executions too (LocalStack's recorded AWS answer, test_express_sync, BASE_RAISE_FAILURE).
            "outputDetails": {"included": True},
            "billingDetails": billing_details(
                str(machine.definition),
                [str(execution.execution_input or ""), str(output_text or "")],
                execution.start_date,
                execution.stop_date,
            ),
        }
        if status == "SUCCEEDED":
            response["output"] = output_text
        for field in ("error", "cause"):
            if getattr(execution, field, None) is not None:
                response[field] = getattr(execution, field)
        return ActionResult(response)

    StepFunctionResponse.start_sync_execution = start_sync_execution  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del StepFunctionResponse.start_sync_execution  # type: ignore[attr-defined]


# A service's error answer (an AccessDeniedException from EventBridge, say) fails the Task, which
# Retry and Catch on States.ALL handle ("States.ALL ... matches any known error name" except
# States.Runtime; Step Functions Developer Guide, Error handling). moto's events:putEvents task has
# no case for a ClientError, so its generic handler makes it States.Runtime and the execution dies.
# The error is named after the service and the error code, as Step Functions names SDK integration
# errors ("EventBridge.AccessDeniedException"); the cause is the service's message.
EVENTBRIDGE_ERROR_PREFIX = "EventBridge"


@contextmanager
def service_errors_fail_the_task() -> Iterator[None]:
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_events import (
        StateTaskServiceEvents,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = StateTaskServiceEvents._from_error

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        error = f"{EVENTBRIDGE_ERROR_PREFIX}.{ex.response['Error']['Code']}"
        status = ex.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        cause = f"{ex.response['Error']['Message']} (Service: EventBridge, Status Code: {status})"
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=cause,
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )

    with patched(StateTaskServiceEvents, "_from_error", _from_error):
        yield
