"""The tools a developer uses beside the stack: ``awslocal`` (awscli-local) and ``snacks logs tail``."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from snacks.cli import main
from stacks import definitions

INVALID_ORDER = b"{}"  # the creator answers 400 and writes nothing, but logs the invocation


def cli_env(stack: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    env.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION=stack.region, **extra)
    return env


def test_awslocal_points_every_command_at_the_stack_sqs_included(stack: Any) -> None:
    """awscli-local's ``awslocal`` adds ``--endpoint-url`` to every command (the AWS CLI v1 ignores
    ``AWS_ENDPOINT_URL`` for SQS); with only ``LOCALSTACK_HOST`` set it reaches this stack."""
    awslocal = Path(sys.executable).parent / "awslocal"
    host = stack.endpoint_url.removeprefix("http://")
    listed = subprocess.run(
        [str(awslocal), "sqs", "list-queues"],
        env=cli_env(stack, LOCALSTACK_HOST=host),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert any(url.endswith(definitions.DEAD_LETTER_QUEUE) for url in json.loads(listed.stdout)["QueueUrls"])


def test_snacks_logs_tail_prints_a_functions_lines(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    stack.client("lambda").invoke(FunctionName=definitions.ORDER_CREATOR, Payload=INVALID_ORDER)
    code = main(["--endpoint-url", stack.endpoint_url, "logs", "tail", definitions.ORDER_CREATOR])
    out = capsys.readouterr().out
    assert code == 0
    assert "START RequestId:" in out and "REPORT RequestId:" in out and "order request rejected" in out


def test_snacks_logs_tail_follow_prints_lines_as_they_arrive(stack: Any) -> None:
    env = cli_env(stack)
    follower = subprocess.Popen(
        [sys.executable, "-m", "snacks.cli", "--endpoint-url", stack.endpoint_url, "logs", "tail",
         definitions.ORDER_CREATOR, "--follow", "--since", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(follower.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        stack.client("lambda").invoke(FunctionName=definitions.ORDER_CREATOR, Payload=INVALID_ORDER)
        deadline = time.monotonic() + 30
        while not lines:  # the follower has read what was there: what comes next must be followed
            assert time.monotonic() < deadline, "snacks logs tail --follow printed nothing"
            time.sleep(0.05)
        reply = stack.client("lambda").invoke(
            FunctionName=definitions.ORDER_CREATOR, Payload=INVALID_ORDER, LogType="Tail"
        )
        request_id = re.search(r"START RequestId: (\S+)", base64.b64decode(reply["LogResult"]).decode()).group(1)  # type: ignore[union-attr]
        deadline = time.monotonic() + 30
        while not any(f"REPORT RequestId: {request_id}" in line for line in lines):
            assert time.monotonic() < deadline, f"the REPORT line of {request_id} was not followed; got {lines[-5:]}"
            time.sleep(0.05)
    finally:
        follower.terminate()
        follower.wait(timeout=10)
