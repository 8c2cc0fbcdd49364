"""``moto_tuning.execution_names_indexed``: StartExecution's name rules, without a scan of the history.

AWS Step Functions API Reference, StartExecution (request parameter ``name``, and "Idempotency"):
with the name of an open execution and the same input, the call succeeds with that execution;
with a different input, or once the execution is closed, it fails with ``400
ExecutionAlreadyExists`` ("The execution has the same name as another execution (but a different
input)", API Reference, Errors). https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html

That is STANDARD's rule, and these machines are STANDARD (moto's default type). "StartExecution isn't
idempotent for EXPRESS workflows": ``express.express_semantics`` exempts EXPRESS machines
(tests/local/test_express.py::test_an_express_execution_name_used_again…).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from snacks.local.moto_tuning import execution_names_indexed

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


class CountingList(list[Any]):
    """moto's list of a machine's executions, counting how many of them a StartExecution reads."""

    read = 0

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            CountingList.read += 1
            yield item

    def __getitem__(self, index: Any) -> Any:
        found = super().__getitem__(index)
        CountingList.read += len(found) if isinstance(index, slice) else 1
        return found


@pytest.fixture
def sfn() -> Iterator[tuple[Any, str]]:
    # moto's recording backend (no execute_state_machine): executions stay RUNNING, so open/closed is ours to set.
    with mock_aws(), execution_names_indexed():
        client = boto3.client("stepfunctions", region_name="us-east-1")
        arn = client.create_state_machine(
            name="names", definition=DEFINITION, roleArn="arn:aws:iam::123456789012:role/x"
        )["stateMachineArn"]
        yield client, arn


def _history(client: Any, arn: str, count: int) -> None:
    for index in range(count):
        client.start_execution(stateMachineArn=arn, name=f"order-{index}", input=json.dumps({"index": index}))


def test_a_used_name_with_another_input_is_refused_however_long_the_history(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    _history(client, arn, 60)
    for index in (0, 30, 59):  # the first, one in the middle, the latest: each indexed as it was appended
        with pytest.raises(ClientError) as refused:
            client.start_execution(stateMachineArn=arn, name=f"order-{index}", input=json.dumps({"other": True}))
        assert refused.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
        assert f":order-{index}" in refused.value.response["Error"]["Message"]


def test_the_same_name_and_input_of_an_open_execution_returns_it(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    _history(client, arn, 10)
    first = client.start_execution(stateMachineArn=arn, name="order-4", input=json.dumps({"index": 4}))
    again = client.start_execution(stateMachineArn=arn, name="order-4", input=json.dumps({"index": 4}))
    assert first["executionArn"] == again["executionArn"]
    assert len(client.list_executions(stateMachineArn=arn)["executions"]) == 10


def test_a_closed_executions_name_is_refused_even_with_the_same_input(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    _history(client, arn, 5)
    closed = client.list_executions(stateMachineArn=arn)["executions"][-1]  # newest first: order-0
    client.stop_execution(executionArn=closed["executionArn"])
    with pytest.raises(ClientError) as refused:
        client.start_execution(stateMachineArn=arn, name="order-0", input=json.dumps({"index": 0}))
    assert refused.value.response["Error"]["Code"] == "ExecutionAlreadyExists"


def test_a_new_name_starts_a_new_execution(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    _history(client, arn, 5)
    client.start_execution(stateMachineArn=arn, name="order-new", input="{}")
    assert len(client.list_executions(stateMachineArn=arn)["executions"]) == 6


def test_a_start_reads_only_the_executions_appended_since_the_last_start(sfn: tuple[Any, str]) -> None:
    """The growth it removes: moto reads every past execution on each start (O(history))."""
    from moto.stepfunctions.responses import get_backend  # the backend that answers the API calls

    client, arn = sfn
    machine = get_backend("123456789012", "us-east-1").describe_state_machine(arn)
    machine.executions = CountingList(machine.executions)
    _history(client, arn, 200)
    CountingList.read = 0
    client.start_execution(stateMachineArn=arn, name="order-200", input="{}")
    assert CountingList.read <= 2, f"one start read {CountingList.read} of 200 past executions"
