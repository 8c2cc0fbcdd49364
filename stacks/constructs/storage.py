"""Where orders live: ``Orders``, ``Inventory``, the Powertools idempotency table and the dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from stacks import definitions as d
from stacks.checkov import AWS_MANAGED_KEY, skip_checkov

_PITR = dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True)


class Storage(Construct):
    """The ``Orders`` table (+ status GSI), ``OrdersIdempotency`` and ``serverless-snacks-dlq``."""

    def __init__(self, scope: Construct, construct_id: str, *, names: d.ResourceNames) -> None:
        super().__init__(scope, construct_id)

        # Orders are the business record: CloudFormation never deletes the table once it exists
        # (RetainExceptOnCreate on stack deletion, Retain on replacement), yet a failed first create
        # deletes it: plain Retain would leave a table named ``Orders`` behind and every later deploy
        # would fail "already exists". No DeletionProtectionEnabled: a protected table refuses that
        # rollback's DeleteTable too (aws/aws-cdk#24581), which brings "already exists" back. Outside
        # CloudFormation, no role of the stack may dynamodb:DeleteTable, and PITR keeps a system backup of
        # a deleted table for 35 days (tests/infra/test_aws_rules.py, docs/infrastructure.md).
        self.orders = dynamodb.Table(
            self,
            "Orders",
            table_name=names.orders_table,
            partition_key=dynamodb.Attribute(name=d.ORDERS_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=_PITR,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        skip_checkov(self.orders, {"CKV_AWS_119": AWS_MANAGED_KEY})
        # Orders by status, oldest first: the reconciler's and the operators' view (never a scan).
        self.orders.add_global_secondary_index(
            index_name=d.STATUS_INDEX,
            partition_key=dynamodb.Attribute(name=d.STATUS_INDEX_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=d.STATUS_INDEX_SORT_KEY, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )

        # Stock levels (snack name -> available units): business data like Orders, kept the same way.
        self.inventory = dynamodb.Table(
            self,
            "Inventory",
            table_name=names.inventory_table,
            partition_key=dynamodb.Attribute(name=d.INVENTORY_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=_PITR,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        skip_checkov(self.inventory, {"CKV_AWS_119": AWS_MANAGED_KEY})

        # Powertools idempotency records: short-lived (24 h TTL), safe to drop with the stack.
        self.idempotency = dynamodb.Table(
            self,
            "Idempotency",
            table_name=names.idempotency_table,
            partition_key=dynamodb.Attribute(name=d.IDEMPOTENCY_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=d.IDEMPOTENCY_TTL_ATTRIBUTE,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=_PITR,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.DESTROY,
        )
        skip_checkov(self.idempotency, {"CKV_AWS_119": AWS_MANAGED_KEY})

        # One DLQ, two producers: the workflow's catch path and the rule target's delivery failures.
        self.dead_letter_queue = dead_letter_queue(
            self,
            "DeadLetterQueue",
            queue_name=names.dead_letter_queue,
            holds="the pipeline's failed orders (workflow catch path) and the Order Created events EventBridge "
            "could not deliver",
        )


def dead_letter_queue(scope: Construct, construct_id: str, *, queue_name: str, holds: str) -> sqs.Queue:
    """A dead-letter queue: 14 days, SSE-SQS, TLS only. SSE-SQS rather than a KMS key: its producers (Step
    Functions, EventBridge) then need no key-policy grant, only the queue's own permission."""
    queue = sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        retention_period=Duration.days(d.DLQ_RETENTION_DAYS),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )
    skip_checkov(
        queue,
        {
            "CKV_AWS_27": "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which checkov does not "
            "recognise; a KMS key would need key-policy grants for the services that write to it."
        },
    )
    NagSuppressions.add_resource_suppressions(
        queue,
        [
            NagPackSuppression(
                id="AwsSolutions-SQS3",
                reason=f"This queue is itself a dead-letter queue ({holds}); a DLQ of a DLQ would only move "
                "the same messages.",
            )
        ],
    )
    return queue
