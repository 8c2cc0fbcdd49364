"""``snacks local`` fails fast with one clear line, answers a readiness probe, and takes a region."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from typing import Any

import requests

from snacks.local import LocalStack

START_DEADLINE_SECONDS = 30  # generous for a loaded 2-core machine; a hang never ends


def snacks_local(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snacks.cli", *argv],
        capture_output=True,
        text=True,
        timeout=START_DEADLINE_SECONDS,
    )


def test_a_busy_port_exits_non_zero_with_one_line_instead_of_hanging() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = snacks_local("local", "--port", str(port))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot listen on 127.0.0.1:{port}" in lines[0], result.stderr
    assert "Address already in use" in lines[0]


def test_a_host_that_does_not_resolve_exits_non_zero_with_one_line() -> None:
    result = snacks_local("local", "--host", "no-such-host.invalid", "--port", "0")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot listen on no-such-host.invalid:0" in lines[0], result.stderr


def test_a_port_out_of_range_is_refused_before_anything_starts() -> None:
    result = snacks_local("local", "--port", "70000")
    assert result.returncode == 2 and "port 70000 is out of range" in result.stderr


def test_health_endpoint_and_region() -> None:
    """``GET /_snacks/health`` reports the services and the stack's state; ``region`` puts every
    resource in that region (ARNs carry it, as CDK's stack in that region would)."""
    with LocalStack(port=0, region="eu-west-1") as stack:
        deadline = time.monotonic() + 10
        while True:
            try:
                reply = requests.get(f"{stack.endpoint_url}/_snacks/health", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert reply.status_code == 200
        health: dict[str, Any] = reply.json()
        assert health["status"] == "running" and health["region"] == "eu-west-1"
        assert {"lambda", "stepfunctions", "dynamodb", "events", "sqs", "logs"} <= set(health["services"])
        assert health["busy"] == 0
        assert health["virtualTime"] is False and stack.clock is None  # people's stacks keep real time
        assert ":eu-west-1:" in health["stateMachine"]
        functions = stack.client("lambda").list_functions()["Functions"]
        assert functions and all(":eu-west-1:" in f["FunctionArn"] for f in functions)
        created = json.loads(
            stack.client("lambda")
            .invoke(
                FunctionName="order-creator",
                Payload=json.dumps(
                    {"customerName": "R", "snackItems": [{"name": "P", "quantity": 1, "price": 1}], "totalAmount": 1}
                ),
            )["Payload"]
            .read()
        )
        assert created["statusCode"] == 201


def test_code_the_hosts_python_cannot_load_stops_the_start_with_one_line(tmp_path: Any) -> None:
    """The functions declare a Lambda runtime but run on this machine's Python: code that does not
    import on it (here, a module of the copy that needs a module this Python lacks) fails the start
    at once, naming the function, the runtime it declares and the error."""
    import shutil

    import pytest

    from snacks.local.stack import StartupError
    from stacks import definitions

    code = tmp_path / "lambdas"
    shutil.copytree(definitions.LAMBDA_ASSET_DIR, code, ignore=shutil.ignore_patterns("__pycache__"))
    creator = code / "order_service" / "handlers" / "order_creator.py"
    source = creator.read_text()
    future = "from __future__ import annotations\n"
    creator.write_text(source.replace(future, future + "import a_module_this_python_lacks  # noqa\n", 1))
    with pytest.raises(StartupError) as raised, LocalStack(port=0, code_dir=code):
        pass
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{definitions.ORDER_CREATOR} cannot load on Python ")
    assert "a_module_this_python_lacks" in message and "python3" in message
