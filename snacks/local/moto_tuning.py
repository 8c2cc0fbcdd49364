"""Small, reversible adjustments to moto for a long-running local stack.

Each patch is applied on start and undone on stop, so a process can start and stop stacks
repeatedly (the tests do) without leaving moto altered.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# Modules of moto's ASL interpreter that call boto_client_for for the service integrations we use.
_CLIENT_FACTORY_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda",
)


@contextmanager
def patched(target: Any, attribute: str, replacement: Any) -> Iterator[None]:
    original = getattr(target, attribute)
    setattr(target, attribute, replacement)
    try:
        yield
    finally:
        setattr(target, attribute, original)


@contextmanager
def cached_task_clients() -> Iterator[None]:
    """moto's interpreter builds a new boto3 client for every Task state (~10 ms each); reuse them.

    boto3 clients are thread-safe, so one client per (region, service) serves every execution.
    """
    from contextlib import ExitStack

    from moto.stepfunctions.parser.asl.utils import boto_client

    original: Callable[..., Any] = boto_client.boto_client_for
    cache: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    @functools.wraps(original)
    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto's factory ignores state_credentials (no role assumption locally), so neither do we.
        with lock:
            client = cache.get((region, service))
            if client is None:
                client = cache[(region, service)] = original(region, service)
            return client

    with ExitStack() as stack:
        stack.enter_context(patched(boto_client, "boto_client_for", boto_client_for))
        for name in _CLIENT_FACTORY_MODULES:
            module = importlib.import_module(name)
            if getattr(module, "boto_client_for", None) is original:
                stack.enter_context(patched(module, "boto_client_for", boto_client_for))
        yield


@contextmanager
def atomic_dynamodb() -> Iterator[None]:
    """Serialise DynamoDB API calls, as DynamoDB makes each single-item write atomic.

    moto checks a ConditionExpression and then writes, with no lock in between; two threads
    (a duplicate delivery, say) could both pass the condition. One lock over each call restores
    the guarantee our idempotent steps rely on. Calls take microseconds, so the lock costs little.
    """
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    with patched(DynamoHandler, "call_action", call_action):
        yield


@contextmanager
def parsed_definitions_cached() -> Iterator[None]:
    """Parse each state machine definition once, not once per execution.

    moto's interpreter (LocalStack's, ported) runs an ANTLR parse of the whole ASL for every
    execution: ~100 ms of CPU, most of a local order's cost. The parsed program is safe to share:
    its components keep all per-execution state (attempt counters, context object, stack) in the
    execution's Environment, never on themselves.
    """
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    @functools.lru_cache(maxsize=32)
    def parse(definition: str) -> Any:
        return AmazonStateLanguageParser.parse(definition)[0]

    def entrypoint(worker: Any) -> Any:
        return parse(worker._evaluation_details.state_machine_details.definition)

    with patched(ExecutionWorker, "_get_evaluation_entrypoint", entrypoint):
        yield


@contextmanager
def compiled_json_paths_cached() -> Iterator[None]:
    """Compile each JSONPath once: jsonpath_ng builds a whole PLY parser for every ``parse`` call.

    The interpreter parses ``$.detail.orderId`` and friends on every state of every execution;
    compiled paths are immutable, so one per distinct path string is enough.
    """
    from contextlib import ExitStack

    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    with ExitStack() as stack:
        for module in (json_path, result_path):
            stack.enter_context(patched(module, "parse", functools.lru_cache(maxsize=1024)(module.parse)))
        yield


@contextmanager
def generated_execution_names() -> Iterator[None]:
    """``StartExecution`` without a name gets a generated one, as on AWS (moto names it ``None``)."""
    import uuid

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    @functools.wraps(original)
    def start_execution(self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    with patched(StepFunctionsParserBackend, "start_execution", start_execution):
        yield
