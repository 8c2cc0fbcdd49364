"""PolicyStore.from_template on small hand-written templates: intrinsics, each policy source, the
odd cases and the one-line errors (the real synthesized templates: test_template_synth.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from snacks.local.iam import AuthorizationRequest, PolicyError, PolicyStore, Principal

ACCOUNT = "123456789012"
REGION = "us-east-1"
FN_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:news"
EVENTS = Principal("events.amazonaws.com", "service")


def _template() -> dict[str, Any]:
    return {
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}},
        "Resources": {
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": "Jobs",
                    "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "KeyAlias"}},
                },
            },
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "KeyPolicy": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                                "Action": "kms:*",
                                "Resource": "*",
                            },
                        ],
                    }
                },
            },
            "KeyAlias": {
                "Type": "AWS::KMS::Alias",
                "Properties": {"AliasName": "alias/jobs", "TargetKeyId": {"Ref": "Key"}},
            },
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "jobs"}},
            "QueuePolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "Queues": [{"Ref": "Queue"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "FromRule",
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                                "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["Rule", "Arn"]}}},
                            }
                        ],
                    },
                },
            },
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"TopicName": "news", "KmsMasterKeyId": "alias/aws/sns"},
            },
            "Rule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Name": "nightly",
                    "ScheduleExpression": "rate(1 day)",
                    "Targets": [
                        {"Id": "Work", "Arn": {"Fn::GetAtt": ["Function", "Arn"]}},
                        {
                            "Id": "Queue",
                            "Arn": {"Fn::GetAtt": ["Queue", "Arn"]},
                            "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                        },
                    ],
                },
            },
            "Role": {
                "Type": "AWS::IAM::Role",
                "Metadata": {"aws:cdk:path": "App/Worker/Role/Resource"},
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                    "ManagedPolicyArns": [
                        {
                            "Fn::Join": [
                                "",
                                [
                                    "arn:",
                                    {"Ref": "AWS::Partition"},
                                    ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                                ],
                            ]
                        }
                    ],
                    "Policies": [
                        {
                            "PolicyName": "inline",
                            "PolicyDocument": {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Sid": "Read",
                                        "Effect": "Allow",
                                        "Action": "dynamodb:GetItem",
                                        "Resource": {
                                            "Fn::Select": [
                                                0,
                                                {
                                                    "Fn::Split": [
                                                        ",",
                                                        {
                                                            "Fn::Sub": [
                                                                "${Arn},other",
                                                                {"Arn": {"Fn::GetAtt": ["Table", "Arn"]}},
                                                            ]
                                                        },
                                                    ]
                                                },
                                            ]
                                        },
                                    },
                                    {
                                        "Fn::If": [
                                            "IsProd",
                                            {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": "*"},
                                            {"Ref": "AWS::NoValue"},
                                        ]
                                    },
                                ],
                            },
                        }
                    ],
                },
            },
            "Attached": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyName": "p",
                    "Roles": [{"Ref": "Role"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sqs:SendMessage",
                                "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                            }
                        ],
                    },
                },
            },
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"FunctionName": "worker", "Role": {"Fn::GetAtt": ["Role", "Arn"]}},
            },
            "Permission": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "FunctionName": {"Ref": "Function"},
                    "Action": "lambda:InvokeFunction",
                    "Principal": "events.amazonaws.com",
                    "SourceArn": {"Fn::GetAtt": ["Rule", "Arn"]},
                    "SourceAccount": {"Ref": "AWS::AccountId"},
                },
            },
            "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "orders"}},
            "BusPolicy": {
                "Type": "AWS::Events::EventBusPolicy",
                "Properties": {
                    "EventBusName": {"Ref": "Bus"},
                    "StatementId": "PartnerAccount",
                    "Action": "events:PutEvents",
                    "Principal": "111122223333",
                },
            },
            "Group": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "/aws/lambda/worker", "KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}},
            },
            "LogsPolicy": {
                "Type": "AWS::Logs::ResourcePolicy",
                "Properties": {
                    "PolicyName": "deliveries",
                    "PolicyDocument": '{"Version":"2012-10-17","Statement":[{"Sid":"Deliver","Effect":"Allow",'
                    '"Principal":{"Service":"delivery.logs.amazonaws.com"},'
                    '"Action":["logs:CreateLogStream","logs:PutLogEvents"],'
                    '"Resource":"arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/*"}]}',
                },
            },
        },
    }


def load(template: dict[str, Any] | None = None, **kwargs: Any) -> PolicyStore:
    return PolicyStore.from_template(template or _template(), account=ACCOUNT, region=REGION, **kwargs)


def ask(store: PolicyStore, principal: Principal, action: str, resource: str, **context: Any) -> bool:
    return store.evaluate(AuthorizationRequest(principal, action, resource, context)).allowed


def test_roles_get_their_inline_attached_and_aws_managed_policies() -> None:
    store = load(stack_name="App")
    role = store.role_arn_of(function="worker")
    assert role == f"arn:aws:iam::{ACCOUNT}:role/App-Role"
    worker = Principal(role, "role")
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Jobs"
    assert ask(store, worker, "dynamodb:GetItem", table)  # inline, through Fn::Select/Split/Sub
    assert not ask(store, worker, "dynamodb:Scan", table)  # Fn::If false -> AWS::NoValue drops it
    assert ask(store, worker, "sqs:SendMessage", QUEUE_ARN)  # AWS::IAM::Policy attached by Roles
    # AWS managed AWSLambdaBasicExecutionRole (AWS Managed Policy Reference Guide): logs on "*".
    assert ask(store, worker, "logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/x:log-stream:y")
    assert store.granted_actions(role) >= {"dynamodb:GetItem", "sqs:SendMessage", "logs:CreateLogGroup"}


def test_role_names_default_to_the_logical_id() -> None:
    assert load().role_arn_of(function="worker") == f"arn:aws:iam::{ACCOUNT}:role/Role"


def test_lambda_permission_becomes_the_statement_lambda_builds() -> None:
    """Lambda Developer Guide, "Working with resource-based IAM policies in Lambda" (AddPermission):
    SourceArn becomes ArnLike AWS:SourceArn, SourceAccount StringEquals AWS:SourceAccount."""
    store = load()
    ((_, statement),) = [(ref, raw) for ref, raw in store.statements() if ref.logical_id == "Permission"]
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/nightly"
    assert statement == {
        "Sid": "Permission",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": FN_ARN,
        "Condition": {"ArnLike": {"AWS:SourceArn": rule}, "StringEquals": {"AWS:SourceAccount": ACCOUNT}},
    }
    assert ask(store, EVENTS, "lambda:InvokeFunction", FN_ARN, **{"aws:SourceArn": rule, "aws:SourceAccount": ACCOUNT})
    assert not ask(store, EVENTS, "lambda:InvokeFunction", FN_ARN, **{"aws:SourceArn": rule})
    # A permission on the unqualified ARN does not cover an alias (a different resource).
    assert not ask(
        store,
        EVENTS,
        "lambda:InvokeFunction",
        FN_ARN + ":live",
        **{"aws:SourceArn": rule, "aws:SourceAccount": ACCOUNT},
    )


def test_queue_policy_by_queue_url_and_role_of_a_rule_target() -> None:
    store = load()
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/nightly"
    assert ask(store, EVENTS, "sqs:SendMessage", QUEUE_ARN, **{"aws:SourceArn": rule})
    assert not ask(store, EVENTS, "sqs:SendMessage", QUEUE_ARN, **{"aws:SourceArn": rule + "x"})
    assert store.role_arn_of(rule="nightly", target_id="Queue") == f"arn:aws:iam::{ACCOUNT}:role/Role"
    assert store.role_arn_of(rule="nightly", target_id="Work") is None
    assert store.role_arn_of(rule=rule) == f"arn:aws:iam::{ACCOUNT}:role/Role"  # the only target with a role


def test_event_bus_policy_legacy_form_names_the_account() -> None:
    """CloudFormation AWS::Events::EventBusPolicy: Principal is an account id (or *), Action events:PutEvents."""
    store = load()
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders"
    ((_, statement),) = [(ref, raw) for ref, raw in store.statements() if ref.logical_id == "BusPolicy"]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert statement["Sid"] == "PartnerAccount" and statement["Resource"] == bus


def test_logs_resource_policy_applies_to_the_log_groups_it_names() -> None:
    store = load()
    delivery = Principal("delivery.logs.amazonaws.com", "service")
    vended = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/vendedlogs/states/x:log-stream:s"
    assert ask(store, delivery, "logs:PutLogEvents", vended)
    assert not ask(
        store, delivery, "logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/other:log-stream:s"
    )


def test_key_arn_for_follows_aliases_and_skips_aws_managed_keys() -> None:
    store = load()
    key = store.resource_by_logical_id("Key")
    assert key is not None
    assert store.key_arn_for(f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Jobs") == key.arn  # via alias/jobs
    assert store.key_arn_for(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/worker:*") == key.arn
    assert store.key_arn_for(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/worker") == key.arn
    assert store.key_arn_for(TOPIC_ARN) is None  # alias/aws/sns: AWS managed
    assert store.key_arn_for(QUEUE_ARN) is None
    assert store.key_arn("alias/jobs") == key.arn


def test_kms_key_policy_root_statement_enables_the_roles_iam_policy() -> None:
    """KMS Developer Guide, "Key policies in AWS KMS": with the root statement, IAM policies count."""
    template = _template()
    role = template["Resources"]["Role"]["Properties"]
    role["Policies"][0]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": {"Fn::GetAtt": ["Key", "Arn"]}}
    )
    store = load(template)
    key = store.resource_by_logical_id("Key")
    assert key is not None
    worker = Principal(f"arn:aws:iam::{ACCOUNT}:role/Role", "role")
    assert ask(store, worker, "kms:Decrypt", key.arn)
    assert not ask(store, worker, "kms:Encrypt", key.arn)
    template["Resources"]["Key"]["Properties"]["KeyPolicy"]["Statement"][0]["Principal"] = {
        "Service": "sns.amazonaws.com"
    }
    assert not ask(load(template), worker, "kms:Decrypt", key.arn)


def test_trust_policy_is_the_resource_policy_of_sts_assume_role() -> None:
    store = load()
    role = f"arn:aws:iam::{ACCOUNT}:role/Role"
    assert ask(store, Principal("lambda.amazonaws.com", "service"), "sts:AssumeRole", role)
    assert not ask(store, EVENTS, "sts:AssumeRole", role)


def test_construct_path_comes_from_cdk_metadata() -> None:
    store = load()
    refs = {ref.logical_id: ref for ref, _ in store.statements()}
    assert refs["Role"].construct_path == "App/Worker/Role/Resource"
    decision = store.evaluate(
        AuthorizationRequest(
            Principal(f"arn:aws:iam::{ACCOUNT}:role/Role", "role"),
            "dynamodb:GetItem",
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Jobs",
        )
    )
    assert "[App/Worker/Role/Resource]" in decision.explain()
    assert "Role AWS::IAM::Role Policies[0] statement 0 (Sid Read)" in decision.explain()


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    template = copy.deepcopy(_template())
    node: Any = template["Resources"]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return template


_READ = "Role AWS::IAM::Role Policies[0] statement 0 (Sid Read)"
_INLINE = ["Role", "Properties", "Policies", 0, "PolicyDocument", "Statement", 0]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            [*_INLINE, "Action"],
            "dynamodb:GetItems",
            f"{_READ}: action 'dynamodb:GetItems': AWS has no such action",
        ),
        (
            [*_INLINE, "Action"],
            "dynamo:GetItem",
            f"{_READ}: action 'dynamo:GetItem': AWS has no service prefix",
        ),
        (
            [*_INLINE, "Condition"],
            {"StringEqualsIgnoringCase": {"aws:SourceAccount": "1"}},
            f"{_READ}: unknown condition operator 'StringEqualsIgnoringCase'",
        ),
        (
            ["QueuePolicy", "Properties", "PolicyDocument", "Statement", 0, "Principal"],
            None,
            "QueuePolicy AWS::SQS::QueuePolicy PolicyDocument statement 0 (Sid FromRule): Principal must be",
        ),
        (
            ["Key", "Properties", "KeyPolicy"],
            {"Version": "2012-10-17"},
            "Key AWS::KMS::Key KeyPolicy: policy has no Statement",
        ),
        (
            ["LogsPolicy", "Properties", "PolicyDocument"],
            "{not json",
            "LogsPolicy AWS::Logs::ResourcePolicy PolicyDocument: not JSON",
        ),
        (
            ["Role", "Properties", "ManagedPolicyArns"],
            ["arn:aws:iam::aws:policy/AdministratorAccess"],
            "Role AWS::IAM::Role ManagedPolicyArns: AWS managed policy arn:aws:iam::aws:policy/AdministratorAccess",
        ),
        (
            [*_INLINE, "Resource"],
            {"Fn::GetAtt": ["Nowhere", "Arn"]},
            "Role AWS::IAM::Role: cannot resolve its properties: Fn::GetAtt of unknown logical id 'Nowhere'",
        ),
    ],
)
def test_a_bad_policy_is_one_line_naming_resource_and_statement(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        load(_with(path, value))
    assert "\n" not in str(error.value)
    assert str(error.value).startswith(message), str(error.value)


def test_a_permissions_boundary_is_refused_not_ignored() -> None:
    template = _with(["Role", "Properties", "PermissionsBoundary"], "arn:aws:iam::aws:policy/PowerUserAccess")
    with pytest.raises(PolicyError, match=r"^Role AWS::IAM::Role PermissionsBoundary: permissions boundaries are not"):
        load(template)


def test_an_unmodelled_attribute_allows_nothing_rather_than_failing_the_load() -> None:
    template = _with([*_INLINE, "Resource"], {"Fn::GetAtt": ["Widget", "Arn"]})
    template["Resources"]["Widget"] = {"Type": "AWS::Example::Widget", "Properties": {}}
    store = load(template)
    worker = Principal(f"arn:aws:iam::{ACCOUNT}:role/Role", "role")
    assert not ask(store, worker, "dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Jobs")
    ((_, statement),) = [(r, raw) for r, raw in store.statements() if r.logical_id == "Role" and r.sid == "Read"]
    assert statement["Resource"] == "${Token[Widget.Arn]}"
