"""What the CLI says when something goes wrong: one line, and an exit code that tells whose move it is.

Exit 2: the user's mistake (a bad argument, an unknown order): the line says what to type instead.
Exit 1: the environment (nothing listening, no credentials, a stack missing in that region or
stage, a busy port): the line says what to start or set. Exit 141 (128 + SIGPIPE, what a shell
reports for a command whose reader went away): stdout was closed, e.g. ``snacks ... | head -2``;
nothing is printed. Never a traceback.
"""

from __future__ import annotations

import json
import urllib.request

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
from snacks.aws import LOCAL_HEALTH_PATH, Aws, is_loopback
from snacks.listening import CannotListen
from stacks import definitions

USER_MISTAKE = 2
ENVIRONMENT = 1
# The reader of stdout went away (`snacks ... | head`): the code a shell gives a command killed by
# SIGPIPE. Python ignores SIGPIPE and raises BrokenPipeError instead (Python docs, signal module,
# "Note on SIGPIPE").
STDOUT_CLOSED = 128 + 13


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
    if isinstance(cause, CannotListen):
        return ENVIRONMENT, str(cause)
    if isinstance(cause, ClientError):
        code = error_code(cause)
        if code in ("ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            return ENVIRONMENT, _stack_not_found(aws, endpoint, region)
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
        mismatch = _local_stage_mismatch(aws)
        return ENVIRONMENT, mismatch or f"{error} (region {region})"
    return ENVIRONMENT, f"unexpected {type(error).__name__}: {error} (SNACKS_DEBUG=1 shows the traceback)"


def _stack_not_found(aws: Aws | None, endpoint: str, region: str | None) -> str:
    mismatch = _local_stage_mismatch(aws)
    if mismatch:
        return mismatch
    return f"the stack is not in region {region} at {endpoint}: wrong --region, or not deployed/started"


def _local_stage_mismatch(aws: Aws | None) -> str | None:
    """A local stack answers which stage and region it serves (GET /_snacks/health): when the names asked
    for are another stage's, say that rather than blame the region. None when it is not that, or unknown."""
    if aws is None or not is_loopback(aws.endpoint_url):
        return None
    try:
        with urllib.request.urlopen(f"{str(aws.endpoint_url).rstrip('/')}{LOCAL_HEALTH_PATH}", timeout=2) as answer:
            health = json.loads(answer.read())
        served = str(health["stage"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    asked = aws.names.stage
    if served == asked:
        return None
    fix = (
        "run snacks without --stage (and SNACKS_STAGE unset)"
        if served == definitions.DEFAULT_STAGE
        else f"pass --stage {served} (or set SNACKS_STAGE={served})"
    )
    return f"the local stack at {aws.endpoint_url} serves {_stage_label(served)}, not {_stage_label(asked)}: {fix}"


def _stage_label(stage: str) -> str:
    return "the seed's names (no stage)" if stage == definitions.DEFAULT_STAGE else f"stage {stage!r}"
