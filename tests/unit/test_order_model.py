"""The order model's pure helpers: money totals, timestamps, the transition table, stored items."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from order_service.domain.order import (
    OrderRecord,
    OrderStatus,
    can_transition,
    items_total,
    parse_utc_timestamp,
    utc_timestamp,
)
from order_service.domain.serialization import dumps, to_jsonable

MOMENT = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone set well away from UTC."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_no_items_total_zero_cents() -> None:
    total = items_total([])
    assert total == Decimal("0.00")
    assert str(total) == "0.00"


def test_timestamps_are_utc_whatever_the_local_zone(far_from_utc: None) -> None:
    assert utc_timestamp(MOMENT) == "2024-01-02T03:04:05.678Z"


def test_a_timestamp_parses_back_to_the_same_utc_moment() -> None:
    parsed = parse_utc_timestamp(utc_timestamp(MOMENT))
    assert parsed == MOMENT
    assert parsed.utcoffset() is not None


def test_the_transition_table() -> None:
    assert can_transition(OrderStatus.NEW, OrderStatus.PROCESSED)
    assert can_transition(OrderStatus.FAILED, OrderStatus.NEW)
    assert not can_transition(OrderStatus.PROCESSED, OrderStatus.NEW)


def test_an_item_without_optional_attributes_reads_with_their_defaults() -> None:
    record = OrderRecord.from_item(
        {"orderId": "o-1", "status": "NEW", "createdAt": "2024-01-02T03:04:05.678Z", "totalAmount": Decimal("0")}
    )
    assert record.customer_name == ""
    assert record.snack_items == ()
    assert record.updated_at == "2024-01-02T03:04:05.678Z"


def test_dumps_is_compact_utf8_with_exact_numbers() -> None:
    assert dumps({"n": [Decimal("2"), Decimal("2.50")], "s": "é"}) == '{"n":[2,2.5],"s":"é"}'
    assert to_jsonable(Decimal("3")) == 3
    assert isinstance(to_jsonable(Decimal("3")), int)
