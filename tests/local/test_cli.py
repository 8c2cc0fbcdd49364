"""The ``snacks`` CLI against a local stack: every command, as an operator types it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from order_service.domain.order import OrderRecord, OrderRequest, SnackItem
from snacks import operations
from snacks.aws import Aws
from snacks.cli import main
from stacks import definitions

FAULTS = "Doom Donut=permanent"


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from snacks.local import LocalStack

    with LocalStack(port=0, fulfillment_faults=FAULTS, virtual_time=True) as local:
        yield local


def snacks(stack: Any, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["--endpoint-url", stack.endpoint_url, "--region", stack.region, *argv])
    return code, capsys.readouterr().out


def created_order_id(output: str) -> str:
    reply = json.loads(output[: output.rindex("}") + 1])
    return str(reply["orderId"])


def test_orders_create_with_items_waits_for_processed_then_get_list_and_trace(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = snacks(
        stack, capsys, "orders", "create", "--customer", "Bob Wilson", "--item", "Nuts:3:5.99", "--wait", "20"
    )
    assert code == 0
    order_id = created_order_id(out)
    assert re.search(rf"{order_id}\s+PROCESSED\s+17.97", out)

    code, out = snacks(stack, capsys, "orders", "get", order_id)
    record = json.loads(out)
    assert code == 0 and record["status"] == "PROCESSED" and record["totalAmount"] == 17.97

    code, out = snacks(stack, capsys, "orders", "list", "--status", "PROCESSED")
    assert code == 0 and order_id in out

    code, out = snacks(stack, capsys, "trace", order_id)
    assert code == 0
    for step in ("Validate", "Fulfil", "MarkProcessed"):
        assert step in out


def test_orders_create_rejects_an_invalid_payload_with_exit_1(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    payload = json.dumps({"customerName": "", "snackItems": [], "totalAmount": 0})
    code, out = snacks(stack, capsys, "orders", "create", "--payload", payload)
    reply = json.loads(out)
    assert code == 1 and reply["statusCode"] == 400
    assert {detail["field"] for detail in reply["details"]} >= {"customerName", "snackItems"}


def test_get_and_trace_of_an_unknown_order_are_user_mistakes_exit_2(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["orders", "get"], ["trace"]):
        assert main(["--endpoint-url", stack.endpoint_url, *command, "no-such-order"]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "no-such-order not found" in error and "orders list" in error


def test_failed_order_shows_in_dlq_list_and_replay_dry_run_changes_nothing(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = snacks(
        stack, capsys, "orders", "create", "--customer", "Dan Doom", "--item", "Doom Donut:1:2.50", "--wait", "20"
    )
    order_id = created_order_id(out)
    assert code == 1 and re.search(rf"{order_id}\s+FAILED", out)  # created; --wait says it did not end PROCESSED

    code, out = snacks(stack, capsys, "dlq", "list")
    assert code == 0 and re.search(
        rf"^Fulfil / FulfillmentRejected: \d+ message\(s\)\n(  .*\n)*  {order_id} ", out, re.M
    )

    code, out = snacks(stack, capsys, "dlq", "replay", "--order-id", order_id, "--dry-run")
    assert code == 0 and "dry run: nothing changed" in out
    code, out = snacks(stack, capsys, "dlq", "list")
    assert code == 0 and order_id in out
    code, out = snacks(stack, capsys, "orders", "get", order_id)
    assert code == 0 and json.loads(out)["status"] == "FAILED"


def executions_of_the_workflow(stack: Any) -> list[str]:
    """Every execution the state machine has had, from their ExecutionStarted records in its log group
    (the outside view: Step Functions does not list EXPRESS executions)."""
    logs = stack.client("logs")
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=definitions.STATE_MACHINE_LOG_GROUP)
    started = (json.loads(line["message"]) for page in pages for line in page["events"])
    return sorted({record["execution_arn"] for record in started if record["type"] == "ExecutionStarted"})


def status_of(stack: Any, capsys: pytest.CaptureFixture[str], order_id: str) -> str:
    code, out = snacks(stack, capsys, "orders", "get", order_id)
    assert code == 0, out
    return str(json.loads(out)["status"])


def stale_new_order(stack: Any) -> str:
    """An order written NEW whose Order Created event was never published (a creator that died
    between PutItem and PutEvents): exactly what reconcile exists to find."""
    order_id = f"stale-{uuid.uuid4()}"
    request = OrderRequest("Sam Stale", (SnackItem("Nuts", 1, Decimal("2.50")),), Decimal("2.50"))
    record = OrderRecord.new(order_id, request, datetime.now(UTC) - timedelta(minutes=10))
    aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
    operations.repository(aws).create(record)
    return order_id


def test_reconcile_dry_run_lists_stale_new_orders_without_publishing(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = [stale_new_order(stack), stale_new_order(stack)]
    stack.wait_until_idle(timeout=20)
    executions_before = executions_of_the_workflow(stack)

    code, out = snacks(stack, capsys, "reconcile", "--older-than", "0", "--dry-run")
    assert code == 0 and out.startswith("stale NEW orders:") and "would re-publish" in out
    assert all(order_id in out for order_id in stale), out
    stack.wait_until_idle(timeout=20)
    # Nothing was published: no execution started, both orders still NEW.
    assert executions_of_the_workflow(stack) == executions_before
    for order_id in stale:
        assert status_of(stack, capsys, order_id) == "NEW"

    # The same observation sees a real reconcile publish (so the check above can fail).
    code, out = snacks(stack, capsys, "reconcile", "--older-than", "0")
    assert code == 0 and "re-published: " in out
    stack.wait_until_idle(timeout=20)
    assert len(executions_of_the_workflow(stack)) >= len(executions_before) + len(stale)
    for order_id in stale:
        assert status_of(stack, capsys, order_id) == "PROCESSED"


def test_snacks_local_serves_the_aws_cli_and_stops_cleanly_on_ctrl_c(tmp_path: Any) -> None:
    # Port 0: the system picks a free port (tests run in parallel processes; a probed port could be
    # taken by another before this server binds it). The banner says which one.
    server = subprocess.Popen(
        [sys.executable, "-m", "snacks.cli", "local", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        endpoint = re.search(r"http://127\.0\.0\.1:(\d+)", banner)
        assert endpoint, banner
        port = int(endpoint.group(1))
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        aws = [sys.executable, "-m", "awscli"]
        listed = subprocess.run(
            [*aws, "dynamodb", "list-tables"], env=env, capture_output=True, text=True, timeout=60, check=True
        )
        assert definitions.ORDERS_TABLE in json.loads(listed.stdout)["TableNames"]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert server.returncode == 0, output
    assert "stopping" in output
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                break
        time.sleep(0.1)
    else:
        pytest.fail("the port is still open after snacks local stopped")


def test_inventory_set_and_list_limit_what_orders_can_take(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = snacks(stack, capsys, "inventory", "set", "Rare Raisins", "1")
    assert code == 0 and "Rare Raisins: 1 available" in out
    code, out = snacks(stack, capsys, "inventory", "list")
    assert code == 0 and re.search(r"^\s+1  Rare Raisins$", out, re.MULTILINE)

    code, out = snacks(
        stack,
        capsys,
        "orders",
        "create",
        "--customer",
        "Stock Checker",
        "--item",
        "Rare Raisins:2:1.00",
        "--wait",
        "20",
    )
    # REJECTED is a settled outcome, not a failure: --wait exits 1 only for FAILED or still NEW.
    assert code == 0 and re.search(rf"{created_order_id(out)}\s+REJECTED", out)
    code, out = snacks(
        stack,
        capsys,
        "orders",
        "create",
        "--customer",
        "Stock Checker",
        "--item",
        "Rare Raisins:1:1.00",
        "--wait",
        "20",
    )
    assert code == 0 and re.search(rf"{created_order_id(out)}\s+PROCESSED", out)
    code, out = snacks(stack, capsys, "inventory", "list")
    assert re.search(r"^\s+0  Rare Raisins$", out, re.MULTILINE)
    with pytest.raises(SystemExit) as usage_error:  # a user mistake: one line, exit 2
        snacks(stack, capsys, "inventory", "set", "Rare Raisins", "-1")
    assert usage_error.value.code == 2
    assert "must be 0 or more" in capsys.readouterr().err


def test_orders_cancel_a_failed_order_then_again_and_an_unknown_one(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = snacks(
        stack, capsys, "orders", "create", "--customer", "Cancel Me", "--item", "Doom Donut:1:2.00", "--wait", "20"
    )
    order_id = created_order_id(out)
    assert re.search(rf"{order_id}\s+FAILED", out)

    code, out = snacks(stack, capsys, "orders", "cancel", order_id)
    reply = json.loads(out)
    assert code == 0 and (reply["statusCode"], reply["status"], reply["changed"]) == (200, "CANCELLED", True)
    code, out = snacks(stack, capsys, "orders", "cancel", order_id)
    assert code == 0 and json.loads(out)["changed"] is False
    code, out = snacks(stack, capsys, "orders", "cancel", "no-such-order")
    assert code == 1 and json.loads(out)["statusCode"] == 404


def _created(stack: Any, capsys: pytest.CaptureFixture[str], item: str) -> str:
    code, out = snacks(stack, capsys, "orders", "create", "--customer", "Watch Tester", "--item", item)
    assert code == 0
    return created_order_id(out)


def test_orders_watch_follows_an_order_until_it_settles(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit codes: 0 PROCESSED, 1 FAILED, 3 REJECTED or CANCELLED, 4 still NEW at the timeout."""
    order_id = _created(stack, capsys, "Watched Walnuts:1:1.00")
    code, out = snacks(stack, capsys, "orders", "watch", order_id, "--timeout", "20")
    assert code == 0, out
    assert "status PROCESSED" in out
    steps = re.findall(r"step   (\w+) ", out)
    assert steps[:3] == ["Validate", "Fulfil", "InStock"] and "MarkProcessed" in steps

    code, out = snacks(
        stack, capsys, "orders", "watch", _created(stack, capsys, "Doom Donut:1:2.00"), "--timeout", "20"
    )
    assert code == 1 and "status FAILED  (Fulfil: FulfillmentRejected)" in out, out

    assert snacks(stack, capsys, "inventory", "set", "Watched Wafers", "0")[0] == 0
    code, out = snacks(stack, capsys, "orders", "watch", _created(stack, capsys, "Watched Wafers:1:1.00"))
    assert code == 3 and "status REJECTED  (OutOfStock)" in out, out


def test_orders_watch_gives_up_on_an_order_still_new(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from order_service.domain.order import OrderRecord, OrderRequest, SnackItem
    from snacks import operations
    from snacks.aws import Aws

    aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
    item = SnackItem(name="Stalled Strudel", quantity=1, price=Decimal("1.00"))
    request = OrderRequest(customer_name="Watch Tester", snack_items=(item,), total_amount=Decimal("1.00"))
    order_id = "watch-never-published"
    operations.repository(aws).create(OrderRecord.new(order_id, request, datetime.now(UTC)))  # no event: stays NEW
    code, out = snacks(stack, capsys, "orders", "watch", order_id, "--timeout", "0.5")
    assert code == 4 and "status NEW" in out and "still NEW after 0.5 s" in out, out


# --- what a newcomer tripped over (issue 17, items 13-15 and 19) --------------------------------------


def failed_order(stack: Any, capsys: pytest.CaptureFixture[str], customer: str) -> str:
    code, out = snacks(
        stack, capsys, "orders", "create", "--customer", customer, "--item", "Doom Donut:1:2.50", "--wait", "20"
    )
    assert code == 1 and " FAILED " in out, out
    return created_order_id(out)


def test_trace_lists_every_execution_of_a_replayed_order_as_the_console_does(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The order's executionArn names only the execution that last wrote it; the trace shows both."""
    from snacks.console.executions import ExecutionFinder

    order_id = failed_order(stack, capsys, "Rita Replay")
    code, out = snacks(stack, capsys, "dlq", "replay", "--order-id", order_id)
    assert code == 0 and "replayed" in out, out
    aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
    again = operations.wait_for_final(aws, order_id, timeout=20)
    assert again is not None and again.status.value == "FAILED"  # Doom Donut fails for good, twice

    code, out = snacks(stack, capsys, "trace", order_id)
    assert code == 0 and "2 workflow execution(s), oldest first" in out, out
    shown = re.findall(r"^execution (\S+)  (\w+)", out, re.M)
    console = [(execution["name"], execution["status"]) for execution in ExecutionFinder(aws).for_order(order_id)]
    assert shown == console and [status for _, status in shown] == ["FAILED", "FAILED"]
    assert len({name for name, _ in shown}) == 2


def test_trace_says_yet_only_of_a_new_order_and_shows_the_execution_that_met_a_cancel(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cancelled order's record names no execution (the workflow that met the cancel ends in its
    Cancelled state without writing the order): the trace still finds it, and never says "yet" of an
    order that is over."""
    from order_service.adapters.eventbridge_publisher import EventBridgePublisher
    from order_service.domain.events import OrderCreated

    order_id = stale_new_order(stack)  # NEW, its event never published
    code, out = snacks(stack, capsys, "trace", order_id)
    assert code == 0 and "no workflow execution of this order is recorded yet" in out, out

    assert snacks(stack, capsys, "orders", "cancel", order_id)[0] == 0
    code, out = snacks(stack, capsys, "trace", order_id)
    assert code == 0 and "no workflow execution of this order is recorded\n" in out and "yet" not in out, out

    aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
    record = operations.get_order(aws, order_id)
    assert record is not None and record.execution_arn is None
    # Its event arrives late (a reconciler's re-publish raced the cancel): the workflow runs and meets it.
    EventBridgePublisher(aws.client("events"), aws.names.event_bus).publish_order_created(
        OrderCreated.from_record(record)
    )
    deadline = time.monotonic() + 30
    while "SUCCEEDED" not in (out := snacks(stack, capsys, "trace", order_id)[1]):
        assert time.monotonic() < deadline, out
        time.sleep(0.1)
    assert "1 workflow execution(s)" in out and re.search(r"^  AlreadySettled\s", out, re.M), out


def test_orders_watch_exits_3_for_a_cancelled_order_and_2_for_an_unknown_one(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """CANCELLED is settled, nothing delivered: 3, never PROCESSED's 0 nor FAILED's 1. An unknown id is
    the user's mistake (2), not FAILED's 1."""
    order_id = failed_order(stack, capsys, "Wanda Watch")
    assert snacks(stack, capsys, "orders", "cancel", order_id)[0] == 0
    code, out = snacks(stack, capsys, "orders", "watch", order_id, "--timeout", "5")
    assert code == 3 and "status CANCELLED" in out, out

    code = main(["--endpoint-url", stack.endpoint_url, "orders", "watch", "no-such-order", "--timeout", "5"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err == ("snacks: order no-such-order not found; `snacks orders list` shows the orders there are\n")


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "the snack name must not be empty"),
        ("   ", "the snack name must not be empty"),
        ("x" * 101, "the snack name must be at most 100 characters (got 101)"),
        ("Bad\x07Bell", "the snack name must not contain control characters"),
    ],
)
def test_inventory_set_refuses_a_bad_snack_name_by_the_orders_rules_and_writes_nothing(
    stack: Any, capsys: pytest.CaptureFixture[str], name: str, says: str
) -> None:
    before = snacks(stack, capsys, "inventory", "list")[1]
    code = main(["--endpoint-url", stack.endpoint_url, "inventory", "set", name, "5"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and captured.err.count("\n") == 1
    assert f"snacks: inventory set: {says}, as in an order's snackItems[].name" in captured.err
    assert snacks(stack, capsys, "inventory", "list")[1] == before


def test_inventory_set_stores_the_name_as_an_order_carries_it(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The creator trims an order's snack names: stock set for "  Trim Toffee " must be what orders take."""
    code, out = snacks(stack, capsys, "inventory", "set", "  Trim Toffee ", "0")
    assert code == 0 and out == "Trim Toffee: 0 available\n"
    code, out = snacks(
        stack, capsys, "orders", "create", "--customer", "Tim", "--item", "Trim Toffee:1:1.00", "--wait", "20"
    )
    assert code == 0 and re.search(rf"{created_order_id(out)}\s+REJECTED", out), out


def test_dlq_replay_of_an_order_with_no_dead_letter_says_so_and_exits_2(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    for order_id in ("no-such-order", _created(stack, capsys, "Nuts:1:1.00")):
        code = main(["--endpoint-url", stack.endpoint_url, "dlq", "replay", "--order-id", order_id])
        captured = capsys.readouterr()
        assert code == 2 and captured.out == "" and captured.err.count("\n") == 1
        assert f"no dead letter of order {order_id} is in {definitions.DEAD_LETTER_QUEUE}" in captured.err


def test_a_cancelled_failed_orders_dead_letter_is_listed_as_settled_not_as_a_failure(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    order_id = failed_order(stack, capsys, "Carl Cancel")
    live = failed_order(stack, capsys, "Lena Live")
    assert snacks(stack, capsys, "orders", "cancel", order_id)[0] == 0

    code, out = snacks(stack, capsys, "dlq", "list")
    assert code == 0
    failures, _, settled = out.partition("settled since they failed: ")
    assert live in failures and order_id not in failures
    assert re.search(rf"^  {order_id}\s+CANCELLED\s+was Fulfil / FulfillmentRejected$", settled, re.M), out

    # Replay refuses it (nothing re-published, the order stays CANCELLED) and removes the stale message.
    code, out = snacks(stack, capsys, "dlq", "replay", "--order-id", order_id)
    assert code == 0 and re.search(rf"^{order_id}\s+already-settled\s+order is CANCELLED", out, re.M), out
    assert status_of(stack, capsys, order_id) == "CANCELLED"
    assert order_id not in snacks(stack, capsys, "dlq", "list")[1]


def test_a_reader_that_closes_the_pipe_ends_snacks_quietly(stack: Any) -> None:
    """`snacks orders list | head -2`: the reader is gone before snacks writes. Exit 141 (128 + SIGPIPE,
    what a shell reports for a command SIGPIPE killed), nothing on stderr (Python docs, signal module,
    "Note on SIGPIPE")."""
    for argv in (
        ["orders", "list", "--endpoint-url", stack.endpoint_url],
        ["dlq", "list", "--endpoint-url", stack.endpoint_url],
    ):
        reader, writer = os.pipe()
        os.close(reader)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "snacks.cli", *argv],
                stdout=writer,
                stderr=subprocess.PIPE,
                text=True,
                timeout=120,
            )
        finally:
            os.close(writer)
        assert (done.returncode, done.stderr) == (141, ""), argv
