"""A CLI that never shows a traceback: one line that says what to do, and an exit code that says whose move.

User mistakes exit 2, environment problems exit 1 (the convention of argparse and of the aws CLI,
whose usage errors are 2 and whose service errors are 1-255: "AWS CLI return codes", AWS CLI
User Guide).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from snacks.cli import build_parser, main
from stacks import definitions

FAULTS = "Doom Donut=permanent"


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from snacks.local import LocalStack

    with LocalStack(port=0, fulfillment_faults=FAULTS, virtual_time=True) as local:
        yield local


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse's own exit (usage mistakes, --help)
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    return err


def local(stack: Any) -> list[str]:
    return ["--endpoint-url", stack.endpoint_url, "--region", stack.region]


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--customer", "Ann", "--item", "Chips"], "use NAME:QUANTITY:PRICE"),
        (["--customer", "Ann", "--item", "Chips:two:3.99"], "quantity 'two' is not a whole number"),
        (["--customer", "Ann", "--item", "Chips:2:cheap"], "price 'cheap' is not a number"),
        (["--customer", "Ann", "--item", "Chips:2:NaN"], "price 'NaN' is not a number"),
        (["--customer", "Ann", "--item", "Chips:2:3.99", "--total", "lots"], "--total 'lots' is not a number"),
        (["--payload", '{"customerName": '], "--payload is not valid JSON"),
        (["--payload", "[1, 2]"], "must be a JSON object"),
        (["--payload", "@/nonexistent/order.json"], "cannot read /nonexistent/order.json"),
        ([], "give --payload JSON, or --customer and one or more --item"),
    ],
)
def test_order_create_mistakes_are_one_line_and_exit_2(
    stack: Any, capsys: pytest.CaptureFixture[str], arguments: list[str], says: str
) -> None:
    code, out, err = run(capsys, *local(stack), "orders", "create", *arguments)
    assert code == 2 and out == ""
    assert says in one_line(err)


def test_unknown_and_empty_order_ids_are_user_mistakes(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["orders", "get"], ["trace"]):
        code, _, err = run(capsys, *local(stack), *command, "no-such-order")
        assert code == 2 and "no-such-order not found" in one_line(err)
        code, _, err = run(capsys, *local(stack), *command, "  ")
        assert code == 2 and "order id is empty" in one_line(err)
    code, _, err = run(capsys, *local(stack), "dlq", "replay", "--order-id", "")
    assert code == 2 and "order id is empty" in one_line(err)


def test_bad_faults_are_refused_before_starting_anything(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "local", "--port", "0", "--faults", "Doom Donut=sometimes")
    assert code == 2 and out == ""
    assert "--faults: bad FULFILLMENT_FAULTS rule 'Doom Donut=sometimes'" in one_line(err)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["local", "--port", "70000"], "port 70000 is out of range"),
        (["console", "--port", "-1"], "port -1 is out of range"),
        (["demo", "--port", "http"], "port 'http' is not a number"),
        (["local", "--console-port", "65536"], "out of range"),
        (["orders", "list", "--limit", "0"], "0 must be 1 or more"),
        (["orders", "list", "--limit", "ten"], "'ten' is not a whole number"),
        (["orders", "list", "--status", "SHIPPED"], "invalid choice: 'SHIPPED'"),
        (["orders", "create", "--wait", "soon"], "'soon' is not a number of seconds"),
        (["orders", "frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and says in one_line(err) and "--help" in err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "command",
    [
        ["orders", "list"],
        ["orders", "list", "--status", "NEW"],
        ["orders", "get", "x"],
        ["dlq", "list"],
        ["trace", "x"],
    ],
)
def test_nothing_listening_says_start_snacks_local_and_exit_1(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """Not "throttled": the status index query goes through the product's adapter, which reports an
    unreachable dependency as DependencyThrottled to the workflow (which retries both alike)."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    code, _, err = run(capsys, *command, "--endpoint-url", endpoint)
    assert code == 1
    assert f"nothing is listening at {endpoint}: start it with `snacks local`" in one_line(err)
    assert "throttl" not in err.lower()


def test_no_credentials_is_one_line_exit_1(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata lookup either
    # Signing fails before anything is sent, so the endpoint is never contacted.
    code, _, err = run(capsys, "orders", "get", "x", "--endpoint-url", "https://snacks-test.invalid")
    assert code == 1 and "no AWS credentials" in one_line(err)


def test_wrong_region_is_one_line_exit_1(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The local stack lives in one region; asking another finds no table, queue or state machine."""
    for command in (["orders", "get", "x"], ["orders", "list"], ["dlq", "list"], ["trace", "x"]):
        code, _, err = run(capsys, *command, "--endpoint-url", stack.endpoint_url, "--region", "eu-west-3")
        assert code == 1 and "not in region eu-west-3" in one_line(err) and "--region" in err


def test_a_stage_the_local_stack_does_not_serve_is_named_not_the_region(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The local stack's health endpoint says which stage it serves (the other way round: tests/local/test_stage.py)."""
    for command in (["orders", "list"], ["dlq", "list"], ["trace", "x"]):
        code, _, err = run(capsys, *local(stack), "--stage", "dev", *command)
        assert code == 1, err
        assert "serves the seed's names (no stage), not stage 'dev': run snacks without --stage" in one_line(err)


@pytest.mark.parametrize(
    ("argv", "endpoint", "region"),
    [
        (["--endpoint-url", "http://a", "--region", "r1", "dlq", "list"], "http://a", "r1"),
        (["dlq", "list", "--endpoint-url", "http://a", "--region", "r1"], "http://a", "r1"),
        (["--endpoint-url", "http://a", "orders", "get", "x", "--region", "r2"], "http://a", "r2"),
        (["--region", "r1", "orders", "list", "--region", "r2"], None, "r2"),  # after wins, as in the aws CLI
        (["trace", "x"], None, None),
    ],
)
def test_endpoint_and_region_are_accepted_before_or_after_the_command(
    argv: list[str], endpoint: str | None, region: str | None
) -> None:
    # Parsed, not run: in this process moto's in-process mock would answer whatever the endpoint.
    args = build_parser().parse_args(argv)
    assert (args.endpoint_url, args.region) == (endpoint, region)


def test_options_after_the_command_reach_the_stack(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "orders", "list", "--endpoint-url", stack.endpoint_url, "--region", stack.region)
    assert code == 0 and out.rstrip().endswith("order(s)")


def test_orders_list_is_newest_first_with_customer_and_line_count(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Four orders at least, so an unsorted listing (DynamoDB's scan order) passes by chance 1 time in 24.
    for n in range(2):
        create(capsys, stack, "--customer", f"Filler {n}", "--item", "Nuts:1:1.00")
    older = create(capsys, stack, "--customer", "Olga Older", "--item", "Nuts:5:1.00")
    newer = create(capsys, stack, "--customer", "Nina Newer", "--item", "Chips:1:2.00", "--item", "Soda:1:1.50")
    code, out, _ = run(capsys, *local(stack), "orders", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["created", "customer", "lines", "total", "status", "order"]
    created = [line.split()[0] for line in lines[1:-1]]
    assert len(created) >= 2 and created == sorted(created, reverse=True)  # every order, newest first
    rows = [line for line in lines if older in line or newer in line]
    assert [newer in rows[0], older in rows[1]] == [True, True]  # newest first
    assert rows[0].split()[1:5] == ["Nina", "Newer", "2", "3.50"]  # 2 lines
    assert rows[1].split()[1:5] == ["Olga", "Older", "1", "5.00"]  # 1 line of 5 units
    code, out, _ = run(capsys, *local(stack), "orders", "list", "--limit", "1")
    assert newer in out and older not in out and "more: raise --limit" in out


def create(capsys: pytest.CaptureFixture[str], stack: Any, *arguments: str) -> str:
    code, out, _ = run(capsys, *local(stack), "orders", "create", *arguments)
    assert code == 0, out
    return str(json.loads(out[: out.rindex("}") + 1])["orderId"])


def test_create_wait_exits_1_when_the_order_fails_or_the_wait_times_out(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The timeout case takes the workflow target off the rule, so the order stays NEW. (Disabling the
    rule would be the natural way - "A disabled rule won't match any events", EventBridge API reference,
    DisableRule - but the local stack still delivers for a disabled rule: reported to the local stack.)"""
    from snacks.aws import Aws

    code, out, _ = run(
        capsys, *local(stack), "orders", "create", "--customer", "Dan", "--item", "Doom Donut:1:2.50", "--wait", "20"
    )
    assert code == 1 and " FAILED " in out
    code, out, _ = run(
        capsys, *local(stack), "orders", "create", "--customer", "Ann", "--item", "Nuts:1:2.00", "--wait", "20"
    )
    assert code == 0 and " PROCESSED " in out

    events = Aws(endpoint_url=stack.endpoint_url, region=stack.region).client("events")
    rule = {"Rule": definitions.ORDER_CREATED_RULE, "EventBusName": definitions.EVENT_BUS}
    targets = events.list_targets_by_rule(**rule)["Targets"]
    events.remove_targets(**rule, Ids=[target["Id"] for target in targets])
    try:
        code, out, err = run(
            capsys, *local(stack), "orders", "create", "--customer", "Ann", "--item", "Nuts:1:2.00", "--wait", "0.5"
        )
    finally:
        events.put_targets(**rule, Targets=targets)
    assert code == 1 and " NEW " in out and "still NEW after 0.5 s" in one_line(err)


def test_dlq_list_groups_by_step_and_error_shortens_causes_and_counts_messages_in_flight(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from snacks.aws import Aws

    for _ in range(2):
        run(
            capsys,
            *local(stack),
            "orders",
            "create",
            "--customer",
            "Dan",
            "--item",
            "Doom Donut:1:2.50",
            "--wait",
            "20",
        )
    aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
    sqs = aws.client("sqs")
    queue = aws.dead_letter_queue_url()
    # A long cause, as EventBridge's target DLQ or a stack trace would give.
    sqs.send_message(
        QueueUrl=queue,
        MessageBody=json.dumps(
            {
                "kind": "OrderFulfillmentFailed",
                "orderId": "o-long",
                "failedStep": "Validate",
                "error": "Boom",
                "cause": "x" * 500,
                "executionArn": "arn:aws:states:::execution:m:e",
            }
        ),
    )
    code, out, _ = run(capsys, *local(stack), "dlq", "list")
    assert code == 0
    heading = [line for line in out.splitlines() if line.startswith("Fulfil / FulfillmentRejected:")]
    assert len(heading) == 1 and int(heading[0].split(": ")[1].split()[0]) >= 2
    long_line = next(line for line in out.splitlines() if "o-long" in line)
    assert "x" * 90 in long_line and "x" * 101 not in long_line and long_line.endswith("...")
    assert "in flight" not in out

    hidden = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, VisibilityTimeout=60)["Messages"]
    code, out, _ = run(capsys, *local(stack), "dlq", "list")
    assert "\n1 more in flight (received by a replay or another reader)" in out
    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=hidden[0]["ReceiptHandle"], VisibilityTimeout=0)
