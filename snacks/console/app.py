"""The console's web app: orders, one order's executions on the workflow graph, dead letters.

Flask serves it and Jinja2 renders it (both already come with moto's server); Flask-WTF guards
every POST with a CSRF token. It reads and writes through the same code the CLI uses
(``snacks.operations``), so it sees exactly what ``snacks`` sees.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError
from flask import Flask, Response, abort, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from order_service.domain.errors import DependencyThrottled
from order_service.domain.order import OrderRecord, OrderStatus
from order_service.domain.order_recovery import DeadLetter
from order_service.domain.serialization import to_jsonable
from snacks import operations, trace_coverage
from snacks.aws import Aws, is_loopback
from snacks.console.executions import ExecutionFinder
from snacks.console.forms import OrderForm, attach_errors, payload_of, read_form
from snacks.console.graph import workflow_graph
from stacks import definitions

# Order ids are UUIDs; anything else is refused before it reaches an AWS call (or a log filter).
ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
MAX_BODY_BYTES = 16 * 1024  # the create form is well under 2 KB
MAX_LISTED_ORDERS = 500
CAUSE_PREVIEW_CHARS = 160

log = logging.getLogger("snacks.console")


def create_app(aws: Aws, allow_writes: bool = False) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),  # per process: a restart invalidates open forms, nothing else
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_SAMESITE="Strict",
    )
    CSRFProtect(app)
    writable = allow_writes or is_loopback(aws.endpoint_url)
    app.config["SNACKS_WRITABLE"] = writable
    finder = ExecutionFinder(aws)
    graph = workflow_graph(definitions.load_asl()).as_json()

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "writable": writable,
            "endpoint": aws.endpoint_url or f"AWS ({aws.region})",
            "statuses": [status.value for status in OrderStatus],
        }

    def require_writes() -> None:
        if not writable:
            abort(403, "This console is read-only against a non-local endpoint; start it with --allow-writes.")

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("orders"))  # type: ignore[return-value]

    @app.get("/orders")
    def orders() -> str:
        status = _status_filter()
        return render_template("orders.html", rows=_order_rows(aws, status), status=status.value if status else "")

    @app.get("/api/orders")
    def orders_json() -> Response:
        return jsonify(_order_rows(aws, _status_filter()))

    def traced(order_id: str) -> tuple[list[dict[str, Any]], str | None, str | None]:
        """The order's executions, the workflow's log level and what a trace cannot show at it."""
        level = trace_coverage.workflow_log_level(aws)
        executions = finder.for_order(order_id) if trace_coverage.records_history(level) else []
        return executions, level, trace_coverage.coverage_note(level)

    @app.get("/orders/<order_id>")
    def order(order_id: str) -> str:
        record = _order_or_404(aws, order_id)
        executions, _, coverage = traced(record.order_id)
        return render_template(
            "order.html",
            order=record,
            item=to_jsonable(record.as_item()),
            executions=executions,
            coverage=coverage,
            graph=graph,
        )

    @app.get("/api/orders/<order_id>")
    def order_json(order_id: str) -> Response:
        record = _order_or_404(aws, order_id)
        executions, level, coverage = traced(record.order_id)
        return jsonify(
            {
                "order": to_jsonable(record.as_item()),
                "executions": executions,
                "workflowLogLevel": level,
                "traceCoverage": coverage,
            }
        )

    @app.route("/orders/new", methods=["GET", "POST"])
    def new_order() -> Any:
        if request.method == "GET":
            return render_template("new_order.html", form=OrderForm())
        require_writes()
        form = read_form(request.form)
        payload, rows = payload_of(form)
        reply = operations.invoke_creator(aws, payload)
        if reply.get("statusCode") == 201:
            log.info("order %s created from the console", reply.get("orderId"))
            return redirect(url_for("order", order_id=reply["orderId"]), code=303)
        attach_errors(form, list(reply.get("details") or []), rows)
        if not form.errors:
            form.errors["form"] = [f"{reply.get('error', 'Error')}: {reply.get('message', 'the order was refused')}"]
        return render_template("new_order.html", form=form), int(reply.get("statusCode") or 400)

    @app.get("/dlq")
    def dlq() -> str:
        letters = operations.list_dead_letters(aws)
        # A letter of an order settled since (cancelled after it failed) is no failure: shown apart, no replay.
        live, settled = operations.split_settled(aws, letters)
        return render_template(
            "dlq.html", groups=_grouped(live), settled=settled, count=len(letters), live_count=len(live)
        )

    @app.get("/dlq/replay")
    def confirm_replay() -> str:
        require_writes()
        order_id = _replay_target(request.args)
        letters = [
            letter for letter in operations.list_dead_letters(aws) if order_id is None or letter.order_id == order_id
        ]
        if order_id is not None and not letters:
            abort(404, f"No dead letter for order {order_id}.")
        live, settled = operations.split_settled(aws, letters)
        if order_id is not None and not live:
            status = settled[0][1].value
            abort(409, f"Order {order_id} is {status}: nothing to replay (a replay never re-runs a settled order).")
        return render_template("confirm_replay.html", letters=live, settled=settled, order_id=order_id)

    @app.post("/dlq/replay")
    def replay() -> str:
        require_writes()
        order_id = _replay_target(request.form)
        if request.form.get("confirm") != "yes":
            abort(400, "Replaying needs the confirmation; use the Replay button on the dead letters page.")
        outcomes = operations.replay_dead_letters(aws, order_id, dry_run=False)
        log.info("replayed dead letters: %s", ", ".join(f"{o.letter.order_id}={o.outcome}" for o in outcomes))
        return render_template("replayed.html", outcomes=outcomes)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        log.warning("refused a POST without a valid CSRF token: %s", error.description)
        message = "The form was stale or came from another page (missing or invalid CSRF token). Reload and retry."
        return render_template("error.html", code=400, title="Bad request", message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        return render_template("error.html", code=code, title=error.name, message=error.description), code

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        code, message = _explain(error, aws)
        # The type only: messages of AWS errors can echo request data.
        log.error("%s %s failed: %s", request.method, request.path, type(error).__name__)
        return render_template(
            "error.html", code=code, title="Unavailable" if code == 503 else "Error", message=message
        ), code

    return app


def _status_filter() -> OrderStatus | None:
    value = request.args.get("status", "")
    if not value:
        return None
    try:
        return OrderStatus(value)
    except ValueError:
        abort(400, f"Unknown status {value[:40]!r}; use one of {', '.join(s.value for s in OrderStatus)}.")


def _order_or_404(aws: Aws, order_id: str) -> OrderRecord:
    if not ORDER_ID.match(order_id):
        abort(400, "That is not an order id (order ids look like 0b6e2a4c-...).")
    record = operations.get_order(aws, order_id)
    if record is None:
        abort(404, f"No order {order_id}.")
    return record


def _replay_target(values: Any) -> str | None:
    scope = values.get("scope", "")
    if scope == "all":
        return None
    order_id = str(values.get("orderId", ""))
    if scope != "one" or not ORDER_ID.match(order_id):
        abort(400, "Say what to replay: scope=all, or scope=one with an orderId.")
    return order_id


def _order_rows(aws: Aws, status: OrderStatus | None) -> list[dict[str, Any]]:
    records = sorted(operations.list_orders(aws, status), key=lambda order: order.created_at, reverse=True)
    now = datetime.now(UTC)
    return [
        {
            "orderId": order.order_id,
            "createdAt": order.created_at,
            "customer": order.customer_name,
            "lines": len(order.snack_items),
            "total": str(order.total_amount),
            "status": order.status.value,
            "ageSeconds": max(0, int((now - _parse(order.created_at)).total_seconds())),
        }
        for order in records[:MAX_LISTED_ORDERS]
    ]


def _grouped(letters: list[DeadLetter]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[DeadLetter]] = defaultdict(list)
    for letter in letters:
        groups[(letter.failed_step or "?", letter.error or "?")].append(letter)
    return [
        {"step": step, "error": error, "letters": members, "preview": _readable_cause(members[0].cause)}
        for (step, error), members in sorted(groups.items())
    ]


def _readable_cause(cause: str) -> str:
    from snacks.trace import short_cause

    return short_cause(cause, CAUSE_PREVIEW_CHARS)


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def _explain(error: Exception, aws: Aws) -> tuple[int, str]:
    cause = error.__cause__ if isinstance(error, DependencyThrottled) else error
    if isinstance(cause, EndpointConnectionError):
        hint = " Start it with `snacks local`." if is_loopback(aws.endpoint_url) else ""
        return 503, f"Nothing is answering at {aws.endpoint_url or 'AWS'}.{hint}"
    if isinstance(error, NoCredentialsError):
        return 503, "No AWS credentials found: set a profile (AWS_PROFILE) or keys, or use the local stack."
    if isinstance(error, LookupError):
        return 503, str(error)
    if isinstance(error, (ClientError, BotoCoreError)):
        return 502, f"AWS refused the request ({type(error).__name__}); see the console's log for the request."
    return 500, "Something went wrong in the console; the server log names the request."
