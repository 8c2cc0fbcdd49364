"""State that survives a restart: ``snacks local --state-dir DIR``.

On stop, the stack writes what an operator needs to carry on the next day to ``DIR/state.json``:
every item of the pipeline's DynamoDB tables (orders, idempotency records), the messages waiting
in its SQS queues (the DLQ, for ``snacks dlq replay``), and the state machine's and functions'
CloudWatch Logs (for ``snacks trace``). On start, after the resources are created, it puts them
back through the same APIs. Without ``--state-dir`` state is in memory only, as the banner says.

Messages come back as new messages with the same body and attributes (new ids, receive counts
reset); items and log events come back as they were.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
STATE_FILE = "state.json"
_BATCH = 25  # BatchWriteItem's limit


@dataclass
class Restored:
    items: int = 0
    messages: int = 0
    log_events: int = 0


def save(state_dir: Path, client: Any, *, tables: list[str], queues: list[str], log_groups: list[str]) -> Path:
    """Write the stack's state with in-process clients; atomically (a crash leaves the old file)."""
    dynamodb, sqs, logs = client("dynamodb"), client("sqs"), client("logs")
    state: dict[str, Any] = {"version": FORMAT_VERSION, "tables": {}, "queues": {}, "logs": {}}
    for table in tables:
        items: list[dict[str, Any]] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            items.extend(page["Items"])
        state["tables"][table] = items
    for queue in queues:
        state["queues"][queue] = _queue_messages(sqs, queue)
    for group in log_groups:
        events: list[dict[str, Any]] = []
        try:
            for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
                events.extend(
                    {"stream": e["logStreamName"], "timestamp": e["timestamp"], "message": e["message"]}
                    for e in page["events"]
                )
        except logs.exceptions.ResourceNotFoundException:
            continue
        state["logs"][group] = events
    state_dir.mkdir(parents=True, exist_ok=True)
    target = state_dir / STATE_FILE
    with tempfile.NamedTemporaryFile("w", dir=state_dir, delete=False, suffix=".tmp") as handle:
        json.dump(state, handle)
    os.replace(handle.name, target)
    return target


def _queue_messages(sqs: Any, queue: str) -> list[dict[str, Any]]:
    """The queue's messages, read from moto's backend: receiving them would change their state."""
    from moto.sqs.models import sqs_backends

    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    region = sqs.meta.region_name
    account = url.rstrip("/").split("/")[-2]
    backend_queue = sqs_backends[account][region].queues[queue]
    messages = []
    for message in list(backend_queue._messages):
        messages.append({"body": message.body, "attributes": dict(message.message_attributes or {})})
    return messages


def restore(state_dir: Path, client: Any) -> Restored:
    """Put saved state back into a freshly provisioned stack; nothing to do without a saved file."""
    restored = Restored()
    path = state_dir / STATE_FILE
    if not path.exists():
        return restored
    state = json.loads(path.read_text())
    if state.get("version") != FORMAT_VERSION:
        raise RuntimeError(f"{path}: state format {state.get('version')!r}, expected {FORMAT_VERSION}")
    dynamodb, sqs, logs = client("dynamodb"), client("sqs"), client("logs")
    for table, items in state["tables"].items():
        for start in range(0, len(items), _BATCH):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + _BATCH]]
            dynamodb.batch_write_item(RequestItems={table: batch})
        restored.items += len(items)
    for queue, messages in state["queues"].items():
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        for message in messages:
            attributes = {
                name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
                for name, value in message["attributes"].items()
            }
            sqs.send_message(QueueUrl=url, MessageBody=message["body"], MessageAttributes=attributes)
        restored.messages += len(messages)
    for group, events in state["logs"].items():
        by_stream: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            by_stream.setdefault(event["stream"], []).append(event)
        if events:
            _ensure_group(logs, group)
        for stream, stream_events in by_stream.items():
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
            ordered = sorted(stream_events, key=lambda e: e["timestamp"])
            logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[{"timestamp": e["timestamp"], "message": e["message"]} for e in ordered],
            )
        restored.log_events += len(events)
    return restored


def _ensure_group(logs: Any, group: str) -> None:
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
