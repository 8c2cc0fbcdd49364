"""What AWS requires of the template, each rule with the document that states it.

These tests check the synthesized template against AWS's documented behaviour (and CDK's own
issues where CDK is the trap), not against what our constructs happen to write.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from stacks import definitions as d
from tests.support.synth import Synthesized, cdk_json_context, synthesize

# Resource types whose creation AWS validates against the execution role's permissions.
ROLE_CHECKED_AT_CREATE = {
    "AWS::Lambda::Function": "Role",
    "AWS::StepFunctions::StateMachine": "RoleArn",
}
PHYSICAL_NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::Events::Archive": "ArchiveName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::SNS::Topic": "TopicName",
}


def _role_logical_id(value: Any) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    return None


def _policies_of_role(synth: Synthesized, role_id: str) -> set[str]:
    return {
        policy_id
        for policy_id, policy in synth.resources("AWS::IAM::Policy").items()
        if {"Ref": role_id} in policy["Properties"].get("Roles", [])
    }


def _depends_on(resource: dict[str, Any]) -> set[str]:
    depends = resource.get("DependsOn", [])
    return {depends} if isinstance(depends, str) else set(depends)


# --- 1. X-Ray permissions must exist before a traced function is created ----------------------------


def test_feature_flag_that_races_policies_against_functions_is_off() -> None:
    """aws/aws-cdk#33688: with ``@aws-cdk/aws-lambda:createNewPoliciesWithAddToRolePolicy`` the X-Ray
    statement lands in a separate AWS::IAM::Policy that the function does not wait for, and Lambda
    rejects the create ("The provided execution role does not have permissions to call
    PutTraceSegments on XRAY"); CDK's maintainers call it a data race and the CLI no longer sets it."""
    assert not cdk_json_context().get("@aws-cdk/aws-lambda:createNewPoliciesWithAddToRolePolicy")


def test_every_role_checked_at_create_has_all_its_policies_before_the_resource(synth: Synthesized) -> None:
    """Lambda "Using AWS Lambda with AWS X-Ray" (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html):
    active tracing needs xray:PutTraceSegments on the execution role, checked when the function is
    created; Step Functions checks its role's log-delivery permissions on CreateStateMachine
    ("IAM policies for logging to CloudWatch Logs",
    https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html). CloudFormation creates
    resources in parallel unless DependsOn or a reference orders them
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html), so
    each such resource must depend on every policy attached to its role."""
    checked = 0
    for resource_type, role_property in ROLE_CHECKED_AT_CREATE.items():
        for logical_id, resource in synth.resources(resource_type).items():
            role_id = _role_logical_id(resource["Properties"][role_property])
            assert role_id is not None, logical_id
            policies = _policies_of_role(synth, role_id)
            missing = policies - _depends_on(resource)
            assert not missing, f"{logical_id} may be created before {sorted(missing)}"
            checked += 1
    assert checked == len(synth.resources("AWS::Lambda::Function")) + 1


def test_traced_functions_have_the_xray_write_actions_on_their_role(synth: Synthesized) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html: the execution role needs
    xray:PutTraceSegments and xray:PutTelemetryRecords (Resource "*": no resource-level permission)."""
    for logical_id, function in synth.resources("AWS::Lambda::Function").items():
        assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}
        role_id = _role_logical_id(function["Properties"]["Role"])
        assert role_id is not None
        granted = set()
        for policy_id in _policies_of_role(synth, role_id) & _depends_on(function):
            for statement in synth.raw["Resources"][policy_id]["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                granted |= {actions} if isinstance(actions, str) else set(actions)
        assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= granted, logical_id


# --- 2. a failed first create must not block the next deploy ----------------------------------------


def test_no_named_resource_survives_a_failed_create(synth: Synthesized) -> None:
    """CloudFormation "DeletionPolicy attribute"
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html):
    ``Retain`` keeps a resource even when the stack's creation is rolled back; a retained resource with
    a fixed name then fails the next create ("already exists"). ``RetainExceptOnCreate`` deletes it on a
    failed create and retains it on stack deletion."""
    for resource_type, name_property in PHYSICAL_NAME_PROPERTIES.items():
        for logical_id, resource in synth.resources(resource_type).items():
            if name_property in resource.get("Properties", {}):
                assert resource.get("DeletionPolicy", "Delete") != "Retain", logical_id


def _rollback_of_its_create_deletes(resource: dict[str, Any]) -> bool:
    """Whether rolling back the stack operation that created ``resource`` leaves nothing behind.

    CloudFormation "DeletionPolicy attribute" (link above): ``Delete`` and ``RetainExceptOnCreate`` delete
    the resource when the operation that created it is rolled back, ``Retain`` keeps it. DynamoDB "Using
    deletion protection"
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithTables.Basics.html#WorkingWithTables.Basics.DeletionProtection):
    a table with deletion protection enabled cannot be deleted by anyone, CloudFormation's DeleteTable
    included, so that rollback fails to delete it and the table stays (aws/aws-cdk#24581's integration
    test has to turn protection off before its stack can be destroyed)."""
    if resource.get("DeletionPolicy", "Delete") not in ("Delete", "RetainExceptOnCreate"):
        return False
    return resource.get("Properties", {}).get("DeletionProtectionEnabled") is not True


def test_a_failed_first_create_deletes_every_table_it_made(synth: Synthesized) -> None:
    """The next deploy then creates ``Orders`` afresh instead of failing "already exists"."""
    tables = synth.resources("AWS::DynamoDB::Table")
    assert len(tables) == 3
    for logical_id, table in tables.items():
        assert _rollback_of_its_create_deletes(table), logical_id


@pytest.mark.parametrize("name", [d.ORDERS_TABLE, d.INVENTORY_TABLE])
def test_business_tables_survive_stack_deletion_and_replacement(synth: Synthesized, name: str) -> None:
    """Once created, CloudFormation never deletes them: ``RetainExceptOnCreate`` on stack deletion (above),
    ``UpdateReplacePolicy: Retain`` when an update replaces them
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-updatereplacepolicy.html);
    and point-in-time recovery stays on: deleting such a table by hand leaves a system backup for 35 days
    (DynamoDB "Enable point-in-time recovery", Delete a table with PITR enabled,
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/PointInTimeRecovery_Howitworks.html)."""
    (table,) = [t for t in synth.resources("AWS::DynamoDB::Table").values() if t["Properties"]["TableName"] == name]
    assert table["DeletionPolicy"] == "RetainExceptOnCreate"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def _granted_actions(synth: Synthesized) -> list[str]:
    """Every action any identity policy of the stack allows (managed, inline and role-inline policies)."""
    documents = [p["Properties"]["PolicyDocument"] for p in synth.resources("AWS::IAM::Policy").values()]
    documents += [p["Properties"]["PolicyDocument"] for p in synth.resources("AWS::IAM::ManagedPolicy").values()]
    for role in synth.resources("AWS::IAM::Role").values():
        documents += [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
    actions: list[str] = []
    for document in documents:
        for statement in document["Statement"]:
            if statement["Effect"] == "Allow":
                action = statement["Action"]
                actions += [action] if isinstance(action, str) else action
    return actions


def test_no_role_of_the_stack_may_delete_a_table(synth: Synthesized) -> None:
    """Without deletion protection, what keeps a running stack's tables from being deleted outside
    CloudFormation is that none of its principals may (IAM action matching: wildcards count,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html)."""
    actions = _granted_actions(synth)
    assert actions
    assert not [a for a in actions if fnmatch.fnmatchcase("dynamodb:DeleteTable".lower(), a.lower())]


# --- 3. alarms must be allowed to publish to their topic --------------------------------------------


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def _topic(synth: Synthesized, name: str) -> tuple[str, dict[str, Any]]:
    """A topic's logical id and its topic policy."""
    (topic_id,) = [i for i, t in synth.resources("AWS::SNS::Topic").items() if t["Properties"]["TopicName"] == name]
    (policy,) = [
        p for p in synth.resources("AWS::SNS::TopicPolicy").values() if p["Properties"]["Topics"] == [{"Ref": topic_id}]
    ]
    return topic_id, policy


def _key_of(synth: Synthesized, topic_name: str) -> dict[str, Any]:
    (topic,) = [t for t in synth.resources("AWS::SNS::Topic").values() if t["Properties"]["TopicName"] == topic_name]
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    return dict(synth.resources("AWS::KMS::Key")[key_id])


def test_cloudwatch_may_publish_every_alarm_to_the_topic_and_only_ours(synth: Synthesized) -> None:
    """SNS "Amazon SNS access control case examples" / CloudWatch "Using Amazon SNS topics"
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html): a
    topic policy replaces SNS's default policy, so the topic's own policy must allow
    ``cloudwatch.amazonaws.com`` to ``sns:Publish``; AWS recommends ``aws:SourceArn`` and
    ``aws:SourceAccount`` against the confused deputy
    (https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html)."""
    topic_id, policy = _topic(synth, d.NAMES.alarm_topic)
    allows = [
        s
        for s in _statements(policy)
        if s["Effect"] == "Allow" and s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(allows) == 1, "nothing allows CloudWatch to publish: alarms could never notify"
    (allow,) = allows
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == {"Ref": topic_id}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arns = allow["Condition"]["ArnEquals"]["aws:SourceArn"]
    notifying = {
        logical_id
        for logical_id, alarm in synth.resources("AWS::CloudWatch::Alarm").items()
        if {"Ref": topic_id} in alarm["Properties"].get("AlarmActions", [])
    }
    assert notifying, "no alarm notifies the topic"
    assert sorted(source_arns, key=json.dumps) == sorted(
        ({"Fn::GetAtt": [alarm, "Arn"]} for alarm in notifying), key=json.dumps
    )


def test_topic_still_refuses_publishing_without_tls(synth: Synthesized) -> None:
    """SNS security best practices (https://docs.aws.amazon.com/sns/latest/dg/sns-security-best-practices.html):
    enforce encryption of data in transit with ``aws:SecureTransport``; the Allow must not undo the Deny
    (an explicit Deny wins: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""
    for name in (d.NAMES.alarm_topic, d.NAMES.order_status_topic):
        _, policy = _topic(synth, name)
        denies = [s for s in _statements(policy) if s["Effect"] == "Deny"]
        assert any(
            s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Principal"] == "*" for s in denies
        ), name


def test_alarm_topic_key_lets_cloudwatch_encrypt_for_the_topic(synth: Synthesized) -> None:
    """CloudWatch publishing to an SSE topic needs kms:GenerateDataKey* and kms:Decrypt on the key
    (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services)."""
    key = _key_of(synth, d.NAMES.alarm_topic)
    (statement,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(statement["Action"])


def test_eventbridge_may_publish_status_events_to_the_order_status_topic_from_our_rule_only(
    synth: Synthesized,
) -> None:
    """With ``enforce_ssl`` the topic's policy replaces SNS's default one, so it must allow
    ``events.amazonaws.com`` to ``sns:Publish`` ("Amazon SNS permissions" in "Using resource-based policies
    for Amazon EventBridge", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions),
    scoped with ``aws:SourceArn`` to the rule against the confused deputy
    (https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html). No other Allow for EventBridge."""
    topic_id, policy = _topic(synth, d.NAMES.order_status_topic)
    allows = [s for s in _statements(policy) if s["Effect"] == "Allow"]
    (allow,) = allows
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == {"Ref": topic_id}
    (rule_id,) = [
        i
        for i, r in synth.resources("AWS::Events::Rule").items()
        if r["Properties"].get("Name") == d.NAMES.order_status_rule
    ]
    assert allow["Condition"]["ArnEquals"] == {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    rule = synth.resources("AWS::Events::Rule")[rule_id]["Properties"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": topic_id} and "RoleArn" not in target  # resource policy, no role
    assert rule["EventPattern"] == d.STATUS_EVENT_PATTERN


EVENTBRIDGE_KEY_STATEMENT = "EventBridgePublishesOrderStatus"
SOURCE_CONDITION_KEYS = {"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid"}


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    return {key.lower() for operator in statement.get("Condition", {}).values() for key in operator}


def test_order_status_topic_key_lets_eventbridge_encrypt_without_source_conditions(synth: Synthesized) -> None:
    """EventBridge publishing to an SSE topic needs kms:GenerateDataKey* and kms:Decrypt on a customer
    managed key, and: "Adding the aws:SourceAccount, aws:SourceArn, and aws:SourceOrgID to a AWS KMS policy
    is not supported for EventBridge-to-encrypted topics" (SNS Developer Guide, "Key management", Enable
    compatibility between event sources from AWS services and encrypted topics,
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services;
    deliveries fail with them: awslabs/landing-zone-accelerator-on-aws#407). The confused-deputy scoping
    lives in the topic policy (test above), where EventBridge supports it."""
    key = _key_of(synth, d.NAMES.order_status_topic)
    (statement,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert statement["Sid"] == EVENTBRIDGE_KEY_STATEMENT
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(statement["Action"])
    assert not _condition_keys(statement) & SOURCE_CONDITION_KEYS, statement.get("Condition")
    assert key["Properties"]["EnableKeyRotation"] is True


def test_alarm_topic_key_keeps_its_confused_deputy_condition(synth: Synthesized) -> None:
    """The exception is EventBridge's alone: for the other event sources the same page recommends
    ``aws:SourceAccount`` / ``aws:SourceArn`` on the key statement, and CloudWatch keeps it."""
    key = _key_of(synth, d.NAMES.alarm_topic)
    (statement,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert "aws:sourceaccount" in _condition_keys(statement)


def _order_status_rule(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    ((rule_id, rule),) = [
        (i, r)
        for i, r in synth.resources("AWS::Events::Rule").items()
        if r["Properties"].get("Name") == d.NAMES.order_status_rule
    ]
    return rule_id, rule


def test_undeliverable_status_events_go_to_their_own_encrypted_dead_letter_queue(synth: Synthesized) -> None:
    """EventBridge "Using dead-letter queues to process undelivered events in EventBridge"
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html): a target with a DLQ gets
    the events it could not deliver after its retry policy (or at once, e.g. on a permission error);
    without one they are dropped. The queue's policy must let ``events.amazonaws.com`` send, scoped with
    ``aws:SourceArn`` to the rule (Granting permissions to the dead-letter queue, same page)."""
    rule_id, rule = _order_status_rule(synth)
    ((queue_id, queue),) = [
        (i, q)
        for i, q in synth.resources("AWS::SQS::Queue").items()
        if q["Properties"]["QueueName"] == d.NAMES.order_status_dlq
    ]
    (target,) = rule["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": d.RULE_TARGET_RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": d.RULE_TARGET_MAX_EVENT_AGE_SECONDS,
    }
    assert queue["Properties"]["MessageRetentionPeriod"] == d.DLQ_RETENTION_DAYS * 24 * 3600
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    (policy,) = [
        p for p in synth.resources("AWS::SQS::QueuePolicy").values() if p["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    statements = _statements(policy)
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}


@pytest.mark.parametrize("stage", [None, "dev"])
def test_failed_notification_deliveries_alarm_on_the_custom_bus_rules_metric(stage: str | None) -> None:
    """ "Monitoring Amazon EventBridge" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html):
    ``FailedInvocations`` counts invocations that failed permanently; "Metrics that specify only the RuleName
    dimension refer to the default event bus. Metrics that specify both the EventBusName and RuleName
    dimensions refer to a custom event bus." Our rule is on a custom bus: an alarm on RuleName alone would
    watch a metric EventBridge never sends for it."""
    synth = synthesize((("stage", stage),) if stage else (), nag=False)
    names = d.resource_names(stage)
    topic_id, _ = _topic(synth, names.alarm_topic)
    (alarm,) = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == f"{names.order_status_rule}-failed-invocations"
    ]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Events", "FailedInvocations", "Sum")
    assert sorted(alarm["Dimensions"], key=lambda dimension: dimension["Name"]) == [
        {"Name": "EventBusName", "Value": names.event_bus},
        {"Name": "RuleName", "Value": names.order_status_rule},
    ]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["TreatMissingData"] == "notBreaching"  # sent only when non-zero
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]


# --- 4. the event archive ---------------------------------------------------------------------------


def test_the_archive_names_no_empty_kms_key(synth: Synthesized) -> None:
    """AWS::Events::Archive ``KmsKeyIdentifier`` is an optional key ARN/id/alias; absent, the archive is
    encrypted with an AWS owned key. aws-cdk-lib writes ``""`` when no key is given (aws/aws-cdk#37847),
    reported to fail deploys in some regions: the template must leave the property out."""
    ((_, archive),) = synth.resources("AWS::Events::Archive").items()
    assert "KmsKeyIdentifier" not in archive["Properties"]


# --- 5. stages: several stacks in one account -------------------------------------------------------


def _physical_names(synth: Synthesized) -> set[str]:
    names = set()
    for resource_type, name_property in PHYSICAL_NAME_PROPERTIES.items():
        for resource in synth.resources(resource_type).values():
            value = resource.get("Properties", {}).get(name_property)
            if isinstance(value, str):
                names.add(value)
    return names


@pytest.fixture(scope="module")
def dev_stage() -> Synthesized:
    return synthesize((("stage", "dev"),))


def test_default_stage_keeps_the_seeds_names(synth: Synthesized) -> None:
    """The seed's commands (``aws lambda invoke --function-name order-creator``, ``aws dynamodb scan
    --table-name Orders``) must work verbatim against a default deploy."""
    names = _physical_names(synth)
    assert {"Orders", "order-creator", "order-processor", "serverless-snacks-orders", "serverless-snacks-dlq"} <= names
    assert synth.stack.stack_name == "ServerlessSnacks"


def test_another_stage_shares_no_physical_name_with_the_default(synth: Synthesized, dev_stage: Synthesized) -> None:
    """Physical names are unique per account and region for every type above (e.g. "Lambda quotas":
    function names, "DynamoDB naming rules": table names per Region), so two stages of the pipeline in
    one account must not share any; nor may their stacks."""
    default_names, dev_names = _physical_names(synth), _physical_names(dev_stage)
    assert len(dev_names) == len(default_names) >= 20
    assert not default_names & dev_names, sorted(default_names & dev_names)
    assert dev_stage.stack.stack_name == "ServerlessSnacks-dev" != synth.stack.stack_name
    for resource_type, name_property in PHYSICAL_NAME_PROPERTIES.items():
        for logical_id, resource in dev_stage.resources(resource_type).items():
            assert isinstance(resource["Properties"].get(name_property), str), (logical_id, "unnamed")


def test_another_stage_is_cdk_nag_clean_too(dev_stage: Synthesized) -> None:
    assert dev_stage.nag_errors == ()
    assert dev_stage.nag_warnings == ()


def test_another_stages_functions_and_metrics_point_at_that_stage(dev_stage: Synthesized) -> None:
    """Each stage's functions read and write only that stage's table and bus, and emit metrics under
    their own service name, which that stage's alarms watch."""
    names = d.resource_names("dev")
    functions = {f["Properties"]["FunctionName"]: f for f in dev_stage.resources("AWS::Lambda::Function").values()}
    assert set(functions) == set(names.functions)
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["ORDERS_TABLE_NAME"] == names.orders_table
        assert variables.get("EVENT_BUS_NAME", names.event_bus) == names.event_bus
        assert variables["POWERTOOLS_SERVICE_NAME"] == name
    for alarm in dev_stage.resources("AWS::CloudWatch::Alarm").values():
        for dimension in alarm["Properties"].get("Dimensions", []):
            if dimension["Name"] == "service":
                assert dimension["Value"] in names.functions


@pytest.mark.parametrize("stage", ["Dev", "-dev", "dev-", "dev_1", "1dev", "dev stage"])
def test_stage_names_that_would_break_some_service_are_refused(stage: str) -> None:
    """Lambda function names, SQS queue names and rule names allow letters, digits, '-' and '_' only; a
    lower-case DNS-like stage fits every one."""
    with pytest.raises(ValueError, match="stage"):
        d.resource_names(stage)


# Each physical name's limit by CloudFormation type, from each service's API reference (independent of
# stacks/definitions.py's table, which derives the longest stage): Lambda CreateFunction FunctionName 64;
# DynamoDB table names 3-255; EventBridge PutRule Name 64, CreateEventBus Name 256, CreateArchive
# ArchiveName 48 (cfn-lint E3033); Step Functions state machine names 80; SQS queue names 80; CloudWatch
# Logs log group names 512; CloudWatch PutMetricAlarm AlarmName 255, PutDashboard DashboardName 255; SNS
# topic names 256.
NAME_LIMITS_BY_TYPE = {
    "AWS::DynamoDB::Table": 255,
    "AWS::Lambda::Function": 64,
    "AWS::Events::EventBus": 256,
    "AWS::Events::Rule": 64,
    "AWS::Events::Archive": 48,
    "AWS::StepFunctions::StateMachine": 80,
    "AWS::SQS::Queue": 80,
    "AWS::Logs::LogGroup": 512,
    "AWS::CloudWatch::Alarm": 255,
    "AWS::CloudWatch::Dashboard": 255,
    "AWS::SNS::Topic": 256,
}
CLOUDFORMATION_STACK_NAME_LIMIT = 128  # CreateStack StackName


def _longest_stage() -> str:
    return "a" * d.MAX_STAGE_LENGTH


@pytest.fixture(scope="module")
def longest_stage() -> Synthesized:
    return synthesize((("stage", _longest_stage()),), nag=False)


def test_every_name_of_the_longest_stage_fits_its_services_limit(longest_stage: Synthesized) -> None:
    """The longest stage the CLI and `cdk deploy -c stage=` accept, synthesized: every physical name in its
    template (alarm names built from the stage included) fits the limit of its type."""
    assert set(NAME_LIMITS_BY_TYPE) == set(PHYSICAL_NAME_PROPERTIES)
    checked = 0
    for resource_type, name_property in PHYSICAL_NAME_PROPERTIES.items():
        for logical_id, resource in longest_stage.resources(resource_type).items():
            name = resource["Properties"][name_property]
            assert _longest_stage() in name, (logical_id, name)
            assert len(name) <= NAME_LIMITS_BY_TYPE[resource_type], (logical_id, name, len(name))
            checked += 1
    assert checked >= 40
    assert len(longest_stage.stack.stack_name) <= CLOUDFORMATION_STACK_NAME_LIMIT


def test_the_longest_stage_is_as_long_as_the_tightest_name_allows() -> None:
    """The limit is derived, not typed: one character more and some name (the archive's, 48) overflows,
    and that stage is refused with a message naming the name and its limit."""
    longest = d.resource_names(_longest_stage()).physical()
    tight = [field for field, name in longest.items() if len(name) == d.name_length_limit(field)]
    assert tight, "no name at its limit: the stage could be longer"
    too_long = _longest_stage() + "a"
    with pytest.raises(ValueError, match=rf"at most {d.MAX_STAGE_LENGTH}") as refused:
        d.resource_names(too_long)
    field, limit = d.STAGE_LENGTH_BOUND_BY
    assert field in tight and f"{limit} characters" in str(refused.value)
    assert d.resource_names().physical()[field] in str(refused.value)


def test_every_suffixed_name_has_a_length_limit() -> None:
    """A name added to ResourceNames without its service's limit cannot be forgotten by the derivation."""
    for field in d.resource_names().physical():
        assert d.name_length_limit(field) > 0
    with pytest.raises(KeyError, match="NAME_LENGTH_LIMITS"):
        d.name_length_limit("a_name_nobody_bounded")


@pytest.mark.parametrize("stage", ["dev", "ci-42", "p"])
def test_every_stage_name_fits_each_services_length_limit(stage: str) -> None:
    names = d.resource_names(stage)
    for field, name in names.physical().items():
        assert len(name) <= d.name_length_limit(field), (field, name)
