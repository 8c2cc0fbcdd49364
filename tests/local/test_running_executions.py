"""``LocalStack.running_executions``: counts what runs, skipping only the executions known to have ended.

``busy()`` (the drain on stop, ``wait_until_idle``, the health answer) rests on it: an execution still
running must always be counted, wherever it is in moto's list, while a poll costs O(running), not
O(history).
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from moto import mock_aws

from snacks.local.stack import ACCOUNT_ID, DEFAULT_REGION, LocalStack

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


def _execution(status: str) -> Any:
    return SimpleNamespace(exec_status=SimpleNamespace(value=status))


def test_running_executions_are_counted_wherever_they_are_in_the_history() -> None:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    with mock_aws():
        backend = stepfunctions_parser_backends[ACCOUNT_ID][DEFAULT_REGION]
        machine = backend.create_state_machine(
            name="m", definition=DEFINITION, roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/r"
        )
        stack = LocalStack()  # not started: only its bookkeeping is under test
        runs = [_execution(s) for s in ("SUCCEEDED", "FAILED", "RUNNING", "SUCCEEDED", "RUNNING")]
        machine.executions.extend(runs)
        assert stack.running_executions() == 2
        runs[4].exec_status.value = "SUCCEEDED"  # one ends out of order: still one running before it
        assert stack.running_executions() == 1
        runs[2].exec_status.value = "SUCCEEDED"
        assert stack.running_executions() == 0
        machine.executions.append(_execution("RUNNING"))  # a new one after the skipped prefix
        assert stack.running_executions() == 1
