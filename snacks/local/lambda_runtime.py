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

import base64
import builtins
import ctypes
import functools
import importlib
import io
import json
import logging
import math
import os
import resource
import sys
import sysconfig
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from aws_lambda_powertools import Logger
from moto.core.exceptions import JsonRESTError

from snacks.local.iam_enforcement import acting_as_function, function_may_write_logs, raise_if_denied
from snacks.local.moto_tuning import patched
from stacks.definitions import LAMBDA_RUNTIME

Handler = Callable[[Any, Any], Any]


class InvalidRequestContentException(JsonRESTError):
    """Invoke's 400 for a request body that is not JSON (API_Invoke.html, Errors)."""

    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestContentException", message)


class RequestTooLargeException(JsonRESTError):
    """Invoke's 413 for a payload over the invocation quota (API_Invoke.html, Errors)."""

    code = 413

    def __init__(self, message: str) -> None:
        super().__init__("RequestTooLargeException", message)


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
    environment: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    log_stream: str = ""
    # A new execution environment (first invoke, after a timeout, a configuration update or a
    # code change) reports its module import time as Init Duration and cold_start=true, once.
    cold: bool = True
    init_ms: float = 0.0


# Lambda's invocation payload quotas (request and response): 6 MB synchronous, 1 MB asynchronous.
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 1024 * 1024
LOG_TAIL_BYTES = 4096  # Invoke's LogType=Tail returns the last 4 KB of the log


class FunctionTimedOut(BaseException):
    """Raised inside a handler's thread when its function's Timeout passes (Lambda stops the
    environment; here the thread is interrupted at its next Python instruction). A BaseException,
    so a handler's ``except Exception`` cannot swallow it."""


def _interrupt(thread: threading.Thread) -> None:
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(FunctionTimedOut))


@dataclass
class Invocation:
    payload: str
    errored: bool
    log_text: str
    timed_out: bool = False
    request_id: str = ""


# Invoke's response headers. "x-amzn-RequestId" is the invocation's request id, the one in the
# START/END/REPORT lines and the context's aws_request_id (LocalStack's recorded AWS answers,
# test_lambda.py::TestRequestIdHandling::test_request_id_invoke: the payload returning
# context.aws_request_id equals ResponseMetadata.RequestId); moto sets a random one of its own.
REQUEST_ID_HEADER = "x-amzn-requestid"
EXECUTED_VERSION_HEADER = "x-amz-executed-version"  # "The version of the function that executed" (API_Invoke.html)
LATEST = "$LATEST"


_cold_start = threading.local()


def _this_invocation_is_cold() -> bool:
    """Powertools' cold-start flag, per function: it keeps one per process (one function per
    process on Lambda); here each invocation thread answers for its own function."""
    return bool(getattr(_cold_start, "value", False))


class InProcessLambda:
    """Replaces moto's Docker-based ``invoke`` for the functions it knows."""

    def __init__(
        self,
        *,
        echo_logs: TextIO | None,
        code_dir: Path | None = None,
        hot_reload: bool = True,
        after_load: Callable[[], None] | None = None,
    ) -> None:
        self._functions: dict[str, FunctionRuntime] = {}
        self._echo_logs = echo_logs
        # The functions' code (the lambdas/ asset). Its packages are imported from here, and an edit
        # under it gives every function a new execution environment on its next invoke.
        self.code_dir = code_dir
        self._packages: tuple[str, ...] = _packages_in(code_dir) if code_dir is not None else ()
        self._hot_reload = hot_reload and code_dir is not None
        self._code_stamp = _code_stamp(code_dir) if self._hot_reload and code_dir is not None else None
        self._reload_lock = threading.Lock()
        self.reloads = 0
        # Called after each import of a handler module (the stack re-binds its seams to fresh modules).
        self._after_load = after_load
        self.output = HANDLER_OUTPUT
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()
        # Variables set by a configuration update after start, restored when the stack stops.
        self._environment_before: dict[str, str | None] = {}

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def register(
        self,
        *,
        name: str,
        handler_path: str,
        memory_mb: int,
        timeout_seconds: int,
        arn: str,
        environment: dict[str, str] | None = None,
    ) -> None:
        handler, init_ms = self._load(handler_path)
        self._functions[name] = FunctionRuntime(
            name=name,
            handler_path=handler_path,
            memory_mb=memory_mb,
            timeout_seconds=timeout_seconds,
            arn=arn,
            handler=handler,
            environment=dict(environment or {}),
            log_stream=_new_log_stream(),
            init_ms=init_ms,
        )

    def _load(self, handler_path: str) -> tuple[Handler, float]:
        """Import (or re-import) a handler module: a new execution environment's Init phase."""
        module_name, _, attribute = handler_path.rpartition(".")
        started = time.perf_counter()
        _give_next_function_its_own_metric_set()
        module = sys.modules.get(module_name)
        # A fresh import each time: module-level settings and clients read the environment the
        # stack just set (FULFILLMENT_FAULTS, table names) and bind to the running mock.
        module = importlib.reload(module) if module is not None else importlib.import_module(module_name)
        # Powertools Logger reuses the process-wide logging.Logger of its service, and that keeps
        # the stream of the first import (a previous stack's, a test's): point it here again.
        for value in vars(module).values():
            if isinstance(value, Logger) and isinstance(value.registered_handler, logging.StreamHandler):
                value.registered_handler.setStream(self.output)
        if self._after_load is not None:
            self._after_load()
        return getattr(module, attribute), (time.perf_counter() - started) * 1000

    def _new_environment(self, function: FunctionRuntime) -> None:
        """Replace a function's execution environment (Lambda does after a timeout or an update)."""
        function.handler, function.init_ms = self._load(function.handler_path)
        function.cold = True
        function.log_stream = _new_log_stream()

    def reload_if_code_changed(self) -> bool:
        """Hot reload: if a file under ``code_dir`` changed since the code was loaded, import the
        whole code afresh and give every function a new execution environment (a cold start), as
        a deployment of new code does on Lambda. One directory scan per invoke (~0.2 ms)."""
        if not self._hot_reload or self.code_dir is None:
            return False
        stamp = _code_stamp(self.code_dir)
        if stamp == self._code_stamp:
            return False
        with self._reload_lock:
            if stamp == self._code_stamp:
                return False
            functions = list(self._functions.values())
            for function in functions:
                function.lock.acquire()  # running invocations finish on the old code first
            try:
                _forget_modules(self._packages)
                importlib.invalidate_caches()
                for function in functions:
                    self._new_environment(function)
                self._code_stamp = stamp
                self.reloads += 1
            finally:
                for function in functions:
                    function.lock.release()
        return True

    def apply_configuration(self, function: FunctionRuntime, configuration: Any) -> None:
        """Make ``UpdateFunctionConfiguration`` (timeout, memory, environment, handler) take effect on
        the next invoke, as on Lambda, which starts new execution environments for it."""
        timeout = int(configuration.timeout)
        memory = int(configuration.memory_size)
        environment = {str(k): str(v) for k, v in (configuration.environment_vars or {}).items()}
        handler_path = str(configuration.handler)
        wanted = (timeout, memory, environment, handler_path)

        def current() -> tuple[int, int, dict[str, str], str]:
            return function.timeout_seconds, function.memory_mb, function.environment, function.handler_path

        if wanted == current():
            return
        with function.lock:
            if wanted == current():
                return  # another invocation applied it meanwhile
            for key in set(function.environment) | set(environment):
                if key == "POWERTOOLS_SERVICE_NAME" or function.environment.get(key) == environment.get(key):
                    continue
                self._environment_before.setdefault(key, os.environ.get(key))
                # One process, one os.environ: a variable is shared with the other functions
                # (docs/local-stack.md); a removed one stays while another function still has it.
                if key in environment:
                    os.environ[key] = environment[key]
                elif not any(key in other.environment for other in self._functions.values() if other is not function):
                    os.environ.pop(key, None)
            function.timeout_seconds, function.memory_mb = timeout, memory
            function.environment, function.handler_path = environment, handler_path
            self._new_environment(function)

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Route moto's Lambda invocations here and capture handler output, until the block ends."""
        from moto.awslambda.models import LambdaFunction

        runtime = self

        def invoke(function: Any, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
            return runtime.invoke_api(function, body, request_headers, response_headers)

        from aws_lambda_powertools.logging import logger as powertools_logger
        from aws_lambda_powertools.metrics import Metrics
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf import cloudwatch as emf
        from aws_lambda_powertools.tracing import tracer as powertools_tracer

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
        # The process's own copies of the code's packages come back when the stack stops.
        saved_modules = {name: module for name, module in sys.modules.items() if _in_packages(name, self._packages)}
        saved_path = list(sys.path)
        if self.code_dir is not None:
            sys.path.insert(0, str(self.code_dir))
            _forget_modules(self._packages)
        try:
            with (
                patched(LambdaFunction, "invoke", invoke),
                patched(lambda_eval_utils, "boto_client_for", boto_client_for),
                patched(powertools_logger, "_is_cold_start", _this_invocation_is_cold),
                patched(powertools_tracer, "_is_cold_start", _this_invocation_is_cold),
                lambda_timeouts_reported_as_step_functions_does(),
                invoke_answers_as_lambda_words_them(),
            ):
                yield
        finally:
            if self.code_dir is not None:
                _forget_modules(self._packages)
                sys.modules.update(saved_modules)
                sys.path[:] = saved_path
            del emf.print  # type: ignore[attr-defined]
            for name, value in shared_metric_sets.items():
                setattr(Metrics, name, value)
            sys.stdout = previous_stdout
            for key, value in self._environment_before.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._environment_before.clear()

    def function(self, name_or_arn: str) -> FunctionRuntime | None:
        """The registered function for a name, an ARN or a qualified ARN."""
        name = name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn
        return self._functions.get(name)

    def invoke_api(self, function: Any, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
        """Lambda's ``Invoke`` API for one of our functions (moto's ``LambdaFunction.invoke``).

        https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
        """
        registered = self._functions.get(function.function_name)
        if registered is None:
            raise NotImplementedError(
                f"the local stack runs only the pipeline's functions, not {function.function_name!r}"
            )
        invocation_type = str(request_headers.get("X-Amz-Invocation-Type") or "RequestResponse")
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        limit = ASYNC_PAYLOAD_LIMIT if invocation_type == "Event" else SYNC_PAYLOAD_LIMIT
        if len(raw) > limit:
            raise RequestTooLargeException(
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )
        try:
            event = json.loads(raw, parse_constant=_non_standard_token) if raw.strip() else {}
        except (ValueError, RecursionError) as error:
            raise InvalidRequestContentException(
                f"Could not parse request body into json: Could not parse payload into json: {error}"
            ) from None
        self.apply_configuration(registered, function)
        request_id = str(uuid.uuid4())
        response_headers[REQUEST_ID_HEADER] = request_id
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            self._count(+1)  # counted from now: wait_until_idle must see the queued invocation
            threading.Thread(
                target=self._invoke_counted, args=(registered, event, function.logs_backend, request_id), daemon=True
            ).start()
            return b""
        result = self.invoke(registered, event, function.logs_backend, request_id=request_id)
        response_headers[EXECUTED_VERSION_HEADER] = LATEST
        if result.errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        if str(request_headers.get("X-Amz-Log-Type") or "") == "Tail":
            tail = result.log_text.encode("utf-8")[-LOG_TAIL_BYTES:]
            response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
        return result.payload.encode("utf-8")

    def _count(self, delta: int) -> None:
        with self._in_flight_lock:
            self._in_flight += delta

    def _invoke_counted(self, function: FunctionRuntime, event: Any, logs_backend: Any, request_id: str) -> None:
        try:
            self.invoke(function, event, logs_backend, request_id=request_id)
        finally:
            self._count(-1)

    def invoke(
        self, function: FunctionRuntime, event: Any, logs_backend: Any, request_id: str | None = None
    ) -> Invocation:
        """Run one invocation in the function's environment, within its Timeout."""
        self.reload_if_code_changed()
        self._count(+1)
        try:
            with function.lock:
                return self._run(function, event, logs_backend, request_id or str(uuid.uuid4()))
        finally:
            self._count(-1)

    def _run(self, function: FunctionRuntime, event: Any, logs_backend: Any, request_id: str) -> Invocation:
        context = LambdaContext(
            function_name=function.name,
            memory_limit_in_mb=function.memory_mb,
            timeout_seconds=function.timeout_seconds,
            invoked_function_arn=function.arn,
            aws_request_id=request_id,
            log_stream_name=function.log_stream,
        )
        cold, init_ms = function.cold, function.init_ms
        function.cold = False
        outcome: dict[str, Any] = {"lines": []}

        def run_handler() -> None:
            _cold_start.value = cold
            # The handler's AWS calls are made as the function's role (snacks/local/iam_enforcement.py).
            with acting_as_function(function.name), self.output.capture() as lines:
                outcome["lines"] = lines
                try:
                    result = function.handler(event if event is not None else {}, context)
                    outcome["payload"] = json.dumps(result, default=_runtime_json_default)
                except FunctionTimedOut:
                    return
                except Exception as error:  # noqa: BLE001 - the runtime reports any handler error
                    outcome["error"] = {
                        "errorMessage": str(error),
                        "errorType": type(error).__name__,
                        "requestId": request_id,
                        "stackTrace": self._function_frames(error.__traceback__),
                    }
                except BaseException as error:  # noqa: BLE001 - sys.exit() in a handler ends its runtime
                    outcome["error"] = {
                        "errorType": "Runtime.ExitError",
                        "errorMessage": f"RequestId: {request_id} Error: Runtime exited: {type(error).__name__}",
                    }

        started = time.perf_counter()
        worker = threading.Thread(target=run_handler, name=f"lambda:{function.name}", daemon=True)
        worker.start()
        worker.join(function.timeout_seconds)
        duration_ms = (time.perf_counter() - started) * 1000
        timed_out = worker.is_alive()
        lines = list(outcome["lines"])
        if timed_out:
            _interrupt(worker)
            # The environment is gone on Lambda; the next invoke gets a new one (a cold start).
            self._new_environment(function)
            message = f"Task timed out after {function.timeout_seconds:.2f} seconds"
            lines.append(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%f}"[:-3] + f"Z {request_id} {message}\n")
            error: dict[str, Any] | None = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: {message}",
            }
        else:
            error = outcome.get("error")
        payload = json.dumps(error) if error is not None else str(outcome.get("payload", "null"))
        log_text = (
            f"START RequestId: {request_id} Version: $LATEST\n"
            + "".join(lines)
            + f"END RequestId: {request_id}\n"
            + _report_line(request_id, duration_ms, function.memory_mb, init_ms if cold else None, timed_out)
        )
        self._write_logs(function, logs_backend, log_text)
        return Invocation(payload, error is not None, log_text, timed_out, request_id)

    def _function_frames(self, trace: Any) -> list[str]:
        """An unhandled error's ``stackTrace`` as Lambda's Python runtime gives it: the frames from
        the handler's entry point down (the runtime's own are left out), each at the path it has on
        Lambda: the function's code under ``/var/task``, the Powertools layer under ``/opt/python``,
        the runtime's libraries and standard library under ``/var/lang/lib/PYTHON``. LocalStack's
        recorded AWS answers show ``File "/var/task/handler.py", line 2, in handler`` and nothing of
        the runtime (test_lambda.snapshot.json, test_lambda_destinations.snapshot.json). The local
        stack's own frames (this runtime, moto, the HTTP server) are not the function's and go."""
        frames = []
        for frame in traceback.extract_tb(trace):
            where = _path_on_lambda(frame.filename, self.code_dir)
            if where is not None:
                text = traceback.format_list([frame])[0]
                frames.append(text.replace(f'File "{frame.filename}"', f'File "{where}"', 1))
        return frames

    def _write_logs(self, function: FunctionRuntime, logs_backend: Any, text: str) -> None:
        if self._echo_logs is not None:
            for line in text.splitlines():
                self._echo_logs.write(f"[{function.name}] {line}\n")
        group = f"/aws/lambda/{function.name}"
        # Lambda writes the function's logs with its execution role: without logs:CreateLogStream and
        # logs:PutLogEvents they are lost, the invocation itself unaffected (Lambda Developer Guide,
        # "Sending Lambda function logs to CloudWatch Logs": the execution role needs those permissions).
        if not function_may_write_logs(
            function.name, logs_backend.region_name, logs_backend.account_id, group, function.log_stream
        ):
            return
        logs_backend.ensure_log_group(group)
        if function.log_stream not in logs_backend.groups[group].streams:
            logs_backend.create_log_stream(group, function.log_stream)
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in text.splitlines() if line.strip()]
        logs_backend.put_log_events(group, function.log_stream, events)


# Where a function's frames live on Lambda (the python runtime's layout; layers unpack under /opt).
LAMBDA_TASK_ROOT = "/var/task"
LAMBDA_RUNTIME_LIB = f"/var/lang/lib/{LAMBDA_RUNTIME}"
LAYER_PACKAGES = {"aws_lambda_powertools": "/opt/python"}  # the functions' one layer: Powertools
# Packages of the local stack itself, present in a traceback only because it runs in this process.
EMULATOR_PACKAGES = frozenset({"snacks", "moto", "responses", "werkzeug", "_pytest", "pytest", "pluggy"})
_SITE_PACKAGES = {str(Path(p).resolve()) for p in {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}}
_STDLIB = str(Path(sysconfig.get_path("stdlib")).resolve())


def _path_on_lambda(filename: str, code_dir: Path | None) -> str | None:
    """The path a frame's file has on Lambda, or ``None`` for a frame that is not the function's."""
    path = str(Path(filename).resolve())
    if code_dir is not None and _is_under(path, str(code_dir.resolve())):
        return LAMBDA_TASK_ROOT + path.removeprefix(str(code_dir.resolve()))
    for site in _SITE_PACKAGES:
        if _is_under(path, site):
            relative = path.removeprefix(site)
            package = relative.lstrip("/").split("/", 1)[0]
            if package in EMULATOR_PACKAGES:
                return None
            return LAYER_PACKAGES.get(package, f"{LAMBDA_RUNTIME_LIB}/site-packages") + relative
    if _is_under(path, _STDLIB):
        return LAMBDA_RUNTIME_LIB + path.removeprefix(_STDLIB)
    return None  # this process's own code (the runtime above all), a test's stand-ins


def _is_under(path: str, directory: str) -> bool:
    return path.startswith(directory.rstrip("/") + "/")


def _packages_in(code_dir: Path) -> tuple[str, ...]:
    return tuple(sorted(p.parent.name for p in code_dir.glob("*/__init__.py")))


def _in_packages(module_name: str, packages: tuple[str, ...]) -> bool:
    return any(module_name == package or module_name.startswith(package + ".") for package in packages)


def _forget_modules(packages: tuple[str, ...]) -> None:
    for name in [name for name in sys.modules if _in_packages(name, packages)]:
        del sys.modules[name]


def _code_stamp(code_dir: Path) -> tuple[int, int]:
    """(number of .py files, newest modification time): changes with any edit, add or removal."""
    count, newest = 0, 0
    pending = [str(code_dir)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        pending.append(entry.path)
                elif entry.name.endswith(".py"):
                    count += 1
                    newest = max(newest, entry.stat().st_mtime_ns)
    return count, newest


def _non_standard_token(token: str) -> Any:
    """Lambda's JSON parser refuses NaN and Infinity, which Python's accepts."""
    raise ValueError(f"Non-standard token '{token}'")


def _new_log_stream() -> str:
    return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


def _report_line(request_id: str, duration_ms: float, memory_mb: int, init_ms: float | None, timed_out: bool) -> str:
    """The platform's REPORT line, as Lambda writes it (tab-separated, Init Duration on a cold start).

    Max Memory Used is this process's peak resident size: every function shares the process here.
    """
    max_used_mb = math.ceil(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    # Since August 2025 the Init phase of on-demand functions is billed too.
    billed = math.ceil(duration_ms + (init_ms or 0.0))
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed} ms",
        f"Memory Size: {memory_mb} MB",
        f"Max Memory Used: {max_used_mb} MB",
    ]
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if timed_out:
        parts.append("Status: timeout")
    return "\t".join(parts) + "\n"


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
        # As the state machine's role: lambda:InvokeFunction, the same check and error as a call through botocore.
        raise_if_denied(self._client, "Invoke", parameters)
        if function is None or parameters.get("InvocationType", "RequestResponse") != "RequestResponse":
            return dict(self._client.invoke(**parameters))
        from moto.awslambda.models import lambda_backends
        from moto.logs.models import logs_backends

        _, _, _, region, account = function.arn.split(":")[:5]
        self._runtime.apply_configuration(function, lambda_backends[account][region].get_function(function.name))
        raw = parameters.get("Payload") or b"{}"
        event = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        result = self._runtime.invoke(function, event, logs_backends[account][region])
        response: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": "$LATEST",
            "Payload": io.BytesIO(result.payload.encode("utf-8")),
        }
        if result.errored:
            response["FunctionError"] = "Unhandled"
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


# Invoke of a function that does not exist, unqualified: LocalStack's recorded AWS answer
# (test_lambda.py::TestLambdaFeatures::test_invoke_exceptions, recorded 24-11-2025) is
# 404 ResourceNotFoundException "Function not found: arn:aws:lambda:REGION:ACCOUNT:function:NAME:$LATEST".
NOT_FOUND_PREFIX = "Function not found: "


@contextmanager
def invoke_answers_as_lambda_words_them() -> Iterator[None]:
    """Invoke's answer where moto's differs from Lambda's: the invocation's request id as the
    response's ``x-amzn-RequestId`` (moto replaces any with a random one of its own after the call),
    and the ``:$LATEST`` an unqualified Invoke of a missing function names."""
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda.responses import LambdaResponse
    from moto.core.responses import BaseResponse

    if "_enrich_response" in vars(LambdaResponse):
        raise RuntimeError("moto's LambdaResponse has its own _enrich_response now: review lambda_runtime's patch")
    enrich = BaseResponse._enrich_response
    original_invoke = LambdaBackend.invoke

    def enrich_keeping_the_invocation_id(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        kept = headers.get(REQUEST_ID_HEADER)
        headers, body = enrich(headers, body)
        if kept:
            headers[REQUEST_ID_HEADER] = kept
        return headers, body

    @functools.wraps(original_invoke)
    def invoke(
        self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> Any:
        try:
            return original_invoke(self, function_name, qualifier, body, headers, response_headers)
        except UnknownFunctionException as error:
            arn = str(error.message).removeprefix(NOT_FOUND_PREFIX)
            if qualifier or len(arn.split(":")) != 7:  # a qualified name: Lambda names that qualifier
                raise
            raise UnknownFunctionException(f"{arn}:{LATEST}") from None

    LambdaResponse._enrich_response = staticmethod(enrich_keeping_the_invocation_id)  # type: ignore[method-assign,assignment]
    try:
        with patched(LambdaBackend, "invoke", invoke):
            yield
    finally:
        del LambdaResponse._enrich_response


# Step Functions reports a Lambda function's timeout (and out-of-memory) as ``Lambda.Unknown``:
# "Unhandled errors in Lambda are reported as Lambda.Unknown in the error output. These include
# out-of-memory errors and function timeouts." (AWS Step Functions Developer Guide, "Handle Lambda
# service exceptions", https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html)
# moto's interpreter would name the error after the payload's errorType (Sandbox.Timedout).
STEP_FUNCTIONS_TIMEOUT_ERROR = "Lambda.Unknown"
_SANDBOX_ERRORS = ("Sandbox.Timedout", "Runtime.OutOfMemory")


@contextmanager
def lambda_timeouts_reported_as_step_functions_does() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda

    original = StateTaskLambda._from_error

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, lambda_eval_utils.LambdaFunctionErrorException):
            try:
                error_type = json.loads(ex.payload).get("errorType")
            except (ValueError, AttributeError):
                error_type = None
            if error_type in _SANDBOX_ERRORS:
                cause = (
                    "The cause could not be determined because Lambda did not return an error type. "
                    f"Returned payload: {ex.payload}"
                )
                renamed = lambda_eval_utils.LambdaFunctionErrorException(
                    ex.function_error, json.dumps({"errorType": STEP_FUNCTIONS_TIMEOUT_ERROR})
                )
                failure = original(self, env, renamed)
                details: Any = failure.event_details
                details["lambdaFunctionFailedEventDetails"]["cause"] = cause
                return failure
        return original(self, env, ex)

    with patched(StateTaskLambda, "_from_error", _from_error):
        yield
