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


class _CountedStatus:
    """An execution status whose every read is counted: what one poll of ``running_executions`` costs."""

    reads = 0

    def __init__(self, value: str) -> None:
        self._value = value

    @property
    def value(self) -> str:
        _CountedStatus.reads += 1
        return self._value

    @value.setter
    def value(self, value: str) -> None:
        self._value = value


def test_a_poll_reads_what_runs_and_what_is_new_even_behind_a_long_running_execution() -> None:
    """One old execution runs on (a long retry backoff) while 2,000 later ones end: each later poll reads
    the statuses of the executions still running and of those appended since, not the whole history
    behind the long one. Planted: the skipped-prefix scan (which stalls at the long one) -> 2,001 reads
    per poll."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    with mock_aws():
        backend = stepfunctions_parser_backends[ACCOUNT_ID][DEFAULT_REGION]
        machine = backend.create_state_machine(
            name="m", definition=DEFINITION, roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/r"
        )
        stack = LocalStack()
        old = SimpleNamespace(exec_status=_CountedStatus("RUNNING"))
        machine.executions.append(old)
        machine.executions.extend(SimpleNamespace(exec_status=_CountedStatus("SUCCEEDED")) for _ in range(2000))
        assert stack.running_executions() == 1
        _CountedStatus.reads = 0
        machine.executions.append(SimpleNamespace(exec_status=_CountedStatus("RUNNING")))
        assert stack.running_executions() == 2
        assert _CountedStatus.reads <= 3, _CountedStatus.reads
        old.exec_status.value = "SUCCEEDED"
        assert stack.running_executions() == 1
