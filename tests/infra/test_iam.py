"""Least privilege: every principal holds exactly the actions its code calls, each on its one resource."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

import pytest

from stacks import definitions as d
from tests.support.synth import Synthesized

ADAPTERS = d.LAMBDA_ASSET_DIR / "order_service" / "adapters"
XRAY_WRITE = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
WRITE_LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
PUT_ORDER_CREATED = {"StringEquals": {"events:source": d.RULE_EVENT_SOURCE, "events:detail-type": d.RULE_DETAIL_TYPE}}
# EventBridge condition keys events:source / events:detail-type ("Using IAM policy conditions in Amazon
# EventBridge", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html).
PUT_STATUS_EVENTS = {
    "StringEquals": {"events:source": d.RULE_EVENT_SOURCE, "events:detail-type": list(d.STATUS_EVENT_DETAIL_TYPES)}
}
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


def test_creator_role(synth: Synthesized, ids: dict[str, str]) -> None:
    role = role_of_function(synth, d.ORDER_CREATOR)
    orders, idempotency, bus = arn(ids["orders"]), arn(ids["idempotency"]), arn(ids["bus"])
    logs = log_group_arn(synth, d.ORDER_CREATOR)
    assert grants(synth, role) == {
        "dynamodb:PutItem": {orders, idempotency},
        "dynamodb:GetItem": {idempotency},
        "dynamodb:UpdateItem": {idempotency},
        "dynamodb:DeleteItem": {idempotency},
        "events:PutEvents": {bus},
        **{action: {logs} for action in WRITE_LOGS},
        **{action: {STAR} for action in XRAY_WRITE},
    }
    assert conditions_for(synth, role, "events:PutEvents") == [PUT_ORDER_CREATED]


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
        **{action: {logs} for action in WRITE_LOGS},
        **{action: {STAR} for action in XRAY_WRITE},
    }


def test_reconciler_role(synth: Synthesized, ids: dict[str, str]) -> None:
    role = role_of_function(synth, d.ORDER_RECONCILER)
    status_index = key({"Fn::Join": ["", [{"Fn::GetAtt": [ids["orders"], "Arn"]}, f"/index/{d.STATUS_INDEX}"]]})
    logs = log_group_arn(synth, d.ORDER_RECONCILER)
    assert grants(synth, role) == {
        "dynamodb:Query": {status_index},  # the index only: never the table itself, never a Scan
        "events:PutEvents": {arn(ids["bus"])},
        **{action: {logs} for action in WRITE_LOGS},
        **{action: {STAR} for action in XRAY_WRITE},
    }
    assert conditions_for(synth, role, "events:PutEvents") == [PUT_ORDER_CREATED]


def test_state_machine_role(synth: Synthesized, ids: dict[str, str]) -> None:
    machine = synth.raw["Resources"][ids["machine"]]
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    granted = grants(synth, role)
    # The vended-log delivery APIs and X-Ray take no resource ARNs: "*" is the only valid value.
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
    assert {action: resources for action, resources in granted.items() if action not in service_wide} == {
        "lambda:InvokeFunction": {arn(ids["processor"])},
        "sqs:SendMessage": {arn(ids["dlq"])},
        "events:PutEvents": {arn(ids["bus"])},  # the status events, on our bus only
    }
    assert conditions_for(synth, role, "events:PutEvents") == [PUT_STATUS_EVENTS]


def test_eventbridge_may_only_start_the_workflow(synth: Synthesized, ids: dict[str, str]) -> None:
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
        **{action: {log_group_arn(synth, d.ORDER_CANCELLER)} for action in WRITE_LOGS},
        **{action: {STAR} for action in XRAY_WRITE},
    }
    assert conditions_for(synth, role, "events:PutEvents") == [PUT_ORDER_CANCELLED]


def test_every_role_is_accounted_for(synth: Synthesized) -> None:
    # The functions, the workflow, and EventBridge's role for starting the workflow.
    assert len(synth.resources("AWS::IAM::Role")) == len(d.FUNCTIONS) + 2


def test_granted_dynamodb_actions_cover_what_the_adapter_calls(synth: Synthesized) -> None:
    """The Orders adapter's client calls, as IAM actions, are all granted to somebody on Orders."""
    source = (ADAPTERS / "dynamodb_orders.py").read_text()
    operations = set(re.findall(r"self\._client\.(\w+)\(", source)) - {"get_paginator"}
    operations |= set(re.findall(r"get_paginator\(\"(\w+)\"\)", source))
    needed = {"dynamodb:" + "".join(part.title() for part in op.split("_")) for op in operations}
    granted = {
        action
        for name in d.FUNCTIONS
        for action in grants(synth, role_of_function(synth, name))
        if action.startswith("dynamodb:")
    }
    assert needed == {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"}
    assert needed <= granted


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
