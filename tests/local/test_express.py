"""The EXPRESS state machine on the local stack, as Step Functions runs it (boto3 against the endpoint)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from order_service.domain.order import OrderRecord, OrderRequest, SnackItem
from snacks import operations
from snacks.aws import Aws
from stacks import definitions


def new_order(aws: Aws) -> str:
    order_id = str(uuid.uuid4())
    request = OrderRequest(
        customer_name="Express Test",
        snack_items=(SnackItem(name="Pretzels", quantity=1, price=Decimal("2.00")),),
        total_amount=Decimal("2.00"),
    )
    operations.repository(aws).create(OrderRecord.new(order_id, request, datetime.now(UTC)))
    return order_id


def test_a_path_missing_from_the_input_is_states_runtime_which_no_catch_catches(stack: Any, aws: Aws) -> None:
    """Error name "States.Runtime": An execution failed due to some exception that it could not process ... A
    States.Runtime error isn't retriable, and will always cause the execution to fail. A retry or
    catch on States.ALL won't catch States.Runtime errors." (Step Functions Developer Guide, Error
    handling in Step Functions, Error names.) Here ``$.id`` is missing, so nothing reaches the DLQ."""
    sfn = aws.client("stepfunctions")
    reply = sfn.start_sync_execution(
        stateMachineArn=aws.state_machine_arn(), input=json.dumps({"detail": {"orderId": "nope"}})
    )
    assert reply["status"] == "FAILED"
    assert reply["error"] == "States.Runtime"
    assert "$.id" in reply["cause"]
    stack.wait_until_idle(timeout=30)
    assert not [letter for letter in operations.list_dead_letters(aws) if letter.order_id == "nope"]


def test_start_sync_execution_runs_the_express_machine_to_its_end(stack: Any, aws: Aws) -> None:
    """StartSyncExecution "Starts a Synchronous Express state machine execution" and answers with
    the execution's status and output (Step Functions API Reference, StartSyncExecution)."""
    order_id = new_order(aws)
    event = {"id": str(uuid.uuid4()), "detail": {"orderId": order_id}}
    started = time.monotonic()
    reply = aws.client("stepfunctions").start_sync_execution(
        stateMachineArn=aws.state_machine_arn(), input=json.dumps(event)
    )
    assert time.monotonic() - started < 60
    assert reply["status"] == "SUCCEEDED", reply
    output = json.loads(reply["output"])
    assert output["detail"]["orderId"] == order_id and "result" in output
    assert reply["executionArn"].startswith(aws.state_machine_arn().replace(":stateMachine:", ":express:"))
    order = operations.get_order(aws, order_id)
    assert order is not None and order.status.value == "PROCESSED"


def test_a_plain_boto3_client_reaches_start_sync_execution_with_host_prefix_injection_off(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3 sends StartSyncExecution to ``sync-<host>`` (the API's endpoint host prefix), which does
    not resolve for 127.0.0.1; botocore's documented ``AWS_DISABLE_HOST_PREFIX_INJECTION`` turns the
    prefix off (AWS SDKs and Tools Reference Guide, settings), as docs/local-stack.md tells users."""
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    client = boto3.session.Session().client(
        "stepfunctions",
        endpoint_url=stack.endpoint_url,
        region_name=stack.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}),
    )
    arn = f"arn:aws:states:{stack.region}:{stack.account_id}:stateMachine:{definitions.STATE_MACHINE}"
    reply = client.start_sync_execution(stateMachineArn=arn, input="{}")
    assert reply["status"] == "FAILED" and reply["error"] == "States.Runtime"


def test_express_executions_have_express_arns_and_their_apis_are_refused_as_on_aws(stack: Any, aws: Aws) -> None:
    """Express executions: ARNs of the form ``arn:aws:states:…:express:MACHINE:NAME:ID``; ListExecutions
    answers 400 StateMachineTypeNotSupported, and DescribeExecution, StopExecution and
    GetExecutionHistory answer 400 InvalidArn "Resource type not valid in this context: express"
    (LocalStack's recorded AWS answers, test_sfn_api_express.py::test_start_async_describe_history_execution;
    Step Functions Developer Guide, "Choosing workflow type": Express execution history is in CloudWatch Logs)."""
    sfn = aws.client("stepfunctions")
    machine = aws.state_machine_arn()
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"detail": {"orderId": "nope"}}))[
        "executionArn"
    ]
    region, account = stack.region, stack.account_id
    assert arn.startswith(f"arn:aws:states:{region}:{account}:express:{definitions.STATE_MACHINE}:")
    assert len(arn.split(":")) == 9

    refusals = {
        "ListExecutions": (lambda: sfn.list_executions(stateMachineArn=machine), "StateMachineTypeNotSupported"),
        "DescribeExecution": (lambda: sfn.describe_execution(executionArn=arn), "InvalidArn"),
        "StopExecution": (lambda: sfn.stop_execution(executionArn=arn), "InvalidArn"),
        "GetExecutionHistory": (lambda: sfn.get_execution_history(executionArn=arn), "InvalidArn"),
    }
    for operation, (call, code) in refusals.items():
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == code, operation
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, operation
    stack.wait_until_idle(timeout=30)


def test_execution_history_reaches_the_log_group_in_the_format_aws_writes_for_express(stack: Any, aws: Aws) -> None:
    """Logging level ALL with execution data: one JSON record per history event with ``id``, ``type``,
    ``details``, ``previous_event_id``, ``event_timestamp`` (epoch ms as a string), ``execution_arn``
    and ``redrive_count`` (Step Functions Developer Guide, "Log levels" / "Using CloudWatch Logs to log
    execution history in Step Functions"; LocalStack's recorded AWS event in
    test_express_async.snapshot.json). ``snacks trace`` reads these records, locally as on AWS."""
    sfn = aws.client("stepfunctions")
    other = sfn.start_sync_execution(stateMachineArn=aws.state_machine_arn(), input=json.dumps({"detail": {}}))
    assert other["status"] == "FAILED"  # its records share the group: the filter pattern selects ours
    order_id = new_order(aws)
    reply = sfn.start_sync_execution(
        stateMachineArn=aws.state_machine_arn(), input=json.dumps({"id": "evt-1", "detail": {"orderId": order_id}})
    )
    arn = reply["executionArn"]
    events = aws.client("logs").filter_log_events(
        logGroupName=definitions.STATE_MACHINE_LOG_GROUP, filterPattern=f'{{ $.execution_arn = "{arn}" }}'
    )["events"]
    records = [json.loads(event["message"]) for event in events]
    assert records and all(record["execution_arn"] == arn for record in records)
    first, last = records[0], records[-1]
    assert set(first) == {
        "id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn", "redrive_count",
    }  # fmt: skip
    assert first["type"] == "ExecutionStarted" and first["id"] == "1" and first["previous_event_id"] == "0"
    assert json.loads(first["details"]["input"])["detail"]["orderId"] == order_id  # execution data included
    assert last["type"] == "ExecutionSucceeded" and "output" in last["details"]
    assert first["event_timestamp"].isdigit() and first["redrive_count"] == "0"

    from snacks.trace import build_trace, fetch_history

    trace = build_trace(arn, fetch_history(aws, arn))
    assert trace.status == "SUCCEEDED"
    assert [step.name for step in trace.steps if step.kind == "Task"] == [
        "Validate",
        "Fulfil",
        "AuthorizePayment",
        "MarkProcessed",
        "PublishProcessed",
    ]
