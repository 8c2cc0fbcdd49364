"""Alarms to an encrypted SNS topic and the ``ServerlessSnacks`` dashboard."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from order_service import settings as env
from stacks import definitions as d

DASHBOARD_NAME = env.METRICS_NAMESPACE
# Powertools Metrics(service=...) adds this dimension to every metric it emits.
SERVICE_DIMENSION = "service"
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"

# Custom metrics emitted by the handlers (names as in lambdas/order_service/handlers).
ORDERS_CREATED = "OrdersCreated"
ORDER_PUBLISH_DEFERRED = "OrderPublishDeferred"
ORDER_REQUEST_ERRORS = "OrderRequestErrors"
ORDERS_REJECTED = "OrdersRejected"
ORDERS_PROCESSED = "OrdersProcessed"
ORDERS_FAILED = "OrdersFailed"
PROCESSING_LATENCY = "ProcessingLatency"
ORDERS_STUCK_NEW = "OrdersStuckNew"
ORDERS_REPUBLISHED = "OrdersRepublished"

ONE_MINUTE = Duration.minutes(1)
RECONCILE_PERIOD = Duration.minutes(d.RECONCILE_EVERY_MINUTES)


def service_metric(
    name: str, service: str, statistic: str = cw.Stats.SUM, period: Duration = ONE_MINUTE, label: str | None = None
) -> cw.Metric:
    return cw.Metric(
        namespace=env.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={SERVICE_DIMENSION: service},
        statistic=statistic,
        period=period,
        label=label,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.Function],
        state_machine: sfn.StateMachine,
        dead_letter_queue: sqs.Queue,
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)

        # CloudWatch can only publish to an encrypted topic through a customer-managed key it may use.
        self.key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts the Serverless Snacks alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name="Serverless Snacks alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self._action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cw.Alarm] = []

        dlq_depth = dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=ONE_MINUTE, statistic=cw.Stats.MAXIMUM
        )
        self._alarm(
            "DlqNotEmpty",
            f"{d.DEAD_LETTER_QUEUE}-has-messages",
            dlq_depth,
            "Failed orders or undeliverable events wait in the DLQ: `snacks dlq list`, then `snacks dlq replay`.",
        )
        self._alarm(
            "ExecutionsFailed",
            f"{d.STATE_MACHINE}-executions-failed",
            state_machine.metric_failed(period=ONE_MINUTE, statistic=cw.Stats.SUM),
            "Fulfillment workflow executions failed (orders marked FAILED and sent to the DLQ).",
        )
        self._alarm(
            "ExecutionsTimedOut",
            f"{d.STATE_MACHINE}-executions-timed-out",
            state_machine.metric_timed_out(period=ONE_MINUTE, statistic=cw.Stats.SUM),
            "Fulfillment workflow executions timed out; their orders stay NEW until the reconciler re-publishes.",
        )
        for name, function in functions.items():
            self._alarm(
                f"{function.node.id}Errors",
                f"{name}-errors",
                function.metric_errors(period=ONE_MINUTE, statistic=cw.Stats.SUM),
                f"{name} invocations failed (unhandled errors): see /aws/lambda/{name}.",
            )
            self._alarm(
                f"{function.node.id}Throttles",
                f"{name}-throttles",
                function.metric_throttles(period=ONE_MINUTE, statistic=cw.Stats.SUM),
                f"{name} invocations were throttled (account or reserved concurrency).",
            )
        self._alarm(
            "CreatorRequestErrors",
            f"{d.ORDER_CREATOR}-request-errors",
            service_metric(ORDER_REQUEST_ERRORS, d.ORDER_CREATOR),
            "order-creator answered 5xx (its contract turns errors into replies, so Lambda Errors stay 0).",
        )
        self._alarm(
            "OrdersStuckNew",
            f"{d.ORDER_RECONCILER}-orders-stuck-new",
            service_metric(ORDERS_STUCK_NEW, d.ORDER_RECONCILER, cw.Stats.MAXIMUM, RECONCILE_PERIOD),
            "The reconciler found NEW orders nobody processed and re-published them: check the rule, the DLQ "
            "and OrderPublishDeferred.",
        )
        self._alarm(
            "OrderPublishDeferred",
            f"{d.ORDER_CREATOR}-publish-deferred",
            service_metric(ORDER_PUBLISH_DEFERRED, d.ORDER_CREATOR),
            "Orders were stored but Order Created could not be published; the reconciler will publish them.",
        )

        self.dashboard = self._dashboard(functions, state_machine, dlq_depth)

    def _alarm(self, construct_id: str, name: str, metric: cw.IMetric, description: str) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            construct_id,
            alarm_name=name,
            alarm_description=description,
            metric=metric,
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def _dashboard(
        self, functions: Mapping[str, lambda_.Function], state_machine: sfn.StateMachine, dlq_depth: cw.Metric
    ) -> cw.Dashboard:
        creator = functions[d.ORDER_CREATOR]
        # Metric ids must be unique across one graph: suffix each expression's ids with its index.
        error_rates: list[cw.IMetric] = [
            cw.MathExpression(
                label=f"{d.ORDER_CREATOR} 5xx %",
                expression="IF(invocations0 > 0, 100 * (errors0 + requestErrors0) / invocations0, 0)",
                using_metrics={
                    "invocations0": creator.metric_invocations(statistic=cw.Stats.SUM),
                    "errors0": creator.metric_errors(statistic=cw.Stats.SUM),
                    "requestErrors0": service_metric(ORDER_REQUEST_ERRORS, d.ORDER_CREATOR),
                },
                period=ONE_MINUTE,
            ),
            cw.MathExpression(
                label=f"{d.STATE_MACHINE} failed %",
                expression="IF(started > 0, 100 * (failed + timedOut) / started, 0)",
                using_metrics={
                    "started": state_machine.metric_started(statistic=cw.Stats.SUM),
                    "failed": state_machine.metric_failed(statistic=cw.Stats.SUM),
                    "timedOut": state_machine.metric_timed_out(statistic=cw.Stats.SUM),
                },
                period=ONE_MINUTE,
            ),
        ]
        others = [(name, function) for name, function in functions.items() if function is not creator]
        for index, (name, function) in enumerate(others, start=1):
            error_rates.append(
                cw.MathExpression(
                    label=f"{name} errors %",
                    expression=f"IF(invocations{index} > 0, 100 * errors{index} / invocations{index}, 0)",
                    using_metrics={
                        f"invocations{index}": function.metric_invocations(statistic=cw.Stats.SUM),
                        f"errors{index}": function.metric_errors(statistic=cw.Stats.SUM),
                    },
                    period=ONE_MINUTE,
                )
            )

        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=DASHBOARD_NAME)
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Order creation rate (per minute)",
                left=[
                    service_metric(ORDERS_CREATED, d.ORDER_CREATOR, label="created"),
                    service_metric(ORDERS_REJECTED, d.ORDER_CREATOR, label="rejected (4xx)"),
                    service_metric(ORDERS_PROCESSED, d.ORDER_PROCESSOR, label="processed"),
                    service_metric(ORDERS_FAILED, d.ORDER_PROCESSOR, label="failed"),
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Processing latency NEW → PROCESSED (ms)",
                left=[
                    service_metric(PROCESSING_LATENCY, d.ORDER_PROCESSOR, statistic, label=statistic)
                    for statistic in (cw.Stats.p(50), cw.Stats.p(95), cw.Stats.p(99))
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(title="Error rate (%)", left=error_rates, left_y_axis=cw.YAxisProps(min=0), width=12),
            cw.GraphWidget(
                title="DLQ depth and orders stuck in NEW",
                left=[dlq_depth.with_(label="messages in the DLQ")],
                right=[
                    service_metric(
                        ORDERS_STUCK_NEW, d.ORDER_RECONCILER, cw.Stats.MAXIMUM, RECONCILE_PERIOD, "stuck in NEW"
                    ),
                    service_metric(
                        ORDERS_REPUBLISHED, d.ORDER_RECONCILER, period=RECONCILE_PERIOD, label="re-published"
                    ),
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24))
        return dashboard
