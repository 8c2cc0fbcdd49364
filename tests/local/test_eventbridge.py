"""EventBridge on the local stack: rule state, the delivered envelope and target input, TestEventPattern."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from snacks import operations
from snacks.aws import Aws
from snacks.trace import fetch_history
from stacks import definitions

ORDER = {"customerName": "Bus Test", "snackItems": [{"name": "Pretzels", "quantity": 1, "price": 1}], "totalAmount": 1}
# EventBridge's event envelope (EventBridge User Guide, "Amazon EventBridge events": top-level fields).
ENVELOPE = ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]


def rule_name(aws: Aws) -> str:
    return str(aws.client("events").list_rules(EventBusName=definitions.EVENT_BUS)["Rules"][0]["Name"])


def test_a_disabled_rule_delivers_nothing_and_enabling_it_resumes_delivery(stack: Any, aws: Aws) -> None:
    """DisableRule: "A disabled rule won't match any events" (EventBridge API Reference, DisableRule,
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DisableRule.html); EnableRule:
    delivery resumes for new events. The
    runbook's "order not processing -> check the rule" case, rehearsed: the order stays NEW until the
    rule is enabled and ``snacks reconcile`` re-publishes it."""
    events = aws.client("events")
    name = rule_name(aws)
    events.disable_rule(Name=name, EventBusName=definitions.EVENT_BUS)
    try:
        assert events.describe_rule(Name=name, EventBusName=definitions.EVENT_BUS)["State"] == "DISABLED"
        delivered_before = stack.stats()["deliveries"]
        order_id = operations.invoke_creator(aws, ORDER)["orderId"]
        stack.wait_until_idle(timeout=30)
        assert stack.stats()["deliveries"] == delivered_before
        order = operations.get_order(aws, order_id)
        assert order is not None and order.status.value == "NEW"
    finally:
        events.enable_rule(Name=name, EventBusName=definitions.EVENT_BUS)
    report = operations.reconcile(aws, 0, False)
    assert order_id in report.order_ids
    final = operations.wait_for_final(aws, order_id, timeout=30)
    assert final is not None and final.status.value == "PROCESSED"


def test_the_workflow_is_started_with_the_event_id_and_detail_and_other_targets_get_the_envelope(
    stack: Any, aws: Aws
) -> None:
    """The order-created rule's target transforms the event (its InputTransformer, stacks/definitions.py,
    as CDK synthesizes it): the execution input is ``{"id": <event id>, "detail": <event detail>}``, all the
    workflow reads (issue 21), nothing moto adds (``ingestion-time``). A target without a transformer still
    receives the whole event. EventBridge User Guide, "Amazon EventBridge input transformation"
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html): "The
    transformed event is sent to a target instead of the original event"."""
    sqs, events = aws.client("sqs"), aws.client("events")
    queue_url = sqs.create_queue(QueueName="order-created-envelope")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="order-created-envelope",
        EventBusName=definitions.EVENT_BUS,
        EventPattern=json.dumps(definitions.RULE_EVENT_PATTERN),
    )
    events.put_targets(
        Rule="order-created-envelope",
        EventBusName=definitions.EVENT_BUS,
        Targets=[{"Id": "envelope", "Arn": queue_arn}],
    )
    try:
        order_id = operations.invoke_creator(aws, ORDER)["orderId"]
        final = operations.wait_for_final(aws, order_id, timeout=30)
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=5)["Messages"]
    finally:
        events.remove_targets(Rule="order-created-envelope", EventBusName=definitions.EVENT_BUS, Ids=["envelope"])
        events.delete_rule(Name="order-created-envelope", EventBusName=definitions.EVENT_BUS)
        sqs.delete_queue(QueueUrl=queue_url)
    (envelope,) = [json.loads(message["Body"]) for message in messages]
    # moto delivers to SQS targets itself, with its own default template, which leaves out ``account``
    # (moto.events.utils.EventTemplateParser): the rest of the envelope is there.
    assert set(ENVELOPE) - {"account"} <= set(envelope)
    assert envelope["detail"]["orderId"] == order_id and envelope["region"] == stack.region
    assert time.strptime(envelope["time"], "%Y-%m-%dT%H:%M:%SZ")

    assert final is not None and final.status.value == "PROCESSED" and final.execution_arn
    started = next(event for event in fetch_history(aws, final.execution_arn) if event["type"] == "ExecutionStarted")
    execution_input = json.loads(started["details"]["input"])
    assert execution_input == {"id": envelope["id"], "detail": envelope["detail"]}


def test_test_event_pattern_answers_whether_the_rule_matches(aws: Aws) -> None:
    """TestEventPattern "Tests whether the specified event pattern matches the provided event" and
    returns ``Result`` (EventBridge API Reference, TestEventPattern)."""
    events = aws.client("events")
    rule = events.describe_rule(Name=rule_name(aws), EventBusName=definitions.EVENT_BUS)
    event = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": definitions.RULE_DETAIL_TYPE,
        "source": definitions.RULE_EVENT_SOURCE,
        "account": "123456789012",
        "time": "2026-11-25T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"orderId": "o-1"},
    }
    assert events.test_event_pattern(EventPattern=rule["EventPattern"], Event=json.dumps(event))["Result"] is True
    shipped = {**event, "detail-type": "Order Shipped"}
    assert events.test_event_pattern(EventPattern=rule["EventPattern"], Event=json.dumps(shipped))["Result"] is False
    no_order = {**event, "detail": {}}
    assert events.test_event_pattern(EventPattern=rule["EventPattern"], Event=json.dumps(no_order))["Result"] is False


def test_put_events_refuses_a_detail_that_is_not_a_json_object_per_entry(stack: Any, aws: Aws) -> None:
    """PutEvents answers an entry whose Detail is a string, an array, broken JSON or a serialized
    string with ErrorCode "MalformedDetail", ErrorMessage "Detail is malformed.", in an HTTP 200
    with FailedEntryCount (LocalStack's recorded AWS answers, test_events.snapshot.json,
    test_put_event_malformed_detail[STRING|ARRAY|MALFORMED_JSON|SERIALIZED_STRING]); the batch's
    other entries are put ("Each entry is processed separately", EventBridge API Reference,
    PutEvents). Nothing refused reaches a rule: a tap rule on the source sees only the good entry."""
    events, logs = aws.client("events"), aws.client("logs")
    source, group = "snacks.test.malformed", "/aws/events/malformed-tap"
    logs.create_log_group(logGroupName=group)
    pattern = json.dumps({"source": [source]})
    events.put_rule(Name="malformed-tap", EventBusName=definitions.EVENT_BUS, EventPattern=pattern)
    events.put_targets(
        Rule="malformed-tap",
        EventBusName=definitions.EVENT_BUS,
        Targets=[{"Id": "tap", "Arn": f"arn:aws:logs:{stack.region}:{stack.account_id}:log-group:{group}"}],
    )
    details = ["[]", '"NotJSON"', "NotJSON", "{{}", json.dumps({"good": True}), json.dumps([{"orderId": "x"}])]
    reply = events.put_events(
        Entries=[
            {"EventBusName": definitions.EVENT_BUS, "Source": source, "DetailType": "Tap", "Detail": detail}
            for detail in details
        ]
    )
    assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert reply["FailedEntryCount"] == 5
    refused = {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    assert [entry for i, entry in enumerate(reply["Entries"]) if i != 4] == [refused] * 5
    assert set(reply["Entries"][4]) == {"EventId"}
    tapped = [json.loads(event["message"])["detail"] for event in logs.filter_log_events(logGroupName=group)["events"]]
    assert tapped == [{"good": True}]


def test_put_targets_refuses_a_template_variable_the_paths_map_does_not_define(aws: Aws) -> None:
    """EventBridge's recorded answer (LocalStack snapshot test_events_inputs.snapshot.json,
    test_put_events_with_input_transformer_missing_keys): ``ValidationException`` "InputTemplate for target
    ID contains invalid placeholder NAME."; reserved variables need no definition, and paths are not checked
    ("There is no validation when creating JSON path for your template": EventBridge User Guide,
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html, Common Issues)."""
    events = aws.client("events")
    events.put_rule(Name="placeholders", EventBusName=definitions.EVENT_BUS, EventPattern='{"source": ["x"]}')
    target = {"Id": "t", "Arn": f"arn:aws:sqs:{aws.region}:123456789012:nowhere"}
    try:
        with pytest.raises(ClientError) as refused:
            events.put_targets(
                Rule="placeholders",
                EventBusName=definitions.EVENT_BUS,
                Targets=[
                    {
                        **target,
                        "InputTransformer": {
                            "InputPathsMap": {"kind": "$.detail-type"},
                            "InputTemplate": '"<kind> <notdefinedkey>"',
                        },
                    }
                ],
            )
        error = refused.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert error["Message"] == "InputTemplate for target t contains invalid placeholder notdefinedkey."
        accepted = {
            "InputPathsMap": {"kind": "$.no.such.path"},
            "InputTemplate": '{"kind": <kind>, "rule": <aws.events.rule-name>}',
        }
        events.put_targets(
            Rule="placeholders", EventBusName=definitions.EVENT_BUS, Targets=[{**target, "InputTransformer": accepted}]
        )
        (listed,) = events.list_targets_by_rule(Rule="placeholders", EventBusName=definitions.EVENT_BUS)["Targets"]
        assert listed["InputTransformer"] == accepted
    finally:
        events.remove_targets(Rule="placeholders", EventBusName=definitions.EVENT_BUS, Ids=["t"])
        events.delete_rule(Name="placeholders", EventBusName=definitions.EVENT_BUS)
