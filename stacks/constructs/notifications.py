"""Customer notifications: a rule on the bus sends the four status events to an encrypted SNS topic."""

from __future__ import annotations

import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk.interfaces import aws_events as events_ref
from constructs import Construct

from stacks import definitions as d
from stacks.constructs.events import event_pattern
from stacks.constructs.topics import allow_service_to_publish, service_topic

EVENTS_PRINCIPAL = "events.amazonaws.com"


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """The topic as the rule's target, without the target's own grant: aws-events-targets' ``SnsTopic``
    adds an Allow for events.amazonaws.com with no condition; ours names the rule."""

    def __init__(self, topic: sns.ITopic) -> None:
        self._topic = topic

    def bind(self, rule: events_ref.IRuleRef, id: str | None = None) -> events.RuleTargetConfig:  # IRuleTarget.bind
        return events.RuleTargetConfig(arn=self._topic.topic_arn)


class OrderNotifications(Construct):
    """``serverless-snacks-order-status``: KMS-encrypted, TLS only, published to by our rule only."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: d.ResourceNames,
        bus: events.IEventBus,
        notify_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic, self.key = service_topic(
            self,
            "OrderStatusTopic",
            topic_name=names.order_status_topic,
            display_name="Serverless Snacks order status",
            key_description="Encrypts the Serverless Snacks order-status topic",
            publisher=EVENTS_PRINCIPAL,
            key_statement_sid="EventBridgePublishesOrderStatus",
            # No aws:SourceAccount / aws:SourceArn on this key statement: for an event source publishing
            # to an encrypted topic they are not supported (Amazon SNS Developer Guide, "Compatibility
            # between event sources from AWS services and encrypted topics"); with them, EventBridge's
            # KMS request matches nothing and every status notification is dropped (issue 18; the local
            # stack refuses it: tests/local/test_iam_enforcement.py).
            key_conditions=None,
        )
        self.rule = events.Rule(
            self,
            "OrderStatusRule",
            rule_name=names.order_status_rule,
            description=f"Order Processed|Rejected|Failed|Cancelled to {names.order_status_topic}",
            event_bus=bus,
            event_pattern=event_pattern(d.STATUS_EVENT_PATTERN),
            targets=[_TopicTarget(self.topic)],
        )
        allow_service_to_publish(
            self.topic, sid="OrderStatusRulePublishes", publisher=EVENTS_PRINCIPAL, source_arns=self.rule.rule_arn
        )
        if notify_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(notify_email))
