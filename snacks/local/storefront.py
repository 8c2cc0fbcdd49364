"""The storefront's HTTP API and WebSocket API on the local stack, driving the real handlers.

* HTTP API: a threaded HTTP server on loopback. Each request matching one of the API's routes
  becomes a payload-format-2.0 event (snacks/local/api_gateway_events.py) for ``storefront-api``,
  run by the same in-process Lambda runtime as every function; its response is written back as API
  Gateway writes it. What API Gateway answers itself is answered here the same way: no route ->
  404 ``{"message":"Not Found"}``; a body over the HTTP API's 10 MB payload quota -> 413
  ``{"message":"Request Entity Too Large"}``; a failed integration -> 500
  ``{"message":"Internal Server Error"}`` (API Gateway Developer Guide, "Quotas for HTTP APIs" and
  "Troubleshooting issues with HTTP API Lambda integrations").
* WebSocket API: ``websockets``' threaded server. The upgrade request runs ``$connect`` (a non-2xx
  answer refuses the handshake with that status), each message runs ``$default``, the close runs
  ``$disconnect``. Messages over the API's 128 KB quota close the connection (1009).
* Management API: the functions post with boto3 to ``https://{apiId}.execute-api.{region}.amazonaws.com/{stage}``
  (the callback URL AWS gives); moto's apigatewaymanagementapi routes that in-process, and its backend is
  patched here to reach the open sockets. An unknown or closed connection answers 410 GoneException.
* The status rule's Lambda target (moto does not deliver to Lambda targets on custom buses) is
  delivered asynchronously, as EventBridge invokes Lambda, in order through one queue.

A client that never reads cannot hold anything: each connection has a bounded outbound queue
(OUTBOUND_QUEUE_LIMIT); when it overflows the connection is closed and forgotten (later posts are 410).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import queue
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from moto.core.exceptions import JsonRESTError

from snacks.local import edge_cache, iam_enforcement
from snacks.local.api_gateway_events import http_api_event, websocket_event
from snacks.local.iam import ActionRequest
from snacks.local.lambda_runtime import InProcessLambda
from snacks.local.moto_tuning import patched
from snacks.local.provision import LAMBDA_TRUST, function_environment, lambda_asset_zip
from snacks.local.storefront_tables import create_connections_table
from stacks import definitions
from stacks import storefront_definitions as sf

HTTP_PAYLOAD_LIMIT = 10 * 1024 * 1024  # "Payload size": 10 MB (Quotas for HTTP APIs)
WEBSOCKET_MESSAGE_LIMIT = 128 * 1024  # "Message payload size": 128 KB (Quotas for WebSocket APIs)
OUTBOUND_QUEUE_LIMIT = 256  # messages waiting for a slow reader before its connection is dropped
SEND_TIMEOUT_SECONDS = 5.0


class GoneException(JsonRESTError):
    """PostToConnection's 410 for a connection that is not open."""

    code = 410

    def __init__(self, connection_id: str) -> None:
        super().__init__("GoneException", f"Connection {connection_id} is gone")


def _route_pattern(route_key: str) -> tuple[str, re.Pattern[str]]:
    method, path = route_key.split(" ", 1)
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return method, re.compile(f"^{regex}$")


ROUTES = [(route, *_route_pattern(route)) for route in sf.HTTP_ROUTES]


def match_route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    for route, route_method, pattern in ROUTES:
        found = pattern.match(path)
        if found and route_method == method:
            return route, found.groupdict()
    return None


API_GATEWAY_PRINCIPAL = "apigateway.amazonaws.com"
EVENTS_PRINCIPAL = "events.amazonaws.com"


def callback_url(api_id: str, region: str) -> str:
    return f"https://{api_id}.execute-api.{region}.amazonaws.com/{sf.STAGE_NAME}"


def _api_id() -> str:
    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))


class _Connection:
    """One open WebSocket: its socket and the bounded queue a writer thread drains."""

    def __init__(self, connection_id: str, socket: Any, on_drop: Callable[[str], object]) -> None:
        self.id = connection_id
        self.socket = socket
        self.outbound: queue.Queue[bytes | None] = queue.Queue(OUTBOUND_QUEUE_LIMIT)
        self._on_drop = on_drop
        self.writer = threading.Thread(target=self._write, name=f"ws-writer:{connection_id}", daemon=True)
        self.writer.start()

    def offer(self, data: bytes) -> bool:
        try:
            self.outbound.put_nowait(data)
        except queue.Full:
            self.drop()
            return False
        return True

    def drop(self) -> None:
        self._on_drop(self.id)
        with contextlib.suppress(Exception):
            self.socket.close(1008, "client not reading")
        with contextlib.suppress(queue.Full):
            self.outbound.put_nowait(None)

    def _write(self) -> None:
        while (data := self.outbound.get()) is not None:
            try:
                self.socket.send(data.decode("utf-8"))
            except Exception:  # noqa: BLE001 - a closed socket ends its writer
                return


class LocalStorefront:
    def __init__(self, *, names: definitions.ResourceNames, region: str, account_id: str, host: str, port: int) -> None:
        self.names = names
        self.store = sf.storefront_names(names)
        self.region, self.account_id, self.host = region, account_id, host
        self._ports = (port, port) if port == 0 else (port + 1, port + 2)
        self.http_api_id, self.websocket_api_id = _api_id(), _api_id()
        self.definitions = sf.function_definitions(names, callback_url(self.websocket_api_id, region))
        # The status rule invokes the pusher (EventBridge -> Lambda: the function's permission, SourceArn the rule).
        rule_arn = f"arn:aws:events:{region}:{account_id}:rule/{names.event_bus}/{self.store.status_push_rule}"
        self._push_rule_source = (EVENTS_PRINCIPAL, rule_arn)
        self._runtime: InProcessLambda | None = None
        self._connections: dict[str, _Connection] = {}
        self._lock = threading.Lock()
        self._pushes: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._pending = 0
        self._http: ThreadingHTTPServer | None = None
        self._ws: Any = None
        self._threads: list[threading.Thread] = []
        self.pusher_arn = ""
        self._stopping = False
        self._sessions: set[threading.Thread] = set()
        # CloudFront's cached read, emulated only when asked for (snacks/local/edge_cache.py).
        self.edge_cache: edge_cache.EdgeCache | None = edge_cache.EdgeCache() if edge_cache.enabled() else None

    # -- resources ---------------------------------------------------------------------------

    def provision(self, client: Callable[[str], Any], stripe_api_base: str | None = None) -> None:
        """The connections table, the three functions and the status rule targeting the pusher (storefront-api
        cancels card orders, so it is pointed at the Stripe emulator like order-canceller)."""
        create_connections_table(client("dynamodb"), self.names)
        lambda_, logs, iam = client("lambda"), client("logs"), client("iam")
        code = lambda_asset_zip()
        for definition in self.definitions.values():
            log_group = self.names.function_log_group(definition.name)
            logs.create_log_group(logGroupName=log_group)
            logs.put_retention_policy(logGroupName=log_group, retentionInDays=definitions.LOG_RETENTION_DAYS)
            role = iam.create_role(
                RoleName=f"{definition.name}-role", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
            )
            created = lambda_.create_function(
                FunctionName=definition.name,
                Runtime=definitions.LAMBDA_RUNTIME,
                Architectures=[definitions.LAMBDA_ARCHITECTURE],
                Role=role["Role"]["Arn"],
                Handler=definition.handler,
                Description=definition.description,
                MemorySize=definition.memory_mb,
                Timeout=definition.timeout_seconds,
                Code={"ZipFile": code},
                Environment={"Variables": function_environment(definition, "", definition.name, stripe_api_base)},
                TracingConfig={"Mode": "Active"},
            )
            if definition.name == self.store.pusher_function:
                self.pusher_arn = str(created["FunctionArn"])
        events = client("events")
        events.put_rule(
            Name=self.store.status_push_rule,
            EventBusName=self.names.event_bus,
            EventPattern=json.dumps(definitions.STATUS_EVENT_PATTERN),
            State="ENABLED",
        )
        events.put_targets(
            Rule=self.store.status_push_rule,
            EventBusName=self.names.event_bus,
            Targets=[{"Id": self.store.pusher_function, "Arn": self.pusher_arn}],
        )

    @property
    def functions(self) -> tuple[str, ...]:
        return self.store.functions

    # -- serving -----------------------------------------------------------------------------

    @property
    def http_api_url(self) -> str:
        assert self._http is not None
        return f"http://{self.host}:{self._http.server_address[1]}"

    @property
    def websocket_url(self) -> str:
        assert self._ws is not None
        return f"ws://{self.host}:{self._ws.socket.getsockname()[1]}"

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    @contextmanager
    def serving(self, runtime: InProcessLambda) -> Iterator[None]:
        from moto.apigatewaymanagementapi.models import ApiGatewayManagementApiBackend
        from moto.events.models import Rule
        from websockets.sync.server import serve

        self._runtime = runtime
        storefront = self
        original_send = Rule.send_to_targets

        def send_to_targets(rule: Any, original_event: Any, transform_input: bool = True) -> None:
            ours = [t for t in rule.targets if t["Arn"] == storefront.pusher_arn]
            # With no socket open the pusher would Query, find nothing and post nothing: skipped, so an
            # order costs the local stack no extra invocation unless someone is listening.
            listening = storefront.open_connections > 0
            if ours and listening and rule.state == "ENABLED" and rule.event_pattern.matches_event(original_event):
                storefront._enqueue_push(original_event)
            rest = [t for t in rule.targets if t["Arn"] != storefront.pusher_arn]
            if rest:
                others = copy.copy(rule)
                others.targets = rest
                original_send(others, original_event, transform_input)

        # moto takes the id from the raw path: percent-encoded, as botocore sends it ('=' -> %3D).
        def post_to_connection(backend: Any, data: bytes, connection_id: str) -> None:
            storefront.post(unquote(connection_id), data)

        def get_connection(backend: Any, connection_id: str) -> Any:
            connection_id = unquote(connection_id)
            if connection_id not in storefront._connections:
                raise GoneException(connection_id)
            return type("Connection", (), {"to_dict": lambda self: {"connectedAt": "", "identity": {}}})()

        def delete_connection(backend: Any, connection_id: str) -> None:
            connection = storefront._forget(unquote(connection_id))
            if connection is None:
                raise GoneException(connection_id)
            with contextlib.suppress(Exception):
                connection.socket.close()

        http_port, ws_port = self._ports
        self._http = ThreadingHTTPServer((self.host, http_port), _http_handler(self))
        self._http.daemon_threads = True
        self._ws = serve(
            self._websocket_session,
            self.host,
            ws_port,
            process_request=self._websocket_connect,
            max_size=WEBSOCKET_MESSAGE_LIMIT,
            compression=None,
        )
        self._threads = [
            threading.Thread(target=self._http.serve_forever, name="storefront-http", daemon=True),
            threading.Thread(target=self._ws.serve_forever, name="storefront-ws", daemon=True),
            threading.Thread(target=self._deliver_pushes, name="storefront-pushes", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        try:
            with (
                patched(Rule, "send_to_targets", send_to_targets),
                patched(ApiGatewayManagementApiBackend, "post_to_connection", post_to_connection),
                patched(ApiGatewayManagementApiBackend, "get_connection", get_connection),
                patched(ApiGatewayManagementApiBackend, "delete_connection", delete_connection),
            ):
                yield
        finally:
            self._stopping = True
            self._pushes.put(None)
            self._http.shutdown()
            self._http.server_close()
            self._ws.shutdown()
            for thread in self._threads:
                thread.join(timeout=5)
            for connection_id in list(self._connections):
                connection = self._forget(connection_id)
                if connection is not None:
                    connection.drop()
            # Session threads end with their sockets; none may outlive the stack (they would run
            # handlers, and import, while the next stack in this process starts).
            for session in list(self._sessions):
                session.join(timeout=5)

    # -- Lambda ------------------------------------------------------------------------------

    def invoke(
        self, function_name: str, event: dict[str, Any], invoked_by: tuple[str, str] | None = None
    ) -> tuple[bool, Any]:
        """Run one of the storefront's functions as the service that invokes it on AWS; (errored, parsed
        payload). ``invoked_by`` is (service principal, aws:SourceArn); an API Gateway event names its own."""
        from moto.awslambda.utils import get_backend

        caller = invoked_by or self._api_gateway_source(event)
        if caller is not None and not self._may_invoke(function_name, *caller):
            return True, None  # the service could not invoke the function (API Gateway: a 500)
        assert self._runtime is not None
        function = self._runtime.function(function_name)
        assert function is not None, function_name
        logs_backend = get_backend(self.account_id, self.region).get_function(function_name).logs_backend
        result = self._runtime.invoke(function, event, logs_backend)
        try:
            payload = json.loads(result.payload)
        except ValueError:
            payload = None
        return result.errored, payload

    def _api_gateway_source(self, event: dict[str, Any]) -> tuple[str, str] | None:
        """API Gateway invokes a route's function with ``aws:SourceArn``
        ``arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH`` (HTTP API: the route's path, e.g.
        ``/orders/{id}``) or ``API_ID/STAGE/ROUTE_KEY`` (WebSocket), which the function's permission must
        allow (API Gateway Developer Guide, "Control access to an HTTP API with IAM" / "Lambda
        integrations"; Lambda Developer Guide, "Using resource-based policies", API Gateway example)."""
        context = event.get("requestContext") or {}
        api_id, stage, route = (
            context.get("apiId"),
            context.get("stage"),
            event.get("routeKey") or context.get("routeKey"),
        )
        if not (api_id and stage and route):
            return None
        enforcer = iam_enforcement.active()
        api = enforcer.template_api_id(api_id) if enforcer is not None else api_id
        method, _, path = str(route).partition(" ")
        resource = f"{stage}/{method}{path}" if path else f"{stage}/{route}"
        return API_GATEWAY_PRINCIPAL, f"arn:aws:execute-api:{self.region}:{self.account_id}:{api}/{resource}"

    def _may_invoke(self, function_name: str, principal: str, source_arn: str) -> bool:
        """``lambda:InvokeFunction`` by the service, checked against the function's resource policy."""
        enforcer = iam_enforcement.active()
        if enforcer is None:
            return True
        function_arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{function_name}"
        context = {"aws:SourceArn": source_arn, "aws:SourceAccount": self.account_id}
        request = ActionRequest("lambda:InvokeFunction", function_arn, context)
        try:
            enforcer.authorize(iam_enforcement.Caller(enforcer.service(principal)), [request], "lambda")
        except iam_enforcement.AccessDenied:
            return False
        return True

    def _enqueue_push(self, event: Any) -> None:
        from snacks.local.event_delivery import _as_delivered

        with self._lock:
            self._pending += 1
        self._pushes.put(_as_delivered(dict(event)))

    def _deliver_pushes(self) -> None:
        while (event := self._pushes.get()) is not None:
            try:
                # Async invocation: EventBridge retries a failed one (RetryPolicy); two tries here.
                for _ in range(2):
                    errored, _payload = self.invoke(self.store.pusher_function, event, self._push_rule_source)
                    if not errored:
                        break
            finally:
                with self._lock:
                    self._pending -= 1

    # -- WebSocket ---------------------------------------------------------------------------

    def post(self, connection_id: str, data: bytes) -> None:
        with self._lock:
            connection = self._connections.get(connection_id)
        if connection is None or not connection.offer(bytes(data)):
            raise GoneException(connection_id)

    def _forget(self, connection_id: str) -> _Connection | None:
        with self._lock:
            return self._connections.pop(connection_id, None)

    def _ws_event(self, event_type: str, route: str, socket: Any, **extra: Any) -> dict[str, Any]:
        return websocket_event(
            event_type=event_type,
            route_key=route,
            connection_id=socket.snacks_connection_id,
            connected_at=socket.snacks_connected_at,
            api_id=self.websocket_api_id,
            domain_name=f"{self.websocket_api_id}.execute-api.{self.region}.amazonaws.com",
            stage=sf.STAGE_NAME,
            source_ip=socket.snacks_source_ip,
            **extra,
        )

    def _websocket_connect(self, socket: Any, request: Any) -> Any:
        socket.snacks_connection_id = base64.b64encode(secrets.token_bytes(10)).decode("ascii")
        socket.snacks_connected_at = int(time.time() * 1000)
        socket.snacks_source_ip = str(socket.remote_address[0])
        query = dict(parse_qsl(urlsplit(request.path).query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        event = self._ws_event("CONNECT", "$connect", socket, query=query, headers=headers)
        errored, payload = self.invoke(self.store.sockets_function, event)
        status = int((payload or {}).get("statusCode", 500)) if not errored and isinstance(payload, dict) else 500
        if not 200 <= status < 300:
            return socket.respond(
                status, json.dumps({"message": "Forbidden" if status < 500 else "Internal server error"}) + "\n"
            )
        with self._lock:
            self._connections[socket.snacks_connection_id] = _Connection(
                socket.snacks_connection_id, socket, self._forget
            )
        return None

    def _websocket_session(self, socket: Any) -> None:
        self._sessions.add(threading.current_thread())
        try:
            for message in socket:
                text = message if isinstance(message, str) else base64.b64encode(message).decode("ascii")
                self.invoke(self.store.sockets_function, self._ws_event("MESSAGE", "$default", socket, body=text))
        except Exception:  # noqa: BLE001 - a broken socket is a disconnect
            pass
        finally:
            connection = self._forget(socket.snacks_connection_id)
            if connection is not None:
                with contextlib.suppress(queue.Full):
                    connection.outbound.put_nowait(None)
            if not self._stopping:
                self.invoke(self.store.sockets_function, self._ws_event("DISCONNECT", "$disconnect", socket))
            self._sessions.discard(threading.current_thread())


def _http_handler(storefront: LocalStorefront) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.send_header("apigw-requestid", base64.b32encode(secrets.token_bytes(10)).decode("ascii")[:16])
            self.end_headers()
            self.wfile.write(body)

        def _message(self, status: int, message: str) -> None:
            self._answer(status, json.dumps({"message": message}).encode(), {"content-type": "application/json"})

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            if length > HTTP_PAYLOAD_LIMIT:
                self.close_connection = True
                self._message(413, "Request Entity Too Large")
                return
            body = self.rfile.read(length) if length else b""
            cors = storefront_cors(self.headers.get("origin"))
            if self.command == "OPTIONS" and cors:
                self._answer(204, b"", {**cors, **CORS_PREFLIGHT})
                return
            cache = storefront.edge_cache
            cache_key = cache.key(self.command, split.path, self.headers.items()) if cache else None
            if cache is None or cache_key is None:
                answer = self._origin(split, body, cors)
            else:
                answer, hit = cache.lookup(cache_key, lambda: self._origin(split, body, cors))
                answer = edge_cache.Answer(answer.status, answer.body, {**answer.headers, **edge_cache.x_cache(hit)})
            self._answer(answer.status, answer.body, answer.headers)

        def _origin(self, split: Any, body: bytes, cors: dict[str, str]) -> edge_cache.Answer:
            """The HTTP API's answer: the route's integration, or API Gateway's own 404/500."""
            matched = match_route(self.command, split.path)
            if matched is None:
                return _json_message(404, "Not Found")
            route, parameters = matched
            event = http_api_event(
                method=self.command,
                raw_path=split.path,
                raw_query=split.query,
                headers=list(self.headers.items()),
                body=body,
                route_key=route,
                path_parameters=parameters,
                api_id=storefront.http_api_id,
                domain_name=f"{storefront.http_api_id}.execute-api.{storefront.region}.amazonaws.com",
                stage="$default",
                account_id=storefront.account_id,
                source_ip=str(self.client_address[0]),
            )
            errored, payload = storefront.invoke(storefront.store.api_function, event)
            if errored or not isinstance(payload, dict):
                return _json_message(500, "Internal Server Error")
            if "statusCode" not in payload:  # payload 2.0: a bare object is a 200 JSON body
                payload = {
                    "statusCode": 200,
                    "body": json.dumps(payload),
                    "headers": {"content-type": "application/json"},
                }
            raw = payload.get("body") or ""
            data = base64.b64decode(raw) if payload.get("isBase64Encoded") else str(raw).encode("utf-8")
            headers = {str(k).lower(): str(v) for k, v in (payload.get("headers") or {}).items()}
            return edge_cache.Answer(int(payload["statusCode"]), data, {**headers, **cors})

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

    return Handler


def _json_message(status: int, message: str) -> edge_cache.Answer:
    return edge_cache.Answer(status, json.dumps({"message": message}).encode(), {"content-type": "application/json"})


CORS_ALLOWED_ORIGIN_ENV = "SNACKS_STOREFRONT_ORIGIN"
CORS_PREFLIGHT = {
    "access-control-allow-methods": "GET,POST,OPTIONS",
    "access-control-allow-headers": "authorization,content-type,idempotency-key",
    "access-control-max-age": "600",
}


def storefront_cors(origin: str | None) -> dict[str, str]:
    """The HTTP API's CORS answer for the configured origin (the deployed API's ``-c storefrontOrigin``)."""
    allowed = os.environ.get(CORS_ALLOWED_ORIGIN_ENV, sf.DEFAULT_ALLOWED_ORIGIN)
    if origin and origin == allowed:
        return {"access-control-allow-origin": origin, "vary": "origin"}
    return {}
