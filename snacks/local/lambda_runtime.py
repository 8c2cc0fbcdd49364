"""Lambda Invoke for the local stack: our real handlers, run in this process.

moto's Lambda runs code in Docker. Here, ``Invoke`` of a function created from
``stacks.definitions.FUNCTIONS`` imports the function's ``Handler`` from the ``lambdas/`` asset and
calls it with a Lambda context, in the environment the function was created with. Each function
behaves like one warm execution environment: invocations of one function run one at a time
(Lambda never runs two events concurrently in one environment, and Powertools relies on that),
while different functions run in parallel.

What a handler prints (Powertools' JSON log lines and EMF metrics) goes to the function's
CloudWatch Logs group ``/aws/lambda/<name>``, as on AWS, and to stderr when asked.
"""

from __future__ import annotations

import builtins
import importlib
import io
import json
import logging
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TextIO

from aws_lambda_powertools import Logger

from snacks.local.moto_tuning import patched

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# Powertools keeps metrics in class-level dicts shared by every Metrics instance of the process.
# On Lambda a process runs one function; here several do, and one function's flush would publish
# (or empty) another's metrics. Fresh dicts before each handler module is loaded give each
# function its own set, bound by its module's Metrics instance at import.
_METRIC_SET_ATTRIBUTES = ("_metrics", "_dimensions", "_metadata", "_default_dimensions")


def _give_next_function_its_own_metric_set() -> None:
    from aws_lambda_powertools.metrics import Metrics

    for name in _METRIC_SET_ATTRIBUTES:
        setattr(Metrics, name, {})


def _runtime_json_default(value: object) -> object:
    """Lambda's Python runtime serialises ``Decimal`` (what DynamoDB returns) as a JSON number."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class HandlerOutput(io.TextIOBase):
    """Stands in for ``sys.stdout``: lines printed inside an invocation are kept for its log group.

    Everything printed outside an invocation (the CLI, the demo, pytest) passes straight through.
    """

    def __init__(self, passthrough: TextIO) -> None:
        self.passthrough = passthrough
        self._local = threading.local()

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        lines: list[str] = []
        self._local.lines = lines
        try:
            yield lines
        finally:
            self._local.lines = None

    def write(self, text: str) -> int:
        lines: list[str] | None = getattr(self._local, "lines", None)
        if lines is None:
            # Outside an invocation: to whatever stdout is now (a test may have swapped it since).
            target = sys.stdout if sys.stdout is not self else self.passthrough
            return target.write(text)
        lines.append(text)
        return len(text)

    def flush(self) -> None:
        self.passthrough.flush()

    def writable(self) -> bool:
        return True


# One per process, like sys.stdout itself: handler modules and their loggers outlive a stack.
HANDLER_OUTPUT = HandlerOutput(sys.stdout)


@dataclass
class FunctionRuntime:
    """One function's warm execution environment."""

    name: str
    handler_path: str
    memory_mb: int
    timeout_seconds: int
    arn: str
    handler: Handler
    lock: threading.Lock = field(default_factory=threading.Lock)
    log_stream: str = ""


class InProcessLambda:
    """Replaces moto's Docker-based ``_invoke_lambda`` for the functions it knows."""

    def __init__(self, *, echo_logs: TextIO | None) -> None:
        self._functions: dict[str, FunctionRuntime] = {}
        self._echo_logs = echo_logs
        self.output = HANDLER_OUTPUT
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def register(self, *, name: str, handler_path: str, memory_mb: int, timeout_seconds: int, arn: str) -> None:
        module_name, _, attribute = handler_path.rpartition(".")
        _give_next_function_its_own_metric_set()
        module = sys.modules.get(module_name)
        # A fresh import each start: module-level settings and clients read the environment the
        # stack just set (FULFILLMENT_FAULTS, table names) and bind to the running mock.
        module = importlib.reload(module) if module is not None else importlib.import_module(module_name)
        # Powertools Logger reuses the process-wide logging.Logger of its service, and that keeps
        # the stream of the first import (a previous stack's, a test's): point it here again.
        for value in vars(module).values():
            if isinstance(value, Logger) and isinstance(value.registered_handler, logging.StreamHandler):
                value.registered_handler.setStream(self.output)
        self._functions[name] = FunctionRuntime(
            name=name,
            handler_path=handler_path,
            memory_mb=memory_mb,
            timeout_seconds=timeout_seconds,
            arn=arn,
            handler=getattr(module, attribute),
            log_stream=f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
        )

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Route moto's Lambda invocations here and capture handler output, until the block ends."""
        from moto.awslambda.models import LambdaFunction

        runtime = self

        def _invoke_lambda(function: Any, event: Any = None) -> tuple[str, bool, str]:
            registered = runtime._functions.get(function.function_name)
            if registered is None:
                raise NotImplementedError(
                    f"the local stack runs only the pipeline's functions, not {function.function_name!r}"
                )
            return runtime.invoke(registered, event, function.logs_backend)

        from aws_lambda_powertools.metrics import Metrics
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf import cloudwatch as emf

        def emf_print(*args: Any, **kwargs: Any) -> None:
            # Powertools prints EMF metrics to whatever sys.stdout is at flush time; a test's or
            # the CLI's own redirection of sys.stdout must not catch a function's metrics.
            kwargs.setdefault("file", runtime.output)
            builtins.print(*args, **kwargs)

        shared_metric_sets = {name: getattr(Metrics, name) for name in _METRIC_SET_ATTRIBUTES}
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

        task_client_factory = lambda_eval_utils.boto_client_for  # type: ignore[attr-defined]

        def boto_client_for(*args: Any, **kwargs: Any) -> Any:
            client = task_client_factory(*args, **kwargs)
            service = kwargs.get("service", args[1] if len(args) > 1 else None)
            return DirectInvokeClient(runtime, client) if service == "lambda" else client

        previous_stdout = sys.stdout
        self.output.passthrough = previous_stdout
        sys.stdout = self.output
        emf.print = emf_print  # type: ignore[attr-defined]
        try:
            with (
                patched(LambdaFunction, "_invoke_lambda", _invoke_lambda),
                patched(lambda_eval_utils, "boto_client_for", boto_client_for),
            ):
                yield
        finally:
            del emf.print  # type: ignore[attr-defined]
            for name, value in shared_metric_sets.items():
                setattr(Metrics, name, value)
            sys.stdout = previous_stdout

    def function(self, name_or_arn: str) -> FunctionRuntime | None:
        """The registered function for a name, an ARN or a qualified ARN."""
        name = name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn
        return self._functions.get(name)

    def invoke(self, function: FunctionRuntime, event: Any, logs_backend: Any) -> tuple[str, bool, str]:
        """Run one invocation: (response payload, errored, log tail), as moto expects."""
        context = LambdaContext(
            function_name=function.name,
            memory_limit_in_mb=function.memory_mb,
            timeout_seconds=function.timeout_seconds,
            invoked_function_arn=function.arn,
            log_stream_name=function.log_stream,
        )
        with self._in_flight_lock:
            self._in_flight += 1
        try:
            with function.lock, self.output.capture() as lines:
                started = time.perf_counter()
                errored = False
                try:
                    result = function.handler(event if event is not None else {}, context)
                    payload = json.dumps(result, default=_runtime_json_default)
                except Exception as error:  # noqa: BLE001 - the runtime reports any handler error
                    errored = True
                    payload = json.dumps(
                        {
                            "errorMessage": str(error),
                            "errorType": type(error).__name__,
                            "requestId": context.aws_request_id,
                            "stackTrace": traceback.format_tb(error.__traceback__),
                        }
                    )
                duration_ms = (time.perf_counter() - started) * 1000
            report = (
                f"REPORT RequestId: {context.aws_request_id}\tDuration: {duration_ms:.2f} ms\t"
                f"Memory Size: {function.memory_mb} MB\n"
            )
            log_text = "".join(lines) + report
            self._write_logs(function, logs_backend, log_text)
            return payload, errored, log_text
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1

    def _write_logs(self, function: FunctionRuntime, logs_backend: Any, text: str) -> None:
        if self._echo_logs is not None:
            for line in text.splitlines():
                self._echo_logs.write(f"[{function.name}] {line}\n")
        group = f"/aws/lambda/{function.name}"
        logs_backend.ensure_log_group(group)
        if function.log_stream not in logs_backend.groups[group].streams:
            logs_backend.create_log_stream(group, function.log_stream)
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in text.splitlines() if line.strip()]
        logs_backend.put_log_events(group, function.log_stream, events)


class DirectInvokeClient:
    """The Lambda client of the Step Functions interpreter: a Task's ``Invoke`` of one of our
    functions goes straight to its runtime, as Step Functions calls Lambda inside AWS.

    Going through moto instead would serialise the request, route it through moto's Lambda API
    and parse the reply again, three times per order, for the same handler call and the same
    reply (payload, ``FunctionError`` for an unhandled exception). Anything else (another
    function, an asynchronous invocation) goes to moto as before.
    """

    def __init__(self, runtime: InProcessLambda, client: Any) -> None:
        self._runtime = runtime
        self._client = client

    def invoke(self, **parameters: Any) -> dict[str, Any]:
        function = self._runtime.function(str(parameters.get("FunctionName", "")))
        if function is None or parameters.get("InvocationType", "RequestResponse") != "RequestResponse":
            return dict(self._client.invoke(**parameters))
        from moto.logs.models import logs_backends

        _, _, _, region, account = function.arn.split(":")[:5]
        raw = parameters.get("Payload") or b"{}"
        event = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        payload, errored, _ = self._runtime.invoke(function, event, logs_backends[account][region])
        response: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "Payload": io.BytesIO(payload.encode("utf-8")),
        }
        if errored:
            response["FunctionError"] = "Unhandled"
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)
