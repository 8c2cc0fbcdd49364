"""The local stack enforces the synthesized template's IAM, resource and key policies (issue 18).

Each test removes or narrows one statement of the template `cdk synth` produces (found by what it
does, not by its text: tests/support/iam_templates.py), starts the stack on it, runs an order, and
checks that the flow fails exactly where AWS fails it, with AWS's error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from order_service.domain.events import ORDER_PROCESSED_DETAIL_TYPE
from snacks import operations
from snacks.aws import Aws
from snacks.local import LocalStack
from snacks.local.iam_enforcement import acting_as
from snacks.local.stack import StartupError
from tests.support import iam_templates as t

ORDER = {"customerName": "Ada", "snackItems": [{"name": "Chips", "quantity": 1, "price": 2.5}], "totalAmount": 2.5}
ACCOUNT = "123456789012"


def wait_for(condition: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def run_order(stack: LocalStack) -> tuple[Aws, dict[str, Any]]:
    aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
    reply = operations.invoke_creator(aws, ORDER)
    stack.wait_until_idle()
    return aws, reply


def order_status(aws: Aws, order_id: str) -> str:
    item = aws.client("dynamodb").get_item(TableName=aws.names.orders_table, Key={"orderId": {"S": order_id}})["Item"]
    return str(item["status"]["S"])


def log_text(aws: Aws, group: str) -> str:
    events = aws.client("logs").filter_log_events(logGroupName=group)["events"]
    return "\n".join(str(event["message"]) for event in events)


def rule_metric(aws: Aws, rule: str, metric: str) -> float:
    stats = aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Events",
        MetricName=metric,
        Dimensions=[{"Name": "RuleName", "Value": rule}],
        StartTime=time.time() - 3600,
        EndTime=time.time() + 3600,
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return float(sum(point["Sum"] for point in stats))


def subscribe_queue_to_status_topic(aws: Aws) -> str:
    sqs, sns = aws.client("sqs"), aws.client("sns")
    url = sqs.create_queue(QueueName="status-watcher")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = next(
        t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(aws.names.order_status_topic)
    )
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return str(url)


def notifications(aws: Aws, url: str) -> list[str]:
    messages = aws.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]).get("Message", "") for m in messages]


# -- the four cases of the "done when" ---------------------------------------------------


def _creator_put_events(logical_id: str, resource_type: str, statement: t.Statement) -> bool:
    return resource_type in t.IDENTITY_TYPES and "Creator" in logical_id and "events:PutEvents" in t.actions(statement)


def test_without_the_creators_put_events_grant_the_creator_is_refused_by_eventbridge(
    synthesized: dict[str, Any], stack_on: Callable[[dict[str, Any]], LocalStack], capfd: pytest.CaptureFixture[str]
) -> None:
    """On AWS the creator's own PutEvents call fails: EventBridge answers ``AccessDeniedException``
    (HTTP 400) "User: arn:aws:sts::ACCOUNT:assumed-role/ROLE/order-creator is not authorized to
    perform: events:PutEvents on resource: BUS_ARN because no identity-based policy allows the
    events:PutEvents action" (IAM User Guide, "Troubleshoot access denied error messages",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html; Lambda names the
    role session after the function). The creator stores the order, answers 201 with
    ``eventPublished: false`` and leaves it NEW for the reconciler; no execution starts."""
    stack = stack_on(t.removed(synthesized, _creator_put_events))
    aws, reply = run_order(stack)
    assert reply["statusCode"] == 201 and reply["eventPublished"] is False, reply
    assert order_status(aws, reply["orderId"]) == "NEW"
    assert stack.iam is not None
    role = stack.iam.store.role_arn_of(function=aws.names.order_creator)
    assert role is not None
    # The stack's log explains it: principal, action, resource, context, verdict.
    said = capfd.readouterr().err
    assert "IAM DENIED" in said and "events:PutEvents" in said and role in said
    assert "events:detail-type" in said  # the request context the policy was evaluated on
    owner = stack.iam.store.resource(role)
    assert owner is not None and f"principal defined by: {owner.construct_path}" in said  # where to fix it

    # The error the creator's SDK call got, as AWS shapes it (code, status, message).
    events = boto3.client("events", region_name=stack.region, aws_access_key_id="x", aws_secret_access_key="x")
    entry = {"Source": "serverless-snacks.orders", "DetailType": "Order Created", "Detail": "{}"}
    with acting_as(stack.iam.function_caller(aws.names.order_creator)), pytest.raises(ClientError) as raised:
        events.put_events(Entries=[{**entry, "EventBusName": aws.names.event_bus}])
    assert isinstance(raised.value, events.exceptions.ClientError)
    error = raised.value.response
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    bus_arn = f"arn:aws:events:{stack.region}:{ACCOUNT}:event-bus/{aws.names.event_bus}"
    assert error["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[-1]}/{aws.names.order_creator} is not "
        f"authorized to perform: events:PutEvents on resource: {bus_arn} because no identity-based policy "
        "allows the events:PutEvents action"
    )


def _processed_announcement(logical_id: str, resource_type: str, statement: t.Statement) -> bool:
    conditions = statement.get("Condition", {}).get("StringEquals", {})
    return conditions.get("events:detail-type") == ORDER_PROCESSED_DETAIL_TYPE


def _for_rejections_only(statement: t.Statement) -> t.Statement:
    statement["Condition"]["StringEquals"]["events:detail-type"] = "Order Rejected"
    return statement


def test_a_wrong_detail_type_condition_denies_mark_processeds_announcement(
    synthesized: dict[str, Any], stack_on: Callable[[dict[str, Any]], LocalStack]
) -> None:
    """On AWS, ``events:PutEvents`` is evaluated per entry with the entry's ``events:detail-type`` ("Using IAM
    policy conditions in Amazon EventBridge",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html): with order-processor's
    grant conditioned on another detail-type, markProcessed's "Order Processed" is denied; the attempt fails
    with EventPublishFailed carrying IAM's explanation, is retried, then caught (ProcessedUnannounced); the
    order is PROCESSED all the same and no status event reaches the bus."""
    stack = stack_on(t.changed(synthesized, _processed_announcement, _for_rejections_only))
    aws, reply = run_order(stack)
    assert order_status(aws, reply["orderId"]) == "PROCESSED"
    history = log_text(aws, aws.names.state_machine_log_group)
    assert "EventPublishFailed" in history and "ProcessedUnannounced" in history
    assert "events:PutEvents" in history and "because no identity-based policy allows" in history


def _events_key_statement(logical_id: str, resource_type: str, statement: t.Statement) -> bool:
    return resource_type == "AWS::KMS::Key" and "events.amazonaws.com" in t.service_principals(statement)


def _without_source_conditions(statement: t.Statement) -> t.Statement:
    statement.pop("Condition", None)
    return statement


def _with_source_account(statement: t.Statement) -> t.Statement:
    statement["Condition"] = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    return statement


def test_the_status_topic_gets_its_notification_when_the_key_policy_allows_eventbridge(
    synthesized: dict[str, Any], stack_on: Callable[[dict[str, Any]], LocalStack]
) -> None:
    """The control for the two KMS cases below: the key statement for ``events.amazonaws.com``
    without conditions (what the SNS guide's "Compatibility between event sources from AWS services
    and encrypted topics" prescribes) lets EventBridge deliver the status event to the topic."""
    stack = stack_on(t.changed(synthesized, _events_key_statement, _without_source_conditions))
    aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
    url = subscribe_queue_to_status_topic(aws)
    _, reply = run_order(stack)
    assert any(reply["orderId"] in message for message in wait_for(lambda: notifications(aws, url), what="status"))
    assert rule_metric(aws, aws.names.order_status_rule, "FailedInvocations") == 0


@pytest.mark.parametrize(
    "change",
    [pytest.param(None, id="statement-removed"), pytest.param(_with_source_account, id="aws-SourceAccount-condition")],
)
def test_eventbridge_cannot_use_the_status_topics_key_without_an_unconditioned_statement(
    synthesized: dict[str, Any],
    stack_on: Callable[[dict[str, Any]], LocalStack],
    capfd: pytest.CaptureFixture[str],
    change: Callable[[t.Statement], t.Statement] | None,
) -> None:
    """EventBridge publishing to a KMS-encrypted SNS topic needs ``kms:GenerateDataKey*`` and
    ``kms:Decrypt`` for ``events.amazonaws.com`` in the key policy, and for that call "the
    aws:SourceAccount and aws:SourceArn condition keys are not supported" (Amazon SNS Developer
    Guide, "Compatibility between event sources from AWS services and encrypted topics",
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
    On AWS the failure shows as the status rule's ``FailedInvocations`` (EventBridge's CloudWatch
    metrics), the notification never arrives, and the order itself is unaffected."""
    mutated = t.changed(synthesized, _events_key_statement, change or (lambda _: None))
    stack = stack_on(mutated)
    aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
    url = subscribe_queue_to_status_topic(aws)
    _, reply = run_order(stack)
    assert order_status(aws, reply["orderId"]) == "PROCESSED"
    assert rule_metric(aws, aws.names.order_status_rule, "FailedInvocations") >= 1
    assert notifications(aws, url) == []
    said = capfd.readouterr().err
    assert "events.amazonaws.com" in said and "kms:GenerateDataKey" in said


def _dlq_policy_for_eventbridge(logical_id: str, resource_type: str, statement: t.Statement) -> bool:
    return resource_type == "AWS::SQS::QueuePolicy" and "events.amazonaws.com" in t.service_principals(statement)


def _rule_target_start_execution(logical_id: str, resource_type: str, statement: t.Statement) -> bool:
    return resource_type in t.IDENTITY_TYPES and "states:StartExecution" in t.actions(statement)


def test_a_target_eventbridge_may_not_start_goes_to_the_dlq_with_no_permissions(
    synthesized: dict[str, Any], stack_on: Callable[[dict[str, Any]], LocalStack]
) -> None:
    """The target role without ``states:StartExecution``: "for errors that result from missing
    permissions to a target ... no retry attempts will happen"; EventBridge sends the event straight
    to the target's DLQ with ``ERROR_CODE`` ``NO_PERMISSIONS`` and counts ``FailedInvocations``
    ("Using dead-letter queues to process undelivered events in EventBridge",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html)."""
    stack = stack_on(t.removed(synthesized, _rule_target_start_execution))
    aws, reply = run_order(stack)
    assert order_status(aws, reply["orderId"]) == "NEW"
    messages = aws.client("sqs").receive_message(
        QueueUrl=aws.dead_letter_queue_url(), MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    attributes = messages[0]["MessageAttributes"]
    assert attributes["ERROR_CODE"]["StringValue"] == "NO_PERMISSIONS"
    assert "states:StartExecution" in attributes["ERROR_MESSAGE"]["StringValue"]
    assert "EXHAUSTED_RETRY_CONDITION" not in attributes
    assert rule_metric(aws, aws.names.order_created_rule, "FailedInvocations") == 1


def test_without_the_dlq_queue_policy_eventbridge_cannot_dead_letter_the_event(
    synthesized: dict[str, Any], stack_on: Callable[[dict[str, Any]], LocalStack]
) -> None:
    """The DLQ's queue policy must allow ``events.amazonaws.com`` ``sqs:SendMessage`` with
    ``aws:SourceArn`` the rule ("Granting permissions to the dead-letter queue",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html); without it, an event
    EventBridge cannot deliver is lost: no DLQ message, the rule's ``InvocationsFailedToBeSentToDLQ``."""
    without_start = t.removed(synthesized, _rule_target_start_execution)
    stack = stack_on(t.removed(without_start, _dlq_policy_for_eventbridge))
    aws, reply = run_order(stack)
    assert order_status(aws, reply["orderId"]) == "NEW"
    assert aws.client("sqs").receive_message(QueueUrl=aws.dead_letter_queue_url()).get("Messages", []) == []
    assert rule_metric(aws, aws.names.order_created_rule, "InvocationsFailedToBeSentToDLQ") == 1


# -- modes, bad templates ------------------------------------------------------------------------


def test_warn_mode_logs_the_denial_and_lets_the_call_through(
    synthesized: dict[str, Any], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """``--iam warn``: the same explanation, and the order runs as if the grant were there."""
    path = t.write(tmp_path, t.removed(synthesized, _creator_put_events))
    with LocalStack(port=0, virtual_time=True, template=path, iam="warn") as stack:
        aws, reply = run_order(stack)
        assert order_status(aws, reply["orderId"]) == "PROCESSED"
    assert "WOULD BE DENIED" in capfd.readouterr().err


def test_a_malformed_policy_stops_the_start_with_one_line(synthesized: dict[str, Any], tmp_path: Path) -> None:
    """An unknown condition operator is refused by IAM ("IAM JSON policy elements: Condition
    operators"); the stack says so at start, naming the resource and the statement."""

    def unknown_operator(statement: t.Statement) -> t.Statement:
        statement["Condition"] = {"StringEqualsPerhaps": {"events:source": "x"}}
        return statement

    path = t.write(tmp_path, t.changed(synthesized, _creator_put_events, unknown_operator))
    with pytest.raises(StartupError) as raised, LocalStack(port=0, template=path):
        pass
    message = str(raised.value)
    assert "\n" not in message and "StringEqualsPerhaps" in message and "Creator" in message
