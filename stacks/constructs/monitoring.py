"""Alarms to an encrypted SNS topic and the ``ServerlessSnacks`` dashboard."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from order_service import settings as env
from stacks import definitions as d
from stacks.constructs.topics import allow_service_to_publish, service_topic

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
ORDERS_OUT_OF_STOCK = "OrdersOutOfStock"
ORDERS_CANCELLED = "OrdersCancelled"
COMPENSATIONS = "Compensations"
STATUS_EVENTS_NOT_PUBLISHED = "StatusEventsNotPublished"
# Card payments (order-processor; order-canceller voids and refunds too).
PAYMENTS_AUTHORIZED = "PaymentsAuthorized"
PAYMENTS_CAPTURED = "PaymentsCaptured"
PAYMENTS_DECLINED = "PaymentsDeclined"
PAYMENTS_VOIDED = "PaymentsVoided"
PAYMENTS_REFUNDED = "PaymentsRefunded"
PAYMENT_PROVIDER_ERRORS = "PaymentProviderErrors"
# Rejections and cancellations are business outcomes: alarm on a burst, not on each one.
LIFECYCLE_PERIOD = Duration.minutes(5)
OUT_OF_STOCK_BURST = 10
CANCELLATION_BURST = 20

# The workflow's status events are retried, then caught so the order still settles: a publish that
# failed is visible only in the workflow's execution log. Two kinds of record carry it:
# - PublishRejected|PaymentDeclined|Failed (events:putEvents tasks): Step Functions logs each failed
#   attempt of a service-integration task as ``TaskFailed``, and each attempt that ran past the task's
#   TimeoutSeconds (2 s) as ``TaskTimedOut`` (error States.Timeout), both with ``details.resourceType``
#   naming the service ("events" for EventBridge; TaskFailedEventDetails / TaskTimedOutEventDetails in
#   the Step Functions API Reference). SendToDLQ ("sqs") is not one of them.
# - MarkProcessed announces Order Processed itself: an attempt whose publish failed ends
#   ``LambdaFunctionFailed`` with ``details.error`` the exception's name, EventPublishFailed
#   (LambdaFunctionFailedEventDetails).
# Both at log levels ALL and ERROR ("Log levels for Step Functions execution events",
# https://docs.aws.amazon.com/step-functions/latest/dg/cloudwatch-log-level.html).
STATUS_EVENT_PUBLISH_FAILURES = "StatusEventPublishFailures"
FAILED_PUBLISH_PATTERN = logs.FilterPattern.any(
    logs.FilterPattern.all(
        logs.FilterPattern.any(
            logs.FilterPattern.string_value("$.type", "=", "TaskFailed"),
            logs.FilterPattern.string_value("$.type", "=", "TaskTimedOut"),
        ),
        logs.FilterPattern.string_value("$.details.resourceType", "=", "events"),
    ),
    logs.FilterPattern.all(
        logs.FilterPattern.string_value("$.type", "=", "LambdaFunctionFailed"),
        logs.FilterPattern.string_value("$.details.error", "=", "EventPublishFailed"),
    ),
)

ONE_MINUTE = Duration.minutes(1)
EVENTS_NAMESPACE = "AWS/Events"
FAILED_INVOCATIONS = "FailedInvocations"
RECONCILE_PERIOD = Duration.minutes(d.RECONCILE_EVERY_MINUTES)


def workflow_metrics_namespace(state_machine: str) -> str:
    """A metric filter's dimensions can only be fields of the log record, so the stage is in the
    namespace: two stages' workflows never add up in one metric."""
    return f"{env.METRICS_NAMESPACE}/{state_machine}"


def rule_failed_invocations(event_bus: str, rule: str) -> cw.Metric:
    """``AWS/Events`` ``FailedInvocations`` of a rule: invocations that failed permanently (after the retry
    policy). A rule on a custom bus reports it with both dimensions, ``EventBusName`` and ``RuleName``;
    ``RuleName`` alone names a rule of the default bus ("Monitoring Amazon EventBridge",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html), so an alarm on it alone
    would watch a metric that never comes. Sent only when non-zero: missing data is not breaching."""
    return cw.Metric(
        namespace=EVENTS_NAMESPACE,
        metric_name=FAILED_INVOCATIONS,
        dimensions_map={"EventBusName": event_bus, "RuleName": rule},
        statistic=cw.Stats.SUM,
        period=ONE_MINUTE,
    )


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
        names: d.ResourceNames,
        functions: Mapping[str, lambda_.Function],
        state_machine: sfn.StateMachine,
        workflow_logs: logs.ILogGroup,
        dead_letter_queue: sqs.Queue,
        status_dead_letter_queue: sqs.Queue,
        alarm_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._names = names
        function_names = {
            role: function_definition.name for role, function_definition in d.function_definitions(names).items()
        }
        creator_name, reconciler_name = function_names[d.CREATOR], function_names[d.RECONCILER]

        self.topic, self.key = service_topic(
            self,
            "AlarmTopic",
            topic_name=names.alarm_topic,
            display_name="Serverless Snacks alarms",
            key_description="Encrypts the Serverless Snacks alarm topic",
            publisher=CLOUDWATCH_PRINCIPAL,
            key_statement_sid="CloudWatchAlarmsPublish",
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
            f"{names.dead_letter_queue}-has-messages",
            dlq_depth,
            "Failed orders or undeliverable events wait in the DLQ: `snacks dlq list`, then `snacks dlq replay`.",
        )
        self._alarm(
            "ExecutionsFailed",
            f"{names.state_machine}-executions-failed",
            state_machine.metric_failed(period=ONE_MINUTE, statistic=cw.Stats.SUM),
            "Fulfillment workflow executions failed (orders marked FAILED and sent to the DLQ).",
        )
        self._alarm(
            "ExecutionsTimedOut",
            f"{names.state_machine}-executions-timed-out",
            state_machine.metric_timed_out(period=ONE_MINUTE, statistic=cw.Stats.SUM),
            "Fulfillment workflow executions timed out; their orders stay NEW until the reconciler re-publishes.",
        )
        for role, function in functions.items():
            name = function_names[role]
            self._alarm(
                f"{function.node.id}Errors",
                f"{name}-errors",
                function.metric_errors(period=ONE_MINUTE, statistic=cw.Stats.SUM),
                f"{name} invocations failed (unhandled errors): see {d.ResourceNames.function_log_group(name)}.",
            )
            self._alarm(
                f"{function.node.id}Throttles",
                f"{name}-throttles",
                function.metric_throttles(period=ONE_MINUTE, statistic=cw.Stats.SUM),
                f"{name} invocations were throttled (account or reserved concurrency).",
            )
        self._alarm(
            "CreatorRequestErrors",
            f"{creator_name}-request-errors",
            service_metric(ORDER_REQUEST_ERRORS, creator_name),
            "order-creator answered 5xx (its contract turns errors into replies, so Lambda Errors stay 0).",
        )
        self._alarm(
            "OrdersStuckNew",
            f"{reconciler_name}-orders-stuck-new",
            service_metric(ORDERS_STUCK_NEW, reconciler_name, cw.Stats.MAXIMUM, RECONCILE_PERIOD),
            "The reconciler found NEW orders nobody processed and re-published them: check the rule, the DLQ "
            "and OrderPublishDeferred.",
        )
        self._alarm(
            "OrderPublishDeferred",
            f"{creator_name}-publish-deferred",
            service_metric(ORDER_PUBLISH_DEFERRED, creator_name),
            "Orders were stored but Order Created could not be published; the reconciler will publish them.",
        )

        processor_name, canceller_name = function_names[d.PROCESSOR], function_names[d.CANCELLER]
        self._alarm(
            "OrdersOutOfStock",
            f"{processor_name}-orders-out-of-stock",
            service_metric(ORDERS_OUT_OF_STOCK, processor_name, period=LIFECYCLE_PERIOD),
            f"More than {OUT_OF_STOCK_BURST} orders REJECTED for lack of stock in 5 minutes: restock "
            "(`snacks inventory list`, `snacks inventory set`).",
            threshold=OUT_OF_STOCK_BURST,
        )
        self._alarm(
            "OrdersCancelled",
            f"{canceller_name}-orders-cancelled",
            service_metric(ORDERS_CANCELLED, canceller_name, period=LIFECYCLE_PERIOD),
            f"More than {CANCELLATION_BURST} orders cancelled in 5 minutes: unusual for customers.",
            threshold=CANCELLATION_BURST,
        )
        self._alarm(
            "ProcessorCompensations",
            f"{processor_name}-compensations",
            service_metric(COMPENSATIONS, processor_name),
            "A step failed for good after the reservation and the saga gave the stock back (order FAILED, in the "
            "DLQ): `snacks dlq list`.",
        )
        for role, function_name in ((d.PROCESSOR, processor_name), (d.CANCELLER, canceller_name)):
            self._alarm(
                f"PaymentProviderErrors{role.title().replace('-', '')}",
                f"{function_name}-payment-provider-errors",
                service_metric(PAYMENT_PROVIDER_ERRORS, function_name, period=LIFECYCLE_PERIOD),
                "Stripe did not answer, or answered with a server error, 409 or 429 (each failed call counts). The "
                "workflow retries with the same idempotency keys, then fails the order, releases its stock and "
                "payment, and dead-letters it; a cancel answers 503 PaymentReleasePending (repeat it). Check "
                "https://status.stripe.com, then `snacks dlq list` / `snacks dlq replay`.",
            )
        self._alarm(
            "CancellationsNotAnnounced",
            f"{canceller_name}-status-events-not-published",
            service_metric(STATUS_EVENTS_NOT_PUBLISHED, canceller_name),
            "Orders were cancelled but Order Cancelled could not be published: those customers were not notified.",
        )
        self.status_publish_failures = self._status_publish_failures(workflow_logs)
        self._alarm(
            "WorkflowStatusEventsNotPublished",
            f"{names.state_machine}-status-events-not-published",
            self.status_publish_failures,
            f"The workflow's announcement of Order Processed|Rejected|Failed failed (each failed attempt counts; an "
            f"order whose attempts all failed settled correctly but its customer was not notified). Find them in "
            f"{names.state_machine_log_group} with the filter {FAILED_PUBLISH_PATTERN.log_pattern_string}. "
            "Counted from the execution log: needs the workflow's log level ALL or ERROR; at FATAL or OFF this "
            "alarm cannot fire.",
        )

        # Customer notifications EventBridge could not deliver to the order-status topic.
        self.notification_failures = rule_failed_invocations(names.event_bus, names.order_status_rule)
        self._alarm(
            "NotificationDeliveryFailed",
            f"{names.order_status_rule}-failed-invocations",
            self.notification_failures,
            f"EventBridge could not deliver status events to {names.order_status_topic} after its retries "
            f"(e.g. the topic's key or policy refuses it): they wait in {names.order_status_dlq}.",
        )
        self.notification_dlq_depth = status_dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=ONE_MINUTE, statistic=cw.Stats.MAXIMUM
        )
        self._alarm(
            "NotificationDlqNotEmpty",
            f"{names.order_status_dlq}-has-messages",
            self.notification_dlq_depth,
            f"Status events wait in {names.order_status_dlq}: those customers were not notified. Fix the cause "
            f"({names.order_status_rule}-failed-invocations), then re-send them (README, Runbook).",
        )

        self._allow_alarms_to_publish()
        self.dashboard = self._dashboard(function_names, functions, state_machine, dlq_depth)

    def _status_publish_failures(self, workflow_logs: logs.ILogGroup) -> cw.Metric:
        """Failed attempts of the workflow's status-event tasks, counted from its execution log."""
        namespace = workflow_metrics_namespace(self._names.state_machine)
        metric_filter = logs.MetricFilter(
            self,
            "StatusEventPublishFailuresFilter",
            log_group=workflow_logs,
            filter_pattern=FAILED_PUBLISH_PATTERN,
            metric_namespace=namespace,
            metric_name=STATUS_EVENT_PUBLISH_FAILURES,
            metric_value="1",
            unit=cw.Unit.COUNT,
        )
        return metric_filter.metric(period=ONE_MINUTE, statistic=cw.Stats.SUM)

    def _alarm(
        self, construct_id: str, name: str, metric: cw.IMetric, description: str, threshold: int = 0
    ) -> cw.Alarm:
        alarm = cw.Alarm(
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
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def _allow_alarms_to_publish(self) -> None:
        """Let CloudWatch publish this stack's alarms to the topic, and nothing else publish as CloudWatch.

        ``enforce_ssl`` gives the topic a policy of its own, which replaces SNS's default policy: without
        this statement nothing allows ``cloudwatch.amazonaws.com`` to ``sns:Publish`` and no alarm could
        ever notify. Scoped to our account and to exactly these alarms (confused-deputy protection).
        """
        allow_service_to_publish(
            self.topic,
            sid="CloudWatchAlarmsPublish",
            publisher=CLOUDWATCH_PRINCIPAL,
            source_arns=[alarm.alarm_arn for alarm in self.alarms],
        )

    def _dashboard(
        self,
        function_names: Mapping[str, str],
        functions: Mapping[str, lambda_.Function],
        state_machine: sfn.StateMachine,
        dlq_depth: cw.Metric,
    ) -> cw.Dashboard:
        creator = functions[d.CREATOR]
        creator_name = function_names[d.CREATOR]
        processor_name = function_names[d.PROCESSOR]
        reconciler_name = function_names[d.RECONCILER]
        # Metric ids must be unique across one graph: suffix each expression's ids with its index.
        error_rates: list[cw.IMetric] = [
            cw.MathExpression(
                label=f"{creator_name} 5xx %",
                expression="IF(invocations0 > 0, 100 * (errors0 + requestErrors0) / invocations0, 0)",
                using_metrics={
                    "invocations0": creator.metric_invocations(statistic=cw.Stats.SUM),
                    "errors0": creator.metric_errors(statistic=cw.Stats.SUM),
                    "requestErrors0": service_metric(ORDER_REQUEST_ERRORS, creator_name),
                },
                period=ONE_MINUTE,
            ),
            cw.MathExpression(
                label=f"{self._names.state_machine} failed %",
                expression="IF(started > 0, 100 * (failed + timedOut) / started, 0)",
                using_metrics={
                    "started": state_machine.metric_started(statistic=cw.Stats.SUM),
                    "failed": state_machine.metric_failed(statistic=cw.Stats.SUM),
                    "timedOut": state_machine.metric_timed_out(statistic=cw.Stats.SUM),
                },
                period=ONE_MINUTE,
            ),
        ]
        others = [(function_names[role], function) for role, function in functions.items() if function is not creator]
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

        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=self._names.dashboard)
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Order creation rate (per minute)",
                left=[
                    service_metric(ORDERS_CREATED, creator_name, label="created"),
                    service_metric(ORDERS_REJECTED, creator_name, label="rejected (4xx)"),
                    service_metric(ORDERS_PROCESSED, processor_name, label="processed"),
                    service_metric(ORDERS_FAILED, processor_name, label="failed"),
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Processing latency NEW → PROCESSED (ms)",
                left=[
                    service_metric(PROCESSING_LATENCY, processor_name, statistic, label=statistic)
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
                        ORDERS_STUCK_NEW, reconciler_name, cw.Stats.MAXIMUM, RECONCILE_PERIOD, "stuck in NEW"
                    ),
                    service_metric(ORDERS_REPUBLISHED, reconciler_name, period=RECONCILE_PERIOD, label="re-published"),
                ],
                width=12,
            ),
        )
        canceller_name = function_names[d.CANCELLER]
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Order lifecycle: out of stock, cancelled, stock given back (per minute)",
                left=[
                    service_metric(ORDERS_OUT_OF_STOCK, processor_name, label="REJECTED out of stock"),
                    service_metric(ORDERS_CANCELLED, canceller_name, label="CANCELLED"),
                    service_metric(COMPENSATIONS, processor_name, label="released on failure"),
                    service_metric(COMPENSATIONS, canceller_name, label="released on cancel"),
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Status events not published (per minute)",
                left=[
                    self.status_publish_failures.with_(label="workflow (failed attempts)"),
                    service_metric(STATUS_EVENTS_NOT_PUBLISHED, canceller_name, label="order-canceller"),
                ],
                left_y_axis=cw.YAxisProps(min=0),
                width=12,
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Customer notifications not delivered",
                left=[self.notification_failures.with_(label=f"{self._names.order_status_rule} failed invocations")],
                right=[self.notification_dlq_depth.with_(label=f"messages in {self._names.order_status_dlq}")],
                left_y_axis=cw.YAxisProps(min=0),
                right_y_axis=cw.YAxisProps(min=0),
                width=24,
            ),
            cw.GraphWidget(
                title="Card payments (per minute)",
                left=[
                    service_metric(PAYMENTS_CAPTURED, processor_name, label="captured"),
                    service_metric(PAYMENTS_DECLINED, processor_name, label="declined (REJECTED)"),
                    service_metric(PAYMENTS_REFUNDED, processor_name, label="refunded on failure"),
                    service_metric(PAYMENTS_REFUNDED, canceller_name, label="refunded on cancel"),
                    service_metric(PAYMENTS_VOIDED, processor_name, label="voided on failure"),
                    service_metric(PAYMENTS_VOIDED, canceller_name, label="voided on cancel"),
                ],
                right=[
                    service_metric(PAYMENT_PROVIDER_ERRORS, processor_name, label="provider errors (processor)"),
                    service_metric(PAYMENT_PROVIDER_ERRORS, canceller_name, label="provider errors (canceller)"),
                ],
                width=24,
            ),
        )
        dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24))
        return dashboard
