"""Service-to-service authorizations the local stack does not run itself (no schedule, no alarm
evaluation, log delivery set up at start), checked on the synthesized template's policies as AWS
checks them. The flows it does run are in test_iam_enforcement.py."""

from __future__ import annotations

import io
from typing import Any

import pytest

from snacks.local.iam import PolicyStore
from snacks.local.iam_enforcement import AccessDenied, Enforcer
from snacks.local.service_steps import authorize_alarm_action, authorize_log_delivery, authorize_schedule
from stacks import definitions as d
from tests.support import iam_templates as t

ACCOUNT = "123456789012"
REGION = "us-east-1"


def enforcer_for(template: dict[str, Any]) -> Enforcer:
    store = PolicyStore.from_template(template, account=ACCOUNT, region=REGION)
    return Enforcer(store, mode="enforce", account=ACCOUNT, region=REGION, log=io.StringIO())


def _of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == resource_type}


def schedule_rule_arn(template: dict[str, Any]) -> str:
    (rule,) = [r for r in _of_type(template, "AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]]
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule['Properties']['Name']}"


def reconciler_arn() -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{d.NAMES.order_reconciler}"


def test_the_schedule_may_invoke_the_reconciler_and_no_other_rule_may(synthesized: dict[str, Any]) -> None:
    """The reconciler's Lambda permission lets ``events.amazonaws.com`` invoke it only with
    ``aws:SourceArn`` = the schedule rule (EventBridge User Guide, "Using resource-based policies for
    Amazon EventBridge", Lambda permissions; the confused-deputy condition)."""
    enforcer = enforcer_for(synthesized)
    authorize_schedule(enforcer, schedule_rule_arn(synthesized), reconciler_arn())
    with pytest.raises(AccessDenied) as denied:
        authorize_schedule(enforcer, f"arn:aws:events:{REGION}:{ACCOUNT}:rule/someone-elses-rule", reconciler_arn())
    assert denied.value.code == "AccessDeniedException" and denied.value.status == 403
    assert "because no resource-based policy allows the lambda:InvokeFunction action" in str(denied.value)


def test_without_the_lambda_permission_the_schedule_cannot_invoke_the_reconciler(synthesized: dict[str, Any]) -> None:
    changed = t.without_resource(
        synthesized,
        "AWS::Lambda::Permission",
        keep=lambda _, r: r["Properties"].get("Principal") != "events.amazonaws.com",
    )
    with pytest.raises(AccessDenied):
        authorize_schedule(enforcer_for(changed), schedule_rule_arn(synthesized), reconciler_arn())


def alarm_actions(template: dict[str, Any]) -> list[tuple[str, str]]:
    """(alarm ARN, topic ARN) for every alarm action of the template."""
    topics = {lid: r["Properties"]["TopicName"] for lid, r in _of_type(template, "AWS::SNS::Topic").items()}
    pairs = []
    for alarm in _of_type(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        for action in props.get("AlarmActions", []):
            topic = topics[action["Ref"]]
            pairs.append(
                (
                    f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{props['AlarmName']}",
                    f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}",
                )
            )
    return pairs


def test_every_alarm_may_publish_to_its_topic(synthesized: dict[str, Any]) -> None:
    """CloudWatch publishes an alarm's notification as ``cloudwatch.amazonaws.com``: the topic
    policy and the topic's key policy must allow it (the review's first finding was an alarm topic
    whose policy only denied). moto evaluates no alarm; this is the publish one in ALARM makes."""
    enforcer = enforcer_for(synthesized)
    pairs = alarm_actions(synthesized)
    assert pairs
    for alarm_arn, topic_arn in pairs:
        authorize_alarm_action(enforcer, alarm_arn, topic_arn)


def test_an_alarm_topic_that_does_not_let_cloudwatch_in_is_refused(synthesized: dict[str, Any]) -> None:
    def cloudwatch_publish(_: str, resource_type: str, statement: t.Statement) -> bool:
        return resource_type == "AWS::SNS::TopicPolicy" and "cloudwatch.amazonaws.com" in t.service_principals(
            statement
        )

    enforcer = enforcer_for(t.removed(synthesized, cloudwatch_publish))
    alarm_arn, topic_arn = alarm_actions(synthesized)[0]
    with pytest.raises(AccessDenied) as denied:
        authorize_alarm_action(enforcer, alarm_arn, topic_arn)
    assert denied.value.code == "AuthorizationError" and "SNS:Publish" in str(denied.value)


def test_the_state_machine_role_may_set_up_its_log_delivery(synthesized: dict[str, Any]) -> None:
    """Step Functions Developer Guide, "Logging Step Functions using CloudWatch Logs": the role needs
    logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries,
    PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups; without them CreateStateMachine
    answers "The state machine IAM Role is not authorized to access the Log Destination"."""
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{d.NAMES.state_machine}"
    authorize_log_delivery(enforcer_for(synthesized), machine)

    def log_delivery(_: str, resource_type: str, statement: t.Statement) -> bool:
        return resource_type in t.IDENTITY_TYPES and "logs:CreateLogDelivery" in t.actions(statement)

    with pytest.raises(AccessDenied) as denied:
        authorize_log_delivery(enforcer_for(t.removed(synthesized, log_delivery)), machine)
    assert str(denied.value) == "The state machine IAM Role is not authorized to access the Log Destination"
