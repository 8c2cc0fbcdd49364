"""The synthesized template against the design: names, keys, encryption, delivery, workflow, functions."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from order_service import settings as env
from stacks import definitions as d
from stacks.constructs import functions as fn
from stacks.constructs.functions import DEFAULT_POWERTOOLS_LAYER_VERSION
from stacks.order_pipeline_stack import (
    CONTEXT_ALARM_EMAIL,
    CONTEXT_FULFILLMENT_FAULTS,
    CONTEXT_NOTIFY_EMAIL,
    CONTEXT_POWERTOOLS_LAYER_VERSION,
    CONTEXT_SDK_TRACING,
    PipelineOptions,
)
from tests.support.synth import Synthesized, flatten, synthesize

DAY_SECONDS = 24 * 3600


def get_att_arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def one(synth: Synthesized, resource_type: str, **properties: Any) -> tuple[str, dict[str, Any]]:
    found = synth.template.find_resources(resource_type, {"Properties": properties} if properties else None)
    assert len(found) == 1, f"expected one {resource_type} with {properties}, found {sorted(found)}"
    logical_id, resource = next(iter(found.items()))
    return logical_id, dict(resource)


def function_id(synth: Synthesized, name: str) -> str:
    return one(synth, "AWS::Lambda::Function", FunctionName=name)[0]


# --- storage --------------------------------------------------------------------------------


def test_orders_table_key_schema_billing_pitr_encryption_and_retention(synth: Synthesized) -> None:
    logical_id, table = one(synth, "AWS::DynamoDB::Table", TableName=d.ORDERS_TABLE)
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": d.ORDERS_PARTITION_KEY, "KeyType": "HASH"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert "DeletionProtectionEnabled" not in props  # why: tests/infra/test_aws_rules.py
    assert table["DeletionPolicy"] == "RetainExceptOnCreate"
    assert logical_id == synth.logical_id(synth.stack.storage.orders)


def test_orders_status_index_lists_by_status_then_created_at(synth: Synthesized) -> None:
    _, table = one(synth, "AWS::DynamoDB::Table", TableName=d.ORDERS_TABLE)
    props = table["Properties"]
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == d.STATUS_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": d.STATUS_INDEX_PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": d.STATUS_INDEX_SORT_KEY, "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}  # the reconciler reads whole records
    attributes = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert attributes == {d.ORDERS_PARTITION_KEY: "S", d.STATUS_INDEX_PARTITION_KEY: "S", d.STATUS_INDEX_SORT_KEY: "S"}


def test_idempotency_table_has_ttl_pitr_and_encryption(synth: Synthesized) -> None:
    _, table = one(synth, "AWS::DynamoDB::Table", TableName=d.IDEMPOTENCY_TABLE)
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": d.IDEMPOTENCY_PARTITION_KEY, "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": d.IDEMPOTENCY_TTL_ATTRIBUTE, "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True


def test_dlq_retention_encryption_and_ssl_only_policy(synth: Synthesized) -> None:
    queue_id, queue = one(synth, "AWS::SQS::Queue", QueueName=d.DEAD_LETTER_QUEUE)
    assert queue["Properties"]["MessageRetentionPeriod"] == d.DLQ_RETENTION_DAYS * DAY_SECONDS == 1209600
    assert queue["Properties"].get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in queue["Properties"]
    _, policy = one(synth, "AWS::SQS::QueuePolicy", Queues=[{"Ref": queue_id}])
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {
        "Action": "sqs:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": get_att_arn(queue_id),
    } in statements


def test_only_the_order_created_rule_may_write_to_the_dlq_from_eventbridge(synth: Synthesized) -> None:
    queue_id, _ = one(synth, "AWS::SQS::Queue", QueueName=d.DEAD_LETTER_QUEUE)
    rule_id, _ = one(synth, "AWS::Events::Rule", Name=d.ORDER_CREATED_RULE)
    _, policy = one(synth, "AWS::SQS::QueuePolicy", Queues=[{"Ref": queue_id}])
    allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [(s["Principal"], s["Action"], s["Condition"]) for s in allows] == [
        ({"Service": "events.amazonaws.com"}, "sqs:SendMessage", {"ArnEquals": {"aws:SourceArn": get_att_arn(rule_id)}})
    ]


# --- events ---------------------------------------------------------------------------------


def test_custom_bus_with_an_archive_of_order_events(synth: Synthesized) -> None:
    bus_id, _ = one(synth, "AWS::Events::EventBus", Name=d.EVENT_BUS)
    _, archive = one(synth, "AWS::Events::Archive")
    assert archive["Properties"]["SourceArn"] == get_att_arn(bus_id)
    assert archive["Properties"]["EventPattern"] == {"source": [d.RULE_EVENT_SOURCE]}
    assert archive["Properties"]["RetentionDays"] >= d.DLQ_RETENTION_DAYS


def test_rule_pattern_is_the_shared_definition(synth: Synthesized) -> None:
    bus_id, _ = one(synth, "AWS::Events::EventBus", Name=d.EVENT_BUS)
    _, rule = one(synth, "AWS::Events::Rule", Name=d.ORDER_CREATED_RULE)
    assert rule["Properties"]["EventBusName"] == {"Ref": bus_id}
    assert rule["Properties"]["EventPattern"] == d.RULE_EVENT_PATTERN


def test_rule_target_is_the_workflow_with_explicit_retry_policy_and_dlq(synth: Synthesized) -> None:
    machine_id, _ = one(synth, "AWS::StepFunctions::StateMachine", StateMachineName=d.STATE_MACHINE)
    queue_id, _ = one(synth, "AWS::SQS::Queue", QueueName=d.DEAD_LETTER_QUEUE)
    _, rule = one(synth, "AWS::Events::Rule", Name=d.ORDER_CREATED_RULE)
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": machine_id}
    # Set explicitly (the design), within EventBridge's bounds (Amazon EventBridge API Reference,
    # RetryPolicy: MaximumRetryAttempts 0-185, MaximumEventAgeInSeconds 60-86400).
    policy = target["RetryPolicy"]
    assert set(policy) == {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"}
    assert 0 <= policy["MaximumRetryAttempts"] <= 185
    assert 60 <= policy["MaximumEventAgeInSeconds"] <= 86_400
    assert target["DeadLetterConfig"] == {"Arn": get_att_arn(queue_id)}
    assert "Input" not in target and "InputPath" not in target  # the ASL reads $.id and $.detail


def test_rule_target_hands_the_workflow_only_the_event_id_and_detail(synth: Synthesized) -> None:
    """The execution input is ``{"id": <event id>, "detail": <event detail>}`` (issue 21): the two paths the
    ASL reads ($$.Execution.Input.id, $$.Execution.Input.detail.orderId), not the envelope.

    Unquoted variables in a JSON template: EventBridge inserts a string value quoted and an object as JSON
    (EventBridge User Guide, "Amazon EventBridge input transformation", eb-transform-target-input.html,
    "Input transform examples": Simple JSON). The local stack provisions the same two values
    (tests/local/test_drift.py).
    """
    _, rule = one(synth, "AWS::Events::Rule", Name=d.ORDER_CREATED_RULE)
    (target,) = rule["Properties"]["Targets"]
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {"id": "$.id", "detail": "$.detail"} == d.RULE_TARGET_INPUT_PATHS
    assert transformer["InputTemplate"] == '{"id":<id>,"detail":<detail>}' == d.RULE_TARGET_INPUT_TEMPLATE
    # The template is JSON once each variable is replaced by a JSON value.
    filled = transformer["InputTemplate"].replace("<id>", '"e-1"').replace("<detail>", '{"orderId":"o-1"}')
    assert json.loads(filled) == {"id": "e-1", "detail": {"orderId": "o-1"}}


def test_reconciler_runs_on_a_schedule(synth: Synthesized) -> None:
    reconciler_id = function_id(synth, d.ORDER_RECONCILER)
    _, rule = one(synth, "AWS::Events::Rule", ScheduleExpression=f"rate({d.RECONCILE_EVERY_MINUTES} minutes)")
    assert [target["Arn"] for target in rule["Properties"]["Targets"]] == [get_att_arn(reconciler_id)]
    synth.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"FunctionName": get_att_arn(reconciler_id), "Principal": "events.amazonaws.com"},
    )


# --- workflow -------------------------------------------------------------------------------


def test_state_machine_is_express_logs_all_with_execution_data_and_traces(synth: Synthesized) -> None:
    _, machine = one(synth, "AWS::StepFunctions::StateMachine", StateMachineName=d.STATE_MACHINE)
    log_group_id, _ = one(synth, "AWS::Logs::LogGroup", LogGroupName=d.STATE_MACHINE_LOG_GROUP)
    props = machine["Properties"]
    assert props["StateMachineType"] == "EXPRESS"
    assert props["LoggingConfiguration"] == {
        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": get_att_arn(log_group_id)}}],
        "IncludeExecutionData": True,
        "Level": "ALL",
    }
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert d.STATE_MACHINE_LOG_GROUP.startswith("/aws/vendedlogs/states/")


def test_definition_is_the_asl_file_with_substitutions_for_processor_and_dlq(synth: Synthesized) -> None:
    _, machine = one(synth, "AWS::StepFunctions::StateMachine", StateMachineName=d.STATE_MACHINE)
    queue_id, _ = one(synth, "AWS::SQS::Queue", QueueName=d.DEAD_LETTER_QUEUE)
    bus_id, _ = one(synth, "AWS::Events::EventBus", Name=d.EVENT_BUS)
    props = machine["Properties"]
    assert json.loads(props["DefinitionString"]) == d.load_asl()
    assert props["DefinitionSubstitutions"] == {
        d.ASL_PROCESSOR_ARN: get_att_arn(function_id(synth, d.ORDER_PROCESSOR)),
        d.ASL_DLQ_URL: {"Ref": queue_id},
        d.ASL_EVENT_BUS: {"Ref": bus_id},
    }
    placeholders = set(re.findall(r"\$\{(\w+)\}", props["DefinitionString"]))
    assert placeholders == set(props["DefinitionSubstitutions"])


# --- functions ------------------------------------------------------------------------------


def newest_python_runtime() -> str:
    names = [str(getattr(lambda_.Runtime, attr).name) for attr in dir(lambda_.Runtime) if attr.startswith("PYTHON_3_")]
    return max(names, key=lambda name: tuple(int(part) for part in name.removeprefix("python").split(".")))


@pytest.mark.parametrize("definition", d.FUNCTIONS.values(), ids=list(d.FUNCTIONS))
def test_function_runtime_architecture_layer_and_settings(synth: Synthesized, definition: d.FunctionDefinition) -> None:
    _, function = one(synth, "AWS::Lambda::Function", FunctionName=definition.name)
    props = function["Properties"]
    assert props["Runtime"] == newest_python_runtime() == fn.RUNTIME.name
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == definition.handler
    assert props["MemorySize"] == definition.memory_mb
    assert props["Timeout"] == definition.timeout_seconds
    assert props["TracingConfig"] == {"Mode": "Active"}
    more = [layer for layer in props["Layers"] if isinstance(layer, dict) and "Ref" in layer]
    (layer,) = [layer for layer in props["Layers"] if layer not in more]
    # The layer of the tested Powertools release, resolved in the deploy region at deploy time.
    assert flatten(layer) == f"{{{{resolve:ssm:/aws/service/powertools/python/arm64/{fn.RUNTIME.name}/3.37.0}}}}"
    # Stripe's SDK only for the functions that call Stripe.
    (stripe_layer,) = synth.resources("AWS::Lambda::LayerVersion")
    assert more == ([{"Ref": stripe_layer}] if env.STRIPE_SECRET_NAME in definition.environment else [])


def test_powertools_layer_release_is_the_one_the_functions_are_tested_with() -> None:
    import tomllib

    from aws_lambda_powertools.shared.version import VERSION

    pyproject = tomllib.loads((d.REPO_ROOT / "pyproject.toml").read_text())
    assert f"aws-lambda-powertools[tracer]=={fn.POWERTOOLS_VERSION}" in pyproject["project"]["dependencies"]
    assert VERSION == fn.POWERTOOLS_VERSION


@pytest.mark.parametrize("definition", d.FUNCTIONS.values(), ids=list(d.FUNCTIONS))
def test_function_environment_is_the_definition_plus_powertools(
    synth: Synthesized, definition: d.FunctionDefinition
) -> None:
    _, function = one(synth, "AWS::Lambda::Function", FunctionName=definition.name)
    assert function["Properties"]["Environment"]["Variables"] == {
        **definition.environment,
        "POWERTOOLS_SERVICE_NAME": definition.name,
        "POWERTOOLS_METRICS_NAMESPACE": env.METRICS_NAMESPACE,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "LOG_LEVEL": "INFO",
    }


@pytest.mark.parametrize("definition", d.FUNCTIONS.values(), ids=list(d.FUNCTIONS))
def test_function_logs_to_its_own_log_group_with_retention(
    synth: Synthesized, definition: d.FunctionDefinition
) -> None:
    _, function = one(synth, "AWS::Lambda::Function", FunctionName=definition.name)
    log_group_id, log_group = one(synth, "AWS::Logs::LogGroup", LogGroupName=f"/aws/lambda/{definition.name}")
    assert function["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": log_group_id}}
    assert log_group["Properties"]["RetentionInDays"] > 0


def test_all_functions_share_one_code_asset_without_caches(synth: Synthesized) -> None:
    keys = {
        json.dumps(function["Properties"]["Code"], sort_keys=True)
        for function in synth.resources("AWS::Lambda::Function").values()
    }
    assert len(synth.resources("AWS::Lambda::Function")) == len(d.FUNCTIONS)
    (code,) = keys
    asset_hash = json.loads(code)["S3Key"].removesuffix(".zip")
    staged = synth.outdir / f"asset.{asset_hash}"
    files = [path.relative_to(staged).as_posix() for path in staged.rglob("*") if path.is_file()]
    assert "order_service/handlers/order_creator.py" in files
    assert not [f for f in files if "__pycache__" in f or f.endswith((".pyc", ".pyo"))]
    assert all(f.startswith("order_service/") for f in files)


def test_outputs(synth: Synthesized) -> None:
    outputs = synth.raw["Outputs"]
    assert {"OrdersTableName", "EventBusName", "StateMachineArn", "DeadLetterQueueUrl"} <= set(outputs)
    assert outputs["OrdersTableName"]["Value"] == {"Ref": synth.logical_id(synth.stack.storage.orders)}
    assert outputs["StateMachineArn"]["Value"] == {
        "Ref": one(synth, "AWS::StepFunctions::StateMachine", StateMachineName=d.STATE_MACHINE)[0]
    }


# --- context --------------------------------------------------------------------------------

CONTEXT = {
    CONTEXT_ALARM_EMAIL: "ops@example.com",
    CONTEXT_NOTIFY_EMAIL: "customers@example.com",
    CONTEXT_FULFILLMENT_FAULTS: "Flaky Fries=transient:1; Doom Donut=permanent",
    CONTEXT_SDK_TRACING: "true",
    CONTEXT_POWERTOOLS_LAYER_VERSION: "7",
}


@pytest.fixture(scope="module")
def with_context() -> Synthesized:
    return synthesize(tuple(CONTEXT.items()), nag=False)


def test_defaults_without_context() -> None:
    options = PipelineOptions.from_context(cdk.App().node)
    assert options.alarm_email is None
    assert options.functions.powertools_layer_version == DEFAULT_POWERTOOLS_LAYER_VERSION
    assert options.functions.sdk_tracing is False
    assert options.functions.fulfillment_faults == ""


def test_fulfillment_faults_and_sdk_tracing_reach_the_functions(with_context: Synthesized) -> None:
    def variables(name: str) -> dict[str, str]:
        _, function = one(with_context, "AWS::Lambda::Function", FunctionName=name)
        return dict(function["Properties"]["Environment"]["Variables"])

    assert variables(d.ORDER_PROCESSOR)[env.FULFILLMENT_FAULTS] == CONTEXT[CONTEXT_FULFILLMENT_FAULTS]
    for name in d.FUNCTIONS:
        assert variables(name)["POWERTOOLS_TRACE_DISABLED"] == "false"
    assert env.FULFILLMENT_FAULTS not in variables(d.ORDER_CREATOR)  # only the processor rehearses failures


def test_powertools_layer_version_from_context(with_context: Synthesized) -> None:
    for function in with_context.resources("AWS::Lambda::Function").values():
        powertools = [flatten(layer) for layer in function["Properties"]["Layers"] if "Ref" not in layer]
        assert [layer[-len("-arm64:7") :] for layer in powertools] == ["-arm64:7"]


def test_alarm_email_subscribes_to_the_alarm_topic(with_context: Synthesized, synth: Synthesized) -> None:
    topic_id, _ = one(with_context, "AWS::SNS::Topic", TopicName=d.NAMES.alarm_topic)
    with_context.template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": CONTEXT[CONTEXT_ALARM_EMAIL], "TopicArn": {"Ref": topic_id}},
    )
    assert synth.resources("AWS::SNS::Subscription") == {}  # none without the context


def test_notify_email_subscribes_to_the_order_status_topic(with_context: Synthesized) -> None:
    topic_id, _ = one(with_context, "AWS::SNS::Topic", TopicName=d.NAMES.order_status_topic)
    with_context.template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "email", "Endpoint": CONTEXT[CONTEXT_NOTIFY_EMAIL], "TopicArn": {"Ref": topic_id}},
    )


@pytest.mark.parametrize(
    "context",
    [
        {CONTEXT_ALARM_EMAIL: "not-an-address"},
        {CONTEXT_NOTIFY_EMAIL: "nobody"},
        {CONTEXT_POWERTOOLS_LAYER_VERSION: "latest"},
    ],
)
def test_invalid_context_is_refused(context: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="context"):
        PipelineOptions.from_context(cdk.App(context=context).node)
