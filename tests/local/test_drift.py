"""The local stack and the synthesized CloudFormation template describe the same pipeline.

Both are built from ``stacks.definitions``; this test reads each side through its own interface
(the local stack through the AWS APIs, the stack through its template) and fails on any
difference a user would notice: a name, a key, an index, TTL, the rule pattern, the target's retry
policy, input transformer and DLQ, queue retention, the state machine's type, definition and logging, a function's
handler, runtime, memory, timeout or environment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from order_service import settings as env
from stacks import definitions
from stacks.storefront_definitions import storefront_names
from tests.support.synth import Synthesized, flatten, synthesize


@pytest.fixture(scope="module")
def synth() -> Synthesized:
    return synthesize()


@pytest.fixture(scope="module")
def local() -> Iterator[Any]:
    from snacks.local import LocalStack

    with LocalStack(port=0, virtual_time=True) as stack:
        yield stack


def resources(synth: Synthesized, resource_type: str) -> list[dict[str, Any]]:
    return [resource["Properties"] for resource in synth.resources(resource_type).values()]


def by_name(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {str(item[key]): item for item in items if isinstance(item.get(key), str)}


def key_schema(schema: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(part["AttributeName"], part["KeyType"]) for part in schema]


def test_tables_keys_indexes_ttl_and_pitr_agree(synth: Synthesized, local: Any) -> None:
    dynamodb = local.client("dynamodb")
    template_tables = by_name(resources(synth, "AWS::DynamoDB::Table"), "TableName")
    # The storefront's table is opt-in in CDK (-c storefront=true); tests/infra/test_storefront.py compares it.
    storefront = storefront_names().connections_table
    assert sorted(template_tables) == sorted(set(dynamodb.list_tables()["TableNames"]) - {storefront})
    for name, template in template_tables.items():
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert key_schema(table["KeySchema"]) == key_schema(template["KeySchema"]), name
        assert {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]} == {
            (a["AttributeName"], a["AttributeType"]) for a in template["AttributeDefinitions"]
        }, name
        assert table["BillingModeSummary"]["BillingMode"] == template["BillingMode"], name
        local_indexes = {i["IndexName"]: key_schema(i["KeySchema"]) for i in table.get("GlobalSecondaryIndexes", [])}
        template_indexes = {
            i["IndexName"]: key_schema(i["KeySchema"]) for i in template.get("GlobalSecondaryIndexes", [])
        }
        assert local_indexes == template_indexes, name
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        template_ttl = template.get("TimeToLiveSpecification")
        if template_ttl:
            assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == template_ttl["AttributeName"]
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"
        backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        template_pitr = template["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        local_pitr = backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
        assert local_pitr == template_pitr, name


def test_dead_letter_queues_names_retention_and_encryption_agree(synth: Synthesized, local: Any) -> None:
    template_queues = by_name(resources(synth, "AWS::SQS::Queue"), "QueueName")
    assert sorted(template_queues) == sorted([definitions.DEAD_LETTER_QUEUE, definitions.ORDER_STATUS_DLQ])
    sqs = local.client("sqs")
    for name, queue in template_queues.items():
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["MessageRetentionPeriod", "SqsManagedSseEnabled"]
        )["Attributes"]
        assert int(attributes["MessageRetentionPeriod"]) == queue["MessageRetentionPeriod"], name
        assert (attributes["SqsManagedSseEnabled"] == "true") is queue["SqsManagedSseEnabled"], name


def test_order_status_rule_target_delivery_settings_agree(synth: Synthesized, local: Any) -> None:
    (bus,) = resources(synth, "AWS::Events::EventBus")
    template_rule = by_name(resources(synth, "AWS::Events::Rule"), "Name")[definitions.ORDER_STATUS_RULE]
    (template_target,) = template_rule["Targets"]
    events = local.client("events")
    local_rule = events.describe_rule(Name=definitions.ORDER_STATUS_RULE, EventBusName=bus["Name"])
    assert json.loads(local_rule["EventPattern"]) == template_rule["EventPattern"]
    (local_target,) = events.list_targets_by_rule(Rule=definitions.ORDER_STATUS_RULE, EventBusName=bus["Name"])[
        "Targets"
    ]
    assert local_target["RetryPolicy"] == template_target["RetryPolicy"]
    assert local_target["Arn"].endswith(f":{definitions.ORDER_STATUS_TOPIC}")
    assert local_target["DeadLetterConfig"]["Arn"].endswith(f":{definitions.ORDER_STATUS_DLQ}")
    assert "OrderStatusDeadLetterQueue" in flatten(template_target["DeadLetterConfig"]["Arn"])


def test_bus_rule_pattern_and_target_delivery_settings_agree(synth: Synthesized, local: Any) -> None:
    (bus,) = resources(synth, "AWS::Events::EventBus")
    rules = by_name(resources(synth, "AWS::Events::Rule"), "Name")
    template_rule = rules[definitions.ORDER_CREATED_RULE]
    events = local.client("events")
    local_rule = events.describe_rule(Name=definitions.ORDER_CREATED_RULE, EventBusName=bus["Name"])
    assert json.loads(local_rule["EventPattern"]) == template_rule["EventPattern"]
    assert local_rule["State"] == template_rule["State"]

    (template_target,) = template_rule["Targets"]
    (local_target,) = events.list_targets_by_rule(Rule=definitions.ORDER_CREATED_RULE, EventBusName=bus["Name"])[
        "Targets"
    ]
    assert local_target["RetryPolicy"] == template_target["RetryPolicy"]
    # What the workflow is started with: the same transformer, or the local execution input differs from AWS's.
    assert local_target["InputTransformer"] == template_target["InputTransformer"]
    assert {key for key in local_target if key.startswith("Input")} == {
        key for key in template_target if key.startswith("Input")
    }
    assert local_target["Arn"].split(":")[2] == "states" and "StateMachine" in flatten(template_target["Arn"])
    assert local_target["DeadLetterConfig"]["Arn"].endswith(f":{definitions.DEAD_LETTER_QUEUE}")
    assert "DeadLetterQueue" in flatten(template_target["DeadLetterConfig"]["Arn"])


def test_state_machine_type_definition_and_logging_agree(synth: Synthesized, local: Any) -> None:
    (template,) = resources(synth, "AWS::StepFunctions::StateMachine")
    sfn = local.client("stepfunctions")
    (machine,) = sfn.list_state_machines()["stateMachines"]
    described = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
    assert described["name"] == template["StateMachineName"]
    assert described["type"] == template["StateMachineType"]
    # The template carries the ASL with ${placeholders} plus substitutions; substituting the
    # local resources' ARN and URL must give exactly what the local state machine runs.
    template_definition = json.loads(template["DefinitionString"])
    assert set(template["DefinitionSubstitutions"]) == {
        definitions.ASL_PROCESSOR_ARN,
        definitions.ASL_DLQ_URL,
        definitions.ASL_EVENT_BUS,
    }
    local_definition = json.loads(described["definition"])
    processor_arn = local.client("lambda").get_function(FunctionName=definitions.ORDER_PROCESSOR)["Configuration"][
        "FunctionArn"
    ]
    queue_url = local.resources.dead_letter_queue_url  # as created (an HTTP client sees its own host in it)
    assert queue_url.endswith(f"/{definitions.DEAD_LETTER_QUEUE}")
    rendered = json.dumps(template_definition)
    substitutions = (
        (definitions.ASL_PROCESSOR_ARN, processor_arn),
        (definitions.ASL_DLQ_URL, queue_url),
        (definitions.ASL_EVENT_BUS, definitions.EVENT_BUS),
    )
    for placeholder, value in substitutions:
        rendered = rendered.replace("${" + placeholder + "}", value)
    assert local_definition == json.loads(rendered)
    logging = described["loggingConfiguration"]
    assert logging["level"] == template["LoggingConfiguration"]["Level"]
    assert logging["includeExecutionData"] == template["LoggingConfiguration"]["IncludeExecutionData"]
    assert described["tracingConfiguration"]["enabled"] == template["TracingConfiguration"]["Enabled"]


def test_functions_handler_runtime_memory_timeout_and_environment_agree(synth: Synthesized, local: Any) -> None:
    template_functions = by_name(resources(synth, "AWS::Lambda::Function"), "FunctionName")
    assert sorted(template_functions) == sorted(definitions.FUNCTIONS)
    lambda_ = local.client("lambda")
    for name, template in template_functions.items():
        configuration = lambda_.get_function_configuration(FunctionName=name)
        for key in ("Handler", "Runtime", "MemorySize", "Timeout", "Architectures"):
            assert configuration[key] == template[key], (name, key)
        local_environment = dict(configuration["Environment"]["Variables"])
        # The one local-only variable: the payment callers talk to the Stripe emulator; on AWS, to Stripe.
        if env.STRIPE_SECRET_NAME in local_environment:
            assert local_environment.pop(env.STRIPE_API_BASE) == local.stripe.url
        assert env.STRIPE_API_BASE not in template["Environment"]["Variables"]
        assert local_environment == template["Environment"]["Variables"], name


def test_the_stripe_secret_has_the_templates_name(synth: Synthesized, local: Any) -> None:
    """Same name on both sides (IAM grants GetSecretValue on that secret only); locally it holds the emulator's key."""
    (secret,) = resources(synth, "AWS::SecretsManager::Secret")
    assert secret["Name"] == local.names.stripe_secret
    assert "SecretString" not in secret  # generated: the key is never in the template
    value = local.client("secretsmanager").get_secret_value(SecretId=secret["Name"])["SecretString"]
    assert value == local.stripe.secret_key


def test_log_groups_and_retention_agree(synth: Synthesized, local: Any) -> None:
    template_groups = {
        flatten(group["LogGroupName"]): group.get("RetentionInDays")
        for group in resources(synth, "AWS::Logs::LogGroup")
        if "LogGroupName" in group
    }
    logs = local.client("logs")
    local_groups = {
        group["logGroupName"]: group.get("retentionInDays") for group in logs.describe_log_groups()["logGroups"]
    }
    for name, retention in template_groups.items():
        assert local_groups.get(name) == retention, name


@pytest.mark.parametrize("level", definitions.WORKFLOW_LOG_LEVELS)
def test_the_logging_configuration_of_each_workflow_log_level_agrees(level: str) -> None:
    """``snacks local --workflow-log-level L`` creates the state machine with the LoggingConfiguration
    ``cdk deploy -c workflowLogLevel=L`` deploys: level, execution data, a destination or none (OFF)."""
    from snacks.local.provision import logging_configuration

    (template,) = resources(synthesize((("workflowLogLevel", level),), nag=False), "AWS::StepFunctions::StateMachine")
    deployed = template["LoggingConfiguration"]
    local = logging_configuration(definitions.workflow_logging(level), "arn:aws:logs:us-east-1:1:log-group:g:*")
    assert local["level"] == deployed["Level"]
    assert local["includeExecutionData"] == deployed.get("IncludeExecutionData", False)
    assert bool(local.get("destinations")) == bool(deployed.get("Destinations"))
