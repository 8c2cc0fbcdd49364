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

        # Orders are the business record: never deleted with the stack, never by accident. Retained on
        # update or delete, but not when the stack's first create fails: CloudFormation's plain Retain
        # would leave a table named ``Orders`` behind and every later deploy would fail "already exists".
        self.orders = dynamodb.Table(
            self,
            "Orders",
            table_name=names.orders_table,
            partition_key=dynamodb.Attribute(name=d.ORDERS_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=_PITR,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=True,
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
            deletion_protection=True,
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
        # SSE-SQS: both producers (Step Functions, EventBridge) can write without a key policy.
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=names.dead_letter_queue,
            retention_period=Duration.days(d.DLQ_RETENTION_DAYS),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        skip_checkov(
            self.dead_letter_queue,
            {
                "CKV_AWS_27": "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which checkov does not "
                "recognise; a KMS key would need key-policy grants for Step Functions and EventBridge."
            },
        )
        NagSuppressions.add_resource_suppressions(
            self.dead_letter_queue,
            [
                NagPackSuppression(
                    id="AwsSolutions-SQS3",
                    reason="This queue is itself the dead-letter queue of the pipeline (workflow catch path "
                    "and EventBridge target DLQ); a DLQ of a DLQ would only move the same messages.",
                )
            ],
        )
