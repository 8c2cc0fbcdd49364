"""EventBridge's API where moto's answers differ from AWS's.

``PutEvents`` refuses an entry whose ``Detail`` is not a JSON object: EventBridge answers that
entry with ``ErrorCode`` ``MalformedDetail``, "Detail is malformed." (HTTP 200, counted in
``FailedEntryCount``; the other entries go on), for a string, an array, broken JSON or a
serialized string alike (LocalStack's recorded AWS answers,
tests/aws/services/events/test_events.snapshot.json, test_put_event_malformed_detail). moto refuses
only broken JSON; an array or a string went to the rules.

``TestEventPattern`` (moto's answers with an empty body): "Tests whether the specified event
pattern matches the provided event" and answers ``{"Result": true|false}`` (EventBridge API
Reference, TestEventPattern). The match is moto's own pattern matcher, the one that routes
``PutEvents`` to rules, so the test and the routing agree. A pattern that is not valid JSON is
``InvalidEventPatternException``, as on AWS.

``PutTargets`` refuses a target whose ``InputTemplate`` uses a variable its ``InputPathsMap`` does not
define and that is no reserved variable: ``ValidationException`` "InputTemplate for target ID contains
invalid placeholder NAME." (LocalStack's recorded AWS answer, test_events_inputs.snapshot.json,
test_put_events_with_input_transformer_missing_keys). moto accepted it and delivered ``<NAME>`` as text.
The paths themselves are not checked: "There is no validation when creating JSON path for your template"
(EventBridge User Guide, eb-transform-target-input.html, "Common Issues with transforming input").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from snacks.local.moto_tuning import patched
from snacks.local.target_input import PLACEHOLDER, RESERVED

MALFORMED_DETAIL = {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
MAX_ENTRIES = 10  # PutEvents' limit, which moto checks (and refuses) itself


def _malformed(entry: dict[str, Any]) -> bool:
    """A Detail that is there (moto answers a missing one, Source or DetailType first) but no JSON object."""
    if not entry.get("Source") or not entry.get("DetailType") or not entry.get("Detail"):
        return False
    try:
        return not isinstance(json.loads(entry["Detail"]), dict)
    except (ValueError, TypeError):
        return True


@contextmanager
def malformed_details_refused() -> Iterator[None]:
    from moto.events.models import EventsBackend

    original = EventsBackend.put_events

    def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(events) > MAX_ENTRIES:
            return list(original(self, events))
        refused = [_malformed(entry) for entry in events]
        answered = iter(original(self, [entry for entry, bad in zip(events, refused, strict=True) if not bad]))
        return [dict(MALFORMED_DETAIL) if bad else next(answered) for bad in refused]

    with patched(EventsBackend, "put_events", put_events):
        yield


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


def _undefined_placeholder(target: dict[str, Any]) -> str | None:
    transformer = target.get("InputTransformer") or {}
    defined = set(transformer.get("InputPathsMap") or {}) | RESERVED
    for name in PLACEHOLDER.findall(str(transformer.get("InputTemplate", ""))):
        if name not in defined:
            return str(name)
    return None


@contextmanager
def undefined_placeholders_refused() -> Iterator[None]:
    from moto.events.exceptions import ValidationException
    from moto.events.models import EventsBackend

    original = EventsBackend.put_targets

    def put_targets(self: Any, name: str, event_bus_arn: str | None, targets: list[dict[str, Any]]) -> None:
        for target in targets:
            placeholder = _undefined_placeholder(target)
            if placeholder is not None:
                raise ValidationException(
                    f"InputTemplate for target {target.get('Id')} contains invalid placeholder {placeholder}."
                )
        original(self, name, event_bus_arn, targets)

    with patched(EventsBackend, "put_targets", put_targets):
        yield
