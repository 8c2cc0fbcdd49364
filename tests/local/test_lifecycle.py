"""Starting and stopping the local stack leaves the process as it found it."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time

import pytest

from snacks.local import LocalStack


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def settle_threads(expected: set[threading.Thread], timeout: float = 10) -> set[threading.Thread]:
    """Threads beyond ``expected`` still alive after ``timeout`` (executions finish on their own)."""
    deadline = time.monotonic() + timeout
    while (extra := {t for t in threading.enumerate() if t not in expected and t.is_alive()}) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    return extra


def test_start_stop_leaks_no_thread_port_environment_or_stdout() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl

    from order_service.adapters import clock as handler_clock

    retrier_eval_body_before = RetrierDecl._eval_body
    threads_before = set(threading.enumerate())
    environment_before = dict(os.environ)
    stdout_before = sys.stdout

    with LocalStack(port=0, virtual_time=True) as stack:
        port = int(stack.endpoint_url.rsplit(":", 1)[1])
        assert not port_is_free(port)
        reply = json.loads(
            stack.client("lambda")
            .invoke(
                FunctionName="order-creator",
                Payload=json.dumps(
                    {"customerName": "L", "snackItems": [{"name": "P", "quantity": 1, "price": 1}], "totalAmount": 1}
                ),
            )["Payload"]
            .read()
        )
        assert reply["statusCode"] == 201
        stack.wait_until_idle(timeout=30)
        assert stack.busy() == 0

    assert port_is_free(port)
    assert settle_threads(threads_before) == set()
    assert dict(os.environ) == environment_before
    assert sys.stdout is stdout_before
    # Virtual time is undone too: moto sleeps again, handlers read the system clock again.
    assert RetrierDecl._eval_body is retrier_eval_body_before
    assert handler_clock.utc_now is handler_clock.system_utc_now


def test_a_second_stack_in_the_same_process_is_refused_while_one_runs() -> None:
    with LocalStack(port=0), pytest.raises(RuntimeError, match="already running"):
        LocalStack(port=0).start()
    with LocalStack(port=0) as again:  # and allowed once the first has stopped
        assert again.endpoint_url.startswith("http://127.0.0.1:")


def test_handler_output_goes_to_the_function_log_group_not_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    with LocalStack(port=0) as stack:
        stack.client("lambda").invoke(FunctionName="order-creator", Payload=b'{"customerName": ""}')
        stack.wait_until_idle(timeout=30)
        events = stack.client("logs").filter_log_events(logGroupName="/aws/lambda/order-creator")["events"]
    messages = [event["message"] for event in events]
    assert any("REPORT RequestId" in message for message in messages)
    handler_lines = [json.loads(m) for m in messages if m.startswith("{") and '"service":"order-creator"' in m]
    assert handler_lines, messages
    assert '"service":"order-creator"' not in capsys.readouterr().out


def test_each_function_publishes_only_its_own_metrics_under_concurrency() -> None:
    """Powertools shares one metric set per process; functions sharing our process must not mix."""
    from concurrent.futures import ThreadPoolExecutor

    order = {"customerName": "M", "snackItems": [{"name": "P", "quantity": 1, "price": 1}], "totalAmount": 1}
    with LocalStack(port=0) as stack:
        lambda_ = stack.client("lambda")
        with ThreadPoolExecutor(max_workers=6) as pool:
            replies = list(
                pool.map(
                    lambda _: json.loads(
                        lambda_.invoke(FunctionName="order-creator", Payload=json.dumps(order))["Payload"].read()
                    ),
                    range(30),
                )
            )
        stack.wait_until_idle(timeout=60)
        creator, processor = (
            sys.modules[f"order_service.handlers.{name}"] for name in ("order_creator", "order_processor")
        )
        assert creator.metrics.metric_set is not processor.metrics.metric_set
        logs = stack.client("logs")
        emf = {
            function: [
                json.loads(event["message"])
                for event in logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
                if event["message"].startswith('{"_aws"')
            ]
            for function in ("order-creator", "order-processor")
        }
    assert all(reply["statusCode"] == 201 for reply in replies), replies
    created = sum(sum(line.get("OrdersCreated", [])) for line in emf["order-creator"])
    processed = sum(sum(line.get("OrdersProcessed", [])) for line in emf["order-processor"])
    assert created == processed == 30
    assert all(line["service"] == "order-creator" and "OrdersProcessed" not in line for line in emf["order-creator"])
    assert all(line["service"] == "order-processor" and "OrdersCreated" not in line for line in emf["order-processor"])


def test_handler_log_lines_reach_the_log_group_in_every_stack_a_process_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Loggers outlive a stack (logging keeps one per service); the next stack must still capture them."""
    order = json.dumps(
        {"customerName": "R", "snackItems": [{"name": "P", "quantity": 1, "price": 1}], "totalAmount": 1}
    )
    for _ in range(2):
        with LocalStack(port=0) as stack:
            stack.client("lambda").invoke(FunctionName="order-creator", Payload=order)
            stack.wait_until_idle(timeout=30)
            events = stack.client("logs").filter_log_events(logGroupName="/aws/lambda/order-processor")["events"]
        steps = [json.loads(e["message"]) for e in events if '"message":"step done"' in e["message"]]
        # Paid at pickup (no paymentMethod): the workflow goes from InStock straight to MarkProcessed.
        assert [step["step"] for step in steps] == ["validate", "fulfil", "markProcessed"]
    assert '"service":"order-' not in capsys.readouterr().out
