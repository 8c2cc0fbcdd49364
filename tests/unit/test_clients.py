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
    """botocore's ``max_attempts`` counts retries after the first call ("Retries", Boto3 Developer
    Guide), so 3 retries are 4 attempts in all."""
    dynamodb = clients.dynamodb_client()
    session = clients._session
    assert session is not None  # created on first use
    events = clients.events_client()
    assert clients._session is session  # then reused
    for client in (dynamodb, events):
        config = client.meta.config
        assert config.retries == {"mode": "standard", "total_max_attempts": 4}
        assert (config.connect_timeout, config.read_timeout) == (3, 10)
