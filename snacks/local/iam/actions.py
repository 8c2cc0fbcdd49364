"""Operation -> the IAM authorizations it needs, as AWS's Service Authorization Reference lists them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snacks.local.iam.model import ActionRequest


def requests_for(
    service: str, operation: str, params: Mapping[str, Any], *, region: str, account: str
) -> list[ActionRequest]:
    """The authorizations one call needs. ``service`` is the botocore service name ("dynamodb",
    "events", "sqs", "sns", "lambda", "stepfunctions", "logs", "kms", "secretsmanager",
    "cloudwatch"), ``operation`` the API name ("TransactWriteItems"), ``params`` botocore's request
    params. Raises ValueError for an operation it cannot map (never guesses)."""
    raise NotImplementedError
