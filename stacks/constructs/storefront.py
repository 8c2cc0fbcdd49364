"""The storefront: HTTP API (place/read/cancel), WebSocket API (live status), their functions and table.

Opt-in with ``cdk deploy -c storefront=true`` (a public API is a new exposure; the pipeline alone stays
as it was). CORS allows the one origin of ``-c storefrontOrigin=https://shop.example``.

The read the storefront page repeats, GET /orders/{id}, is answered with ``Cache-Control: max-age=1``
and served through a CloudFront distribution in front of the HTTP API: HTTPS only, GET/HEAD of
``/orders/*`` cached for that second per (path, Authorization, Origin), nothing else cached, POSTs
forwarded with every viewer header but Host. A storm of polls of one order costs the function (and
DynamoDB) about one read a second per edge location; see docs/storefront.md.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from stacks import definitions as d
from stacks import storefront_definitions as sf
from stacks.checkov import AWS_MANAGED_KEY, LOGS_ENCRYPTED_BY_DEFAULT, skip_checkov
from stacks.constructs.functions import LOG_RETENTION, Functions
from stacks.constructs.monitoring import Monitoring
from stacks.constructs.topics import allow_service_to_publish

CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
LATENCY_P99_THRESHOLD_MS = 3000
# API Gateway access-log format: the request, never the body or the Authorization header.
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","routeKey":"$context.routeKey",'
    '"status":"$context.status","latency":"$context.responseLatency","integrationError":"$context.integrationErrorMessage",'
    '"time":"$context.requestTime"}'
)
WEBSOCKET_ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","routeKey":"$context.routeKey",'
    '"eventType":"$context.eventType","connectionId":"$context.connectionId","status":"$context.status",'
    '"integrationError":"$context.integrationErrorMessage","time":"$context.requestTime"}'
)


class Storefront(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: d.ResourceNames,
        functions: Functions,
        orders: dynamodb.ITable,
        idempotency: dynamodb.ITable,
        inventory: dynamodb.ITable,
        bus: events.IEventBus,
        monitoring: Monitoring,
        allowed_origin: str,
    ) -> None:
        super().__init__(scope, construct_id)
        store = sf.storefront_names(names)

        self.connections = dynamodb.Table(
            self,
            "Connections",
            table_name=store.connections_table,
            partition_key=dynamodb.Attribute(name=sf.CONNECTIONS_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=sf.CONNECTIONS_SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=sf.CONNECTIONS_TTL_ATTRIBUTE,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,  # connections live two hours at most
        )
        skip_checkov(self.connections, {"CKV_AWS_119": AWS_MANAGED_KEY})

        # The APIs first: the functions' grants name them.
        self.http_api = apigw.HttpApi(
            self,
            "HttpApi",
            api_name=store.http_api,
            description="Serverless Snacks storefront: place, read and cancel orders",
            create_default_stage=False,
            cors_preflight=apigw.CorsPreflightOptions(
                allow_origins=[allowed_origin],
                allow_methods=[apigw.CorsHttpMethod.GET, apigw.CorsHttpMethod.POST, apigw.CorsHttpMethod.OPTIONS],
                allow_headers=["authorization", "content-type", "idempotency-key"],
                max_age=Duration.minutes(10),
            ),
        )
        self.websocket_api = apigw.WebSocketApi(
            self, "WebSocketApi", api_name=store.websocket_api, description="Serverless Snacks live order status"
        )
        manage_connections = iam.PolicyStatement(
            sid="PostToOwnConnections",  # only this API's stage's connections
            actions=["execute-api:ManageConnections"],
            resources=[
                f"arn:{Aws.PARTITION}:execute-api:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
                f"{self.websocket_api.api_id}/{sf.STAGE_NAME}/POST/@connections/*"
            ],
        )

        definitions = sf.function_definitions(
            names,
            callback_url=f"https://{self.websocket_api.api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}/{sf.STAGE_NAME}",
        )
        self.api_function = functions._function(
            "StorefrontApi",
            definitions[sf.API],
            [
                iam.PolicyStatement(
                    sid="CreateReadCancelOrders",  # PutItem (create), GetItem, UpdateItem (cancel transaction)
                    actions=["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
                    resources=[orders.table_arn],
                ),
                iam.PolicyStatement(
                    sid="IdempotencyRecords",
                    actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                    resources=[idempotency.table_arn],
                ),
                iam.PolicyStatement(
                    sid="GiveStockBack", actions=["dynamodb:UpdateItem"], resources=[inventory.table_arn]
                ),
                iam.PolicyStatement(
                    sid="ReadStripeSecretKey",  # a cancel voids or refunds a card payment, as order-canceller does
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[functions.payments.secret.secret_arn],
                ),
                iam.PolicyStatement(
                    sid="PublishCreatedAndCancelled",
                    actions=["events:PutEvents"],
                    resources=[bus.event_bus_arn],
                    conditions={
                        "StringEquals": {
                            "events:source": d.RULE_EVENT_SOURCE,
                            "events:detail-type": [d.RULE_DETAIL_TYPE, d.ORDER_CANCELLED_DETAIL_TYPE_NAME],
                        }
                    },
                ),
            ],
        )
        self.sockets_function = functions._function(
            "StorefrontSockets",
            definitions[sf.SOCKETS],
            [
                iam.PolicyStatement(sid="ReadOrders", actions=["dynamodb:GetItem"], resources=[orders.table_arn]),
                iam.PolicyStatement(
                    sid="RememberConnections",  # the two puts of a connect are one TransactWriteItems
                    actions=["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"],
                    resources=[self.connections.table_arn],
                ),
                manage_connections,
            ],
        )
        self.pusher_function = functions._function(
            "StorefrontPusher",
            definitions[sf.PUSHER],
            [
                # One strongly consistent GetItem per status event: the order's payment state for the message.
                iam.PolicyStatement(sid="ReadOrderPayment", actions=["dynamodb:GetItem"], resources=[orders.table_arn]),
                iam.PolicyStatement(
                    sid="FindAndForgetConnections",
                    actions=["dynamodb:Query", "dynamodb:DeleteItem"],
                    resources=[self.connections.table_arn],
                ),
                manage_connections,
            ],
        )

        self.http_stage = self._http_stage(store)
        api_integration = integrations.HttpLambdaIntegration(
            "Orders", self.api_function, payload_format_version=apigw.PayloadFormatVersion.VERSION_2_0
        )
        for route in sf.HTTP_ROUTES:
            method, path = route.split(" ", 1)
            self.http_api.add_routes(path=path, methods=[apigw.HttpMethod(method)], integration=api_integration)

        sockets_integration = integrations.WebSocketLambdaIntegration("Sockets", self.sockets_function)
        for route in sf.WEBSOCKET_ROUTES:
            self.websocket_api.add_route(route, integration=sockets_integration)
        self.websocket_stage = self._websocket_stage(store)

        self.status_push_rule = events.Rule(
            self,
            "StatusPushRule",
            rule_name=store.status_push_rule,
            description=f"Status events to {store.pusher_function}, which pushes them to WebSocket subscribers",
            event_bus=bus,
            event_pattern=events.EventPattern(
                source=list(d.STATUS_EVENT_PATTERN["source"]), detail_type=list(d.STATUS_EVENT_PATTERN["detail-type"])
            ),
            targets=[targets.LambdaFunction(self.pusher_function, retry_attempts=4, max_event_age=Duration.minutes(5))],
        )
        self.distribution = self._distribution(store)
        self._alarms_and_widgets(store, monitoring)
        self._suppressions()

    def _distribution(self, store: sf.StorefrontNames) -> cloudfront.Distribution:
        """CloudFront in front of the HTTP API, caching only the order read.

        CloudFront's "Control the cache key with a policy" (Developer Guide): headers in the cache key are
        forwarded to the origin, and the Authorization header reaches the origin only that way (an origin
        request policy cannot forward it), so the read and the cancel carry the token to the function
        because it is in ``/orders/*``'s key, and no two tokens share a cached view.
        """
        origin = origins.HttpOrigin(
            f"{self.http_api.api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}",
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
        )
        forward_all_but_host = cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER
        order_read = cloudfront.CachePolicy(
            self,
            "OrderReadCache",
            cache_policy_name=f"{store.http_api}-order-read",
            comment="GET /orders/{id}: a second per order token (Authorization) and page Origin",
            default_ttl=Duration.seconds(sf.ORDER_READ_CACHE_SECONDS),
            min_ttl=Duration.seconds(sf.ORDER_READ_CACHE_MIN_SECONDS),
            max_ttl=Duration.seconds(sf.ORDER_READ_CACHE_MAX_SECONDS),
            header_behavior=cloudfront.CacheHeaderBehavior.allow_list(*sf.ORDER_READ_CACHE_HEADERS),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{store.http_api}: cached order reads",
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=forward_all_but_host,
            ),
            additional_behaviors={
                sf.ORDER_READ_CACHE_PATH: cloudfront.BehaviorOptions(
                    origin=origin,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,  # the cancel is a POST
                    cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
                    cache_policy=order_read,
                    origin_request_policy=forward_all_but_host,
                )
            },
        )
        NagSuppressions.add_resource_suppressions(
            distribution,
            [
                NagPackSuppression(
                    id="AwsSolutions-CFR1",
                    reason="A shop sells wherever its customers are; no country is excluded by requirement.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-CFR2",
                    reason="The origin HTTP API's stage throttling bounds request rates and every read needs the "
                    "order's token; a WAF web ACL (cost per rule and request) is left to the shop that deploys it.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-CFR3",
                    reason="The HTTP API stage keeps the access log of every request that reaches the origin; "
                    "CloudFront standard logs need an ACL-enabled S3 bucket and would add cached hits only.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-CFR4",
                    reason="The default *.cloudfront.net certificate cannot set a minimum protocol version; "
                    "a deployment with its own domain sets TLSv1.2_2021 with its certificate.",
                ),
            ],
        )
        skip_checkov(
            distribution,
            {
                "CKV_AWS_68": "No WAF web ACL: see the AwsSolutions-CFR2 suppression (stage throttling, tokens).",
                "CKV_AWS_86": "No CloudFront access logs: the origin HTTP API stage logs every origin request.",
                "CKV_AWS_174": "Default CloudFront certificate: no minimum protocol can be set without a domain.",
            },
        )
        return distribution

    def _suppressions(self) -> None:
        for function in (self.sockets_function, self.pusher_function):
            assert function.role is not None
            NagSuppressions.add_resource_suppressions(
                function.role,
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason="Connection ids exist only at run time; the grant is PostToConnection on this one "
                        "WebSocket API's stage, nothing else (execute-api:ManageConnections resource format).",
                        applies_to=[f"Resource::{self._connections_arn_as_nag_prints_it()}"],
                    )
                ],
                apply_to_children=True,
            )
        public = NagPackSuppression(
            id="AwsSolutions-APIG4",
            reason="A shop's order API is public by design: anyone may place an order; reading, cancelling and "
            "subscribing need the order's own access token, checked by the function against the hash on the order "
            "(an authorizer would read the same order a second time). $disconnect/$default exist only on a "
            "connection $connect accepted.",
        )
        for api in (self.http_api, self.websocket_api):
            NagSuppressions.add_resource_suppressions(api, [public], apply_to_children=True)

    def _connections_arn_as_nag_prints_it(self) -> str:
        """The ARN as cdk-nag prints it in ``applies_to`` (tokens as <LogicalId>, pseudo parameters as <AWS::X>)."""
        api_id = Stack.of(self).get_logical_id(self.websocket_api.node.default_child)  # type: ignore[arg-type]
        account = "arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>"
        return f"{account}:<{api_id}>/{sf.STAGE_NAME}/POST/@connections/*"

    def _access_logs(self, construct_id: str, api_name: str) -> logs.LogGroup:
        group = logs.LogGroup(
            self,
            construct_id,
            log_group_name=f"/aws/apigateway/{api_name}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        skip_checkov(group, {"CKV_AWS_158": LOGS_ENCRYPTED_BY_DEFAULT})
        return group

    def _http_stage(self, store: sf.StorefrontNames) -> apigw.HttpStage:
        stage = apigw.HttpStage(
            self,
            "HttpStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=sf.THROTTLE_RATE_PER_SECOND, burst_limit=sf.THROTTLE_BURST),
        )
        group = self._access_logs("HttpAccessLogs", store.http_api)
        cfn = stage.node.default_child
        assert isinstance(cfn, apigw.CfnStage)
        cfn.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=group.log_group_arn, format=ACCESS_LOG_FORMAT
        )
        return stage

    def _websocket_stage(self, store: sf.StorefrontNames) -> apigw.WebSocketStage:
        stage = apigw.WebSocketStage(
            self,
            "WebSocketStage",
            web_socket_api=self.websocket_api,
            stage_name=sf.STAGE_NAME,
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=sf.THROTTLE_RATE_PER_SECOND, burst_limit=sf.THROTTLE_BURST),
        )
        group = self._access_logs("WebSocketAccessLogs", store.websocket_api)
        cfn = stage.node.default_child
        assert isinstance(cfn, apigw.CfnStage)
        cfn.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=group.log_group_arn, format=WEBSOCKET_ACCESS_LOG_FORMAT
        )
        return stage

    def _alarms_and_widgets(self, store: sf.StorefrontNames, monitoring: Monitoring) -> None:
        minute = Duration.minutes(1)
        http_5xx = self.http_api.metric_server_error(period=minute, statistic="Sum")
        latency = self.http_api.metric_latency(period=minute, statistic="p99")
        ws_dims = {"ApiId": self.websocket_api.api_id, "Stage": sf.STAGE_NAME}
        integration_errors = cw.MathExpression(
            expression="integration + execution + pusher",
            using_metrics={
                "integration": cw.Metric(
                    namespace="AWS/ApiGateway",
                    metric_name="IntegrationError",
                    dimensions_map=ws_dims,
                    period=minute,
                    statistic="Sum",
                ),
                "execution": cw.Metric(
                    namespace="AWS/ApiGateway",
                    metric_name="ExecutionError",
                    dimensions_map=ws_dims,
                    period=minute,
                    statistic="Sum",
                ),
                "pusher": self.pusher_function.metric_errors(period=minute, statistic="Sum"),
            },
            label="Storefront integration errors",
            period=minute,
        )
        alarms = [
            self._alarm("Http5xx", f"{store.http_api}-5xx", http_5xx, "The storefront HTTP API answered 5xx", 0),
            self._alarm(
                "HttpLatency",
                f"{store.http_api}-latency-p99",
                latency,
                f"Storefront HTTP API p99 latency over {LATENCY_P99_THRESHOLD_MS} ms",
                LATENCY_P99_THRESHOLD_MS,
            ),
            self._alarm(
                "IntegrationErrors",
                f"{store.websocket_api}-integration-errors",
                integration_errors,
                "WebSocket integrations or the status pusher failed",
                0,
            ),
        ]
        for alarm in alarms:
            alarm.add_alarm_action(cw_actions.SnsAction(monitoring.topic))
        allow_service_to_publish(
            monitoring.topic,
            sid="StorefrontAlarmsPublish",
            publisher=CLOUDWATCH_PRINCIPAL,
            source_arns=[alarm.alarm_arn for alarm in alarms],
        )
        monitoring.dashboard.add_widgets(
            cw.GraphWidget(
                title="Storefront HTTP API",
                left=[
                    self.http_api.metric_count(period=minute),
                    http_5xx,
                    self.http_api.metric_client_error(period=minute),
                ],
                right=[latency],
                width=12,
            ),
            cw.GraphWidget(
                title="Storefront live status",
                left=[
                    cw.Metric(
                        namespace="AWS/ApiGateway",
                        metric_name="ConnectCount",
                        dimensions_map=ws_dims,
                        period=minute,
                        statistic="Sum",
                    ),
                    cw.Metric(
                        namespace="AWS/ApiGateway",
                        metric_name="MessageCount",
                        dimensions_map=ws_dims,
                        period=minute,
                        statistic="Sum",
                    ),
                ],
                right=[integration_errors],
                width=12,
            ),
        )

    def _alarm(self, construct_id: str, name: str, metric: cw.IMetric, description: str, threshold: int) -> cw.Alarm:
        return cw.Alarm(
            self,
            construct_id,
            alarm_name=name,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
