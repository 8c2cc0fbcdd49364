"""The local-stack tests' default stack: one per module (on virtual time), and clients for it; and the IAM
enforcement modules' template and stacks started on changed copies of it.

A module that needs another stack (a stage, a fault plan, a log level) defines its own ``stack``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from snacks.aws import Aws
from tests.support import iam_templates

if TYPE_CHECKING:  # imported where a stack starts, as the default stack does
    from snacks.local import LocalStack


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from snacks.local import LocalStack

    with LocalStack(port=0, virtual_time=True) as local:
        yield local


@pytest.fixture(scope="module")
def aws(stack: Any) -> Aws:
    return Aws(endpoint_url=stack.endpoint_url, region=stack.region)


# The IAM enforcement modules: the synthesized template, and stacks started on a changed copy of it.
@pytest.fixture(scope="module")
def synthesized() -> dict[str, Any]:
    return iam_templates.template()


@pytest.fixture
def stack_on(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], LocalStack]]:
    with iam_templates.stacks_started_on(tmp_path) as start:
        yield start
