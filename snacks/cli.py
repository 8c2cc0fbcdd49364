"""``snacks``: run the pipeline locally and operate it, locally or on AWS.

    snacks local                      serve the local stack on http://127.0.0.1:4566
    snacks demo                       the order flow end to end on an embedded local stack
    snacks orders create|get|list     orders through the real order-creator / the Orders table
    snacks orders cancel ORDER_ID     cancel through the real order-canceller
    snacks trace ORDER_ID             an order's workflow execution, step by step
    snacks reconcile                  re-publish NEW orders that were never processed
    snacks dlq list | replay          what failed and why; send it round again
    snacks inventory set NAME QTY | list   stock levels (snacks without a record are unlimited)

Against AWS it uses the standard credential chain; against the local stack pass
``--endpoint-url http://127.0.0.1:4566`` (or set ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from order_service.domain.order import OrderRecord, OrderStatus
from order_service.domain.serialization import to_jsonable
from snacks import operations
from snacks.aws import Aws
from stacks import definitions


def _print_json(value: Any) -> None:
    print(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


def _order_line(order: OrderRecord) -> str:
    items = sum(item.quantity for item in order.snack_items)
    status = order.status.value
    return f"{order.order_id}  {status:<9}  {order.total_amount:>9}  items={items:<3}  created {order.created_at}"


def cmd_local(args: argparse.Namespace) -> int:
    from snacks.local import DEMO_FAULT_PLAN, LocalStack

    faults = DEMO_FAULT_PLAN if args.demo_faults else args.faults
    stack = LocalStack(host=args.host, port=args.port, fulfillment_faults=faults, log_handler_output=args.verbose)
    stack.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # A process started in the background by a non-interactive shell inherits SIGINT ignored;
    # Ctrl-C (or a supervisor's SIGINT) must stop the server all the same.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    endpoint = stack.endpoint_url
    print(f"Serverless Snacks local stack on {endpoint} (region {stack.region}); Ctrl-C to stop.")
    if faults:
        print(f"Fulfillment faults: {faults}")
    print(
        f"""
Try, in another terminal:
  export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION={stack.region}
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
  aws lambda invoke --function-name {definitions.ORDER_CREATOR} \\
    --payload '{{"customerName": "Alice Smith", "snackItems": [{{"name": "Pretzels", "quantity": 1,
               "price": 2.99}}], "totalAmount": 2.99}}' \\
    response.json && cat response.json
  aws dynamodb scan --table-name {definitions.ORDERS_TABLE}
  snacks orders list --status PROCESSED
  snacks trace <orderId>""",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping...", flush=True)
        stack.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from snacks.demo import run_demo

    return run_demo(port=args.port)


def cmd_orders_create(args: argparse.Namespace, aws: Aws) -> int:
    if args.payload:
        text = Path(args.payload[1:]).read_text() if args.payload.startswith("@") else args.payload
        payload = json.loads(text)
    else:
        if not args.customer or not args.item:
            raise SystemExit("orders create: give --payload JSON, or --customer and one or more --item NAME:QTY:PRICE")
        total = Decimal(args.total) if args.total else None
        payload = operations.order_payload(args.customer, [operations.parse_item(spec) for spec in args.item], total)
    if args.idempotency_key:
        payload["idempotencyKey"] = args.idempotency_key
    reply = operations.invoke_creator(aws, payload)
    _print_json(reply)
    if args.wait and reply.get("statusCode") == 201:
        order = operations.wait_for_final(aws, reply["orderId"], timeout=args.wait)
        print(_order_line(order) if order else "order not found")
    return 0 if reply.get("statusCode") == 201 else 1


def cmd_orders_get(args: argparse.Namespace, aws: Aws) -> int:
    order = operations.get_order(aws, args.order_id)
    if order is None:
        print(f"order {args.order_id} not found", file=sys.stderr)
        return 1
    _print_json(order.as_item())
    return 0


def cmd_orders_list(args: argparse.Namespace, aws: Aws) -> int:
    status = OrderStatus(args.status) if args.status else None
    count = 0
    for order in operations.list_orders(aws, status):
        print(_order_line(order))
        count += 1
        if args.limit and count >= args.limit:
            break
    print(f"{count} order(s)")
    return 0


def cmd_orders_cancel(args: argparse.Namespace, aws: Aws) -> int:
    reply = operations.invoke_canceller(aws, args.order_id)
    _print_json(reply)
    return 0 if reply.get("statusCode") == 200 else 1


def cmd_trace(args: argparse.Namespace, aws: Aws) -> int:
    from snacks.trace import build_trace, fetch_history, render_trace

    order = operations.get_order(aws, args.order_id)
    if order is None:
        print(f"order {args.order_id} not found", file=sys.stderr)
        return 1
    print(_order_line(order))
    if order.failure:
        print(f"failure: {order.failure.get('step')} {order.failure.get('error')}")
    if not order.execution_arn:
        print("no workflow execution recorded on the order yet")
        return 0
    print(render_trace(build_trace(order.execution_arn, fetch_history(aws, order.execution_arn))))
    return 0


def cmd_reconcile(args: argparse.Namespace, aws: Aws) -> int:
    report = operations.reconcile(aws, args.older_than, args.dry_run)
    done = f"would re-publish: {report.stale_found}" if args.dry_run else f"re-published: {report.republished}"
    print(f"stale NEW orders: {report.stale_found}; {done}; publish failures: {report.publish_failures}")
    for order_id in report.order_ids:
        print(f"  {order_id}")
    return 0 if report.publish_failures == 0 else 1


def cmd_dlq_list(args: argparse.Namespace, aws: Aws) -> int:
    letters = operations.list_dead_letters(aws)
    in_flight = operations.dead_letters_in_flight(aws)
    for letter in letters:
        print(f"{letter.order_id or '?':<36}  {letter.kind:<22}  {letter.failed_step:<14}  {letter.error}")
        if letter.cause:
            print(f"    cause: {letter.cause[:200]}")
    print(f"{len(letters)} message(s) in {aws.names.dead_letter_queue}")
    if in_flight:
        print(
            f"{in_flight} more in flight (received by a replay or another reader); "
            "they show again when its visibility timeout ends"
        )
    return 0


def cmd_dlq_replay(args: argparse.Namespace, aws: Aws) -> int:
    outcomes = operations.replay_dead_letters(aws, args.order_id, args.dry_run)
    for outcome in outcomes:
        print(f"{outcome.letter.order_id or '?':<36}  {outcome.outcome:<17}  {outcome.detail}")
    print(f"{len(outcomes)} message(s) considered{' (dry run: nothing changed)' if args.dry_run else ''}")
    return 0


def cmd_inventory_set(args: argparse.Namespace, aws: Aws) -> int:
    if args.quantity < 0:
        print("inventory set: QTY must be 0 or more", file=sys.stderr)
        return 2
    operations.set_stock(aws, args.name, args.quantity)
    print(f"{args.name}: {args.quantity} available")
    return 0


def cmd_inventory_list(args: argparse.Namespace, aws: Aws) -> int:
    levels = operations.list_stock(aws)
    for name, units in levels:
        print(f"{units:>8}  {name}")
    print(f"{len(levels)} stock-limited snack(s); snacks without a record are unlimited")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snacks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoint-url", help="AWS endpoint (default: $AWS_ENDPOINT_URL, else real AWS)")
    parser.add_argument("--region", help="AWS region (default: the standard chain, else us-east-1)")
    parser.add_argument(
        "--stage",
        help="which stage's resources (cdk deploy -c stage=NAME; default: $SNACKS_STAGE, else the seed's names)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="serve the local stack until Ctrl-C")
    local.add_argument("--host", default="127.0.0.1")
    local.add_argument("--port", type=int, default=4566)
    local.add_argument("--faults", default="", help="FULFILLMENT_FAULTS spec, e.g. 'Doom Donut=permanent'")
    local.add_argument("--demo-faults", action="store_true", help="use the demo's fault plan")
    local.add_argument("--verbose", action="store_true", help="print the handlers' log lines")
    local.set_defaults(handler=cmd_local, needs_aws=False)

    demo = commands.add_parser("demo", help="run the order flow on an embedded local stack")
    demo.add_argument("--port", type=int, default=0, help="port for the embedded stack (default: any free port)")
    demo.set_defaults(handler=cmd_demo, needs_aws=False)

    orders = commands.add_parser("orders", help="create, get and list orders").add_subparsers(
        dest="action", required=True
    )
    create = orders.add_parser("create", help="create an order through order-creator")
    create.add_argument("--payload", help="the order as JSON, or @file.json")
    create.add_argument("--customer")
    create.add_argument("--item", action="append", help="NAME:QUANTITY:PRICE (repeatable)")
    create.add_argument("--total", help="totalAmount (default: computed from the items)")
    create.add_argument("--idempotency-key")
    create.add_argument("--wait", type=float, default=0, help="seconds to wait for PROCESSED/FAILED")
    create.set_defaults(handler=cmd_orders_create, needs_aws=True)
    get = orders.add_parser("get", help="show one order")
    get.add_argument("order_id")
    get.set_defaults(handler=cmd_orders_get, needs_aws=True)
    listing = orders.add_parser("list", help="list orders (by status through the status index)")
    listing.add_argument("--status", choices=[status.value for status in OrderStatus])
    listing.add_argument("--limit", type=int, default=0)
    listing.set_defaults(handler=cmd_orders_list, needs_aws=True)

    cancel = orders.add_parser("cancel", help="cancel a NEW or FAILED order through order-canceller")
    cancel.add_argument("order_id")
    cancel.set_defaults(handler=cmd_orders_cancel, needs_aws=True)

    trace = commands.add_parser("trace", help="an order's workflow execution, step by step")
    trace.add_argument("order_id")
    trace.set_defaults(handler=cmd_trace, needs_aws=True)

    reconcile = commands.add_parser("reconcile", help="re-publish NEW orders that were never processed")
    reconcile.add_argument("--older-than", type=int, default=definitions.STALE_NEW_ORDER_SECONDS, help="seconds")
    reconcile.add_argument("--dry-run", action="store_true")
    reconcile.set_defaults(handler=cmd_reconcile, needs_aws=True)

    dlq = commands.add_parser("dlq", help="the dead-letter queue").add_subparsers(dest="action", required=True)
    dlq.add_parser("list", help="what failed, where and why").set_defaults(handler=cmd_dlq_list, needs_aws=True)
    replay = dlq.add_parser("replay", help="FAILED -> NEW and re-publish; a message goes once its replay is accepted")
    replay.add_argument("--order-id")
    replay.add_argument("--dry-run", action="store_true")
    replay.set_defaults(handler=cmd_dlq_replay, needs_aws=True)

    stock = commands.add_parser("inventory", help="stock levels").add_subparsers(dest="action", required=True)
    stock_set = stock.add_parser("set", help="set a snack's available units (makes it stock-limited)")
    stock_set.add_argument("name")
    stock_set.add_argument("quantity", type=int)
    stock_set.set_defaults(handler=cmd_inventory_set, needs_aws=True)
    stock.add_parser("list", help="every stock-limited snack").set_defaults(handler=cmd_inventory_list, needs_aws=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.needs_aws:
        return int(args.handler(args, Aws(endpoint_url=args.endpoint_url, region=args.region, stage=args.stage)))
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
