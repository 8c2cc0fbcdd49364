"""What the local stack hands a rule target: Input, InputPath, InputTransformer, as EventBridge does.

The specification is the EventBridge User Guide, "Amazon EventBridge input transformation"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html): its "Input
transform examples" table (the EC2 event and templates reused below) and "Common Issues with transforming
input". Where the page is silent (a path that matches nothing), EventBridge's recorded answers in
LocalStack's AWS-validated snapshots (tests/aws/services/events/test_events_inputs.snapshot.json,
TestInputTransformer / TestInputPath) decide.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from snacks.local.target_input import UnsupportedTransform, target_input
from stacks import definitions

RULE_ARN = "arn:aws:events:us-east-2:123456789012:rule/example"
# The page's example event.
EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
}
# The page's Input Path.
PATHS = {"timestamp": "$.time", "instance": "$.detail.instance-id", "state": "$.detail.state"}


def transformed(template: str, paths: dict[str, str] = PATHS, event: dict[str, Any] = EC2_EVENT) -> str:
    target = {"Id": "t", "Arn": "arn", "InputTransformer": {"InputPathsMap": paths, "InputTemplate": template}}
    return target_input(target, event, RULE_ARN)


def test_without_input_settings_the_target_gets_the_event() -> None:
    assert json.loads(target_input({"Id": "t", "Arn": "arn"}, EC2_EVENT, RULE_ARN)) == EC2_EVENT


def test_input_is_delivered_as_given() -> None:
    assert target_input({"Id": "t", "Arn": "arn", "Input": '{"constant": 1}'}, EC2_EVENT, RULE_ARN) == '{"constant": 1}'


def test_input_path_delivers_the_value_at_the_path_as_json() -> None:
    """Snapshot test_put_events_with_input_path: InputPath $.detail delivers the detail object;
    test_put_events_with_input_path_max_level_depth: a string leaf is delivered as a JSON string."""
    assert json.loads(target_input({"InputPath": "$.detail"}, EC2_EVENT, RULE_ARN)) == EC2_EVENT["detail"]
    assert target_input({"InputPath": "$.detail.state"}, EC2_EVENT, RULE_ARN) == '"RUNNING"'


def test_simple_string_template_replaces_variables_inside_the_string() -> None:
    """Page, "Simple string": "instance <instance> is in <state>" -> "instance i-0123456789 is in RUNNING"."""
    assert transformed('"instance <instance> is in <state>"') == '"instance i-0123456789 is in RUNNING"'


def test_unquoted_string_variables_in_json_are_inserted_as_json_strings() -> None:
    """Page, "Simple JSON": {"instance": <instance>, "state": <state>} -> the values quoted."""
    delivered = transformed('{\n  "instance" : <instance>,\n  "state": <state>\n}')
    assert json.loads(delivered) == {"instance": "i-0123456789", "state": "RUNNING"}


def test_quoted_variables_and_escaped_quotes_in_json() -> None:
    """Page, "JSON with strings and variables": a quoted "<state>" is the string; escaped quotes stay."""
    template = (
        '{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \\"<instance>\\" is in <state>"}'
    )
    assert json.loads(transformed(template)) == {
        "instance": "i-0123456789",
        "state": "RUNNING",
        "instanceStatus": 'instance "i-0123456789" is in RUNNING',
    }


def test_variables_mixed_with_static_json() -> None:
    """Page, "JSON with a mix of variables and static information"."""
    delivered = transformed('{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}')
    assert json.loads(delivered) == {"instance": "i-0123456789", "state": [9, "RUNNING", True], "Transformed": "Yes"}


def test_an_unquoted_object_variable_inserts_the_json_object() -> None:
    """What the order-created rule's template relies on: <detail> unquoted is the detail object."""
    delivered = json.loads(transformed('{"d": <detail>}', {"detail": "$.detail"}))
    assert delivered == {"d": EC2_EVENT["detail"]}


def test_reserved_variables() -> None:
    """Page, "Including reserved variables in JSON" / "... in a string"."""
    delivered = json.loads(
        transformed(
            '{"ruleArn": <aws.events.rule-arn>, "ruleName": <aws.events.rule-name>, "whole": <aws.events.event.json>}'
        )
    )
    assert delivered == {"ruleArn": RULE_ARN, "ruleName": "example", "whole": EC2_EVENT}
    assert transformed('"<aws.events.rule-name> triggered"') == '"example triggered"'


def test_a_path_that_matches_nothing_gives_an_empty_value() -> None:
    """Page, Common Issues: "If you specify a variable to match a JSON path that doesn't exist in the event,
    that variable isn't created and won't appear in the output". Recorded by AWS (snapshot
    custom-variables-not-match-all): in a JSON template the value is "" ({"command": ""}); inside a
    string, nothing ("... info extracted from detail ")."""
    paths = {**PATHS, "missing": "$.detail.notinmessage"}
    assert json.loads(transformed('{"state": <state>, "command": <missing>}', paths)) == {
        "state": "RUNNING",
        "command": "",
    }
    assert transformed('"state <state>, command <missing>"', paths) == '"state RUNNING, command "'


def test_string_values_are_not_escaped() -> None:
    """Page, Common Issues: "EventBridge doesn't escape values extracted by Input Path"."""
    event = {**EC2_EVENT, "detail": {"state": 'say "hi"'}}
    assert transformed('"<state>"', {"state": "$.detail.state"}, event) == '"say "hi""'


def test_what_the_local_stack_cannot_know_is_refused_with_the_reason() -> None:
    with pytest.raises(UnsupportedTransform, match="inside a quoted string"):
        transformed('"detail: <detail>"', {"detail": "$.detail"})
    with pytest.raises(UnsupportedTransform, match="matches nothing"):
        target_input({"InputPath": "$.detail.nothing"}, EC2_EVENT, RULE_ARN)
    with pytest.raises(UnsupportedTransform, match=r"\$, \.name and \[index\]"):
        transformed("<all>", {"all": "$.resources[*]"})


def test_the_order_created_rule_template_gives_the_event_id_and_detail() -> None:
    """The rule that starts the workflow (stacks/definitions.py, as CDK synthesizes it): {"id", "detail"}."""
    event = {**EC2_EVENT, "detail": {"orderId": "o-1", "items": [{"name": "Pretzels", "quantity": 1}]}}
    delivered = transformed(definitions.RULE_TARGET_INPUT_TEMPLATE, definitions.RULE_TARGET_INPUT_PATHS, event)
    assert json.loads(delivered) == {"id": event["id"], "detail": event["detail"]}
