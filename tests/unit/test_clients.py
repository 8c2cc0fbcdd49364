"""The handlers' AWS clients: one session, bounded retries and timeouts well inside a step's timeout."""

from __future__ import annotations

import gc
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


@pytest.mark.usefixtures("no_session")
def test_what_exists_before_the_first_client_is_frozen_once() -> None:
    """The first client freezes what the imports left (``gc.freeze``: "move them to a permanent generation
    and ignore them in all the future collections", Python docs, gc module), so the full collection that
    loading its service model triggers does not walk it: benchmarks/cold_start.py measures the init."""
    gc.unfreeze()
    imported = [object()]  # a tracked object alive before any client, like a module's
    assert gc.get_freeze_count() == 0
    clients.dynamodb_client()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert not any(obj is imported for obj in gc.get_objects()), "an object alive before the client is frozen"
    clients.events_client()
    assert gc.get_freeze_count() == frozen, "later clients reuse the session and freeze nothing more"
    gc.unfreeze()
