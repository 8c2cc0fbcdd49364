"""The storefront pusher's Management API calls are authorized as API Gateway authorizes them.

"Use @connections commands in your backend service" (API Gateway Developer Guide): the backend needs
``execute-api:ManageConnections`` on ``arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/@connections/ID``
(POST to post, GET to read, DELETE to close). The API and stage come from the callback URL the client
calls, not from a parameter. The template names its API by ``Ref`` (AWS assigns the id at deploy); the
local stack's API id stands for it.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from snacks.local.iam import PolicyStore, requests_for
from snacks.local.iam_enforcement import Caller, Enforcer

ACCOUNT, REGION = "123456789012", "us-east-1"
LOCAL_API_ID = "k3x9q2abcd"
CALLBACK = f"https://{LOCAL_API_ID}.execute-api.{REGION}.amazonaws.com/live"


def template(methods: str = "POST") -> dict[str, Any]:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    connections = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":execute-api:", {"Ref": "AWS::Region"}, ":",
             {"Ref": "AWS::AccountId"}, ":", {"Ref": "SocketApi"}, f"/live/{methods}/@connections/*"],
        ]
    }  # fmt: skip
    grant = {"Effect": "Allow", "Action": "execute-api:ManageConnections", "Resource": connections}
    policy = {"PolicyName": "push", "PolicyDocument": {"Version": "2012-10-17", "Statement": [grant]}}
    return {
        "Resources": {
            "SocketApi": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Name": "s", "ProtocolType": "WEBSOCKET"}},
            "PusherRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": trust, "Policies": [policy]},
            },
        }
    }


def pusher(methods: str = "POST", aliased: bool = True) -> tuple[Enforcer, Caller]:
    store = PolicyStore.from_template(template(methods), account=ACCOUNT, region=REGION)
    enforcer = Enforcer(store, mode="enforce", account=ACCOUNT, region=REGION, log=io.StringIO())
    if aliased:
        enforcer.alias_api(LOCAL_API_ID, "SocketApi")
    role = store.resource_by_logical_id("PusherRole")
    assert role is not None
    return enforcer, Caller(enforcer.role(role.arn), session="storefront-pusher")


def post(enforcer: Enforcer, caller: Caller, operation: str = "PostToConnection") -> Any:
    params = {"ConnectionId": "abc=", "Data": b"{}"} if operation == "PostToConnection" else {"ConnectionId": "abc="}
    return enforcer.check_call(caller, "apigatewaymanagementapi", operation, params, f"{CALLBACK}/@connections/abc%3D")


def test_each_management_operation_is_manage_connections_with_its_method() -> None:
    for operation, method in (("PostToConnection", "POST"), ("GetConnection", "GET"), ("DeleteConnection", "DELETE")):
        (request,) = requests_for(
            "apigatewaymanagementapi",
            operation,
            {"ConnectionId": "c1"},
            region=REGION,
            account=ACCOUNT,
            endpoint=CALLBACK,
        )
        assert request.action == "execute-api:ManageConnections"
        assert (
            request.resource == f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{LOCAL_API_ID}/live/{method}/@connections/c1"
        )


def test_a_management_call_without_its_callback_url_is_not_guessed() -> None:
    with pytest.raises(ValueError, match="callback URL"):
        requests_for(
            "apigatewaymanagementapi", "PostToConnection", {"ConnectionId": "c"}, region=REGION, account=ACCOUNT
        )


def test_the_pusher_may_post_to_the_templates_api_and_nothing_more() -> None:
    enforcer, caller = pusher("POST")
    assert post(enforcer, caller) is None
    # The grant names POST only: closing a connection (DELETE) is refused, as on AWS.
    denied = post(enforcer, caller, "DeleteConnection")
    assert denied is not None and "execute-api:ManageConnections" in str(denied)


def test_another_api_is_refused() -> None:
    enforcer, caller = pusher("*", aliased=False)  # the local id stands for no API of the template
    assert post(enforcer, caller) is not None
