"""The EXPRESS fulfillment state machine, deployed from the very ASL file the local stack runs."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from stacks import definitions as d
from stacks.checkov import LOGS_ENCRYPTED_BY_DEFAULT, skip_checkov

LOG_RETENTION = logs.RetentionDays.ONE_MONTH
STATES_PRINCIPAL = "states.amazonaws.com"


class FulfillmentWorkflow(Construct):
    """``order-fulfillment``: execution logs at the chosen level (ALL with execution data by default),
    X-Ray on, a role of three actions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: d.ResourceNames,
        processor: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
        bus: events.IEventBus,
        logging: d.WorkflowLogging | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        logging = logging or d.workflow_logging()
        # The group stays at every level: switching to OFF must not delete the history already kept
        # (RemovalPolicy.DESTROY) nor the target of the metric filters and Logs Insights queries.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=names.state_machine_log_group,
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        skip_checkov(self.log_group, {"CKV_AWS_158": LOGS_ENCRYPTED_BY_DEFAULT})
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(STATES_PRINCIPAL),
            description=f"{names.state_machine}: invoke {names.order_processor}, "
            f"send failures to {names.dead_letter_queue}, announce status on {names.event_bus}",
            inline_policies={
                "least-privilege": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="InvokeProcessorSteps",
                            actions=["lambda:InvokeFunction"],
                            resources=[processor.function_arn],
                        ),
                        iam.PolicyStatement(
                            sid="SendFailuresToDlq",
                            actions=["sqs:SendMessage"],
                            resources=[dead_letter_queue.queue_arn],
                        ),
                        # The workflow announces only the status events its Publish* states send (REJECTED,
                        # FAILED; markProcessed announces PROCESSED itself), only from our source, only on our
                        # bus (EventBridge condition keys events:source and events:detail-type, "Using IAM policy
                        # conditions in Amazon EventBridge").
                        iam.PolicyStatement(
                            sid="AnnounceOrderStatus",
                            actions=["events:PutEvents"],
                            resources=[bus.event_bus_arn],
                            conditions={
                                "StringEquals": {
                                    "events:source": d.RULE_EVENT_SOURCE,
                                    "events:detail-type": list(d.WORKFLOW_STATUS_DETAIL_TYPES),
                                }
                            },
                        ),
                    ]
                )
            },
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=names.state_machine,
            state_machine_type=sfn.StateMachineType.EXPRESS,
            # Inline (DefinitionString), so the template and `cdk diff` show the workflow itself.
            definition_body=sfn.DefinitionBody.from_string(d.ASL_PATH.read_text()),
            definition_substitutions={
                d.ASL_PROCESSOR_ARN: processor.function_arn,
                d.ASL_DLQ_URL: dead_letter_queue.queue_url,
                d.ASL_EVENT_BUS: bus.event_bus_name,
            },
            logs=_log_options(logging, self.log_group),
            tracing_enabled=True,
            role=self.role,
        )
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Step Functions logging to CloudWatch Logs uses the log-delivery APIs "
                    "(logs:CreateLogDelivery, logs:PutResourcePolicy, ...) and X-Ray tracing uses "
                    "xray:PutTraceSegments/GetSampling*; none of them supports resource-level permissions.",
                    applies_to=["Resource::*"],
                )
            ],
            apply_to_children=True,
        )
        if logging.level != d.DEFAULT_WORKFLOW_LOG_LEVEL:
            NagSuppressions.add_resource_suppressions(
                self.state_machine,
                [NagPackSuppression(id="AwsSolutions-SF1", reason=_BELOW_ALL_REASON[logging.level])],
                apply_to_children=True,
            )


# cdk-nag AwsSolutions-SF1 wants level ALL; a level below it is the operator's documented cost choice
# (-c workflowLogLevel), and each says what still records a failed order.
_BELOW_ALL_REASON = {
    "ERROR": "workflowLogLevel=ERROR chosen to cut CloudWatch Logs ingestion: every failure event (TaskFailed, "
    "LambdaFunctionFailed, FailStateEntered, ExecutionFailed) is still logged; successful executions are not "
    "traced; the order record and the DLQ message keep each failure's step, error and cause.",
    "OFF": "workflowLogLevel=OFF chosen to remove CloudWatch Logs ingestion for the workflow: failures are still "
    "seen through the ExecutionsFailed alarm (CloudWatch metrics need no logs), the order record's failure "
    "field and the DLQ message (step, error, cause, execution id); X-Ray tracing stays on.",
}


def _log_options(logging: d.WorkflowLogging, group: logs.ILogGroup) -> sfn.LogOptions:
    """The level's LoggingConfiguration; OFF sets no destination (none is needed, and the role then
    gets no log-delivery permissions)."""
    if not logging.has_destination:
        return sfn.LogOptions(level=sfn.LogLevel(logging.level))
    return sfn.LogOptions(
        destination=group, level=sfn.LogLevel(logging.level), include_execution_data=logging.include_execution_data
    )
