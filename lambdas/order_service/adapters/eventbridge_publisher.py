"""``Order Created`` and the status events onto the custom bus, with PutEvents' partial failures taken seriously.

PutEvents answers HTTP 200 even when an entry failed (``FailedEntryCount`` > 0), so the entry's
error code is checked; throttling and internal failures are retried with jittered backoff, and
whatever still fails raises ``EventPublishFailed`` for the domain to decide.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from order_service.adapters.aws_errors import RETRYABLE_ERROR_CODES, is_retryable
from order_service.adapters.clients import require_time_for_calls
from order_service.domain.errors import DeadlineTooClose
from order_service.domain.events import ORDER_CREATED_DETAIL_TYPE, ORDER_EVENT_SOURCE, OrderCreated, OrderStatusChanged
from order_service.domain.ports import EventPublishFailed

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

PUBLISH_ATTEMPTS = 3
BASE_BACKOFF_SECONDS = 0.05


class EventBridgePublisher:
    def __init__(
        self,
        client: EventBridgeClient,
        bus_name: str,
        attempts: int = PUBLISH_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        calls_kept_after: int = 0,
    ) -> None:
        """``calls_kept_after``: AWS calls the caller still has to make after publishing; an attempt
        starts only while the invocation has time for it and for them."""
        self._client = client
        self._bus = bus_name
        self._attempts = attempts
        self._sleep = sleep
        self._calls_kept_after = calls_kept_after

    def publish_order_created(self, event: OrderCreated) -> str:
        return self._publish(ORDER_CREATED_DETAIL_TYPE, event.detail())

    def publish_status(self, event: OrderStatusChanged) -> str:
        return self._publish(event.detail_type, event.detail(), event.resources)

    def _publish(self, detail_type: str, detail: dict[str, Any], resources: tuple[str, ...] = ()) -> str:
        entry = {
            "Source": ORDER_EVENT_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, separators=(",", ":")),
            "EventBusName": self._bus,
            "Resources": list(resources),
        }
        failure = "no attempt made"
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(BASE_BACKOFF_SECONDS * (2 ** (attempt - 1)) * (1 + random.random()))
            try:
                require_time_for_calls(1 + self._calls_kept_after)
                response = self._client.put_events(Entries=[entry])  # type: ignore[list-item]
            except DeadlineTooClose as error:
                raise EventPublishFailed("too little time left in the invocation to publish") from error
            except (ClientError, BotoCoreError) as error:
                failure = _described(error)
                if is_retryable(error):
                    continue
                raise EventPublishFailed(failure) from error
            result = response["Entries"][0]
            if not response.get("FailedEntryCount") and "EventId" in result:
                return str(result["EventId"])
            code = str(result.get("ErrorCode", "UnknownError"))
            failure = f"entry rejected: {code}"
            if code not in RETRYABLE_ERROR_CODES:
                break
        raise EventPublishFailed(failure)


def _described(error: ClientError | BotoCoreError) -> str:
    """The service's error code and message (an IAM denial explains itself there); never the event's detail."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', type(error).__name__)}: {details.get('Message', '')}".rstrip(": ")
    return type(error).__name__
