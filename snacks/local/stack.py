"""``LocalStack``: the whole pipeline behind real AWS APIs on one machine, started and stopped in-process.

Two doors lead to the same moto backends:

* an HTTP endpoint (moto's threaded server, ``http://127.0.0.1:4566`` by default) for boto3, the
  ``aws`` CLI and ``snacks``, from this process or any other;
* moto's in-process interception (``mock_aws``) for the handlers and the ASL interpreter running
  inside this process, so their AWS calls skip the HTTP round trip.

Only one stack runs per process: moto's backends are process-wide.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3

from snacks.aws import Aws
from snacks.local import http_door, service_steps, state
from snacks.local.dynamodb_transactions import item_level_transaction_rollback
from snacks.local.event_delivery import StepFunctionsTargetDelivery
from snacks.local.eventbridge_api import (
    malformed_details_refused,
    test_event_pattern_served,
    undefined_placeholders_refused,
)
from snacks.local.express import express_semantics
from snacks.local.gc_tuning import survivors_of_full_collections_frozen
from snacks.local.iam import PolicyError, PolicyStore
from snacks.local.iam_enforcement import MODES, AccessDenied, Enforcer
from snacks.local.lambda_runtime import InProcessLambda
from snacks.local.logs_filters import json_filter_patterns
from snacks.local.moto_tuning import (
    atomic_dynamodb,
    attribute_aliases_cached,
    cached_task_clients,
    compiled_json_paths_cached,
    condition_expressions_lexed_once,
    execution_names_indexed,
    generated_execution_names,
    handler_methods_cached,
    in_process_requests_unsigned,
    in_process_routes_cached,
    json_structures_serialized_from_present_keys,
    parsed_definitions_cached,
    server_hosts_cached,
    update_expression_copies_unpickled,
    update_expression_traversal_cached,
    update_expression_traversal_streamlined,
    update_expressions_cached,
)
from snacks.local.provision import Provisioned, provision
from snacks.local.sfn_semantics import (
    service_errors_fail_the_task,
    start_sync_execution_served,
    states_runtime_is_fatal,
)
from snacks.local.storefront import LocalStorefront
from snacks.local.stripe_emulator import StripeEmulator
from snacks.local.template_source import TemplateUnavailable, load_template, synthesized_template
from snacks.local.virtual_time import VirtualClock, bind_handler_clock, virtual_workflow_time
from stacks import definitions

# The demo's deterministic faults (FULFILLMENT_FAULTS syntax): one flaky item, one that never
# recovers (retries exhausted, then DLQ), one the supplier rejects (DLQ without retries).
DEMO_FAULT_PLAN = "Flaky Fries=transient:1; Broken Biscuit=transient; Doom Donut=permanent"

DEFAULT_REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
IDLE_POLL_SECONDS = 0.05
# Variables that would send the in-process handlers' calls elsewhere than this stack.
_ISOLATED_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_PROFILE")

TEMPLATE_VARIABLE = "SNACKS_TEMPLATE"
USAGE_VARIABLE = "SNACKS_IAM_USAGE"

# The services this stack serves (what GET /_snacks/health lists).
SERVICES = ("dynamodb", "events", "iam", "lambda", "logs", "secretsmanager", "sqs", "stepfunctions")

_running_lock = threading.Lock()
_running: LocalStack | None = None


class LocalStack:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4566,
        region: str = DEFAULT_REGION,
        fulfillment_faults: str = "",
        log_handler_output: bool = False,
        code_dir: Path | None = None,
        hot_reload: bool = True,
        state_dir: Path | None = None,
        stage: str | None = None,
        workflow_log_level: str | None = None,
        virtual_time: bool = False,
        iam: str = "enforce",
        template: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.region = region
        # One stage per stack: its resources get that stage's names, as `cdk deploy -c stage=NAME` gives them.
        self.names = definitions.resource_names(stage)
        # The state machine's execution-log level, as `cdk deploy -c workflowLogLevel=LEVEL` sets it.
        self.workflow_logging = definitions.workflow_logging(workflow_log_level)
        self.account_id = ACCOUNT_ID
        self.fulfillment_faults = fulfillment_faults
        self.code_dir = Path(code_dir) if code_dir is not None else definitions.LAMBDA_ASSET_DIR
        self.hot_reload = hot_reload
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.restored: state.Restored | None = None
        self._echo_logs = sys.stderr if log_handler_output else None
        self._exit_stack: ExitStack | None = None
        self._server: Any = None
        self._lambda: InProcessLambda | None = None
        self._delivery: StepFunctionsTargetDelivery | None = None
        # Stripe's stand-in beside moto (snacks/local/stripe_emulator.py); the payment callers are pointed at it.
        self.stripe = StripeEmulator(host="127.0.0.1")
        self.resources: Provisioned | None = None
        self._aws: Aws | None = None
        self.startup_seconds = 0.0
        self._execution_watch: dict[tuple[str, int], tuple[int, list[Any]]] = {}  # see running_executions
        # Tests' time (snacks/local/virtual_time.py): retry backoffs and Wait states take no wall
        # time and are recorded here; people's stacks (`snacks local`) keep real time.
        self.clock: VirtualClock | None = VirtualClock() if virtual_time else None
        # Permissions from the synthesized template (snacks/local/iam_enforcement.py): `enforce`
        # refuses what AWS would refuse, `warn` logs it and goes on, `off` checks nothing.
        if iam not in MODES:
            raise ValueError(f"iam must be one of {', '.join(MODES)}, not {iam!r}")
        self.iam_mode = iam
        # SNACKS_TEMPLATE: a template for every stack of the process (`make iam-mutate` runs the
        # tests on mutated templates this way).
        chosen = template if template is not None else os.environ.get(TEMPLATE_VARIABLE) or None
        self.template = Path(chosen) if chosen is not None else None
        self._workflow_log_level = workflow_log_level
        self.iam: Enforcer | None = None
        # The storefront's HTTP and WebSocket APIs (snacks/local/storefront.py), next to this endpoint.
        self.storefront = LocalStorefront(names=self.names, region=region, account_id=ACCOUNT_ID, host=host, port=port)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local stack is not running")
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        global _running
        with _running_lock:
            if _running is not None:
                raise RuntimeError("a local stack is already running in this process (moto's backends are shared)")
            _running = self
        started = time.perf_counter()
        stack = ExitStack()
        try:
            self._start_in(stack)
        except BaseException:
            stack.close()
            with _running_lock:
                _running = None
            raise
        self._exit_stack = stack
        self.startup_seconds = time.perf_counter() - started

    def _start_in(self, stack: ExitStack) -> None:
        from moto import mock_aws

        self.iam = self._load_permissions()
        saved = {name: os.environ.pop(name) for name in _ISOLATED_VARIABLES if name in os.environ}
        stack.callback(os.environ.update, saved)

        # Lambda keeps moto's default (Docker) backend, whose invoke path InProcessLambda replaces;
        # moto's "no Docker" backend would answer with canned payloads instead of running handlers.
        mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        mock.start()
        stack.callback(mock.stop)
        # Bound first: a busy port or a bad host fails the start before seconds of provisioning.
        self._server = _Server(self.host, self.port)
        stack.callback(self._stop_server)
        stack.enter_context(atomic_dynamodb())
        stack.enter_context(item_level_transaction_rollback())  # after atomic_dynamodb: relies on its lock
        stack.enter_context(cached_task_clients())
        stack.enter_context(parsed_definitions_cached())
        stack.enter_context(compiled_json_paths_cached())
        stack.enter_context(generated_execution_names())
        stack.enter_context(execution_names_indexed())
        stack.enter_context(attribute_aliases_cached())
        stack.enter_context(json_structures_serialized_from_present_keys())
        stack.enter_context(handler_methods_cached())
        stack.enter_context(update_expressions_cached())
        stack.enter_context(server_hosts_cached())
        stack.enter_context(update_expression_traversal_cached())
        stack.enter_context(update_expression_traversal_streamlined())
        stack.enter_context(condition_expressions_lexed_once())
        stack.enter_context(update_expression_copies_unpickled())
        stack.enter_context(in_process_routes_cached())
        stack.enter_context(in_process_requests_unsigned())
        stack.enter_context(survivors_of_full_collections_frozen())
        if self.iam is not None:
            stack.enter_context(self.iam.installed())

        if self.clock is not None:
            stack.enter_context(virtual_workflow_time(self.clock))
            stack.callback(bind_handler_clock, None)
        clock = self.clock
        self._lambda = InProcessLambda(
            echo_logs=self._echo_logs,
            code_dir=self.code_dir,
            hot_reload=self.hot_reload,
            after_load=None if clock is None else lambda: bind_handler_clock(clock),
        )
        stack.enter_context(self._lambda.installed())
        stack.enter_context(states_runtime_is_fatal())
        stack.enter_context(service_errors_fail_the_task())
        stack.enter_context(start_sync_execution_served())
        stack.enter_context(express_semantics())
        stack.enter_context(json_filter_patterns())
        stack.enter_context(test_event_pattern_served())
        stack.enter_context(malformed_details_refused())
        stack.enter_context(undefined_placeholders_refused())
        self._delivery = StepFunctionsTargetDelivery(
            self._start_execution, _execution_is_running, self._send_to_dead_letter_queue
        )
        stack.enter_context(self._delivery.installed())
        self._delivery.start()
        stack.callback(self._delivery.stop)

        self.stripe.start()
        stack.callback(self.stripe.stop)
        self.resources = provision(
            self._client,
            fulfillment_faults=self.fulfillment_faults,
            names=self.names,
            workflow_logging=self.workflow_logging,
            stripe_api_base=self.stripe.url,
            stripe_secret_key=self.stripe.secret_key,
        )
        if self.iam is not None and self.workflow_logging.has_destination:
            self._authorize_log_delivery(self.iam, self.resources.state_machine_arn)
        self.storefront.provision(self._client, stripe_api_base=self.stripe.url)
        if self.iam is not None:
            self._alias_storefront_apis(self.iam)
        if self.state_dir is not None:
            try:
                self.restored = state.restore(self.state_dir, self._client)
            except (OSError, ValueError, RuntimeError) as error:
                raise StartupError(f"cannot restore state from {self.state_dir}: {error}") from None
        self._load_handlers(stack)
        stack.enter_context(self.storefront.serving(self._lambda))

        werkzeug_logger = logging.getLogger("werkzeug")  # one access-log line per request otherwise
        stack.callback(werkzeug_logger.setLevel, werkzeug_logger.level)
        werkzeug_logger.setLevel(logging.WARNING)
        stack.enter_context(http_door.installed(self.health, services=SERVICES, iam_usage=self.iam_usage))
        self._server.serve()

    def _load_permissions(self) -> Enforcer | None:
        """The template's policies (given, or synthesized for this stage and cached); one line if not."""
        if self.iam_mode == "off":
            return None
        try:
            path = self.template or synthesized_template(
                None if self.names.stage == definitions.DEFAULT_STAGE else self.names.stage, self._workflow_log_level
            )
            store = PolicyStore.from_template(load_template(path), account=self.account_id, region=self.region)
        except (TemplateUnavailable, PolicyError) as error:
            raise StartupError(str(error)) from None
        self.template = path
        return Enforcer(store, mode=self.iam_mode, account=self.account_id, region=self.region)  # type: ignore[arg-type]

    def _alias_storefront_apis(self, enforcer: Enforcer) -> None:
        """The storefront's API ids here are made up locally; the template's APIs get theirs from AWS."""
        local_ids = {"WEBSOCKET": self.storefront.websocket_api_id, "HTTP": self.storefront.http_api_id}
        for resource in enforcer.store.resources():
            if resource.type == "AWS::ApiGatewayV2::Api":
                local_id = local_ids.get(str(resource.properties.get("ProtocolType")))
                if local_id is not None:
                    enforcer.alias_api(local_id, resource.logical_id)

    @staticmethod
    def _authorize_log_delivery(enforcer: Enforcer, state_machine_arn: str) -> None:
        """CreateStateMachine with logging checks the role's log-delivery permissions (service_steps)."""
        try:
            service_steps.authorize_log_delivery(enforcer, state_machine_arn)
        except AccessDenied as denied:
            raise StartupError(f"CreateStateMachine {state_machine_arn}: AccessDeniedException: {denied}") from None

    def _load_handlers(self, stack: ExitStack) -> None:
        """Give the handlers the environment their functions were created with, then load them."""
        assert self._lambda is not None
        lambda_client = self._client("lambda")
        configurations = {
            name: lambda_client.get_function_configuration(FunctionName=name)
            for name in (*self.names.functions, *self.storefront.functions)
        }
        environment: dict[str, str] = {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        for configuration in configurations.values():
            for key, value in configuration["Environment"]["Variables"].items():
                if environment.get(key, value) != value and key not in {"POWERTOOLS_SERVICE_NAME"}:
                    raise RuntimeError(f"functions disagree on {key}: one process cannot give both values")
                environment[key] = value
        environment.pop("POWERTOOLS_SERVICE_NAME", None)  # each handler names its service in code
        previous = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        stack.callback(_restore_environment, previous)
        for name, configuration in configurations.items():
            try:
                self._register(name, configuration)
            except (ImportError, SyntaxError) as error:
                # Handlers run on this process's Python, not the runtime the function declares.
                raise StartupError(
                    f"{name} cannot load on Python {sys.version.split()[0]} "
                    f"(the function declares {configuration['Runtime']}): {type(error).__name__}: {error}"
                ) from None

    def _register(self, name: str, configuration: dict[str, Any]) -> None:
        assert self._lambda is not None
        self._lambda.register(
            name=name,
            handler_path=configuration["Handler"],
            memory_mb=configuration["MemorySize"],
            timeout_seconds=configuration["Timeout"],
            arn=configuration["FunctionArn"],
            environment=configuration["Environment"]["Variables"],
        )

    def _stop_server(self) -> None:
        self._server.stop()
        self._server = None
        self._aws = None

    def stop(self, drain_timeout: float = 10.0) -> None:
        """Let running work finish (bounded), then stop everything and undo every patch."""
        global _running
        if self._exit_stack is None:
            return
        # Stopping anyway after the drain: executions still running are abandoned with the backends.
        with contextlib.suppress(TimeoutError):
            self.wait_until_idle(timeout=drain_timeout)
        try:
            if self.state_dir is not None:
                self.save_state()
            self._record_iam_usage()
        finally:
            self._exit_stack.close()
            self._exit_stack = None
            with _running_lock:
                _running = None

    # -- state -------------------------------------------------------------------------------

    def busy(self) -> int:
        """Work in flight: deliveries not yet started, Lambda invocations, running executions."""
        assert self._delivery is not None and self._lambda is not None
        return self._delivery.pending + self._lambda.in_flight + self.running_executions() + self.storefront.pending

    def running_executions(self) -> int:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[self.account_id][self.region]
        running = 0
        for machine in list(backend.state_machines):
            executions = getattr(machine, "executions", [])
            count = len(executions)
            # Each machine's list only grows: look at the executions appended since the last poll, and
            # again at those still running then (an ended execution never runs again). A poll costs
            # O(running + new), not O(history), even while an old execution runs on (a skipped prefix
            # stalled there and made every later poll walk all the executions after it).
            key = (machine.arn, id(executions[0]) if count else 0)
            seen, live = self._execution_watch.get(key, (0, []))
            live = [run for run in live if _execution_is_running(run)]
            live += [run for run in executions[seen:count] if _execution_is_running(run)]
            self._execution_watch[key] = (count, live)
            running += len(live)
        return running

    def wait_until_idle(self, timeout: float = 30.0) -> None:
        """Block until no work is in flight (checked twice in a row), or raise ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        quiet_checks = 0
        while quiet_checks < 2:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the local stack still has {self.busy()} unit(s) of work after {timeout} s")
            quiet_checks = quiet_checks + 1 if self.busy() == 0 else 0
            time.sleep(IDLE_POLL_SECONDS)

    def save_state(self) -> Path:
        """Write orders, idempotency records, queued messages and logs to ``state_dir``."""
        assert self.state_dir is not None
        return state.save(
            self.state_dir,
            self._client,
            tables=[self.names.orders_table, self.names.inventory_table, self.names.idempotency_table],
            queues=[self.names.dead_letter_queue],
            log_groups=[
                self.names.state_machine_log_group,
                *(self.names.function_log_group(name) for name in self.names.functions),
            ],
        )

    def health(self) -> dict[str, Any]:
        """What ``GET /_snacks/health`` answers: ready, and with what."""
        return {
            "status": "running",
            "region": self.region,
            "accountId": self.account_id,
            "services": {service: "available" for service in SERVICES},
            "stage": self.names.stage,
            "workflowLogLevel": self.workflow_logging.level,
            "functions": sorted(self.names.functions),
            "stateMachine": self.resources.state_machine_arn if self.resources else None,
            "busy": self.busy(),
            "startupSeconds": round(self.startup_seconds, 3),
            "python": sys.version.split()[0],
            "codeDir": str(self.code_dir),
            "hotReload": self.hot_reload,
            "virtualTime": self.clock is not None,
            "codeReloads": self._lambda.reloads if self._lambda else 0,
            "stateDir": str(self.state_dir) if self.state_dir is not None else None,
            "httpApi": self.storefront.http_api_url if self._server is not None else None,
            "webSocketApi": self.storefront.websocket_url if self._server is not None else None,
            "iam": self.iam_mode,
            "template": str(self.template) if self.template is not None else None,
            "stripeEmulator": self.stripe.url if self.stripe.port else None,
        }

    def _record_iam_usage(self) -> None:
        """SNACKS_IAM_USAGE=FILE: append this stack's per-principal usage (JSON line) on stop."""
        target = os.environ.get(USAGE_VARIABLE)
        if target and self.iam is not None:
            with open(target, "a") as out:
                out.write(json.dumps(self.iam_usage()) + "\n")

    def iam_usage(self) -> dict[str, Any]:
        """What ``GET /_snacks/iam`` answers: per principal, the actions granted and used; the denials."""
        if self.iam is None:
            return {"mode": self.iam_mode, "principals": {}, "denials": []}
        enforcer = self.iam
        principals = set(enforcer.used) | {
            arn
            for arn in (
                *(enforcer.store.role_arn_of(function=name) for name in self.names.functions),
                enforcer.store.role_arn_of(state_machine=self.names.state_machine),
            )
            if arn
        }
        return {
            "mode": self.iam_mode,
            "template": str(self.template),
            "principals": {
                arn: {
                    "granted": sorted(enforcer.store.granted_actions(arn)) if ":role/" in arn else [],
                    "used": sorted(enforcer.used.get(arn, ())),
                }
                for arn in sorted(principals)
            },
            "denials": [
                {"principal": d.request.principal.arn, "action": d.request.action, "resource": d.request.resource}
                for d in list(enforcer.denials)
            ],
        }

    def stats(self) -> dict[str, int]:
        assert self._delivery is not None
        return {
            "deliveries": self._delivery.delivered,
            "delivery_retries": self._delivery.retried,
            "delivery_dead_letters": self._delivery.dead_lettered,
        }

    # -- clients and delivery callbacks ---------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client for this stack's HTTP endpoint, made as ``snacks`` makes its clients."""
        if self._aws is None:
            self._aws = Aws(endpoint_url=self.endpoint_url, region=self.region, stage=self.names.stage)
        return self._aws.client(service)

    def _client(self, service: str) -> Any:
        """An in-process client (moto intercepts it): provisioning and delivery skip HTTP."""
        return boto3.client(  # type: ignore[call-overload]
            service, region_name=self.region, aws_access_key_id="local", aws_secret_access_key="local"
        )

    def _start_execution(self, state_machine_arn: str, name: str, execution_input: str) -> Any:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        _, region, account = state_machine_arn.split(":")[2:5]
        return stepfunctions_parser_backends[account][region].start_execution(
            state_machine_arn, name=name, execution_input=execution_input
        )

    def _send_to_dead_letter_queue(self, queue_arn: str, body: str, attributes: dict[str, str]) -> None:
        from moto.sqs.models import sqs_backends

        _, region, account, queue_name = queue_arn.split(":")[2:6]
        sqs_backends[account][region].send_message(
            queue_name=queue_name,
            message_body=body,
            message_attributes={key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()},
        )


class StartupError(RuntimeError):
    """The stack could not start (a busy port, a host that does not resolve): one line to show."""


class _Server:
    """moto's threaded server, bound in the caller's thread so a bind failure raises at once, and
    serving from ``serve()`` on, once the stack is ready.

    (``ThreadedMotoServer.start`` binds in its thread and waits, without a timeout, for a ready
    signal that a failed bind never sends: a busy port hung ``snacks local`` forever.)
    """

    def __init__(self, host: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        from snacks.listening import CannotListen, bound_server

        try:
            self._server = bound_server(
                host,
                port,
                DomainDispatcherApplication(create_backend_app),
                threaded=True,
                request_handler=MotoRequestHandler,
            )
        except CannotListen as error:
            raise StartupError(str(error)) from None
        self._thread: threading.Thread | None = None

    def serve(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for serve_forever, forever if it never ran
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


def _execution_is_running(execution: Any) -> bool:
    return str(getattr(execution.exec_status, "value", execution.exec_status)) == "RUNNING"


def _restore_environment(previous: dict[str, str | None]) -> None:
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
