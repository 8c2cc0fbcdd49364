"""PolicyStore.from_template on the real synthesized templates (default stage and -c stage=dev):
every policy loads and validates, the roles and keys are found by the names the local stack uses,
and the pipeline's own requests are decided as AWS would (the contexts here are the ones AWS
documents for each hop; the local stack's enforcement builds them the same way)."""

from __future__ import annotations

from typing import Any

import pytest

from snacks.local.iam import AuthorizationRequest, PolicyStore, Principal, requests_for
from stacks import definitions
from tests.support.synth import synthesize

ACCOUNT = "123456789012"
REGION = "us-east-1"
EVENTS = Principal("events.amazonaws.com", "service")
CLOUDWATCH = Principal("cloudwatch.amazonaws.com", "service")
SOURCE = "serverless-snacks.orders"


@pytest.fixture(scope="module", params=["default", "dev"])
def stage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def names(stage: str) -> definitions.ResourceNames:
    return definitions.resource_names(stage)


@pytest.fixture(scope="module")
def store(stage: str, names: definitions.ResourceNames) -> PolicyStore:
    # The same cached syntheses as tests/infra (conftest: synthesize(); test_aws_rules: stage dev).
    raw = synthesize() if stage == "default" else synthesize((("stage", "dev"),))
    return PolicyStore.from_template(raw.raw, account=ACCOUNT, region=REGION, stack_name=names.stack)


def arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def allowed(store: PolicyStore, principal: Principal, service: str, operation: str, **params: Any) -> bool:
    """Every authorization the call needs (requests_for) is allowed."""
    context = params.pop("context", {})
    decisions = [
        store.evaluate(request.as_principal(principal))
        if not context
        else store.evaluate(
            AuthorizationRequest(principal, request.action, request.resource, {**request.context, **context})
        )
        for request in requests_for(service, operation, params, region=REGION, account=ACCOUNT)
    ]
    return bool(decisions) and all(decision.allowed for decision in decisions)


def role_of(store: PolicyStore, **kwargs: str) -> Principal:
    role = store.role_arn_of(**kwargs)
    assert role is not None, kwargs
    return Principal(role, "role")


def test_every_statement_loads_with_its_construct(store: PolicyStore, names: definitions.ResourceNames) -> None:
    refs = [ref for ref, _ in store.statements()]
    assert len(refs) >= 30
    kinds = {ref.resource_type for ref in refs}
    assert {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::KMS::Key",
        "AWS::SNS::TopicPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::Lambda::Permission",
    } <= kinds
    assert all(store.resource_by_logical_id(ref.logical_id) is not None for ref in refs)
    assert all(role.startswith(f"arn:aws:iam::{ACCOUNT}:role/{names.stack}-") for role in store.roles())


def test_each_function_state_machine_and_rule_target_has_its_role(
    store: PolicyStore, names: definitions.ResourceNames
) -> None:
    roles = {store.role_arn_of(function=function) for function in names.functions}
    assert len(roles) == 4 and None not in roles  # one role per function
    workflow = store.role_arn_of(state_machine=names.state_machine)
    target = store.role_arn_of(rule=names.order_created_rule, bus=names.event_bus)
    assert workflow is not None and target is not None and len({*roles, workflow, target}) == 6


def test_creator_writes_orders_and_publishes_only_order_created(
    store: PolicyStore, names: definitions.ResourceNames
) -> None:
    creator = role_of(store, function=names.order_creator)
    assert allowed(store, creator, "dynamodb", "PutItem", TableName=names.orders_table, Item={})
    assert not allowed(store, creator, "dynamodb", "UpdateItem", TableName=names.orders_table, Key={})
    assert allowed(store, creator, "dynamodb", "GetItem", TableName=names.idempotency_table, Key={})
    entry = {"Source": SOURCE, "DetailType": "Order Created", "EventBusName": names.event_bus, "Detail": "{}"}
    assert allowed(store, creator, "events", "PutEvents", Entries=[entry])
    assert not allowed(store, creator, "events", "PutEvents", Entries=[{**entry, "DetailType": "Order Cancelled"}])
    assert not allowed(store, creator, "events", "PutEvents", Entries=[{**entry, "EventBusName": "default"}])
    log = definitions.ResourceNames.function_log_group(names.order_creator)
    assert allowed(store, creator, "logs", "PutLogEvents", logGroupName=log, logStreamName="s", logEvents=[])
    assert not allowed(
        store,
        creator,
        "logs",
        "PutLogEvents",
        logGroupName=definitions.ResourceNames.function_log_group(names.order_processor),
        logStreamName="s",
    )


def test_processor_reserves_stock_in_one_transaction(store: PolicyStore, names: definitions.ResourceNames) -> None:
    processor = role_of(store, function=names.order_processor)
    items = [
        {"Update": {"TableName": names.orders_table, "Key": {}}},
        {"ConditionCheck": {"TableName": names.inventory_table, "Key": {}}},
        {"Update": {"TableName": names.inventory_table, "Key": {}}},
    ]
    assert allowed(store, processor, "dynamodb", "TransactWriteItems", TransactItems=items)
    assert not allowed(
        store,
        processor,
        "dynamodb",
        "TransactWriteItems",
        TransactItems=[{"Put": {"TableName": names.orders_table, "Item": {}}}],
    )


def test_processor_announces_order_processed_and_nothing_else(
    store: PolicyStore, names: definitions.ResourceNames
) -> None:
    """markProcessed publishes Order Processed itself; each entry is authorized with its own events:detail-type
    ("Using IAM policy conditions in Amazon EventBridge",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html)."""
    processor = role_of(store, function=names.order_processor)
    for detail_type, expected in (("Order Processed", True), ("Order Rejected", False), ("Order Created", False)):
        entry = {"Source": SOURCE, "DetailType": detail_type, "EventBusName": names.event_bus}
        assert allowed(store, processor, "events", "PutEvents", Entries=[entry]) is expected, detail_type
    other_bus = {"Source": SOURCE, "DetailType": "Order Processed", "EventBusName": "default"}
    assert not allowed(store, processor, "events", "PutEvents", Entries=[other_bus])


def test_reconciler_queries_the_status_index_only(store: PolicyStore, names: definitions.ResourceNames) -> None:
    reconciler = role_of(store, function=names.order_reconciler)
    index = "status-createdAt-index"
    assert allowed(store, reconciler, "dynamodb", "Query", TableName=names.orders_table, IndexName=index)
    assert not allowed(store, reconciler, "dynamodb", "Query", TableName=names.orders_table)
    assert not allowed(store, reconciler, "dynamodb", "Scan", TableName=names.orders_table, IndexName=index)


def test_workflow_role_invokes_the_processor_and_announces_status(
    store: PolicyStore, names: definitions.ResourceNames
) -> None:
    workflow = role_of(store, state_machine=names.state_machine)
    assert allowed(store, workflow, "lambda", "Invoke", FunctionName=names.order_processor)
    assert not allowed(store, workflow, "lambda", "Invoke", FunctionName=names.order_creator)
    queue_url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{names.dead_letter_queue}"
    assert allowed(store, workflow, "sqs", "SendMessage", QueueUrl=queue_url, MessageBody="{}")
    # Its Publish* states send Order Rejected and Order Failed; markProcessed announces Order Processed itself,
    # order-canceller Order Cancelled: the workflow may send neither, nor Order Created.
    for detail_type, expected in (
        ("Order Rejected", True),
        ("Order Failed", True),
        ("Order Processed", False),
        ("Order Cancelled", False),
        ("Order Created", False),
    ):
        entry = {"Source": SOURCE, "DetailType": detail_type, "EventBusName": names.event_bus}
        assert allowed(store, workflow, "events", "PutEvents", Entries=[entry]) is expected, detail_type
    assert allowed(store, workflow, "logs", "CreateLogDelivery")


def test_rule_target_role_starts_the_workflow(store: PolicyStore, names: definitions.ResourceNames) -> None:
    target = role_of(store, rule=names.order_created_rule)
    machine = arn("states", f"stateMachine:{names.state_machine}")
    assert allowed(store, target, "stepfunctions", "StartExecution", stateMachineArn=machine)
    assert not allowed(store, target, "stepfunctions", "StartSyncExecution", stateMachineArn=machine)
    # The role's trust policy lets EventBridge assume it (and nobody else).
    assert store.evaluate(AuthorizationRequest(EVENTS, "sts:AssumeRole", target.arn, {})).allowed
    assert not store.evaluate(AuthorizationRequest(CLOUDWATCH, "sts:AssumeRole", target.arn, {})).allowed


def test_dead_letter_queue_accepts_only_the_order_created_rule(
    store: PolicyStore, names: definitions.ResourceNames
) -> None:
    """EventBridge User Guide, "Using dead-letter queues": the queue policy allows events.amazonaws.com
    with aws:SourceArn of the rule; the queue denies non-TLS (aws:SecureTransport false)."""
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{names.dead_letter_queue}"
    rule = arn("events", f"rule/{names.event_bus}/{names.order_created_rule}")
    tls = {"aws:SecureTransport": True}
    assert allowed(store, EVENTS, "sqs", "SendMessage", QueueUrl=url, context={"aws:SourceArn": rule, **tls})
    other = arn("events", f"rule/{names.event_bus}/{names.order_status_rule}")
    assert not allowed(store, EVENTS, "sqs", "SendMessage", QueueUrl=url, context={"aws:SourceArn": other, **tls})
    decision = store.evaluate(
        AuthorizationRequest(
            EVENTS,
            "sqs:SendMessage",
            arn("sqs", names.dead_letter_queue),
            {"aws:SourceArn": rule, "aws:SecureTransport": False},
        )
    )
    assert decision.reason == "explicit-deny"


def test_schedule_invokes_the_reconciler_through_its_lambda_permission(
    store: PolicyStore, names: definitions.ResourceNames
) -> None:
    schedule = arn("events", f"rule/{names.reconcile_schedule_rule}")
    context = {"aws:SourceArn": schedule, "aws:SourceAccount": ACCOUNT}
    assert allowed(store, EVENTS, "lambda", "Invoke", FunctionName=names.order_reconciler, context=context)
    assert not allowed(store, EVENTS, "lambda", "Invoke", FunctionName=names.order_processor, context=context)


def test_order_status_topic_policy_and_its_key(store: PolicyStore, names: definitions.ResourceNames) -> None:
    """SNS Developer Guide, "Amazon SNS security best practices" / EventBridge "Permissions for Amazon
    SNS": the topic policy names events.amazonaws.com with the rule's aws:SourceArn; the topic's
    customer managed key must let the service use it (SNS "Encryption at rest": kms:Decrypt and
    kms:GenerateDataKey*)."""
    topic = arn("sns", names.order_status_topic)
    rule = arn("events", f"rule/{names.event_bus}/{names.order_status_rule}")
    hop = {"aws:SourceArn": rule, "aws:SourceAccount": ACCOUNT, "aws:SecureTransport": True}
    assert allowed(store, EVENTS, "sns", "Publish", TopicArn=topic, Message="m", context=hop)
    key = store.key_arn_for(topic)
    assert key is not None and key.startswith(arn("kms", "key/"))
    # EventBridge's KMS request to an encrypted topic carries no source keys: SNS Developer Guide, "Key
    # management", section "Enable compatibility between event sources from AWS services and encrypted
    # topics" ("adding aws:SourceAccount, aws:SourceArn ... to a AWS KMS policy is not supported for
    # EventBridge-to-encrypted topics"). The key must allow the bare service request.
    bare = store.evaluate(AuthorizationRequest(EVENTS, "kms:GenerateDataKey", key, {"aws:SecureTransport": True}))
    assert bare.allowed, bare.explain()
    assert store.evaluate(AuthorizationRequest(EVENTS, "kms:Decrypt", key, {"aws:SecureTransport": True})).allowed
    # ...and nobody else: the key's EventBridge statement names that service only.
    assert not store.evaluate(AuthorizationRequest(CLOUDWATCH, "kms:GenerateDataKey", key, {})).allowed


def test_alarm_topic_takes_only_the_stacks_alarms(store: PolicyStore, names: definitions.ResourceNames) -> None:
    topic = arn("sns", names.alarm_topic)
    alarm = arn("cloudwatch", f"alarm:{names.dead_letter_queue}-has-messages")
    hop = {"aws:SourceArn": alarm, "aws:SourceAccount": ACCOUNT, "aws:SecureTransport": True}
    assert allowed(store, CLOUDWATCH, "sns", "Publish", TopicArn=topic, Message="m", context=hop)
    assert not allowed(
        store,
        CLOUDWATCH,
        "sns",
        "Publish",
        TopicArn=topic,
        Message="m",
        context={**hop, "aws:SourceArn": arn("cloudwatch", "alarm:someone-elses")},
    )
    assert not allowed(store, EVENTS, "sns", "Publish", TopicArn=topic, Message="m", context=hop)
    key = store.key_arn_for(topic)
    assert key is not None and key != store.key_arn_for(arn("sns", names.order_status_topic))
    assert store.evaluate(AuthorizationRequest(CLOUDWATCH, "kms:GenerateDataKey", key, hop)).allowed


def test_unencrypted_by_customer_keys(store: PolicyStore, names: definitions.ResourceNames) -> None:
    """Tables use DynamoDB's AWS owned key and the queue SQS-managed SSE: no key policy to pass."""
    assert store.key_arn_for(arn("dynamodb", f"table/{names.orders_table}")) is None
    assert store.key_arn_for(arn("sqs", names.dead_letter_queue)) is None


def test_granted_actions_are_the_roles_grants(store: PolicyStore, names: definitions.ResourceNames) -> None:
    creator = store.role_arn_of(function=names.order_creator)
    assert creator is not None
    assert store.granted_actions(creator) == {
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "events:PutEvents",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    }
    assert "sns:Publish" in store.granted_actions("events.amazonaws.com")
