"""EventBridge's ``TestEventPattern`` for the local stack (moto's answers with an empty body).

"Tests whether the specified event pattern matches the provided event" and answers
``{"Result": true|false}`` (EventBridge API Reference, TestEventPattern). The match is moto's own
pattern matcher, the one that routes ``PutEvents`` to rules, so the test and the routing agree. A
pattern that is not valid JSON is ``InvalidEventPatternException``, as on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from snacks.local.moto_tuning import patched


@contextmanager
def test_event_pattern_served() -> Iterator[None]:
    from moto.core.exceptions import JsonRESTError
    from moto.events.models import EventPattern
    from moto.events.responses import EventsHandler

    def test_event_pattern(self: Any) -> str:
        try:
            pattern = EventPattern.load(self._get_param("EventPattern"))
        except (ValueError, TypeError, KeyError) as error:
            raise JsonRESTError(
                "InvalidEventPatternException", f"Event pattern is not valid. Reason: {error}"
            ) from None
        try:
            event = json.loads(self._get_param("Event"))
        except (ValueError, TypeError):
            raise JsonRESTError("InvalidEventPatternException", "Event is not valid JSON") from None
        return json.dumps({"Result": bool(pattern.matches_event(event))})

    with patched(EventsHandler, "test_event_pattern", test_event_pattern):
        yield
