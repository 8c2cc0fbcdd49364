"""The local-stack tests' default stack: one per module (on virtual time), and clients for it.

A module that needs another stack (a stage, a fault plan, a log level) defines its own ``stack``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from snacks.aws import Aws


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from snacks.local import LocalStack

    with LocalStack(port=0, virtual_time=True) as local:
        yield local


@pytest.fixture(scope="module")
def aws(stack: Any) -> Aws:
    return Aws(endpoint_url=stack.endpoint_url, region=stack.region)
