"""CloudWatch Logs JSON filter patterns of the form ``{ $.field = "value" }`` for moto.

moto's ``FilterLogEvents`` treats a pattern that starts with ``{`` as unsupported and returns every
event. ``snacks trace`` selects one execution's records from the state machine's log group with
exactly this form ("Filter pattern syntax for metric filters, subscription filters, and filter log
events", JSON log events: ``{ $.eventType = "UpdateTrail" }``), so the local stack supports it:
string equality on a dotted path, with ``*`` as a wildcard. Also their conjunction with ``&&``, each
term in parentheses or not (``{ ($.type = "TaskFailed") && ($.details.resourceType = "events") }``,
as CDK's ``FilterPattern.all`` renders the monitoring's metric filter), so a test can run that very
pattern against the workflow's log records. Other forms (``||``, numbers, ``!=``) keep moto's
behaviour, which matches every event: a test relying on a pattern must also see it not match.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from snacks.local.moto_tuning import patched

_JSON_PATTERN = re.compile(r"^\s*\{(.*)\}\s*$", re.DOTALL)
_EQUALS_TERM = re.compile(r'^\s*(?:\(\s*\$\.([\w.\-]+)\s*=\s*"([^"]*)"\s*\)|\$\.([\w.\-]+)\s*=\s*"([^"]*)")\s*$')


class JsonEqualsFilter:
    def __init__(self, path: str, value: str) -> None:
        self.path = path.split(".")
        self.value = value

    def matches(self, message: str) -> bool:
        try:
            found: Any = json.loads(message)
        except ValueError:
            return False
        for key in self.path:
            if not isinstance(found, dict) or key not in found:
                return False
            found = found[key]
        return isinstance(found, str) and fnmatch.fnmatchcase(found, self.value)


class JsonAllFilter:
    """Terms joined with ``&&``: a log event matches when every term does."""

    def __init__(self, terms: list[JsonEqualsFilter]) -> None:
        self.terms = terms

    def matches(self, message: str) -> bool:
        return all(term.matches(message) for term in self.terms)


def parse_json_pattern(pattern: str) -> JsonAllFilter | None:
    """``{ TERM && TERM ... }`` with each TERM ``$.path = "value"``, optionally in parentheses; None otherwise."""
    body = _JSON_PATTERN.match(pattern or "")
    if body is None or "||" in body.group(1):
        return None
    terms = []
    for part in body.group(1).split("&&"):
        term = _EQUALS_TERM.match(part)
        if term is None:
            return None
        path, value = (term.group(1), term.group(2)) if term.group(1) else (term.group(3), term.group(4))
        terms.append(JsonEqualsFilter(path, value))
    return JsonAllFilter(terms)


@contextmanager
def json_filter_patterns() -> Iterator[None]:
    from moto.logs.utils import EventMessageFilter

    original = EventMessageFilter.__init__

    @functools.wraps(original)
    def __init__(self: Any, pattern: str) -> None:
        parsed = parse_json_pattern(pattern)
        if parsed is not None:
            self.filter_type = parsed
            return
        original(self, pattern)

    with patched(EventMessageFilter, "__init__", __init__):
        yield
