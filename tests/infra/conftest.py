from __future__ import annotations

import pytest

from tests.support.synth import Synthesized, synthesize
from tests.unit.conftest import aws, lambda_context  # noqa: F401  moto fixtures: test_iam runs the handlers


@pytest.fixture(scope="session")
def synth() -> Synthesized:
    """The app as `cdk synth` builds it (cdk.json context, cdk-nag on), synthesized once per session."""
    return synthesize()
