"""What a customer may see of an order, and the live status message pushed to their browser.

An allow-list: the record's internal facts (execution ARN, reservation, failure causes, the access
token's hash, the idempotency key) never reach the storefront, whatever is added to the record later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from order_service.domain.order import OrderRecord, OrderStatus, parse_utc_timestamp
from order_service.domain.serialization import to_jsonable

# Where the record keeps the time an order entered each end status: (section, key).
_STATUS_TIME: dict[OrderStatus, tuple[str, str]] = {
    OrderStatus.REJECTED: ("rejection", "rejectedAt"),
    OrderStatus.FAILED: ("failure", "failedAt"),
    OrderStatus.CANCELLED: ("cancellation", "cancelledAt"),
}


def status_time(record: OrderRecord) -> str:
    """When the order entered its current status (``updatedAt`` where the record keeps nothing finer)."""
    if record.status is OrderStatus.NEW:
        return record.updated_at if record.replay_count else record.created_at
    if record.status is OrderStatus.PROCESSED:
        return record.processed_at or record.updated_at
    section, key = _STATUS_TIME[record.status]
    facts = getattr(record, section, None) if section in ("rejection", "failure") else record.extra.get(section)
    return str((facts or {}).get(key) or record.updated_at)


def history(record: OrderRecord) -> list[dict[str, str]]:
    """The transitions a customer may see, oldest first: placed, then where it is now."""
    steps = [{"status": OrderStatus.NEW.value, "at": record.created_at}]
    cancellation = record.extra.get("cancellation") or {}
    if record.status is OrderStatus.CANCELLED and cancellation.get("from") == OrderStatus.FAILED.value:
        failed_at = (record.failure or {}).get("failedAt")
        if failed_at:
            steps.append({"status": OrderStatus.FAILED.value, "at": str(failed_at)})
    if record.status is not OrderStatus.NEW or record.replay_count:
        steps.append({"status": record.status.value, "at": status_time(record)})
    return steps


def customer_view(record: OrderRecord) -> dict[str, Any]:
    view: dict[str, Any] = {
        "orderId": record.order_id,
        "status": record.status.value,
        "snackItems": [item.as_dict() for item in record.snack_items],
        "totalAmount": record.total_amount,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "history": history(record),
    }
    if record.processed_at:
        view["processedAt"] = record.processed_at
    return to_jsonable(view)  # type: ignore[no-any-return]


def sequence_of(timestamp: str) -> int:
    """A number that grows with each transition of one order (its time in ms), for de-duplication:
    a client keeps the message with the highest ``sequence`` and drops repeats and stragglers."""
    try:
        moment = parse_utc_timestamp(timestamp)
    except ValueError:
        # Step Functions' $$.State.EnteredTime (the Order Failed timestamp) is ISO-8601 in its own precision.
        try:
            moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def status_message(order_id: str, status: str, timestamp: str) -> dict[str, Any]:
    """The pushed message: no personal data, just enough to show and de-duplicate."""
    return {"orderId": order_id, "status": status, "timestamp": timestamp, "sequence": sequence_of(timestamp)}


def current_status_message(record: OrderRecord) -> dict[str, Any]:
    return status_message(record.order_id, record.status.value, status_time(record))
