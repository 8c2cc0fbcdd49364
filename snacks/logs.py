"""``snacks logs tail``: a function's CloudWatch Logs, as ``aws logs tail`` (AWS CLI v2) prints them.

The AWS CLI v1 bundled here has no ``logs tail``; this reads ``FilterLogEvents`` on the function's
group (``/aws/lambda/NAME``; any group name starting with ``/`` is taken as is), oldest first,
and with ``follow`` keeps polling for new events, on AWS or the local stack alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from snacks.aws import Aws

FOLLOW_POLL_SECONDS = 1.0


def log_group_for(target: str) -> str:
    return target if target.startswith("/") else f"/aws/lambda/{target}"


def tail(
    aws: Aws,
    target: str,
    since_seconds: float,
    follow: bool = False,
    keep_going: Callable[[], bool] = lambda: True,
) -> Iterator[str]:
    """Lines ``<ISO time> <stream> <message>``, from ``since_seconds`` ago; with ``follow``, until
    ``keep_going()`` is false."""
    logs = aws.client("logs")
    group = log_group_for(target)
    start = int((time.time() - since_seconds) * 1000)
    seen: set[str] = set()
    while True:
        newest = start
        for event in _events(logs, group, start):
            if event["eventId"] in seen:
                continue
            seen.add(event["eventId"])
            newest = max(newest, int(event["timestamp"]))
            stamp = datetime.fromtimestamp(int(event["timestamp"]) / 1000, UTC).isoformat(timespec="milliseconds")
            yield f"{stamp} {event['logStreamName']} {event['message'].rstrip()}"
        if not follow or not keep_going():
            return
        start = newest  # events of the same millisecond are filtered by id
        time.sleep(FOLLOW_POLL_SECONDS)


def _events(logs: Any, group: str, start: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=start):
        events.extend(page["events"])
    return sorted(events, key=lambda event: (int(event["timestamp"]), str(event["eventId"])))
