from __future__ import annotations

import pytest

from tests.support.synth import Synthesized, synthesize


@pytest.fixture(scope="session")
def synth() -> Synthesized:
    """The app as `cdk synth` builds it (cdk.json context, cdk-nag on), synthesized once per session."""
    return synthesize()
