"""``moto_tuning.in_process_routes_cached``: each in-process call still reaches the handler of its own URL.

The route is kept per URL (host and path): calls to different services, and to one service with
different paths (Lambda's REST API), must each reach their own operation, also the second time,
from the cache; errors still
come back as AWS's error responses (Lambda ``GetFunction`` of a missing function:
``ResourceNotFoundException``, AWS Lambda API Reference, GetFunction, Errors).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from snacks.local.moto_tuning import in_process_routes_cached


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture
def clients() -> Iterator[tuple[Any, Any]]:
    with mock_aws(), in_process_routes_cached():
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        functions = boto3.client("lambda", region_name="us-east-1")
        functions.create_function(
            FunctionName="one", Runtime="python3.12", Role=role, Handler="index.handler", Code={"ZipFile": _zip()}
        )
        yield functions, boto3.client("dynamodb", region_name="us-east-1")


def test_calls_to_one_host_with_different_paths_reach_their_own_operations(clients: tuple[Any, Any]) -> None:
    functions, _ = clients
    for _ in range(2):  # the second round is served from the cached routes
        assert [f["FunctionName"] for f in functions.list_functions()["Functions"]] == ["one"]
        assert functions.get_function(FunctionName="one")["Configuration"]["FunctionName"] == "one"
        with pytest.raises(ClientError) as missing:
            functions.get_function(FunctionName="missing")
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_interleaved_calls_to_several_services_each_reach_their_service(clients: tuple[Any, Any]) -> None:
    functions, dynamodb = clients
    iam = boto3.client("iam", region_name="us-east-1")  # a global service: moto's "global" backend
    for _ in range(2):
        assert functions.get_function(FunctionName="one")["Configuration"]["FunctionName"] == "one"
        assert dynamodb.list_tables()["TableNames"] == []
        assert iam.get_role(RoleName="r")["Role"]["RoleName"] == "r"
        with pytest.raises(ClientError) as missing:
            dynamodb.describe_table(TableName="missing")
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
