"""The AWS managed policies a template may attach by ARN, with their documents.

No maintained library ships the managed policies' documents offline, so the few a Lambda / Step
Functions stack uses are listed here, each from the AWS Managed Policy Reference Guide page named
beside it (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/). A template naming
another AWS managed policy is refused at load (PolicyError) rather than evaluated as empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_LOGS_BASIC = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]

# name (after "policy/service-role/" or "policy/") -> policy document
DOCUMENTS: Mapping[str, Mapping[str, Any]] = {
    # .../reference/AWSLambdaBasicExecutionRole.html
    "service-role/AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": _LOGS_BASIC, "Resource": "*"}],
    },
    # .../reference/AWSXRayDaemonWriteAccess.html
    "AWSXRayDaemonWriteAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": "*",
            }
        ],
    },
    # .../reference/AWSLambdaSQSQueueExecutionRole.html
    "service-role/AWSLambdaSQSQueueExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *_LOGS_BASIC],
                "Resource": "*",
            }
        ],
    },
    # .../reference/AWSLambdaDynamoDBExecutionRole.html
    "service-role/AWSLambdaDynamoDBExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                    *_LOGS_BASIC,
                ],
                "Resource": "*",
            }
        ],
    },
}


def document(arn: str) -> Mapping[str, Any] | None:
    """``arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`` -> its document."""
    marker = ":iam::aws:policy/"
    if marker not in arn:
        return None
    return DOCUMENTS.get(arn.split(marker, 1)[1])


def is_aws_managed(arn: str) -> bool:
    return ":iam::aws:policy/" in arn
