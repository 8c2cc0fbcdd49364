"""Least privilege: every principal holds exactly the actions its code calls, each on its one resource."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

import pytest

from stacks import definitions as d
from tests.support.handler_calls import HANDLER_CALLS, Call
from tests.support.synth import Synthesized

ADAPTERS = d.LAMBDA_ASSET_DIR / "order_service" / "adapters"
XRAY_WRITE = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
WRITE_LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
PUT_ORDER_CREATED = {"StringEquals": {"events:source": d.RULE_EVENT_SOURCE, "events:detail-type": d.RULE_DETAIL_TYPE}}
# EventBridge condition keys events:source / events:detail-type ("Using IAM policy conditions in Amazon
# EventBridge", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html).
# The workflow's Publish* states send only these two; markProcessed announces Order Processed itself.
PUT_WORKFLOW_STATUS_EVENTS = {
    "StringEquals": {"events:source": d.RULE_EVENT_SOURCE, "events:detail-type": ["Order Rejected", "Order Failed"]}
}
PUT_ORDER_PROCESSED = {"StringEquals": {"events:source": d.RULE_EVENT_SOURCE, "events:detail-type": "Order Processed"}}
PUT_ORDER_CANCELLED = {"StringEquals": {"events:source": d.RULE_EVENT_SOURCE, "events:detail-type": "Order Cancelled"}}
STAR = '"*"'


def key(resource: Any) -> str:
    return json.dumps(resource, sort_keys=True)


def arn(logical_id: str) -> str:
    return key({"Fn::GetAtt": [logical_id, "Arn"]})


def statements_of(synth: Synthesized, role_id: str) -> list[dict[str, Any]]:
    """Inline policies of the role plus every AWS::IAM::Policy attached to it."""
    role = synth.raw["Resources"][role_id]
    statements = [s for policy in role["Properties"].get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    assert not synth.resources("AWS::IAM::ManagedPolicy")
    assert "ManagedPolicyArns" not in role["Properties"]
    return statements


def grants(synth: Synthesized, role_id: str) -> dict[str, set[str]]:
    """Action -> resources it is allowed on (resources as canonical JSON)."""
    granted: dict[str, set[str]] = defaultdict(set)
    for statement in statements_of(synth, role_id):
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in actions:
            assert "*" not in action, f"wildcard action {action}"
            granted[action].update(key(resource) for resource in resources)
    return dict(granted)


def conditions_for(synth: Synthesized, role_id: str, action: str) -> list[Any]:
    return [
        s.get("Condition")
        for s in statements_of(synth, role_id)
        if action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]


def role_of_function(synth: Synthesized, name: str) -> str:
    (function,) = synth.template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"FunctionName": name}}
    ).values()
    role_id: str = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return role_id


def stripe_secret(synth: Synthesized) -> str:
    """The one secret a payment caller may read (a secret's Ref is its ARN)."""
    (secret_id,) = synth.template.find_resources(
        "AWS::SecretsManager::Secret", {"Properties": {"Name": d.NAMES.stripe_secret}}
    )
    return key({"Ref": secret_id})


def test_only_the_payment_callers_may_read_the_stripe_secret(synth: Synthesized) -> None:
    """GetSecretValue on exactly the Stripe secret, for the processor and the canceller, nobody else
    ("Authentication and access control for AWS Secrets Manager": grant GetSecretValue on the secret's ARN)."""
    readers = {
        name for name in d.FUNCTIONS if "secretsmanager:GetSecretValue" in grants(synth, role_of_function(synth, name))
    }
    assert readers == {d.FUNCTIONS[role].name for role in d.PAYMENT_CALLERS}
    for name in readers:
        assert grants(synth, role_of_function(synth, name))["secretsmanager:GetSecretValue"] == {stripe_secret(synth)}


def log_group_arn(synth: Synthesized, name: str) -> str:
    (log_group_id,) = synth.template.find_resources(
        "AWS::Logs::LogGroup", {"Properties": {"LogGroupName": f"/aws/lambda/{name}"}}
    )
    return arn(log_group_id)


@pytest.fixture(scope="module")
def ids(synth: Synthesized) -> dict[str, str]:
    def only(resource_type: str, **properties: Any) -> str:
        (logical_id,) = synth.template.find_resources(resource_type, {"Properties": properties})
        return str(logical_id)

    return {
        "orders": only("AWS::DynamoDB::Table", TableName=d.ORDERS_TABLE),
        "idempotency": only("AWS::DynamoDB::Table", TableName=d.IDEMPOTENCY_TABLE),
        "inventory": only("AWS::DynamoDB::Table", TableName=d.INVENTORY_TABLE),
        "bus": only("AWS::Events::EventBus", Name=d.EVENT_BUS),
        "dlq": only("AWS::SQS::Queue", QueueName=d.DEAD_LETTER_QUEUE),
        "machine": only("AWS::StepFunctions::StateMachine", StateMachineName=d.STATE_MACHINE),
        "processor": only("AWS::Lambda::Function", FunctionName=d.ORDER_PROCESSOR),
    }


def resource_arn(synth: Synthesized, call: Call) -> str:
    """The template's ARN expression for the resource a recorded call named."""
    if call.service == "dynamodb":
        table, _, index = call.resource.partition("/index/")
        (table_id,) = synth.template.find_resources("AWS::DynamoDB::Table", {"Properties": {"TableName": table}})
        if index:
            return key({"Fn::Join": ["", [{"Fn::GetAtt": [table_id, "Arn"]}, f"/index/{index}"]]})
        return arn(table_id)
    if call.service == "events":
        (bus_id,) = synth.template.find_resources("AWS::Events::EventBus", {"Properties": {"Name": call.resource}})
        return arn(bus_id)
    raise AssertionError(f"no mapping for {call}: extend resource_arn when the code calls a new service")


# Functions whose grants are derived from their recorded calls. The processor and the canceller write
# through DynamoDB transactions, which IAM authorizes per item action (GetItem, UpdateItem,
# ConditionCheckItem), not as TransactWriteItems; until the recorder maps transaction items to those
# actions, their roles are checked item by item below (test_processor_role, test_canceller_role).
DERIVED_FROM_CALLS = [d.ORDER_CREATOR, d.ORDER_RECONCILER]
CHECKED_BY_HAND = [d.ORDER_PROCESSOR, d.ORDER_CANCELLER]


def test_every_function_role_is_checked_one_way_or_the_other() -> None:
    assert sorted(DERIVED_FROM_CALLS + CHECKED_BY_HAND) == sorted(d.FUNCTIONS)


@pytest.mark.parametrize("name", DERIVED_FROM_CALLS)
def test_function_role_holds_exactly_what_its_code_calls(
    synth: Synthesized,
    name: str,
    aws: Any,  # moto in-process with the pipeline's resources
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each function's grants, action by action and resource by resource, are the calls its code
    made on every path against moto (tests/support/handler_calls.py), plus what Lambda itself needs:
    writing to the function's own log group ("AWS Lambda execution role", AWSLambdaBasicExecutionRole;
    the group exists, so no logs:CreateLogGroup) and, with active tracing, xray:PutTraceSegments and
    xray:PutTelemetryRecords, which take no resource ("Visualize Lambda function invocations using
    AWS X-Ray", Lambda Developer Guide). For DynamoDB and EventBridge an IAM action is named as its API
    operation (Service Authorization Reference, "Actions, resources, and condition keys for Amazon
    DynamoDB" / "... for Amazon EventBridge")."""
    assert name in HANDLER_CALLS, f"add {name}'s paths to tests/support/handler_calls.py: its grants follow its calls"
    calls = HANDLER_CALLS[name](lambda_context, monkeypatch)
    expected: dict[str, set[str]] = defaultdict(set)
    for call in calls:
        expected[call.action].add(resource_arn(synth, call))
    logs = log_group_arn(synth, name)
    expected.update({action: {logs} for action in WRITE_LOGS})
    expected.update({action: {STAR} for action in XRAY_WRITE})
    role = role_of_function(synth, name)
    assert grants(synth, role) == dict(expected)

    # PutEvents is further limited to the events the code publishes, by the condition keys
    # events:source and events:detail-type ("Using IAM policy conditions in Amazon EventBridge").
    published = {
        (entry["Source"], entry["DetailType"])
        for call in calls
        if call.action == "events:PutEvents"
        for entry in json.loads(call.params)["Entries"]
    }
    if published:
        ((source, detail_type),) = published
        assert conditions_for(synth, role, "events:PutEvents") == [
            {"StringEquals": {"events:source": source, "events:detail-type": detail_type}}
        ]


def test_processor_role(synth: Synthesized, ids: dict[str, str]) -> None:
    """Transactions are authorized per item by the underlying actions (GetItem, UpdateItem, and
    ConditionCheckItem for a ConditionCheck): "Using IAM with DynamoDB transactions",
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html"""
    role = role_of_function(synth, d.ORDER_PROCESSOR)
    orders, logs = arn(ids["orders"]), log_group_arn(synth, d.ORDER_PROCESSOR)
    inventory = arn(ids["inventory"])
    assert grants(synth, role) == {
        "dynamodb:GetItem": {orders, inventory},
        "dynamodb:UpdateItem": {orders, inventory},
        "dynamodb:ConditionCheckItem": {inventory},
        "secretsmanager:GetSecretValue": {stripe_secret(synth)},
        "events:PutEvents": {arn(ids["bus"])},
        **{action: {logs} for action in WRITE_LOGS},
        **{action: {STAR} for action in XRAY_WRITE},
    }
    assert conditions_for(synth, role, "events:PutEvents") == [PUT_ORDER_PROCESSED]  # that one event only


def test_state_machine_role(synth: Synthesized, ids: dict[str, str]) -> None:
    machine = synth.raw["Resources"][ids["machine"]]
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    granted = grants(synth, role)
    # What AWS requires for logging and tracing, on "*" (these APIs take no resource ARN): the log
    # delivery actions listed in "Using CloudWatch Logs to log execution history in Step Functions"
    # (IAM policies for logging) and the X-Ray ones in "Trace Step Functions request data in AWS
    # X-Ray" (AWS Step Functions Developer Guide). The task actions are derived from the ASL below.
    service_wide = {action for action, resources in granted.items() if resources == {STAR}}
    assert service_wide == {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    }
    assert {action: resources for action, resources in granted.items() if action not in service_wide} == (
        task_grants(synth, ids["machine"])
    )
    assert conditions_for(synth, role, "events:PutEvents") == [PUT_WORKFLOW_STATUS_EVENTS]


# A Task's Resource -> the IAM action the workflow's role needs for it: a Lambda function ARN needs
# lambda:InvokeFunction on it ("Invoke an AWS Lambda function with Step Functions"); the SQS
# integration needs sqs:SendMessage on the queue ("Send messages to Amazon SQS with Step Functions",
# IAM policies); the EventBridge integration needs events:PutEvents on the bus each entry names
# ("Send custom events to EventBridge with Step Functions", IAM policies). All in the AWS Step Functions
# Developer Guide.
INTEGRATION_ACTIONS = {"arn:aws:states:::sqs:sendMessage": ("sqs:SendMessage", "QueueUrl")}
PUT_EVENTS = "arn:aws:states:::events:putEvents"


def task_grants(synth: Synthesized, machine_id: str) -> dict[str, set[str]]:
    """What the ASL's Task states call, resolved through the state machine's definition substitutions."""
    machine = synth.raw["Resources"][machine_id]["Properties"]
    substitutions = machine["DefinitionSubstitutions"]
    needed: dict[str, set[str]] = defaultdict(set)
    for state in d.load_asl()["States"].values():
        if state["Type"] != "Task":
            continue
        resource = state["Resource"]
        if resource == PUT_EVENTS:
            for entry in state["Parameters"]["Entries"]:
                bus = substitutions[entry["EventBusName"].strip("${}")]  # {"Ref": bus}: its name
                needed["events:PutEvents"].add(arn(bus["Ref"]))
        elif resource in INTEGRATION_ACTIONS:
            action, parameter = INTEGRATION_ACTIONS[resource]
            target = substitutions[state["Parameters"][parameter].strip("${}")]  # {"Ref": queue}: its URL
            needed[action].add(arn(target["Ref"]))
        else:
            needed["lambda:InvokeFunction"].add(key(substitutions[resource.strip("${}")]))
    return dict(needed)


def test_eventbridge_may_only_start_the_workflow(synth: Synthesized, ids: dict[str, str]) -> None:
    """A Step Functions target needs states:StartExecution on the state machine, through the role
    the target names ("Amazon EventBridge targets", EventBridge User Guide): that and nothing else."""
    (rule,) = synth.template.find_resources(
        "AWS::Events::Rule", {"Properties": {"Name": d.ORDER_CREATED_RULE}}
    ).values()
    (target,) = rule["Properties"]["Targets"]
    role = target["RoleArn"]["Fn::GetAtt"][0]
    assert grants(synth, role) == {"states:StartExecution": {key({"Ref": ids["machine"]})}}


def test_canceller_role(synth: Synthesized, ids: dict[str, str]) -> None:
    """The cancel is one TransactWriteItems of Update items (same guide as the processor's)."""
    role = role_of_function(synth, d.ORDER_CANCELLER)
    orders, inventory = arn(ids["orders"]), arn(ids["inventory"])
    assert grants(synth, role) == {
        "dynamodb:GetItem": {orders},
        "dynamodb:UpdateItem": {orders, inventory},
        "events:PutEvents": {arn(ids["bus"])},
        "secretsmanager:GetSecretValue": {stripe_secret(synth)},
        **{action: {log_group_arn(synth, d.ORDER_CANCELLER)} for action in WRITE_LOGS},
        **{action: {STAR} for action in XRAY_WRITE},
    }
    assert conditions_for(synth, role, "events:PutEvents") == [PUT_ORDER_CANCELLED]


def test_every_role_is_accounted_for(synth: Synthesized) -> None:
    # The functions, the workflow, and EventBridge's role for starting the workflow.
    assert len(synth.resources("AWS::IAM::Role")) == len(d.FUNCTIONS) + 2


def test_inventory_adapter_calls_are_granted_to_the_processor(synth: Synthesized, ids: dict[str, str]) -> None:
    """Each transaction item needs its own action on its table: the adapter's Get, Update and
    ConditionCheck items on Inventory, and its Update of the order (same guide as above)."""
    source = (ADAPTERS / "dynamodb_inventory.py").read_text()
    items = set(re.findall(r'"(Get|Update|ConditionCheck)": \{', source))
    assert items == {"Get", "Update", "ConditionCheck"}
    granted = grants(synth, role_of_function(synth, d.ORDER_PROCESSOR))
    for item in items:
        action = "dynamodb:" + ("ConditionCheckItem" if item == "ConditionCheck" else f"{item}Item")
        assert arn(ids["inventory"]) in granted[action]
