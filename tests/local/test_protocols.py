"""Answers in each service's wire protocol, as AWS sends them (the local stack's HTTP endpoint).

AWS JSON services answer with their protocol's ``Content-Type``: ``application/x-amz-json-1.1``
for CloudWatch Logs and EventBridge, ``application/x-amz-json-1.0`` for DynamoDB, SQS and Step
Functions (the ``jsonVersion`` of each service's model in botocore; Smithy, "AWS JSON 1.1 protocol"
and "AWS JSON 1.0 protocol", https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html; AWS's
answers as LocalStack recorded them, e.g. ECS's ``application/x-amz-json-1.1`` and SQS's
``application/x-amz-json-1.0`` in tests/aws/services/stepfunctions/v2/services/*.snapshot.json).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from snacks.aws import Aws
from snacks.local.stack import SERVICES

# One read-only call per JSON service the stack serves.
CALLS: dict[str, Callable[[Any], Any]] = {
    "dynamodb": lambda client: client.list_tables(),
    "events": lambda client: client.list_rules(),
    "logs": lambda client: client.describe_log_groups(),
    "secretsmanager": lambda client: client.list_secrets(),
    "sqs": lambda client: client.list_queues(),
    "stepfunctions": lambda client: client.list_state_machines(),
}


def json_services() -> dict[str, str]:
    session = botocore.session.get_session()
    models = {service: session.get_service_model(service).metadata for service in SERVICES}
    return {s: f"application/x-amz-json-{m['jsonVersion']}" for s, m in models.items() if m["protocol"] == "json"}


def test_every_json_service_of_the_stack_has_a_call_here() -> None:
    assert set(json_services()) == set(CALLS)


@pytest.mark.parametrize(("service", "content_type"), sorted(json_services().items()))
def test_a_json_service_answers_with_its_protocols_content_type(aws: Aws, service: str, content_type: str) -> None:
    reply = CALLS[service](aws.client(service))
    assert reply["ResponseMetadata"]["HTTPHeaders"]["content-type"] == content_type


def test_an_error_answer_carries_the_protocols_content_type_too(aws: Aws) -> None:
    with pytest.raises(ClientError) as raised:
        aws.client("logs").describe_log_streams(logGroupName="/no/such/group")
    error = raised.value.response
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
