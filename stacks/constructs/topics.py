"""An SNS topic one AWS service publishes to: KMS-encrypted, TLS only, and that service allowed in.

Shared by the alarm topic (CloudWatch) and the order-status topic (EventBridge). A service can publish
to an SSE topic only through a customer managed key whose policy lets it use the key ("Amazon SNS key
management", SNS Developer Guide); and ``enforce_ssl`` gives the topic a policy of ours that replaces
SNS's default one, so the service's ``sns:Publish`` must be granted there, scoped to our account and
to the exact sources (confused-deputy protection).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

SAME_ACCOUNT = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}


def service_topic(
    scope: Construct,
    construct_id: str,
    *,
    topic_name: str,
    display_name: str,
    key_description: str,
    publisher: str,
    key_statement_sid: str,
    key_conditions: dict[str, Any] | None = SAME_ACCOUNT,
) -> tuple[sns.Topic, kms.Key]:
    """The topic ``{construct_id}`` and its key ``{construct_id}Key``, the key usable by ``publisher``
    (under ``key_conditions``; None where the publisher cannot meet any, see OrderNotifications)."""
    key = kms.Key(
        scope,
        f"{construct_id}Key",
        description=key_description,
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.DESTROY,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=key_statement_sid,
            principals=[iam.ServicePrincipal(publisher)],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions=key_conditions,
        )
    )
    topic = sns.Topic(
        scope, construct_id, topic_name=topic_name, display_name=display_name, master_key=key, enforce_ssl=True
    )
    return topic, key


def allow_service_to_publish(topic: sns.Topic, *, sid: str, publisher: str, source_arns: Any) -> None:
    """``sns:Publish`` for ``publisher``, from our account and from ``source_arns`` only."""
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(publisher)],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={"ArnEquals": {"aws:SourceArn": source_arns}, **SAME_ACCOUNT},
        )
    )
