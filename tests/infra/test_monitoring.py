"""Alarms on what matters, to an encrypted topic; the dashboard shows the seed's key metrics."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from order_service import settings as env
from stacks import definitions as d
from stacks.constructs import monitoring as m
from tests.support.synth import Synthesized, flatten, synthesize

HANDLERS = d.LAMBDA_ASSET_DIR / "order_service" / "handlers"


def alarms(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
    }


def emitted_metrics() -> set[str]:
    """Every metric name a handler passes to Powertools ``add_metric``."""
    source = "\n".join(path.read_text() for path in HANDLERS.glob("*.py"))
    return set(re.findall(r"add_metric\(\s*name=\"(\w+)\"", source))


def test_alarm_topic_is_kms_encrypted_and_ssl_only(synth: Synthesized) -> None:
    (topic,) = [
        t for t in synth.resources("AWS::SNS::Topic").values() if t["Properties"]["TopicName"] == d.NAMES.alarm_topic
    ]
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = synth.resources("AWS::KMS::Key")[key_id]
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    key_statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(s.get("Principal") == {"Service": m.CLOUDWATCH_PRINCIPAL} for s in key_statements)
    # The topic policy (TLS deny + CloudWatch's Allow) is checked against AWS's rules in test_aws_rules.py.


def test_expected_alarms_exist_and_notify_the_topic(synth: Synthesized) -> None:
    (topic_id,) = [
        i for i, t in synth.resources("AWS::SNS::Topic").items() if t["Properties"]["TopicName"] == d.NAMES.alarm_topic
    ]
    expected = {
        f"{d.DEAD_LETTER_QUEUE}-has-messages",
        f"{d.STATE_MACHINE}-executions-failed",
        f"{d.STATE_MACHINE}-executions-timed-out",
        f"{d.ORDER_CREATOR}-request-errors",
        f"{d.ORDER_CREATOR}-publish-deferred",
        f"{d.ORDER_RECONCILER}-orders-stuck-new",
        f"{d.ORDER_PROCESSOR}-orders-out-of-stock",
        f"{d.ORDER_CANCELLER}-orders-cancelled",
        f"{d.ORDER_PROCESSOR}-compensations",
        f"{d.ORDER_PROCESSOR}-payment-provider-errors",
        f"{d.ORDER_CANCELLER}-payment-provider-errors",
        f"{d.ORDER_CANCELLER}-status-events-not-published",
        f"{d.STATE_MACHINE}-status-events-not-published",
        f"{d.ORDER_STATUS_RULE}-failed-invocations",
        f"{d.ORDER_STATUS_DLQ}-has-messages",
        *(f"{name}-{kind}" for name in d.FUNCTIONS for kind in ("errors", "throttles")),
    }
    found = alarms(synth)
    assert set(found) == expected
    for name, alarm in found.items():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], name
        bursts = {
            f"{d.ORDER_PROCESSOR}-orders-out-of-stock": m.OUT_OF_STOCK_BURST,
            f"{d.ORDER_CANCELLER}-orders-cancelled": m.CANCELLATION_BURST,
        }
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (bursts.get(name, 0), "GreaterThanThreshold"), name


def test_dlq_depth_alarm(synth: Synthesized) -> None:
    (queue_id,) = synth.template.find_resources("AWS::SQS::Queue", {"Properties": {"QueueName": d.DEAD_LETTER_QUEUE}})
    alarm = alarms(synth)[f"{d.DEAD_LETTER_QUEUE}-has-messages"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]


def test_notification_dlq_depth_alarm(synth: Synthesized) -> None:
    (queue_id,) = synth.template.find_resources("AWS::SQS::Queue", {"Properties": {"QueueName": d.ORDER_STATUS_DLQ}})
    alarm = alarms(synth)[f"{d.ORDER_STATUS_DLQ}-has-messages"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]


def test_dashboard_shows_undelivered_notifications(synth: Synthesized) -> None:
    ((_, dashboard),) = synth.resources("AWS::CloudWatch::Dashboard").items()
    body = flatten(dashboard["Properties"]["DashboardBody"])
    (queue_id,) = synth.template.find_resources("AWS::SQS::Queue", {"Properties": {"QueueName": d.ORDER_STATUS_DLQ}})
    assert m.FAILED_INVOCATIONS in body and d.ORDER_STATUS_RULE in body
    assert queue_id in body  # the depth of the notifications' DLQ, by its QueueName attribute


@pytest.mark.parametrize(("suffix", "metric"), [("failed", "ExecutionsFailed"), ("timed-out", "ExecutionsTimedOut")])
def test_workflow_alarms(synth: Synthesized, suffix: str, metric: str) -> None:
    (machine_id,) = synth.template.find_resources(
        "AWS::StepFunctions::StateMachine", {"Properties": {"StateMachineName": d.STATE_MACHINE}}
    )
    alarm = alarms(synth)[f"{d.STATE_MACHINE}-executions-{suffix}"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/States", metric)
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine_id}}]


@pytest.mark.parametrize("stage", [None, "dev"])
def test_failed_status_publishes_are_counted_from_the_workflow_log_and_alarmed(stage: str | None) -> None:
    """A metric filter on the state machine's own log group (the one its LoggingConfiguration names) feeds
    the alarm; the pattern itself is run against real execution records in tests/statemachine. Each stage
    counts its own workflow: a filter's dimensions can only be log fields, so the namespace is per stage."""
    synth = synthesize((("stage", stage),) if stage else (), nag=False)
    names = d.resource_names(stage)
    (log_group_id,) = synth.template.find_resources(
        "AWS::Logs::LogGroup", {"Properties": {"LogGroupName": names.state_machine_log_group}}
    )
    ((_, machine),) = synth.resources("AWS::StepFunctions::StateMachine").items()
    destinations = machine["Properties"]["LoggingConfiguration"]["Destinations"]
    assert destinations == [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group_id, "Arn"]}}}]
    ((_, metric_filter),) = synth.resources("AWS::Logs::MetricFilter").items()
    properties = metric_filter["Properties"]
    assert properties["LogGroupName"] == {"Ref": log_group_id}
    assert properties["FilterPattern"] == m.FAILED_PUBLISH_PATTERN.log_pattern_string
    (transformation,) = properties["MetricTransformations"]
    assert transformation == {
        "MetricNamespace": f"{env.METRICS_NAMESPACE}/{names.state_machine}",
        "MetricName": m.STATUS_EVENT_PUBLISH_FAILURES,
        "MetricValue": "1",
        "Unit": "Count",
    }
    alarm = alarms(synth)[f"{names.state_machine}-status-events-not-published"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        transformation["MetricNamespace"],
        transformation["MetricName"],
        "Sum",
    )
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert "ALL or ERROR" in alarm["AlarmDescription"] and "OFF" in alarm["AlarmDescription"]
    body = flatten(synth.resources("AWS::CloudWatch::Dashboard").popitem()[1]["Properties"]["DashboardBody"])
    assert transformation["MetricNamespace"] in body and m.STATUS_EVENT_PUBLISH_FAILURES in body


@pytest.mark.parametrize("name", list(d.FUNCTIONS))
def test_lambda_error_and_throttle_alarms_watch_the_function_they_name(synth: Synthesized, name: str) -> None:
    """The one dimension is FunctionName ("Types of metrics for Lambda functions", Lambda Developer
    Guide) and its value resolves to the function called ``name`` in the template, not to another."""
    (function_id,) = synth.template.find_resources("AWS::Lambda::Function", {"Properties": {"FunctionName": name}})
    for kind, metric in (("errors", "Errors"), ("throttles", "Throttles")):
        alarm = alarms(synth)[f"{name}-{kind}"]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", metric, "Sum")
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}]


# PutMetricAlarm's documented limits (Amazon CloudWatch API Reference, PutMetricAlarm): AlarmName
# 1-255 characters; Period 10, 30 or a multiple of 60; EvaluationPeriods >= 1 and "this number
# multiplied by Period cannot be more than 86,400 seconds"; DatapointsToAlarm <= EvaluationPeriods;
# at most 5 AlarmActions.
def test_every_alarm_is_within_cloudwatch_limits(synth: Synthesized) -> None:
    for name, alarm in alarms(synth).items():
        period, evaluations = alarm["Period"], alarm["EvaluationPeriods"]
        assert 1 <= len(name) <= 255, name
        assert period in (10, 30) or (period > 0 and period % 60 == 0), (name, period)
        assert evaluations >= 1 and evaluations * period <= 86_400, (name, evaluations, period)
        assert 1 <= alarm.get("DatapointsToAlarm", evaluations) <= evaluations, name
        assert 1 <= len(alarm["AlarmActions"]) <= 5, name
        assert alarm["TreatMissingData"] in ("breaching", "notBreaching", "ignore", "missing"), name


@pytest.mark.parametrize(
    ("alarm_name", "metric", "service"),
    [
        (f"{d.ORDER_RECONCILER}-orders-stuck-new", m.ORDERS_STUCK_NEW, d.ORDER_RECONCILER),
        (f"{d.ORDER_CREATOR}-publish-deferred", m.ORDER_PUBLISH_DEFERRED, d.ORDER_CREATOR),
        (f"{d.ORDER_CREATOR}-request-errors", m.ORDER_REQUEST_ERRORS, d.ORDER_CREATOR),
        (f"{d.ORDER_PROCESSOR}-orders-out-of-stock", m.ORDERS_OUT_OF_STOCK, d.ORDER_PROCESSOR),
        (f"{d.ORDER_CANCELLER}-orders-cancelled", m.ORDERS_CANCELLED, d.ORDER_CANCELLER),
        (f"{d.ORDER_PROCESSOR}-compensations", m.COMPENSATIONS, d.ORDER_PROCESSOR),
        (f"{d.ORDER_CANCELLER}-status-events-not-published", m.STATUS_EVENTS_NOT_PUBLISHED, d.ORDER_CANCELLER),
        (f"{d.ORDER_PROCESSOR}-payment-provider-errors", m.PAYMENT_PROVIDER_ERRORS, d.ORDER_PROCESSOR),
        (f"{d.ORDER_CANCELLER}-payment-provider-errors", m.PAYMENT_PROVIDER_ERRORS, d.ORDER_CANCELLER),
    ],
)
def test_custom_metric_alarms_match_what_the_handlers_emit(
    synth: Synthesized, alarm_name: str, metric: str, service: str
) -> None:
    alarm = alarms(synth)[alarm_name]
    assert (alarm["Namespace"], alarm["MetricName"]) == (env.METRICS_NAMESPACE, metric)
    assert alarm["Dimensions"] == [{"Name": m.SERVICE_DIMENSION, "Value": service}]
    assert metric in emitted_metrics()


def test_reconciler_alarm_period_is_its_schedule(synth: Synthesized) -> None:
    alarm = alarms(synth)[f"{d.ORDER_RECONCILER}-orders-stuck-new"]
    assert alarm["Period"] == d.RECONCILE_EVERY_MINUTES * 60


def test_every_custom_metric_in_monitoring_is_emitted_by_a_handler() -> None:
    constants = {
        value
        for name, value in vars(m).items()
        if name.isupper() and name.startswith("ORDER") and isinstance(value, str)
    }
    assert constants <= emitted_metrics(), constants - emitted_metrics()


def test_dashboard_shows_the_key_metrics(synth: Synthesized) -> None:
    ((_, dashboard),) = synth.resources("AWS::CloudWatch::Dashboard").items()
    assert dashboard["Properties"]["DashboardName"] == env.METRICS_NAMESPACE
    body = flatten(dashboard["Properties"]["DashboardBody"])
    for needle in (
        m.ORDERS_CREATED,  # creation rate
        m.PROCESSING_LATENCY,  # NEW -> PROCESSED
        '"p50"',
        '"p95"',
        '"p99"',
        "Error rate",
        "ApproximateNumberOfMessagesVisible",  # DLQ depth
        m.ORDERS_STUCK_NEW,
    ):
        assert needle in body, needle
    widgets = json.loads(re.sub(r"\{(Ref|Fn::GetAtt):[^}]*\}", "X", body))["widgets"]
    assert len(widgets) >= 5


def test_dashboard_shows_the_lifecycle_metrics_the_handlers_emit(synth: Synthesized) -> None:
    """Each lifecycle metric on the dashboard is one a handler emits, under that handler's service."""
    ((_, dashboard),) = synth.resources("AWS::CloudWatch::Dashboard").items()
    body = flatten(dashboard["Properties"]["DashboardBody"])
    handlers = d.LAMBDA_ASSET_DIR / "order_service" / "handlers"
    emitted = {
        "order_processor.py": (m.ORDERS_OUT_OF_STOCK, m.COMPENSATIONS),
        "order_canceller.py": (m.ORDERS_CANCELLED, m.COMPENSATIONS),
    }
    for handler, names in emitted.items():
        source = (handlers / handler).read_text()
        for name in names:
            assert f'name="{name}"' in source, (handler, name)
            assert name in body, name
    assert d.ORDER_CANCELLER in body
