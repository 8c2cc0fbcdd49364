"""The functions' source of the current time (UTC).

Handlers call ``clock.utc_now()`` through the module, so a host that runs them in-process can
replace ``utc_now`` (the local stack does, with virtual time, for tests); on Lambda it is the
system clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


def system_utc_now() -> datetime:
    return datetime.now(UTC)


utc_now: Callable[[], datetime] = system_utc_now
