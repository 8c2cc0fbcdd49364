"""The handlers' AWS clients: one session, bounded retries and timeouts well inside a step's timeout."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from order_service.adapters import clients


@pytest.fixture
def no_session() -> Iterator[None]:
    saved, clients._session = clients._session, None
    try:
        yield
    finally:
        clients._session = saved


@pytest.mark.usefixtures("no_session")
def test_clients_share_one_session_with_standard_bounded_retries() -> None:
    """Both clients carry the budgeted config: ``total_max_attempts`` (tries in all, "Retries", Boto3
    Developer Guide) and the timeouts tests/infra/test_time_budget.py fits inside the functions."""
    dynamodb = clients.dynamodb_client()
    session = clients._session
    assert session is not None  # created on first use
    events = clients.events_client()
    assert clients._session is session  # then reused
    for client in (dynamodb, events):
        config = client.meta.config
        assert config.retries == {"mode": "standard", "total_max_attempts": clients.MAX_ATTEMPTS}
        assert (config.connect_timeout, config.read_timeout) == (
            clients.CONNECT_TIMEOUT_SECONDS,
            clients.READ_TIMEOUT_SECONDS,
        )
