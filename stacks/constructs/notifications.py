"""Customer notifications: a rule on the bus sends the four status events to an encrypted SNS topic."""

from __future__ import annotations

import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces import aws_events as events_ref
from constructs import Construct

from stacks import definitions as d
from stacks.constructs.events import event_pattern
from stacks.constructs.storage import dead_letter_queue
from stacks.constructs.topics import allow_service_to_publish, service_topic

EVENTS_PRINCIPAL = "events.amazonaws.com"


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """The topic as the rule's target, without the target's own grant: aws-events-targets' ``SnsTopic``
    adds an Allow for events.amazonaws.com with no condition; ours names the rule. Retry policy and
    dead-letter queue set explicitly: an event EventBridge could not deliver after its retries goes to
    the queue instead of being dropped ("Using dead-letter queues to process undelivered events in
    EventBridge", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html)."""

    def __init__(self, topic: sns.ITopic, dead_letter_queue: sqs.IQueue) -> None:
        self._topic = topic
        self._dead_letter_queue = dead_letter_queue

    def bind(self, rule: events_ref.IRuleRef, id: str | None = None) -> events.RuleTargetConfig:  # IRuleTarget.bind
        return events.RuleTargetConfig(
            arn=self._topic.topic_arn,
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=d.RULE_TARGET_RETRY_ATTEMPTS,
                maximum_event_age_in_seconds=d.RULE_TARGET_MAX_EVENT_AGE_SECONDS,
            ),
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self._dead_letter_queue.queue_arn),
        )


class OrderNotifications(Construct):
    """``serverless-snacks-order-status``: KMS-encrypted, TLS only, published to by our rule only; what
    the rule cannot deliver waits in ``serverless-snacks-order-status-dlq``."""

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
            # No aws:SourceAccount / aws:SourceArn on this key statement: SNS's "Key management" page
            # ("Enable compatibility between event sources from AWS services and encrypted topics") says
            # adding them "to a AWS KMS policy is not supported for EventBridge-to-encrypted topics", and
            # delivery fails with them (awslabs/landing-zone-accelerator-on-aws#407). The key serves this
            # topic only, and who may publish to the topic is the topic policy's say: our rule, our account.
            # The local stack refuses delivery with them too (tests/local/test_iam_enforcement.py).
            key_conditions=None,
        )
        # Status events EventBridge could not deliver to the topic (after the retry policy), kept 14 days.
        self.dead_letter_queue = dead_letter_queue(
            self,
            "OrderStatusDeadLetterQueue",
            queue_name=names.order_status_dlq,
            holds=f"the status events {names.order_status_rule} could not deliver to {names.order_status_topic}",
        )
        self.rule = events.Rule(
            self,
            "OrderStatusRule",
            rule_name=names.order_status_rule,
            description=f"Order Processed|Rejected|Failed|Cancelled to {names.order_status_topic}",
            event_bus=bus,
            event_pattern=event_pattern(d.STATUS_EVENT_PATTERN),
            targets=[_TopicTarget(self.topic, self.dead_letter_queue)],
        )
        allow_service_to_publish(
            self.topic, sid="OrderStatusRulePublishes", publisher=EVENTS_PRINCIPAL, source_arns=self.rule.rule_arn
        )
        # EventBridge needs sqs:SendMessage on a target's DLQ, granted by the queue's policy; scoped to
        # this rule with aws:SourceArn ("Granting permissions to the dead-letter queue", same page).
        self.dead_letter_queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OrderStatusRuleDeadLetters",
                principals=[iam.ServicePrincipal(EVENTS_PRINCIPAL)],
                actions=["sqs:SendMessage"],
                resources=[self.dead_letter_queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": self.rule.rule_arn}},
            )
        )
        if notify_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(notify_email))
