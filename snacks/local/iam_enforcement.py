"""The template's permissions enforced in the local stack: every in-process call carries its principal
and is authorized before moto sees it.

Who calls (a context variable, set where the work starts and carried into the threads moto's
interpreter spawns):
- a function's handler runs as the function's role (``PolicyStore.role_arn_of(function=...)``), its
  session named after the function, as Lambda names it;
- a workflow execution's tasks run as the state machine's role;
- the stack's own provisioning, state save/restore and bookkeeping carry no principal: unrestricted;
- HTTP callers (the CLI, the ``aws`` CLI, tests) are the account's operator and are not evaluated:
  their requests reach moto's server, not a botocore client of this process.

How: two botocore handlers on every client this process creates (``before-parameter-build`` keeps
the caller's params, ``before-call`` decides). A denied call never reaches moto; botocore raises the
service's own error class from the AWS-shaped answer (``snacks/local/access_denied.py``). Each
denial is one block in the stack's log (``Decision.explain()``), in ``enforce`` and in ``warn``.

Service-to-service steps (EventBridge, Step Functions' Lambda task) call ``Enforcer.authorize`` with
the service principal or the role the service assumes, and the request context AWS documents.
"""

from __future__ import annotations

import contextvars
import importlib
import re
import sys
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.handlers import BUILTIN_HANDLERS

from snacks.local.access_denied import DeniedError, caller_arn, denied_error
from snacks.local.iam import ActionRequest, AuthorizationRequest, Decision, PolicyStore, Principal, requests_for
from snacks.local.moto_tuning import patched

Mode = Literal["enforce", "warn", "off"]
MODES: tuple[Mode, ...] = ("enforce", "warn", "off")
_PARAMS_KEY = "snacks_iam_params"
_OPERATOR_KEY = "snacks_iam_operator"
# What an in-process SDK client calls (moto intercepts it there); a client given an endpoint does not.
_AWS_HOST = re.compile(r"^https://[^/]*\.amazonaws\.com(/|$)")
_DECISION_CACHE_LIMIT = 50_000

# Modules of moto's interpreter that start threads for an execution's work; each gets a Thread that
# carries the starting thread's context (the caller) into the new thread.
_THREAD_MODULES = (
    "moto.stepfunctions.parser.backend.execution_worker",
    "moto.stepfunctions.parser.asl.component.state.exec.execute_state",
)
_THREADING_MODULES = (
    "moto.stepfunctions.parser.asl.component.program.program",
    "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback",
)


@dataclass(frozen=True)
class Caller:
    """A principal making calls; ``session`` names its assumed-role session (what AWS shows)."""

    principal: Principal
    session: str | None = None

    @property
    def identity(self) -> str:
        return caller_arn(self.principal.arn, self.session)


class AccessDenied(Exception):
    """A service-to-service step that the policies refuse, with the error AWS would report."""

    def __init__(self, error: DeniedError, decision: Decision) -> None:
        super().__init__(error.message)
        self.code = error.code
        self.status = error.status
        self.decision = decision


_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("snacks_iam_caller", default=None)
_active: Enforcer | None = None


@contextmanager
def acting_as(caller: Caller | None) -> Iterator[None]:
    token = _caller.set(caller)
    try:
        yield
    finally:
        _caller.reset(token)


def current_caller() -> Caller | None:
    return _caller.get()


@contextmanager
def acting_as_function(function_name: str) -> Iterator[None]:
    """Run a handler as its function's role (no-op when the stack enforces nothing)."""
    enforcer = _active
    with acting_as(enforcer.function_caller(function_name) if enforcer is not None else None):
        yield


def function_may_write_logs(function_name: str, region: str, account: str, group: str, stream: str) -> bool:
    """Whether the function's role lets Lambda write its log lines (always, when nothing is enforced)."""
    enforcer = _active
    if enforcer is None:
        return True
    arn = f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}"
    requests = [ActionRequest("logs:CreateLogStream", arn, {}), ActionRequest("logs:PutLogEvents", arn, {})]
    try:
        enforcer.authorize(enforcer.function_caller(function_name), requests, "logs")
    except AccessDenied:
        return False
    return True


def active() -> Enforcer | None:
    return _active


class Enforcer:
    """The template's policies, the mode, and what was used and refused."""

    def __init__(self, store: PolicyStore, *, mode: Mode, account: str, region: str, log: TextIO | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"IAM mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.store = store
        self.mode = mode
        self.account = account
        self.region = region
        self._log = log
        self._lock = threading.Lock()
        self._decisions: dict[tuple[Any, ...], Decision] = {}
        self.used: dict[str, set[str]] = defaultdict(set)
        self.denials: list[Decision] = []
        self._unmapped: set[tuple[str, str]] = set()
        self._api_aliases: dict[str, str] = {}

    # -- principals -------------------------------------------------------------------------

    def role(self, arn: str) -> Principal:
        return Principal(arn=arn, kind="role")

    def service(self, name: str) -> Principal:
        return Principal(arn=name, kind="service")

    def function_caller(self, function_name: str) -> Caller:
        arn = self.store.role_arn_of(function=function_name)
        if arn is None:
            # A function the template gives no role can do nothing (and says so in each denial).
            arn = f"arn:aws:iam::{self.account}:role/no-role-in-template-for-{function_name}"
        return Caller(self.role(arn), session=function_name)

    def state_machine_caller(self, state_machine_arn: str, execution_name: str | None) -> Caller:
        name = state_machine_arn.split(":")[6]
        arn = self.store.role_arn_of(state_machine=name)
        if arn is None:
            arn = f"arn:aws:iam::{self.account}:role/no-role-in-template-for-{name}"
        # Step Functions does not document its session names; the execution's name stands in.
        return Caller(self.role(arn), session=execution_name)

    # -- decisions --------------------------------------------------------------------------

    def context_for(self, principal: Principal, context: Mapping[str, Any]) -> dict[str, Any]:
        """The global keys AWS adds to every request (IAM User Guide, "AWS global condition context
        keys"): the principal's ARN and account, and TLS (the SDKs' endpoints are HTTPS)."""
        full: dict[str, Any] = {"aws:SecureTransport": True, **context}
        if principal.kind == "role":
            full.setdefault("aws:PrincipalArn", principal.arn)
            full.setdefault("aws:PrincipalAccount", principal.arn.split(":")[4])
        elif principal.kind == "service":
            full.setdefault("aws:PrincipalServiceName", principal.arn)
        return full

    def decide(self, principal: Principal, request: ActionRequest) -> Decision:
        # The full context is the request's own keys plus what context_for derives from the principal,
        # so (principal, request's keys) determines it: the cache key skips building it on a hit.
        key = (principal, request.action, request.resource, _context_key(request.context))
        decision = self._decisions.get(key)
        if decision is None:
            context = self.context_for(principal, request.context)
            decision = self.store.evaluate(
                AuthorizationRequest(
                    principal=principal, action=request.action, resource=request.resource, context=context
                )
            )
            with self._lock:
                if len(self._decisions) >= _DECISION_CACHE_LIMIT:
                    self._decisions.clear()
                self._decisions[key] = decision
                if decision.allowed:  # recorded with the decision: a cached decision was recorded when made
                    self.used[principal.arn].add(request.action)
        return decision

    def authorize(self, caller: Caller, requests: Iterable[ActionRequest], service: str) -> None:
        """Raise ``AccessDenied`` for the first request the policies refuse (``enforce``); log it
        and go on (``warn``)."""
        for request in requests:
            decision = self.decide(caller.principal, request)
            if not decision.allowed:
                error = self._refused(decision, service, caller)
                if error is not None:
                    raise AccessDenied(error, decision)

    def check_call(
        self, caller: Caller, service: str, operation: str, params: Mapping[str, Any], endpoint: str | None = None
    ) -> DeniedError | None:
        """What an in-process SDK call needs authorized: the error to answer, or None to go on."""
        try:
            requests = requests_for(
                service, operation, params, region=self.region, account=self.account, endpoint=endpoint
            )
        except ValueError as error:
            self._note_unmapped(service, operation, error)
            return None
        requests = [self._api_by_its_template_id(self._secret_by_its_full_arn(request)) for request in requests]
        try:
            self.authorize(caller, [*requests, *self._key_requests(service, operation, requests)], service)
        except AccessDenied as denied:
            return DeniedError(denied.code, denied.status, str(denied))
        return None

    def alias_api(self, local_api_id: str, template_api_id: str) -> None:
        """The local stack's API id (moto makes one up) stands for the template's API, whose id AWS
        assigns at deploy time (here its logical id, what the template's policies resolve ``Ref`` to)."""
        self._api_aliases[local_api_id] = template_api_id

    def template_api_id(self, local_api_id: str) -> str:
        """The template's id for a local API (its own id if the template names no such API)."""
        return self._api_aliases.get(local_api_id, local_api_id)

    def _api_by_its_template_id(self, request: ActionRequest) -> ActionRequest:
        prefix = f"arn:aws:execute-api:{self.region}:{self.account}:"
        if not request.resource.startswith(prefix):
            return request
        api, _, rest = request.resource[len(prefix) :].partition("/")
        template_api = self._api_aliases.get(api)
        if template_api is None:
            return request
        return ActionRequest(request.action, f"{prefix}{template_api}/{rest}", request.context)

    def _secret_by_its_full_arn(self, request: ActionRequest) -> ActionRequest:
        """A secret is authorized on its full ARN, whatever SecretId named it: Secrets Manager appends
        "a hyphen and six random characters" to a secret's ARN, and a caller may name the secret by name
        or partial ARN (AWS Secrets Manager User Guide, "Secret ARN" in "What's in a Secrets Manager
        secret?"; policies grant the full ARN, as CDK's Secret.grantRead does). The template's secret
        of that name is the one meant; moto's random six characters are not the template's."""
        prefix = f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:"
        if not request.resource.startswith(prefix) or self.store.resource(request.resource) is not None:
            return request
        named = request.resource[len(prefix) :]
        for resource in self.store.resources():
            if resource.type != "AWS::SecretsManager::Secret":
                continue
            name = str(resource.properties.get("Name", ""))
            if named == name or (named.startswith(f"{name}-") and len(named) == len(name) + 7):
                context = {**request.context, "secretsmanager:SecretId": resource.arn}
                return ActionRequest(request.action, resource.arn, context)
        return request

    def _key_requests(self, service: str, operation: str, requests: list[ActionRequest]) -> list[ActionRequest]:
        """A producer to an SSE-KMS queue or topic needs the key too: "kms:GenerateDataKey and
        kms:Decrypt" (Amazon SQS Developer Guide, "Key management": permissions for producers;
        Amazon SNS Developer Guide, "Data encryption" / "Key management"), via that service."""
        if (service, operation) not in {("sqs", "SendMessage"), ("sqs", "SendMessageBatch"), ("sns", "Publish")}:
            return []
        extra: list[ActionRequest] = []
        for request in requests:
            key_arn = self.store.key_arn_for(request.resource)
            if key_arn is None:
                continue
            via = {"kms:ViaService": f"{service}.{self.region}.amazonaws.com", "kms:CallerAccount": self.account}
            extra += [ActionRequest("kms:GenerateDataKey", key_arn, via), ActionRequest("kms:Decrypt", key_arn, via)]
        return extra

    def _note_unmapped(self, service: str, operation: str, error: ValueError) -> None:
        with self._lock:
            if (service, operation) in self._unmapped:
                return
            self._unmapped.add((service, operation))
        self._write(f"IAM: {service}:{operation} is not authorized locally (no mapping to IAM actions: {error})\n")

    def _refused(self, decision: Decision, service: str, caller: Caller) -> DeniedError | None:
        with self._lock:
            self.denials.append(decision)
        if self.mode == "off":
            return None
        error = denied_error(service, decision, caller.session)
        verdict = "DENIED" if self.mode == "enforce" else "WOULD BE DENIED (--iam warn: allowed)"
        headline = f"IAM {verdict}: {error.code} ({error.status}) {error.message}"
        self._write(f"{headline}\n{_explain(decision)}\n{self._owners(decision)}")
        return error if self.mode == "enforce" else None

    def _owners(self, decision: Decision) -> str:
        """Where to change it: the constructs in stacks/ that own the principal and the resource."""
        lines = []
        for what, arn in (("principal", decision.request.principal.arn), ("resource", decision.request.resource)):
            found = self.store.resource(arn)
            if found is not None:
                lines.append(f"  {what} defined by: {found.construct_path} ({found.type} {found.logical_id})\n")
        return "".join(lines)

    def _write(self, text: str) -> None:
        out = self._log if self._log is not None else sys.stderr
        try:
            out.write(text)
            out.flush()
        except ValueError:  # a closed stream at shutdown
            pass

    # -- installation -----------------------------------------------------------------------

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Authorize every in-process call from now until the block ends."""
        global _active
        if self.mode == "off":
            yield
            return
        from moto.stepfunctions.parser.backend import execution_worker

        enforcer = self

        def starting_as_its_role(original: Any) -> Any:
            def start(worker: Any) -> None:
                details = worker._evaluation_details
                caller = enforcer.state_machine_caller(
                    details.state_machine_details.arn, details.execution_details.name
                )
                with acting_as(caller):
                    original(worker)

            return start

        with ExitStack() as stack:
            for cls in (execution_worker.ExecutionWorker, execution_worker.SyncExecutionWorker):
                stack.enter_context(patched(cls, "start", starting_as_its_role(cls.__dict__["start"])))
            for name in _THREAD_MODULES:
                stack.enter_context(patched(importlib.import_module(name), "Thread", CallerCarryingThread))
            for name in _THREADING_MODULES:
                stack.enter_context(patched(importlib.import_module(name), "threading", _threading_carrying_callers))
            _active = self
            stack.callback(_deactivate)
            yield


def _deactivate() -> None:
    global _active
    _active = None


class CallerCarryingThread(threading.Thread):
    """A thread that runs in a copy of its creator's context, so an execution's caller follows its
    work into the threads moto's interpreter starts (a new thread starts with an empty context)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._creator_context = contextvars.copy_context()

    def run(self) -> None:
        self._creator_context.run(super().run)


class _ThreadingCarryingCallers:
    """The ``threading`` module as moto's interpreter modules see it, with ``CallerCarryingThread``."""

    Thread = CallerCarryingThread

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


_threading_carrying_callers = _ThreadingCarryingCallers()


_SCALARS = (str, bool, int)


def _context_key(context: Mapping[str, Any]) -> Any:
    """A hashable key for a request's context keys (``_frozen``; a plain sort when every value is a scalar)."""
    if all(type(value) in _SCALARS for value in context.values()):
        return tuple(sorted(context.items()))
    return _frozen(context)


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(_frozen(v) for v in value)
    return value


def _explain(decision: Decision) -> str:
    try:
        return decision.explain()
    except NotImplementedError:
        request = decision.request
        lines = [
            f"  principal: {request.principal.arn}",
            f"  action:    {request.action}",
            f"  resource:  {request.resource}",
            f"  context:   {dict(request.context)}",
            f"  verdict:   {decision.reason}",
        ]
        lines += [f"  statement: {ref.describe()} ({ref.construct_path})" for ref in decision.matched]
        lines += [f"  missing:   {text}" for text in decision.missing]
        return "\n".join(lines)


# -- the botocore handlers ------------------------------------------------------------------


def _keep_params(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS_KEY] = params


def _authorize_call(
    model: Any, params: Mapping[str, Any], context: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    enforcer = _active
    if enforcer is None:
        return None
    caller = _caller.get()
    if caller is None:  # the stack's own work
        return None
    if context.get(_OPERATOR_KEY) or not _AWS_HOST.match(str(params.get("url", ""))):
        # A client given an endpoint (the stack's HTTP door) calls over HTTP: the operator, whichever
        # thread it runs on (a test's hook inside the workflow, say), not the principal of that thread.
        return None
    service = model.service_model.service_name
    error = enforcer.check_call(caller, service, model.name, context.get(_PARAMS_KEY) or {}, str(params.get("url", "")))
    if error is None:
        return None
    response = AWSResponse(url="", status_code=error.status, headers=HTTPHeaders(), raw=None)
    parsed = {
        "Error": {"Code": error.code, "Message": error.message},
        "ResponseMetadata": {"HTTPStatusCode": error.status, "HTTPHeaders": {}},
    }
    return response, parsed


def operator_client(client: Any) -> Any:
    """Mark an in-process client (no endpoint) as the operator's, like an HTTP caller: a test that
    reads the stack in-process from inside the workflow's threads (a hook on a Task) is not the
    workflow's role."""

    def mark(context: dict[str, Any], **_: Any) -> None:
        context[_OPERATOR_KEY] = True

    client.meta.events.register("before-parameter-build", mark)
    return client


def raise_if_denied(client: Any, operation: str, params: Mapping[str, Any]) -> None:
    """For calls that skip botocore (a Task's direct Lambda invoke): the same check, the same error."""
    enforcer = _active
    caller = _caller.get()
    if enforcer is None or caller is None:
        return
    service = client.meta.service_model.service_name
    error = enforcer.check_call(caller, service, operation, params)
    if error is not None:
        parsed = {
            "Error": {"Code": error.code, "Message": error.message},
            "ResponseMetadata": {"HTTPStatusCode": error.status},
        }
        raise client.exceptions.from_code(error.code)(parsed, operation)


# Registered once, like moto's own stubber: a botocore session takes BUILTIN_HANDLERS when it is
# created, and moto gives boto3 a new default session at each start. Inactive without an Enforcer.
if ("before-call", _authorize_call) not in BUILTIN_HANDLERS:
    BUILTIN_HANDLERS.append(("before-parameter-build", _keep_params))
    BUILTIN_HANDLERS.append(("before-call", _authorize_call))
