"""Small, reversible adjustments to moto for a long-running local stack.

Each patch is applied on start and undone on stop, so a process can start and stop stacks
repeatedly (the tests do) without leaving moto altered.
"""

from __future__ import annotations

import functools
import importlib
import pickle
import re
import threading
import types
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

# Modules of moto's ASL interpreter that call boto_client_for for the service integrations we use.
_CLIENT_FACTORY_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda",
)


class MotoInternalsMoved(RuntimeError):
    """A patch's target is gone from moto: the pinned moto changed under us (see pyproject.toml)."""


@contextmanager
def patched(target: Any, attribute: str, replacement: Any) -> Iterator[None]:
    if not hasattr(target, attribute):
        import moto

        where = getattr(target, "__qualname__", None) or getattr(target, "__name__", repr(target))
        raise MotoInternalsMoved(
            f"moto {moto.__version__} has no {where}.{attribute}, which snacks/local/moto_tuning.py patches; "
            "update the patch for this moto version or pin the version it was written for (pyproject.toml)"
        )
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

    # One parse per definition, also when executions start together: lru_cache does not make the
    # others wait for the first, so each of the first concurrent executions (8 from the bench's
    # clients) ran its own ~100 ms parse: ~1.5 s of CPU per run, in the profile of 200 orders.
    lock = threading.Lock()

    def entrypoint(worker: Any) -> Any:
        with lock:
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


@contextmanager
def attribute_aliases_cached() -> Iterator[None]:
    """Work out once, per response field, which keys moto's serializer looks up on a plain ``dict``.

    For every field of every response shape (ten per DynamoDB ``AttributeValue``), moto's
    ``XFormedAttributePicker`` runs six alias providers to list candidate keys. For a plain ``dict``
    the candidates depend only on the field name, its shape and that shape's parent (a ``dict``
    has no ``Meta`` and its class name is always ``dict``), so they are cached on exactly those;
    botocore's shapes are built once per cached service model, so the cache stays small. Values
    are still looked up, in the same order, on every response; pickers with response transformers
    or other alias providers take moto's own path.
    """
    from moto.core.serialize import DEFAULT_ALIAS_PROVIDERS, ResponseSerializer, XFormedAttributePicker
    from moto.core.utils import get_value as get_keyed_value

    original_keys = XFormedAttributePicker.get_possible_keys
    original_get_value = ResponseSerializer.get_value
    cache: dict[tuple[Any, ...], tuple[str, ...]] = {}
    missing = object()

    @functools.wraps(original_keys)
    def get_possible_keys(self: Any, context: Any) -> Any:
        if type(context.obj) is not dict or self.alias_providers is not DEFAULT_ALIAS_PROVIDERS:
            return original_keys(self, context)
        shape = context.shape
        key = (context.key, shape, getattr(shape, "parent", None))
        keys = cache.get(key)
        if keys is None:
            keys = cache[key] = tuple(original_keys(self, context))
        return keys

    @functools.wraps(original_get_value)
    def get_value(self: Any, value: Any, key: str, shape: Any) -> Any:
        picker = self._value_picker
        if (
            type(value) is not dict
            or type(picker) is not XFormedAttributePicker
            or picker.alias_providers is not DEFAULT_ALIAS_PROVIDERS
            or picker.response_transformers
        ):
            return original_get_value(self, value, key, shape)
        keys = cache.get((key, shape, getattr(shape, "parent", None)))
        if keys is None:
            return original_get_value(self, value, key, shape)  # fills the cache
        for possible_key in keys:
            found = get_keyed_value(value, possible_key, missing)
            if found is not missing:
                return found
        return None

    with (
        patched(XFormedAttributePicker, "get_possible_keys", get_possible_keys),
        patched(ResponseSerializer, "get_value", get_value),
    ):
        yield


@contextmanager
def handler_methods_cached() -> Iterator[None]:
    """List each moto response class's methods once, not on every request (``inspect.getmembers``).

    moto only asks whether the action's method exists; a class's methods do not change while a stack
    runs (our patches replace existing methods, never add any).
    """
    responses: Any = importlib.import_module("moto.core.responses")  # the name is not re-exported

    original = responses.method_names_from_class
    cache: dict[type, frozenset[str]] = {}

    @functools.wraps(original)
    def method_names_from_class(clazz: Any) -> frozenset[str]:
        names = cache.get(clazz)
        if names is None:
            names = cache[clazz] = frozenset(original(clazz))
        return names

    with patched(responses, "method_names_from_class", method_names_from_class):
        yield


@contextmanager
def update_expressions_cached() -> Iterator[None]:
    """Parse each DynamoDB ``UpdateExpression`` string once (moto parses it twice per call).

    The parse depends only on the string. moto only reads the parsed tree (``find_clauses``) or
    deep-copies it before validating and executing it (``Validator.__init__``), so a shared tree is
    never changed. Invalid expressions raise on every call, as before (errors are not cached).
    """
    UpdateExpressionParser: Any = importlib.import_module("moto.dynamodb.parsing.expressions").UpdateExpressionParser

    original = UpdateExpressionParser.__dict__["make"]
    parse = functools.lru_cache(maxsize=256)(original.__func__)

    def make(cls: Any, expression_str: str) -> Any:
        if cls is UpdateExpressionParser:
            return parse(cls, expression_str)
        return original.__func__(cls, expression_str)

    UpdateExpressionParser.make = classmethod(make)
    try:
        yield
    finally:
        UpdateExpressionParser.make = original


@contextmanager
def server_hosts_cached() -> Iterator[None]:
    """Resolve each ``Host`` header to a backend once, not by trying every service's URL regexes.

    The answer depends only on the host and moto's static URL patterns. Hosts that find no backend
    on an AWS domain are not cached, so moto still prints its warning for each such request.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.get_backend_for_host
    cache: dict[tuple[Any, str | None], Any] = {}

    @functools.wraps(original)
    def get_backend_for_host(self: Any, host: str | None) -> Any:
        key = (self, host)
        if key in cache:
            return cache[key]
        backend = original(self, host)
        if backend is not None or host is None or "amazonaws.com" not in host:
            cache[key] = backend
        return backend

    with patched(DomainDispatcherApplication, "get_backend_for_host", get_backend_for_host):
        yield


@contextmanager
def update_expression_traversal_cached() -> Iterator[None]:
    """List the node types each DynamoDB expression traverser handles once per class, not per node.

    moto's ``DepthFirstTraverser.nodes_to_be_processed`` rebuilds the processing map (a dict of
    bound methods) for every node of every traversal, ten traversals per ``UpdateItem``. Every
    traverser's map has constant keys (node classes written in its ``_processing_map``), so the
    tuple of keys is the same for all instances of a class.
    """
    DepthFirstTraverser: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes").DepthFirstTraverser

    original = DepthFirstTraverser.nodes_to_be_processed
    cache: dict[type, tuple[type, ...]] = {}

    @functools.wraps(original)
    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        nodes = cache.get(type(self))
        if nodes is None:
            nodes = cache[type(self)] = tuple(original(self))
        return nodes

    with patched(DepthFirstTraverser, "nodes_to_be_processed", nodes_to_be_processed):
        yield


@contextmanager
def update_expression_traversal_streamlined() -> Iterator[None]:
    """Walk DynamoDB update-expression trees with each node class classified once, not per node.

    moto's ``DepthFirstTraverser.traverse_node_recursively`` calls itself for every node, calls
    ``pre_processing_of_child`` for every child (a no-op in all but one traverser), asks for
    ``nodes_to_be_processed`` at every node and tests each node with ``isinstance`` against abstract
    classes (``Node`` is an ``abc.ABCMeta`` class: each test runs ``ABCMeta.__instancecheck__``): ten
    traversals per ``UpdateItem``. ``Node.find_clauses``, which ``ActionCountValidator`` runs three
    times at every nested ``UpdateExpression`` node, does the same tests. This does the same walks
    (children first, left to right; a processed node takes its old parent and its place in the
    parent's children; clauses in tree order) with each test answered once per concrete class, since
    moto's node classes are plain subclasses (no ``ABCMeta.register``): a class is a ``Node``, or a
    traverser's node type, for every instance or for none. The node types are read once per
    traversal (constant per traverser class: see ``update_expression_traversal_cached``) and the hook
    is called only where a traverser overrides it.
    """
    ast_nodes: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
    DepthFirstTraverser, Node = ast_nodes.DepthFirstTraverser, ast_nodes.Node
    descended = (ast_nodes.Expression, ast_nodes.UpdateExpressionFunction)  # what find_clauses looks inside
    no_hook = DepthFirstTraverser.pre_processing_of_child
    is_node: dict[type, bool] = {}
    is_descended: dict[type, bool] = {}
    processed_by: dict[type, dict[type, bool]] = {}  # traverser class -> node class -> processed

    def node_class(cls: type) -> bool:
        found = is_node.get(cls)
        if found is None:
            found = is_node[cls] = issubclass(cls, Node)
        return found

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        wanted = self.nodes_to_be_processed()
        processed = processed_by.get(type(self))
        if processed is None:
            processed = processed_by.setdefault(type(self), {})
        hook = None if type(self).pre_processing_of_child is no_hook else self.pre_processing_of_child
        process = self.process

        def visit(node: Any, child_id: int) -> Any:
            cls = type(node)
            if is_node.get(cls) or node_class(cls):
                parent_node = node.parent
                if node.children is not None:
                    for i, child_node in enumerate(node.children):
                        if hook is not None:
                            hook(node, i)
                        visit(child_node, i)
                chosen = processed.get(cls)
                if chosen is None:
                    chosen = processed[cls] = issubclass(cls, wanted)
                if chosen:
                    node = process(node)
                    node.parent = parent_node
                    if parent_node:
                        parent_node.children[child_id] = node
            return node

        return visit(node, child_id)

    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        clauses: list[Any] = []
        for child in self.children or []:
            cls = type(child)
            if cls in clause_types:
                clauses.append(child)
            else:
                inside = is_descended.get(cls)
                if inside is None:
                    inside = is_descended[cls] = issubclass(cls, descended)
                if inside:
                    clauses.extend(child.find_clauses(clause_types))
        return clauses

    with ExitStack() as stack:
        stack.enter_context(patched(DepthFirstTraverser, "traverse_node_recursively", traverse_node_recursively))
        stack.enter_context(patched(Node, "find_clauses", find_clauses))
        yield


@contextmanager
def condition_expressions_lexed_once() -> Iterator[None]:
    """Split each DynamoDB condition expression string into tokens once, not on every parse.

    moto parses a ``ConditionExpression`` (``KeyConditionExpression``, ``FilterExpression``) on every
    call, twice for a conditional write (the handler checks the names it uses, the backend evaluates
    it), and its lexer compiles six patterns and slices the rest of the string for every token. The
    tokens depend only on the string: what a token means (a name or value looked up in this call's
    ``ExpressionAttributeNames``/``ExpressionAttributeValues``, a keyword, a function) is decided
    after lexing, on every parse, from this call's maps, so no value of one call reaches another.
    Tokens are immutable named tuples (their ``children`` lists stay empty: moto builds new nodes
    above them); each parse gets its own deque of them. A string that does not lex raises on every
    call, as before (errors are not cached).
    """
    ConditionExpressionParser: Any = importlib.import_module("moto.dynamodb.comparisons").ConditionExpressionParser

    original = ConditionExpressionParser._lex_condition_expression
    tokens: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
    lock = threading.Lock()

    @functools.wraps(original)
    def lex_condition_expression(self: Any) -> Any:
        expression = self.condition_expression
        with lock:
            found = tokens.get(expression)
            if found is not None:
                tokens.move_to_end(expression)
        if found is None:
            found = tuple(original(self))
            with lock:
                tokens[expression] = found
                if len(tokens) > _LEXED_CONDITION_EXPRESSIONS:
                    tokens.popitem(last=False)
        return deque(found)

    with patched(ConditionExpressionParser, "_lex_condition_expression", lex_condition_expression):
        yield


_LEXED_CONDITION_EXPRESSIONS = 512


class _NameIndex:
    """One state machine's executions by name, kept up to date with its append-only list."""

    def __init__(self, machine: Any) -> None:
        self.machine = weakref.ref(machine)
        self.by_name: dict[Any, Any] = {}
        self.indexed = 0  # how many of machine.executions are in by_name
        self.last: Any = None  # the last execution indexed, to notice a list that was not only appended to

    def refresh(self, executions: list[Any]) -> None:
        if len(executions) < self.indexed or (self.indexed and executions[self.indexed - 1] is not self.last):
            self.by_name, self.indexed = {}, 0  # moto replaced or trimmed the list: index it again
        appended = executions[self.indexed :]
        for execution in appended:
            self.by_name.setdefault(execution.name, execution)  # moto's scan finds the first of a name
        if appended:
            self.indexed, self.last = self.indexed + len(appended), appended[-1]


@contextmanager
def execution_names_indexed() -> Iterator[None]:
    """Check a new execution's name against a dict, not by scanning every past execution.

    StartExecution refuses a name already used unless the same input is still running ("Idempotency",
    StartExecution, AWS Step Functions API Reference; STANDARD machines only, ``express.express_semantics``
    exempts EXPRESS ones before this index is asked); moto decides that by walking
    ``state_machine.executions`` on every start: O(executions), the local stack's cost that grew
    with history. This hands moto's own decision the one execution of that name, or none, found
    in an index that follows moto's list (executions are only ever appended to it).
    """
    from moto.stepfunctions.models import StateMachine

    original: Callable[..., Any] = StateMachine._handle_name_input_idempotency
    indexes: dict[int, _NameIndex] = {}
    lock = threading.Lock()

    @functools.wraps(original)
    def handle_name_input_idempotency(self: Any, name: str, execution_input: str) -> Any:
        with lock:
            index = indexes.get(id(self))
            if index is None or index.machine() is not self:
                index = indexes[id(self)] = _NameIndex(self)
            index.refresh(self.executions)
            same_name = index.by_name.get(name)
        if same_name is None:
            return None
        return original(types.SimpleNamespace(executions=[same_name]), name, execution_input)

    with patched(StateMachine, "_handle_name_input_idempotency", handle_name_input_idempotency):
        yield


@contextmanager
def update_expression_copies_unpickled() -> Iterator[None]:
    """Copy a parsed DynamoDB ``UpdateExpression`` by unpickling it: ~9x faster than ``deepcopy``.

    moto's ``Validator`` deep-copies the parsed tree on every ``UpdateItem`` (it fills the copy with
    the call's values). With ``update_expressions_cached`` the same tree comes back for the same
    string, so its pickle is made once and each copy is one ``pickle.loads``: a fresh, independent
    tree, as ``deepcopy`` gives. Anything but an ``UpdateExpression`` is deep-copied as before; the
    pickles are kept for the last trees seen, each with the tree itself so an id is never reused.
    """
    validators: Any = importlib.import_module("moto.dynamodb.parsing.validators")
    update_expression: type = importlib.import_module("moto.dynamodb.parsing.ast_nodes").UpdateExpression

    original = validators.deepcopy
    pickles: OrderedDict[int, tuple[Any, bytes]] = OrderedDict()
    lock = threading.Lock()

    @functools.wraps(original)
    def deepcopy(value: Any, memo: Any = None, *args: Any) -> Any:
        if type(value) is not update_expression or memo is not None or args:
            return original(value, memo, *args)
        with lock:
            entry = pickles.get(id(value))
            if entry is None or entry[0] is not value:
                entry = pickles[id(value)] = (value, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
                if len(pickles) > _UPDATE_EXPRESSION_PICKLES:
                    pickles.popitem(last=False)
            else:
                pickles.move_to_end(id(value))
        return pickle.loads(entry[1])  # bytes this process pickled from its own parse tree

    with patched(validators, "deepcopy", deepcopy):
        yield


_UPDATE_EXPRESSION_PICKLES = 256


@contextmanager
def in_process_routes_cached() -> Iterator[None]:
    """Route an in-process boto3 call to its moto handler once per URL, not by trying every pattern.

    For each call the handlers (and the interpreter) make, moto's ``BotocoreStubber`` matches the URL
    against every service's URL patterns, builds the matched backend's URL map and compiles its
    patterns again. The handler found depends only on the URL (scheme, host, path) and moto's static
    patterns, so it is kept per URL; the call itself (request normalised, recorded, dispatched,
    HTTP errors turned into responses) runs as moto runs it. URLs that moto passes through, refuses
    or does not know keep moto's own path.
    """
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.request import normalize_request
    from moto.core.utils import get_equivalent_url_in_aws_domain

    http_exception: type[Exception] = importlib.import_module("moto.core.exceptions").HTTPException
    original = BotocoreStubber.process_request
    routes: dict[str, Any] = {}

    def route_for(clean_url: str) -> Any:
        import moto.backend_index as backend_index

        backends: Any = importlib.import_module("moto.backends")
        from moto.core.base_backend import BackendDict
        from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
        from moto.core.models import DEFAULT_ACCOUNT_ID

        if passthrough_url(clean_url):
            return None
        for service, pattern in backend_index.backend_url_patterns:
            if pattern.match(clean_url):  # moto's loop, which returns from the first match
                if passthrough_service(service) or not service_whitelisted(service):
                    return None
                backend_dict = backends.get_backend(service)
                if isinstance(backend_dict, BackendDict):
                    regions = backend_dict[DEFAULT_ACCOUNT_ID]
                    backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
                else:
                    backend = backend_dict["global"]
                for url, method_to_execute in backend.urls.items():
                    if re.compile(url).match(clean_url):
                        return method_to_execute
                return None
        return None

    @functools.wraps(original)
    def process_request(self: Any, request: Any) -> Any:
        parsed_url, _ = get_equivalent_url_in_aws_domain(request.url)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        method_to_execute = routes.get(clean_url)
        if method_to_execute is None:
            method_to_execute = route_for(clean_url)
            if method_to_execute is None:
                return original(self, request)
            routes[clean_url] = method_to_execute
        from moto.moto_api import recorder

        normalized_request = normalize_request(request)
        try:
            recorder._record_request(normalized_request)
            return method_to_execute(normalized_request, normalized_request.raw_url, normalized_request.headers)
        except http_exception as error:
            failure: Any = error
            return failure.code, failure.get_headers(), failure.get_body()

    with patched(BotocoreStubber, "process_request", process_request):
        yield


# Signing names of the services whose in-process calls go unsigned: moto never checks a signature, and
# for these it takes nothing else from one (region from the URL, account from MOTO_ACCOUNT_ID or, with
# no access key, the default account, as with the local stack's own keys). STS and IAM are left out:
# they answer "who am I" from the signing key.
_UNSIGNED_IN_PROCESS = frozenset(
    {"dynamodb", "events", "lambda", "logs", "sqs", "sns", "states", "secretsmanager", "execute-api", "kms"}
)
_IN_PROCESS_URL = re.compile(r"^https://[^/]*\.amazonaws\.com(/|$)")


@contextmanager
def in_process_requests_unsigned() -> Iterator[None]:
    """Skip SigV4 for in-process calls (URL on an AWS host, which ``mock_aws`` intercepts in this
    process): canonical request, payload hash and four HMACs per call, for a signature moto never reads.

    Who makes a call is not the signature's business locally: the IAM enforcer takes the caller from
    the thread's context (snacks/local/iam_enforcement.py). Calls to the stack's HTTP endpoint (the
    CLI, tests, other SDKs) are signed as before: moto's server reads their region from the signature.
    """
    from botocore.signers import RequestSigner

    original = RequestSigner.sign

    @functools.wraps(original)
    def sign(self: Any, operation_name: str, request: Any, *args: Any, **kwargs: Any) -> Any:
        if (
            not args
            and kwargs.get("signing_type", "standard") == "standard"
            and kwargs.get("signing_name", self._signing_name) in _UNSIGNED_IN_PROCESS
            and _IN_PROCESS_URL.match(str(request.url))
        ):
            return None
        return original(self, operation_name, request, *args, **kwargs)

    with patched(RequestSigner, "sign", sign):
        yield


class _StructurePlan:
    """One response structure's members, in order, each with the keys moto looks it up by on a ``dict``."""

    def __init__(self, members: list[tuple[str, Any, tuple[str, ...]]]) -> None:
        self.members = members
        self.by_key: dict[str, list[int]] = {}
        for index, (_, _, keys) in enumerate(members):
            for possible_key in keys:
                self.by_key.setdefault(possible_key, []).append(index)


@contextmanager
def json_structures_serialized_from_present_keys() -> Iterator[None]:
    """Serialize a JSON response structure from the keys its ``dict`` has, not by asking for every member.

    moto's serializer looks every member of a structure up on the value, present or not: ten lookups
    (each over its alias keys) per DynamoDB ``AttributeValue``, of which one finds something, for
    every attribute of every item a handler reads. For a plain ``dict`` the members that can find a
    value are those with an alias key among the dict's keys (aliases are worked out per member once,
    as ``attribute_aliases_cached`` does); those are serialized in the shape's order with moto's own
    lookup, so the answer is the same, key for key. Objects, document types, dotted aliases (a path
    into the value), response transformers and protocols with their own member handling (REST) take
    moto's path.
    """
    from moto.core.serialize import (
        DEFAULT_ALIAS_PROVIDERS,
        AttributePickerContext,
        BaseJSONSerializer,
        ResponseSerializer,
        XFormedAttributePicker,
    )

    original = BaseJSONSerializer._serialize_type_structure
    default_member = ResponseSerializer._serialize_structure_member
    plans: dict[Any, _StructurePlan | None] = {}
    lock = threading.Lock()

    def plan_for(self: Any, value: dict[str, Any], shape: Any) -> _StructurePlan | None:
        plan = plans.get(shape, False)
        if plan is not False:
            return plan  # type: ignore[return-value]
        members = []
        for member_key, member_shape in shape.members.items():
            member_shape.parent = shape
            context = AttributePickerContext(
                obj=value,
                key=member_key,
                shape=member_shape,
                operation_model=self.operation_model,
                service_model=self.operation_model.service_model,
            )
            keys = tuple(self._value_picker.get_possible_keys(context))
            members.append((member_key, member_shape, keys))
        dotted = any("." in possible_key for _, _, keys in members for possible_key in keys)
        found = None if dotted else _StructurePlan(members)
        with lock:
            plans[shape] = found
        return found

    @functools.wraps(original)
    def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        picker = self._value_picker
        if (
            type(value) is not dict
            or shape.is_document_type
            or type(self)._serialize_structure_member is not default_member
            or type(picker) is not XFormedAttributePicker
            or picker.alias_providers is not DEFAULT_ALIAS_PROVIDERS
            or picker.response_transformers
        ):
            return original(self, serialized, value, shape, key)
        plan = plan_for(self, value, shape)
        if plan is None:
            return original(self, serialized, value, shape, key)
        wrapper = self.MAP_TYPE() if key else serialized
        present = sorted({index for name in value for index in plan.by_key.get(name, ())})
        for index in present:
            member_key, member_shape, keys = plan.members[index]
            member_shape.parent = shape
            member_value = None
            for possible_key in keys:
                if possible_key in value:
                    member_value = value[possible_key]
                    break
            if member_value is not None:
                self._serialize(wrapper, member_value, member_shape, member_key)
        if key:
            self._default_serialize(serialized, wrapper, shape, key)
        return None

    with patched(BaseJSONSerializer, "_serialize_type_structure", _serialize_type_structure):
        yield
