"""``moto_tuning.in_process_requests_unsigned``: in-process calls skip SigV4, nothing else changes.

moto never checks a signature; for the services left unsigned it takes the region from the URL
(``dynamodb.eu-west-1.amazonaws.com``), so a call still reaches its own region's backend. Calls to
an endpoint (the local stack's HTTP door: moto's server reads the region from the signature) and
calls to STS (who the caller is comes from the signing key) are signed as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID

from snacks.local.moto_tuning import in_process_requests_unsigned


def _client(service: str, region: str = "us-east-1", **kwargs: Any) -> Any:
    keys = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    return boto3.client(service, region_name=region, **keys, **kwargs)  # type: ignore[call-overload]


def _authorization_seen(client: Any, answer: bool = False) -> list[str | None]:
    """The Authorization header of each request the client sends (answered with an empty 200 if ``answer``)."""
    seen: list[str | None] = []

    def capture(request: Any, **_: Any) -> Any:
        header = request.headers.get("Authorization")
        seen.append(header.decode() if isinstance(header, bytes) else header)
        if answer:
            return AWSResponse(request.url, 200, HTTPHeaders(), _Raw(b"{}"))
        return None

    client.meta.events.register_first("before-send", capture)
    return seen


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@pytest.fixture
def unsigned() -> Iterator[None]:
    with mock_aws(), in_process_requests_unsigned():
        yield


def test_in_process_calls_go_unsigned_and_reach_the_region_of_their_url(unsigned: None) -> None:
    from moto.dynamodb.models import dynamodb_backends

    ireland = _client("dynamodb", "eu-west-1")
    seen = _authorization_seen(ireland)
    ireland.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert seen == [None]
    assert "t" in dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].tables
    assert "t" not in dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables
    assert _client("dynamodb", "us-east-1").list_tables()["TableNames"] == []


def test_sts_calls_stay_signed(unsigned: None) -> None:
    sts = _client("sts")
    seen = _authorization_seen(sts)
    sts.get_caller_identity()
    assert seen and seen[0] is not None and seen[0].startswith("AWS4-HMAC-SHA256")


def test_calls_to_an_endpoint_stay_signed(unsigned: None) -> None:
    door = _client("dynamodb", endpoint_url="http://127.0.0.1:9")
    seen = _authorization_seen(door, answer=True)
    door.list_tables()
    assert seen and seen[0] is not None and "/us-east-1/dynamodb/aws4_request" in seen[0]
