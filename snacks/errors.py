"""What the CLI says when something goes wrong: one line, and an exit code that tells whose move it is.

Exit 2: the user's mistake (a bad argument, an unknown order): the line says what to type instead.
Exit 1: the environment (nothing listening, no credentials, a stack missing in that region): the
line says what to start or set. Never a traceback.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
    ReadTimeoutError,
)

from order_service.adapters.aws_errors import RETRYABLE_ERROR_CODES, error_code
from order_service.domain.errors import DependencyThrottled
from snacks.aws import Aws, is_loopback

USER_MISTAKE = 2
ENVIRONMENT = 1


class UserError(Exception):
    """A mistake in what the user typed; the message says what to do instead."""


def explain(error: BaseException, aws: Aws | None) -> tuple[int, str]:
    """(exit code, one line) for an error a command let through."""
    if isinstance(error, UserError):
        return USER_MISTAKE, str(error)
    if isinstance(error, ProfileNotFound):
        return USER_MISTAKE, f"{error}: check --profile / AWS_PROFILE against `aws configure list-profiles`"
    # The product's adapters report an unavailable dependency as "throttled" to the workflow,
    # which retries both alike; a person needs to know which it was.
    cause = error.__cause__ if isinstance(error, DependencyThrottled) and error.__cause__ else error
    endpoint = (aws.endpoint_url if aws else None) or "AWS"
    region = aws.region if aws else "?"
    if isinstance(cause, EndpointConnectionError):
        if aws is not None and is_loopback(aws.endpoint_url):
            return ENVIRONMENT, f"nothing is listening at {endpoint}: start it with `snacks local`"
        return ENVIRONMENT, f"cannot reach {endpoint} in region {region}: check the network and --region"
    if isinstance(cause, ReadTimeoutError):
        return ENVIRONMENT, f"{endpoint} did not answer in time; try again"
    if isinstance(cause, NoCredentialsError):
        return ENVIRONMENT, "no AWS credentials: set AWS_PROFILE or AWS keys, or use the local stack (`snacks local`)"
    if isinstance(cause, NoRegionError):
        return ENVIRONMENT, "no AWS region: pass --region or set AWS_REGION"
    if isinstance(cause, ClientError):
        code = error_code(cause)
        if code in ("ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            return (
                ENVIRONMENT,
                f"the stack is not in region {region} at {endpoint}: wrong --region, or not deployed/started",
            )
        if code in (
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "ExpiredTokenException",
            "AccessDenied",
            "AccessDeniedException",
        ):
            return ENVIRONMENT, f"AWS refused the credentials ({code}): check AWS_PROFILE / your keys"
        if code in RETRYABLE_ERROR_CODES:
            return ENVIRONMENT, f"AWS is throttling or unavailable ({code}); try again shortly"
        return ENVIRONMENT, f"AWS refused the request: {code}"
    if isinstance(cause, DependencyThrottled):
        return ENVIRONMENT, f"AWS is throttling or unavailable ({cause}); try again shortly"
    if isinstance(cause, BotoCoreError):
        return ENVIRONMENT, f"AWS client error: {type(cause).__name__}: {cause}"
    if isinstance(error, LookupError):
        return ENVIRONMENT, f"{error} (region {region})"
    return ENVIRONMENT, f"unexpected {type(error).__name__}: {error} (SNACKS_DEBUG=1 shows the traceback)"
