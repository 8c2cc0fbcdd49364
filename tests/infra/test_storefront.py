"""The storefront in the synthesized template (``-c storefront=true``): APIs, stages, grants, rule, alarms.

AWS references: HTTP API Lambda integrations take ``PayloadFormatVersion`` "2.0" ("Create AWS Lambda proxy
integrations for HTTP APIs in API Gateway"); a backend posts to WebSocket clients with
``execute-api:ManageConnections`` on ``arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/POST/@connections/*``
("Control access to WebSocket APIs with IAM authorization", API Gateway Developer Guide).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks import definitions as d
from stacks import storefront_definitions as sf
from tests.support.synth import Synthesized, synthesize

ORIGIN = "https://shop.example"
STORE = sf.STOREFRONT


@pytest.fixture(scope="module")
def synth() -> Synthesized:
    return synthesize((("storefront", "true"), ("storefrontOrigin", ORIGIN)))


def only(resources: dict[str, dict[str, Any]], **properties: Any) -> tuple[str, dict[str, Any]]:
    found = [
        (logical_id, resource)
        for logical_id, resource in resources.items()
        if all(resource["Properties"].get(key) == value for key, value in properties.items())
    ]
    assert len(found) == 1, (properties, [logical_id for logical_id, _ in found])
    return found[0]


def role_statements(synth: Synthesized, function_name: str) -> dict[str, dict[str, Any]]:
    _, function = only(synth.resources("AWS::Lambda::Function"), FunctionName=function_name)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = synth.raw["Resources"][role_id]["Properties"]["Policies"]
    return {statement["Sid"]: statement for statement in policy["PolicyDocument"]["Statement"]}


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return sorted([value] if isinstance(value, str) else value)


def test_the_storefront_is_opt_in() -> None:
    default = synthesize()
    assert default.resources("AWS::ApiGatewayV2::Api") == {}
    assert len(default.resources("AWS::Lambda::Function")) == len(d.FUNCTIONS)


def test_no_unsuppressed_nag_findings_and_scoped_suppressions(synth: Synthesized) -> None:
    assert synth.nag_errors == () and synth.nag_warnings == (), [
        f.message[:120] for f in synth.nag_errors + synth.nag_warnings
    ]
    for resource in synth.raw["Resources"].values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            assert len(rule["reason"]) >= 20
            if rule["id"] == "AwsSolutions-IAM5":
                (scope,) = rule["applies_to"]
                assert scope == "Resource::*" or scope.endswith(f"/{sf.STAGE_NAME}/POST/@connections/*"), scope


def test_http_api_routes_payload_2_cors_throttling_and_access_logs(synth: Synthesized) -> None:
    api_id, api = only(synth.resources("AWS::ApiGatewayV2::Api"), Name=STORE.http_api)
    assert api["Properties"]["ProtocolType"] == "HTTP"
    cors = api["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == [ORIGIN] and "authorization" in cors["AllowHeaders"]
    routes = sorted(
        r["Properties"]["RouteKey"]
        for r in synth.resources("AWS::ApiGatewayV2::Route").values()
        if r["Properties"]["ApiId"] == {"Ref": api_id}
    )
    assert routes == sorted(sf.HTTP_ROUTES)
    integrations = [
        i["Properties"]
        for i in synth.resources("AWS::ApiGatewayV2::Integration").values()
        if i["Properties"]["ApiId"] == {"Ref": api_id}
    ]
    assert [i["PayloadFormatVersion"] for i in integrations] == ["2.0"]
    (stage,) = [
        s["Properties"]
        for s in synth.resources("AWS::ApiGatewayV2::Stage").values()
        if s["Properties"]["ApiId"] == {"Ref": api_id}
    ]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == sf.THROTTLE_RATE_PER_SECOND
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == sf.THROTTLE_BURST
    log_format = json.loads(stage["AccessLogSettings"]["Format"])
    assert "routeKey" in log_format and "authorization" not in json.dumps(log_format).lower()


def test_websocket_api_routes_and_stage(synth: Synthesized) -> None:
    api_id, api = only(synth.resources("AWS::ApiGatewayV2::Api"), Name=STORE.websocket_api)
    assert api["Properties"]["ProtocolType"] == "WEBSOCKET"
    routes = sorted(
        r["Properties"]["RouteKey"]
        for r in synth.resources("AWS::ApiGatewayV2::Route").values()
        if r["Properties"]["ApiId"] == {"Ref": api_id}
    )
    assert routes == sorted(sf.WEBSOCKET_ROUTES)
    (stage,) = [
        s["Properties"]
        for s in synth.resources("AWS::ApiGatewayV2::Stage").values()
        if s["Properties"]["ApiId"] == {"Ref": api_id}
    ]
    assert stage["StageName"] == sf.STAGE_NAME and "AccessLogSettings" in stage


def test_connections_table_is_encrypted_and_expires(synth: Synthesized) -> None:
    _, table = only(synth.resources("AWS::DynamoDB::Table"), TableName=STORE.connections_table)
    properties = table["Properties"]
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert properties["TimeToLiveSpecification"] == {"AttributeName": sf.CONNECTIONS_TTL_ATTRIBUTE, "Enabled": True}
    assert properties["KeySchema"] == [
        {"AttributeName": sf.CONNECTIONS_PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": sf.CONNECTIONS_SORT_KEY, "KeyType": "RANGE"},
    ]


def test_the_local_connections_table_is_the_stacks(synth: Synthesized) -> None:
    from moto import mock_aws

    from snacks.local.storefront_tables import create_connections_table
    from tests.unit.conftest import aws_client

    _, table = only(synth.resources("AWS::DynamoDB::Table"), TableName=STORE.connections_table)
    with mock_aws():
        dynamodb = aws_client("dynamodb")
        create_connections_table(dynamodb)
        local = dynamodb.describe_table(TableName=STORE.connections_table)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=STORE.connections_table)["TimeToLiveDescription"]
        backups = dynamodb.describe_continuous_backups(TableName=STORE.connections_table)
    assert local["KeySchema"] == table["Properties"]["KeySchema"]
    assert ttl["AttributeName"] == table["Properties"]["TimeToLiveSpecification"]["AttributeName"]
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
    assert (pitr == "ENABLED") is table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]


def test_manage_connections_is_granted_on_this_apis_stage_only(synth: Synthesized) -> None:
    ws_id, _ = only(synth.resources("AWS::ApiGatewayV2::Api"), Name=STORE.websocket_api)
    for function in (STORE.sockets_function, STORE.pusher_function):
        statement = role_statements(synth, function)["PostToOwnConnections"]
        assert actions(statement) == ["execute-api:ManageConnections"]
        parts = statement["Resource"]["Fn::Join"][1]
        assert {"Ref": ws_id} in parts and parts[-1] == f"/{sf.STAGE_NAME}/POST/@connections/*"


def test_each_storefront_role_holds_only_what_its_handler_calls(synth: Synthesized) -> None:
    api = role_statements(synth, STORE.api_function)
    assert actions(api["CreateReadCancelOrders"]) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    assert api["PublishCreatedAndCancelled"]["Condition"]["StringEquals"]["events:detail-type"] == [
        d.RULE_DETAIL_TYPE, d.ORDER_CANCELLED_DETAIL_TYPE_NAME,
    ]  # fmt: skip
    assert sorted(api) == sorted(
        [
            "CreateReadCancelOrders", "IdempotencyRecords", "GiveStockBack", "PublishCreatedAndCancelled",
            "ReadStripeSecretKey", "WriteOwnLogs",
        ]
    )  # fmt: skip
    # A cancel releases a card payment, as order-canceller does: the one secret, and nothing else of Stripe's.
    assert actions(api["ReadStripeSecretKey"]) == ["secretsmanager:GetSecretValue"]
    (secret_id,) = synth.resources("AWS::SecretsManager::Secret")
    assert api["ReadStripeSecretKey"]["Resource"] == {"Ref": secret_id}
    sockets = role_statements(synth, STORE.sockets_function)
    assert sorted(sockets) == sorted(["ReadOrders", "RememberConnections", "PostToOwnConnections", "WriteOwnLogs"])
    assert actions(sockets["ReadOrders"]) == ["dynamodb:GetItem"]
    pusher = role_statements(synth, STORE.pusher_function)
    assert sorted(pusher) == sorted(
        ["ReadOrderPayment", "FindAndForgetConnections", "PostToOwnConnections", "WriteOwnLogs"]
    )
    assert actions(pusher["FindAndForgetConnections"]) == ["dynamodb:DeleteItem", "dynamodb:Query"]
    # One GetItem per status event (the payment state for the message), on the Orders table only.
    assert actions(pusher["ReadOrderPayment"]) == ["dynamodb:GetItem"]
    assert pusher["ReadOrderPayment"]["Resource"] == sockets["ReadOrders"]["Resource"]


def test_status_events_reach_the_pusher(synth: Synthesized) -> None:
    _, rule = only(synth.resources("AWS::Events::Rule"), Name=STORE.status_push_rule)
    assert rule["Properties"]["EventPattern"] == d.STATUS_EVENT_PATTERN
    (target,) = rule["Properties"]["Targets"]
    pusher_id, _ = only(synth.resources("AWS::Lambda::Function"), FunctionName=STORE.pusher_function)
    assert target["Arn"] == {"Fn::GetAtt": [pusher_id, "Arn"]} and target["RetryPolicy"]["MaximumRetryAttempts"] == 4


def test_alarms_on_5xx_latency_and_integration_errors_and_dashboard_widgets(synth: Synthesized) -> None:
    names = {a["Properties"]["AlarmName"] for a in synth.resources("AWS::CloudWatch::Alarm").values()}
    assert {
        f"{STORE.http_api}-5xx",
        f"{STORE.http_api}-latency-p99",
        f"{STORE.websocket_api}-integration-errors",
    } <= names
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "Storefront HTTP API" in body and "Storefront live status" in body


def _distribution(synth: Synthesized) -> dict[str, Any]:
    (distribution,) = synth.resources("AWS::CloudFront::Distribution").values()
    config: dict[str, Any] = distribution["Properties"]["DistributionConfig"]
    return config


def _order_read_behavior(synth: Synthesized) -> dict[str, Any]:
    (behavior,) = [
        b for b in _distribution(synth).get("CacheBehaviors", []) if b["PathPattern"] == sf.ORDER_READ_CACHE_PATH
    ]
    return behavior


def test_cloudfront_caches_the_order_read_per_token_and_origin_only(synth: Synthesized) -> None:
    """The cache key is path + Authorization (+ Origin, for CORS): one order's token never serves another's view.

    CloudFront Developer Guide, "Control the cache key with a policy" / "Understand cache policies": values in
    the cache key are included in origin requests; the Authorization header cannot be forwarded by an origin
    request policy (https://repost.aws/knowledge-center/cloudfront-authorization-header: CloudFront answers 400
    to such a policy), so it must be in the cache key to reach the
    function at all, and with it each token is its own cache entry.
    """
    behavior = _order_read_behavior(synth)
    policies = synth.resources("AWS::CloudFront::CachePolicy")
    policy = policies[behavior["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["HeadersConfig"]["HeaderBehavior"] == "whitelist"
    headers = {h.lower() for h in key["HeadersConfig"]["Headers"]}
    assert "authorization" in headers and "origin" in headers, headers
    assert key["QueryStringsConfig"]["QueryStringBehavior"] == "none"
    assert key["CookiesConfig"]["CookieBehavior"] == "none"
    # Short TTL, the origin's Cache-Control (max-age=1) honoured within [min, max].
    assert policy["DefaultTTL"] == sf.ORDER_READ_CACHE_SECONDS and policy["MinTTL"] == 0
    assert 1 <= policy["MaxTTL"] <= 5
    assert behavior["ViewerProtocolPolicy"] == "https-only"


ALL_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE")


def test_cloudfront_never_caches_posts_and_forwards_what_they_need(synth: Synthesized) -> None:
    """POSTs (place, cancel) pass through: AllowedMethods all, CachedMethods GET/HEAD only (CloudFront
    Developer Guide, "Values that you specify when you create or update a distribution": Allowed HTTP methods,
    Cached HTTP methods); the default behaviour caches nothing and forwards every viewer header but Host
    (managed policies CachingDisabled and AllViewerExceptHostHeader, "Use managed cache policies" /
    "Use managed origin request policies")."""
    config = _distribution(synth)
    caching_disabled = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    all_viewer_except_host = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    default = config["DefaultCacheBehavior"]
    assert default["CachePolicyId"] == caching_disabled
    for behavior in (default, _order_read_behavior(synth)):
        assert sorted(behavior["AllowedMethods"]) == sorted(ALL_METHODS)
        assert sorted(behavior.get("CachedMethods", ["GET", "HEAD"])) == ["GET", "HEAD"]
        assert behavior["OriginRequestPolicyId"] == all_viewer_except_host
        assert behavior["ViewerProtocolPolicy"] == "https-only"
    (origin,) = config["Origins"]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
    assert "StorefrontDistributionUrl" in synth.raw["Outputs"]
