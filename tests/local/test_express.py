"""The EXPRESS state machine on the local stack, as Step Functions runs it (boto3 against the endpoint)."""

from __future__ import annotations

import json
import math
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
    # AWS's words (LocalStack's recorded answers, test_base_scenarios.snapshot.json, test_invalid_jsonpath;
    # the input as compact JSON, as in an AWS execution history: '{"flagged":false}').
    assert reply["cause"] == (
        "An error occurred while executing the state 'Validate' (entered at the event id #2). The JSONPath "
        """'$.id' specified for the field 'eventId.$' could not be found in the input '{"detail":{"orderId":"nope"}}'"""
    )
    stack.wait_until_idle(timeout=30)
    assert not [letter for letter in operations.list_dead_letters(aws) if letter.order_id == "nope"]


def test_start_sync_execution_runs_the_express_machine_to_its_end(stack: Any, aws: Aws) -> None:
    """StartSyncExecution "Starts a Synchronous Express state machine execution" and answers with
    the execution's status and output (Step Functions API Reference, StartSyncExecution)."""
    order_id = new_order(aws)
    event = {"id": str(uuid.uuid4()), "detail": {"orderId": order_id}}
    reply = aws.client("stepfunctions").start_sync_execution(
        stateMachineArn=aws.state_machine_arn(), input=json.dumps(event)
    )
    assert reply["status"] == "SUCCEEDED", reply
    output = json.loads(reply["output"])
    # The execution's output is its last state's data: MarkProcessed's selected result.
    assert (output["status"], output["announced"]) == ("PROCESSED", True) and "statusEventError" not in output
    assert reply["executionArn"].startswith(aws.state_machine_arn().replace(":stateMachine:", ":express:"))
    order = operations.get_order(aws, order_id)
    assert order is not None and order.status.value == "PROCESSED"


# The fields of StartSyncExecution's answer, as recorded on AWS (LocalStack's test_express_sync.snapshot.json,
# test_base[BASE_PASS_RESULT] and test_base[BASE_RAISE_FAILURE]).
SYNC_SUCCEEDED_FIELDS = {
    "billingDetails", "executionArn", "input", "inputDetails", "name", "output", "outputDetails",
    "startDate", "stateMachineArn", "status", "stopDate",
}  # fmt: skip
SYNC_FAILED_FIELDS = SYNC_SUCCEEDED_FIELDS - {"output"} | {"error", "cause"}


def test_start_sync_execution_answers_billing_and_output_details_as_aws_does(stack: Any, aws: Aws) -> None:
    """StartSyncExecution answers ``billingDetails`` (API Reference, StartSyncExecution; BillingDetails:
    billedMemoryUsedInMB, billedDurationInMilliseconds) and ``outputDetails`` on a failed execution
    too, with exactly the fields AWS recorded (LocalStack's test_express_sync.snapshot.json). Duration
    is "rounded up to the nearest 100ms", memory "billed in 64-MB chunks" (AWS Step Functions pricing,
    Express Workflows): this workflow's 64 MB, as AWS bills a small one (the same recordings)."""
    sfn = aws.client("stepfunctions")
    succeeded = sfn.start_sync_execution(
        stateMachineArn=aws.state_machine_arn(), input=json.dumps({"id": "e", "detail": {"orderId": new_order(aws)}})
    )
    failed = sfn.start_sync_execution(stateMachineArn=aws.state_machine_arn(), input="{}")
    assert succeeded["status"] == "SUCCEEDED" and failed["status"] == "FAILED"
    assert set(succeeded) - {"ResponseMetadata"} == SYNC_SUCCEEDED_FIELDS
    assert set(failed) - {"ResponseMetadata"} == SYNC_FAILED_FIELDS
    for reply in (succeeded, failed):
        assert reply["outputDetails"] == {"included": True}
        elapsed_ms = round((reply["stopDate"] - reply["startDate"]).total_seconds() * 1000)  # whole ms, as sent
        rounded_up = max(100, math.ceil(elapsed_ms / 100) * 100)
        assert reply["billingDetails"] == {"billedDurationInMilliseconds": rounded_up, "billedMemoryUsedInMB": 64}


def test_billing_follows_the_pricing_pages_rounding_and_memory_formula() -> None:
    """ "rounded up to the nearest 100ms"; memory "50 MB + state machine definition size + execution
    data size x Number of Parallel or Map Steps", "billed in 64-MB chunks" (AWS Step Functions
    pricing, Express Workflows, and its example 3: 50 MB + 50 KB + 32 KB x 400 -> 64 MB)."""
    from datetime import timedelta

    from snacks.local.sfn_semantics import billing_details

    start = datetime(2026, 1, 1, tzinfo=UTC)
    pass_only = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    assert billing_details(pass_only, ["{}"], start, start + timedelta(milliseconds=12)) == {
        "billedMemoryUsedInMB": 64,
        "billedDurationInMilliseconds": 100,
    }
    assert (
        billing_details(pass_only, ["{}"], start, start + timedelta(milliseconds=7501))["billedDurationInMilliseconds"]
        == 7600
    )
    maps = {f"M{i}": {"Type": "Map", "End": True} for i in range(400)}
    example_3 = json.dumps({"Comment": "x" * 40 * 1024, "StartAt": "M0", "States": maps})  # ~50 KB
    assert billing_details(example_3, ["x" * 32 * 1024], start, start)["billedMemoryUsedInMB"] == 64
    assert billing_details(example_3, ["x" * 40 * 1024], start, start)["billedMemoryUsedInMB"] == 128
    assert billing_details(pass_only, ["x" * 15 * 2**20], start, start)["billedMemoryUsedInMB"] == 128


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
        "MarkProcessed",  # paid at pickup: no AuthorizePayment; it announces Order Processed itself
    ]


def test_an_express_execution_name_used_again_starts_a_second_concurrent_execution(stack: Any, aws: Aws) -> None:
    """Express: "Idempotency is not automatically managed. Starting multiple workflows with the same
    name results in concurrent executions." (Step Functions Developer Guide, "Execution guarantees",
    https://docs.aws.amazon.com/step-functions/latest/dg/express-at-least-once-execution.html);
    "StartExecution isn't idempotent for EXPRESS workflows" (API Reference, StartExecution). Same
    name and input while the first still runs, or after it ended: a new execution each time, each
    with its own ARN and its own records in the log group, and both shown on the order."""
    from snacks.console.executions import ExecutionFinder

    sfn = aws.client("stepfunctions")
    order_id = new_order(aws)
    event = json.dumps({"id": "evt-same", "detail": {"orderId": order_id}})
    name = f"same-name-{order_id[:8]}"
    first = sfn.start_execution(stateMachineArn=aws.state_machine_arn(), name=name, input=event)["executionArn"]
    second = sfn.start_execution(stateMachineArn=aws.state_machine_arn(), name=name, input=event)["executionArn"]
    stack.wait_until_idle(timeout=60)
    after_the_end = sfn.start_sync_execution(stateMachineArn=aws.state_machine_arn(), name=name, input=event)

    arns = [first, second, after_the_end["executionArn"]]
    assert len(set(arns)) == 3 and all(arn.split(":")[7] == name for arn in arns)
    assert after_the_end["status"] == "SUCCEEDED"  # the order was settled: AlreadySettled
    shown = ExecutionFinder(aws).from_log_group(order_id)
    assert sorted(view["executionArn"] for view in shown) == sorted(arns)
    assert all(view["status"] == "SUCCEEDED" for view in shown), [view["status"] for view in shown]
    order = operations.get_order(aws, order_id)
    assert order is not None and order.status.value == "PROCESSED"


def test_a_standard_machine_keeps_its_name_rule_beside_the_express_one(stack: Any, aws: Aws) -> None:
    """STANDARD: "If the execution is closed or if the input is different, it returns a 400
    ExecutionAlreadyExists error" (API Reference, StartExecution, Idempotency:
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html); the
    Express exemption does not leak to other machine types (tests/local/test_execution_names.py
    covers the open-execution cases)."""
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="names-standard",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{stack.account_id}:role/names",
        type="STANDARD",
    )["stateMachineArn"]
    sfn.start_execution(stateMachineArn=machine, name="once", input="{}")
    stack.wait_until_idle(timeout=30)
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=machine, name="once", input="{}")
    assert refused.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
