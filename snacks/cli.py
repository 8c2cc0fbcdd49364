"""snacks: run the pipeline locally and operate it, locally or on AWS.

    snacks local                      serve the local stack on http://127.0.0.1:4566
    snacks console                    a web console on http://127.0.0.1:4567
    snacks demo                       the order flow end to end on an embedded local stack
    snacks orders create|get|list     orders through the real order-creator / the Orders table
    snacks trace ORDER_ID             every workflow execution of an order, step by step
    snacks reconcile                  re-publish NEW orders that were never processed
    snacks orders cancel ORDER_ID     cancel through the real order-canceller
    snacks dlq list | replay          what failed and why; send it round again
    snacks logs tail FUNCTION         a function's log lines (--follow to keep reading)
    snacks inventory set NAME QTY | list   stock levels (snacks without a record are unlimited)

Against AWS it uses the standard credential chain; against the local stack pass
--endpoint-url http://127.0.0.1:4566 (or set AWS_ENDPOINT_URL). --endpoint-url, --region and
--stage go before or after the command, as with the aws CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import textwrap
import threading
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

from order_service.domain.fulfillment import parse_fault_plan
from order_service.domain.order import OrderRecord, OrderStatus
from order_service.domain.serialization import to_jsonable
from snacks import operations, trace_coverage
from snacks.aws import LOCAL_HEALTH_PATH, Aws
from snacks.errors import STDOUT_CLOSED, UserError, explain
from stacks import definitions

CONSOLE_PORT = 4567
LOCAL_ENDPOINT = "http://127.0.0.1:4566"


def _print_json(value: Any) -> None:
    print(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


def _order_line(order: OrderRecord) -> str:
    status = order.status.value
    lines = len(order.snack_items)
    return f"{order.order_id}  {status:<9}  {order.total_amount:>9}  lines={lines:<3}  created {order.created_at}"


def _checked_order_id(order_id: str) -> str:
    if not order_id.strip():
        raise UserError("the order id is empty: give the orderId that `snacks orders create` or `orders list` printed")
    return order_id.strip()


def _python_bin() -> Path:
    return Path(sys.executable).parent


def cmd_local(args: argparse.Namespace) -> int:
    from snacks.local import DEMO_FAULT_PLAN, LocalStack
    from snacks.local.stack import StartupError

    faults = DEMO_FAULT_PLAN if args.demo_faults else args.faults
    try:
        parse_fault_plan(faults)
    except ValueError as error:
        raise UserError(f"--faults: {error}") from None
    stack = LocalStack(
        host=args.host,
        port=args.port,
        region=args.region or "us-east-1",
        fulfillment_faults=faults,
        log_handler_output=args.verbose,
        state_dir=Path(args.state_dir) if args.state_dir else None,
        stage=args.stage,
        workflow_log_level=args.workflow_log_level,
        iam=args.iam,
        template=Path(args.template) if args.template else None,
    )
    try:
        stack.start()
    except StartupError as error:
        print(f"snacks local: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # A process started in the background by a non-interactive shell inherits SIGINT ignored;
    # Ctrl-C (or a supervisor's SIGINT) must stop the server all the same.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    endpoint = stack.endpoint_url
    console = None
    if args.console:
        from snacks.console.server import ConsoleServer
        from snacks.listening import CannotListen

        aws = Aws(endpoint_url=endpoint, region=stack.region, stage=stack.names.stage)
        try:
            console = ConsoleServer(aws, port=args.console_port).start()
        except CannotListen as error:  # one line, as a busy port of the stack itself
            stack.stop()
            print(f"snacks local: the console {error} (--console-port picks another)", file=sys.stderr)
            return 1
    stage = "" if stack.names.stage == definitions.DEFAULT_STAGE else f", stage {stack.names.stage}"
    print(f"Serverless Snacks local stack on {endpoint} (region {stack.region}{stage}); Ctrl-C to stop.")
    if stack.state_dir is None:
        kept = "state is in memory only (--state-dir DIR keeps it across restarts)"
    else:
        restored = stack.restored
        counts = f"{restored.items} items, {restored.messages} messages restored" if restored else "nothing restored"
        kept = f"state is saved to {stack.state_dir} on stop ({counts})"
    print(
        f"Health: {endpoint}{LOCAL_HEALTH_PATH}. Functions run on this machine's Python {sys.version.split()[0]}"
        f" (not the Lambda runtime they declare); edits under lambdas/ apply on the next invoke; {kept}."
    )
    if stack.iam_mode == "off":
        print("IAM: off (nothing is checked; --iam enforce checks every call against the template's policies).")
    else:
        print(f"IAM: {stack.iam_mode}, permissions from {stack.template}; each denial is explained here.")
    if console is not None:
        print(f"Console: {console.url}")
    if faults:
        print(f"Fulfillment faults: {faults}")
    note = trace_coverage.coverage_note(stack.workflow_logging.level)
    if note:
        print(note)
    print(_banner(endpoint, stack.region, stack.names), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping...", flush=True)
        if console is not None:
            console.stop()
        stack.stop()
    return 0


def local_exports(endpoint: str, region: str) -> str:
    """The one line that points a shell's AWS clients at the local stack: the banner prints it and the
    README shows it for the default endpoint (a test holds them equal). Dummy credentials (the stack
    takes any); no host prefix, which botocore would put before 127.0.0.1 for StartSyncExecution
    ("sync-states..."); no notice from awscli-local's AWS CLI v1 about LocalStack's newer CLI."""
    return (
        f"export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION={region} "
        "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "
        "AWS_DISABLE_HOST_PREFIX_INJECTION=true DISABLE_DEPRECATION_NOTICE=true"
    )


def _banner(endpoint: str, region: str, names: definitions.ResourceNames = definitions.NAMES) -> str:
    """Commands that work pasted into a fresh shell: absolute paths, no placeholders."""
    bin_dir = _python_bin()
    # awslocal (awscli-local) points every aws command at the stack: the bundled AWS CLI v1 ignores
    # AWS_ENDPOINT_URL for some services, SQS among them, and would go to real AWS.
    aws_cli = next((bin_dir / name for name in ("awslocal", "aws") if (bin_dir / name).exists()), Path("aws"))
    snacks_path = bin_dir / "snacks" if (bin_dir / "snacks").exists() else Path("snacks")
    snacks = shlex.quote(str(snacks_path))
    if names.stage != definitions.DEFAULT_STAGE:
        snacks += f" --stage {names.stage}"
    item = {"name": "Pretzels", "quantity": 1, "price": 2.99}
    payload = json.dumps({"customerName": "Alice Smith", "snackItems": [item], "totalAmount": 2.99})
    order_id = f'{shlex.quote(sys.executable)} -c \'import json; print(json.load(open("response.json"))["orderId"])\''
    return f"""
Try, in another terminal:
  # awslocal (awscli-local) points every aws command at this stack, SQS included
  {local_exports(endpoint, region)}
  {shlex.quote(str(aws_cli))} lambda invoke --function-name {names.order_creator} \\
    --payload {shlex.quote(payload)} response.json && cat response.json
  {shlex.quote(str(aws_cli))} dynamodb scan --table-name {names.orders_table}
  {snacks} orders list
  {snacks} trace "$({order_id})"
  {snacks} logs tail {names.order_processor} --follow
"""


def cmd_console(args: argparse.Namespace, aws: Aws) -> int:
    from snacks.console.server import ConsoleServer
    from snacks.listening import CannotListen

    aws.state_machine_arn()  # fail now, in one line, if nothing answers there or the stack is missing
    if args.host not in ("127.0.0.1", "localhost", "::1"):  # 0.0.0.0 binds every interface
        print(
            f"warning: --host {args.host} serves the console beyond this machine, without authentication",
            file=sys.stderr,
        )
    try:
        server = ConsoleServer(aws, host=args.host, port=args.port, allow_writes=args.allow_writes)
    except CannotListen as error:  # one line, as a busy port of the local stack
        print(f"snacks console: {error} (--port picks another)", file=sys.stderr)
        return 1
    mode = "read-write" if server.app.config["SNACKS_WRITABLE"] else "read-only"
    source = aws.endpoint_url or f"AWS region {aws.region}"
    print(f"snacks console on {server.url} ({mode}), reading {source}; Ctrl-C to stop.", flush=True)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from snacks.demo import run_demo

    return run_demo(port=args.port, iam=args.iam, template=Path(args.template) if args.template else None)


def _payload_from(argument: str) -> dict[str, Any]:
    if argument.startswith("@"):
        path = Path(argument[1:])
        try:
            text = path.read_text()
        except OSError as error:
            problem = f"cannot read {path} ({error.strerror})"
            raise UserError(f"--payload {argument}: {problem}; give an existing JSON file") from None
    else:
        text = argument
    try:
        payload = json.loads(text)
    except ValueError as error:
        raise UserError(f"--payload is not valid JSON ({error}); quote it in '...', or use @file.json") from None
    if not isinstance(payload, dict):
        raise UserError("--payload must be a JSON object with customerName, snackItems and totalAmount")
    return payload


def cmd_orders_create(args: argparse.Namespace, aws: Aws) -> int:
    if args.payload:
        payload = _payload_from(args.payload)
    else:
        if not args.customer or not args.item:
            raise UserError("orders create: give --payload JSON, or --customer and one or more --item NAME:QTY:PRICE")
        try:
            total = Decimal(args.total) if args.total else None
        except InvalidOperation:
            raise UserError(f"--total {args.total!r} is not a number; e.g. --total 7.49") from None
        if total is not None and not total.is_finite():
            raise UserError(f"--total {args.total!r} is not a number; e.g. --total 7.49")
        try:
            items = [operations.parse_item(spec) for spec in args.item]
        except ValueError as error:
            raise UserError(f"--item: {error}") from None
        payload = operations.order_payload(args.customer, items, total)
    if args.idempotency_key:
        payload["idempotencyKey"] = args.idempotency_key
    if args.payment_method:
        payload["paymentMethod"] = args.payment_method
    reply = operations.invoke_creator(aws, payload)
    _print_json(reply)
    if reply.get("statusCode") != 201:
        return 1
    if not args.wait:
        return 0
    order = operations.wait_for_final(aws, reply["orderId"], timeout=args.wait)
    if order is None:
        print("order not found while waiting", file=sys.stderr)
        return 1
    print(_order_line(order))
    if order.status is OrderStatus.NEW:
        print(f"still NEW after {args.wait:g} s; `snacks trace {order.order_id}` shows where it is", file=sys.stderr)
        return 1
    # REJECTED and CANCELLED are settled business outcomes, as the option's help says: only FAILED is an error.
    return 1 if order.status is OrderStatus.FAILED else 0


def cmd_orders_get(args: argparse.Namespace, aws: Aws) -> int:
    order_id = _checked_order_id(args.order_id)
    order = operations.get_order(aws, order_id)
    if order is None:
        raise UserError(f"order {order_id} not found; `snacks orders list` shows the orders there are")
    _print_json(order.as_item())
    return 0


def _payment_line(order: OrderRecord) -> str:
    """How the order pays: at pickup, or by card with the provider's state and intent id."""
    payment = order.payment
    if payment is None:
        return "payment: at pickup" if order.payment_method is None else "payment: card, not yet authorized"
    cents = int(payment.get("amount", 0))
    amount = f"{cents // 100}.{cents % 100:02d} {str(payment.get('currency', '')).upper()}"
    return (
        f"payment: card {amount}, {payment.get('status')} ({payment.get('provider')} {payment.get('paymentIntentId')})"
    )


def cmd_orders_list(args: argparse.Namespace, aws: Aws) -> int:
    status = OrderStatus(args.status) if args.status else None
    orders = sorted(operations.list_orders(aws, status), key=lambda order: order.created_at, reverse=True)
    shown = orders[: args.limit] if args.limit else orders
    if shown:
        width = max(len("customer"), *(len(order.customer_name) for order in shown))
        print(f"{'created':<24}  {'customer':<{width}}  {'lines':>5}  {'total':>9}  {'status':<9}  order")
    for order in shown:
        print(
            f"{order.created_at:<24}  {order.customer_name:<{width}}  {len(order.snack_items):>5}  "
            f"{order.total_amount:>9}  {order.status.value:<9}  {order.order_id}"
        )
    more = f" (newest first; {len(orders) - len(shown)} more: raise --limit)" if len(shown) < len(orders) else ""
    print(f"{len(shown)} order(s){more}")
    return 0


def cmd_trace(args: argparse.Namespace, aws: Aws) -> int:
    from snacks.console.executions import ExecutionFinder
    from snacks.trace import build_trace, fetch_history, render_trace

    order_id = _checked_order_id(args.order_id)
    order = operations.get_order(aws, order_id)
    if order is None:
        raise UserError(f"order {order_id} not found; `snacks orders list` shows the orders there are")
    print(_order_line(order))
    print(_payment_line(order))
    if order.failure:
        print(f"failure: {order.failure.get('step')} {order.failure.get('error')}")
    level = trace_coverage.workflow_log_level(aws)
    note = trace_coverage.coverage_note(level)
    if note:
        print(note)
    if not trace_coverage.records_history(level):
        return 0
    # Every execution of the order (a replay, a duplicate, one that met a cancel), found as the console
    # finds them: the order's executionArn names only the one that last wrote it, or none.
    traces = ExecutionFinder(aws).traces_for(order_id)
    if order.execution_arn and order.execution_arn not in {trace.execution_arn for trace in traces}:
        # Below level ALL a run that did not fail logs nothing to be found by; the record still names it.
        traces.append(build_trace(order.execution_arn, fetch_history(aws, order.execution_arn)))
    if not traces:
        where = " in the workflow's log" if note else ""
        # "yet" only while the order is NEW: a settled order gets no further execution on its own.
        yet = " yet" if order.status == OrderStatus.NEW else ""
        print(f"no workflow execution of this order is recorded{where}{yet}")
        return 0
    print(f"{len(traces)} workflow execution(s), oldest first")
    for execution in traces:
        if not execution.steps and not execution.unplaced_failures and note:
            name = execution.execution_arn.rsplit(":", 1)[-1]
            print(f"execution {name}: nothing logged (at level {level} an execution that did not fail leaves no trace)")
        else:
            print(render_trace(execution))
    return 0


def cmd_reconcile(args: argparse.Namespace, aws: Aws) -> int:
    report = operations.reconcile(aws, args.older_than, args.dry_run)
    done = f"would re-publish: {report.stale_found}" if args.dry_run else f"re-published: {report.republished}"
    print(f"stale NEW orders: {report.stale_found}; {done}; publish failures: {report.publish_failures}")
    for order_id in report.order_ids:
        print(f"  {order_id}")
    return 0 if report.publish_failures == 0 else 1


def cmd_dlq_list(args: argparse.Namespace, aws: Aws) -> int:
    from snacks.trace import short_cause

    letters = operations.list_dead_letters(aws)
    live, settled = operations.split_settled(aws, letters)
    groups: dict[tuple[str, str], list[Any]] = {}
    for letter in live:
        groups.setdefault((letter.failed_step or "?", letter.error or "?"), []).append(letter)
    for (step, error), members in sorted(groups.items()):
        print(f"{step} / {error}: {len(members)} message(s)")
        for letter in members:
            print(f"  {letter.order_id or '?':<36}  {letter.kind:<22}  {short_cause(letter.cause, 100)}")
    if settled:
        # Not failures any more: the order was cancelled (or otherwise settled) after it failed.
        print(f"settled since they failed: {len(settled)} message(s); nothing to replay, the next replay removes them")
        for letter, status in settled:
            print(f"  {letter.order_id:<36}  {status.value:<22}  was {letter.failed_step} / {letter.error}")
    in_flight = operations.dead_letters_in_flight(aws)
    print(f"{len(letters)} message(s) in {aws.names.dead_letter_queue}")
    if in_flight:
        print(
            f"{in_flight} more in flight (received by a replay or another reader); "
            "they show again when its visibility timeout ends"
        )
    return 0


def cmd_dlq_replay(args: argparse.Namespace, aws: Aws) -> int:
    order_id = _checked_order_id(args.order_id) if args.order_id is not None else None
    outcomes = operations.replay_dead_letters(aws, order_id, args.dry_run)
    if order_id is not None and not outcomes:
        in_flight = operations.dead_letters_in_flight(aws)
        hidden = f" ({in_flight} message(s) in flight may hold it: try again shortly)" if in_flight else ""
        raise UserError(
            f"no dead letter of order {order_id} is in {aws.names.dead_letter_queue}{hidden}; "
            "`snacks dlq list` shows the orders there are"
        )
    for outcome in outcomes:
        print(f"{outcome.letter.order_id or '?':<36}  {outcome.outcome:<17}  {outcome.detail}")
    print(f"{len(outcomes)} message(s) considered{' (dry run: nothing changed)' if args.dry_run else ''}")
    return 0


def cmd_orders_cancel(args: argparse.Namespace, aws: Aws) -> int:
    reply = operations.invoke_canceller(aws, _checked_order_id(args.order_id))
    _print_json(reply)
    return 0 if reply.get("statusCode") == 200 else 1


def cmd_orders_watch(args: argparse.Namespace, aws: Aws) -> int:
    from snacks.watch import watch_order

    return watch_order(aws, _checked_order_id(args.order_id), timeout=args.timeout)


def cmd_inventory_set(args: argparse.Namespace, aws: Aws) -> int:
    try:
        name = operations.set_stock(aws, args.name, args.quantity)
    except operations.InvalidSnackName as error:  # the rules of an order's snack names, checked before any write
        raise UserError(f"inventory set: the snack name {error}, as in an order's snackItems[].name") from None
    print(f"{name}: {args.quantity} available")
    return 0


def cmd_inventory_list(args: argparse.Namespace, aws: Aws) -> int:
    levels = operations.list_stock(aws)
    for name, units in levels:
        print(f"{units:>8}  {name}")
    print(f"{len(levels)} stock-limited snack(s); snacks without a record are unlimited")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake on one line (exit 2), pointing at --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


class _Help(argparse.RawDescriptionHelpFormatter):
    """Help as written, plus each option's default where it has a real one (not None or a flag's False)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if unset or "default" in text or not action.option_strings:
            return text
        return f"{text} (default: {action.default})"


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port {text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range: use 1-65535 (0: any free port)")
    return port


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{value} must be {minimum} or more")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{value:g} s is out of range: 0-3600")
    return value


def workflow_log_level(text: str) -> str:
    try:
        return definitions.normalise_workflow_log_level(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _aws_options(defaults: bool) -> argparse.ArgumentParser:
    """--endpoint-url / --region / --stage, accepted before or after the command (as the aws CLI does).

    Only the top-level parser sets defaults; after a command they are SUPPRESSed so an option
    given before the command is not reset by the command's own parser.
    """
    common = argparse.ArgumentParser(add_help=False)
    default = None if defaults else argparse.SUPPRESS
    common.add_argument(
        "--endpoint-url", default=default, help="AWS endpoint (default: $AWS_ENDPOINT_URL, else real AWS)"
    )
    common.add_argument("--region", default=default, help="AWS region (default: the standard chain, else us-east-1)")
    common.add_argument(
        "--stage",
        default=default,
        help="which stage's resources (cdk deploy -c stage=NAME; default: $SNACKS_STAGE, else the seed's names)",
    )
    return common


def cmd_logs_tail(args: argparse.Namespace, aws: Aws) -> int:
    from snacks.logs import tail

    try:
        for line in tail(aws, args.function, since_seconds=args.since * 60, follow=args.follow):
            print(line, flush=True)
    except KeyboardInterrupt:
        pass
    return 0


def _iam_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--iam",
        choices=("enforce", "warn", "off"),
        default="enforce",
        help="authorize every call against the template's IAM, resource and key policies (enforce), "
        "only log what would be refused (warn), or check nothing (off)",
    )
    parser.add_argument(
        "--template",
        metavar="FILE",
        help="the synthesized CloudFormation template to take permissions from (default: cdk synth of this "
        "stage, cached in .snacks-cache/)",
    )


def cmd_iam_report(args: argparse.Namespace, aws: Aws) -> int:
    from snacks.iam_report import fetch_usage, render_report

    print(render_report(fetch_usage(aws)), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    options = _aws_options(defaults=False)
    parser = _Parser(prog="snacks", description=__doc__, formatter_class=_Help, parents=[_aws_options(defaults=True)])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(group: Any, name: str, help_text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(
            name, help=help_text, description=help_text, formatter_class=_Help, parents=[options]
        )
        return sub

    local = command(commands, "local", "serve the local stack until Ctrl-C")
    local.add_argument("--host", default="127.0.0.1", help="address to listen on")
    local.add_argument("--port", type=port_number, default=4566, help="port (0: any free port)")
    local.add_argument("--faults", default="", help="FULFILLMENT_FAULTS spec, e.g. 'Doom Donut=permanent'")
    local.add_argument("--demo-faults", action="store_true", help="use the demo's fault plan")
    local.add_argument("--verbose", action="store_true", help="print the handlers' log lines")
    local.add_argument("--state-dir", help="save state here on stop, restore it on start (default: memory only)")
    local.add_argument("--console", action="store_true", help="serve the web console beside the stack")
    local.add_argument("--console-port", type=port_number, default=CONSOLE_PORT, help="the console's port")
    local.add_argument(
        "--workflow-log-level",
        type=workflow_log_level,
        metavar="{ALL,ERROR,OFF}",
        default=definitions.DEFAULT_WORKFLOW_LOG_LEVEL,
        help="the state machine's execution-log level, as cdk deploy -c workflowLogLevel=LEVEL: "
        "ALL (full traces), ERROR (failed steps only) or OFF",
    )
    _iam_options(local)
    local.set_defaults(handler=cmd_local, needs_aws=False)

    console = command(commands, "console", "a web console: orders, executions on the workflow graph, the DLQ")
    console.description = textwrap.fill(
        "A web console: orders, each execution on the workflow graph, the DLQ. It reads the local stack on "
        f"{LOCAL_ENDPOINT} unless given --endpoint-url (or AWS_ENDPOINT_URL), --aws or --profile; against "
        "anything but a local endpoint it is read-only unless --allow-writes.",
        width=88,
        break_on_hyphens=False,
    )
    console.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback: only this machine)")
    console.add_argument("--port", type=port_number, default=CONSOLE_PORT, help="port (0: any free port)")
    console.add_argument("--aws", action="store_true", help="read real AWS, not the local stack")
    console.add_argument("--profile", help="AWS profile to read with (implies --aws)")
    console.add_argument(
        "--allow-writes", action="store_true", help="allow creating orders and replays against a non-local endpoint"
    )
    console.set_defaults(handler=cmd_console, needs_aws=True)

    demo = command(commands, "demo", "run the order flow on an embedded local stack")
    demo.add_argument("--port", type=port_number, default=0, help="port for the embedded stack (0: any free port)")
    _iam_options(demo)
    demo.set_defaults(handler=cmd_demo, needs_aws=False)

    iam = command(commands, "iam", "permissions on the local stack").add_subparsers(
        dest="action", required=True, parser_class=_Parser
    )
    command(iam, "report", "per principal: the actions granted and those used; grants never used").set_defaults(
        handler=cmd_iam_report, needs_aws=True
    )

    orders = command(commands, "orders", "create, get and list orders").add_subparsers(
        dest="action", required=True, parser_class=_Parser
    )
    create = command(orders, "create", "create an order through order-creator")
    create.add_argument("--payload", help="the order as JSON, or @file.json")
    create.add_argument("--customer", help="customerName")
    create.add_argument("--item", action="append", help="NAME:QUANTITY:PRICE (repeatable)")
    create.add_argument("--total", help="totalAmount (default: computed from the items)")
    create.add_argument("--idempotency-key", help="the same key returns the same order")
    create.add_argument(
        "--payment-method",
        help="pay by card: a Stripe PaymentMethod id (test ids: pm_card_visa, pm_card_chargeDeclined); "
        "without it the order is paid at pickup",
    )
    create.add_argument(
        "--wait",
        type=seconds,
        default=0,
        help="seconds to wait for PROCESSED, 0: no wait (exit 1 if FAILED or still NEW)",
    )
    create.set_defaults(handler=cmd_orders_create, needs_aws=True)
    get = command(orders, "get", "show one order")
    get.add_argument("order_id")
    get.set_defaults(handler=cmd_orders_get, needs_aws=True)
    listing = command(orders, "list", "list orders, newest first (by status through the status index)")
    listing.add_argument("--status", choices=[status.value for status in OrderStatus], help="only this status")
    listing.add_argument("--limit", type=positive_int, default=None, help="show at most this many (default: all)")
    listing.set_defaults(handler=cmd_orders_list, needs_aws=True)
    cancel = command(orders, "cancel", "cancel a NEW or FAILED order through order-canceller")
    cancel.add_argument("order_id")
    cancel.set_defaults(handler=cmd_orders_cancel, needs_aws=True)
    watch = command(
        orders,
        "watch",
        "follow one order until it settles, printing each status change and step; "
        "exit 0 PROCESSED, 1 FAILED, 2 no such order, 3 REJECTED or CANCELLED, 4 still NEW at the timeout",
    )
    watch.add_argument("order_id")
    watch.add_argument("--timeout", type=seconds, default=60, help="seconds to wait for the order to settle")
    watch.set_defaults(handler=cmd_orders_watch, needs_aws=True)

    trace = command(commands, "trace", "every workflow execution of an order (as the console shows them), step by step")
    trace.add_argument("order_id")
    trace.set_defaults(handler=cmd_trace, needs_aws=True)

    reconcile = command(commands, "reconcile", "re-publish NEW orders that were never processed")
    reconcile.add_argument(
        "--older-than", type=non_negative_int, default=definitions.STALE_NEW_ORDER_SECONDS, help="seconds"
    )
    reconcile.add_argument("--dry-run", action="store_true", help="say what would be re-published; change nothing")
    reconcile.set_defaults(handler=cmd_reconcile, needs_aws=True)

    dlq = command(commands, "dlq", "the dead-letter queue").add_subparsers(
        dest="action", required=True, parser_class=_Parser
    )
    command(dlq, "list", "what failed, where and why, grouped by step and error").set_defaults(
        handler=cmd_dlq_list, needs_aws=True
    )
    replay = command(dlq, "replay", "FAILED -> NEW and re-publish; a message goes once its replay is accepted")
    replay.add_argument(
        "--order-id", help="only this order's message (default: all); exit 2 if no message of it is in the queue"
    )
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed; change nothing")
    replay.set_defaults(handler=cmd_dlq_replay, needs_aws=True)

    logs = command(commands, "logs", "CloudWatch Logs (aws logs tail, for AWS CLI v1 users)").add_subparsers(
        dest="action", required=True, parser_class=_Parser
    )
    tail = command(logs, "tail", "a function's log lines, oldest first")
    tail.add_argument("function", help="function name (or a log group name starting with /)")
    tail.add_argument("--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    tail.add_argument("--since", type=float, default=10, help="minutes back to start from")
    tail.set_defaults(handler=cmd_logs_tail, needs_aws=True)

    stock = command(commands, "inventory", "stock levels").add_subparsers(
        dest="action", required=True, parser_class=_Parser
    )
    stock_set = command(stock, "set", "set a snack's available units (makes it stock-limited)")
    stock_set.add_argument("name", help="the snack's name, by the rules of an order's snack names (1-100 characters)")
    stock_set.add_argument("quantity", type=non_negative_int)
    stock_set.set_defaults(handler=cmd_inventory_set, needs_aws=True)
    command(stock, "list", "every stock-limited snack").set_defaults(handler=cmd_inventory_list, needs_aws=True)
    return parser


def _endpoint_of(args: argparse.Namespace) -> str | None:
    """The console reads the local stack unless pointed elsewhere; other commands default to AWS."""
    endpoint: str | None = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    if args.command == "console" and endpoint is None and not (args.aws or args.profile):
        return LOCAL_ENDPOINT
    return endpoint


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _run(argv)
        sys.stdout.flush()  # a pipe's reader gone shows here when the output fit in the buffer
    except BrokenPipeError:
        # `snacks ... | head -2`: the reader has what it wanted. Python ignores SIGPIPE and raises this
        # instead; point stdout at devnull so the interpreter's own flush at exit raises nothing
        # more (Python docs, signal module, "Note on SIGPIPE"), and exit as a shell reports SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return STDOUT_CLOSED
    return code


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    aws: Aws | None = None
    try:
        if args.needs_aws:
            profile = getattr(args, "profile", None)
            aws = Aws(endpoint_url=_endpoint_of(args), region=args.region, stage=args.stage, profile=profile)
            return int(args.handler(args, aws))
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        raise
    except Exception as error:  # one line, never a traceback (SNACKS_DEBUG=1 shows it)
        if os.environ.get("SNACKS_DEBUG"):
            raise
        code, message = explain(error, aws)
        print(f"snacks: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
