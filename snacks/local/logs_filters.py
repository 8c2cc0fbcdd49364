"""CloudWatch Logs JSON filter patterns of the form ``{ $.field = "value" }`` for moto.

moto's ``FilterLogEvents`` treats a pattern that starts with ``{`` as unsupported and returns every
event. ``snacks trace`` selects one execution's records from the state machine's log group with
exactly this form ("Filter pattern syntax for metric filters, subscription filters, and filter log
events", JSON log events: ``{ $.eventType = "UpdateTrail" }``), so the local stack supports it:
string equality on a dotted path, with ``*`` as a wildcard. Other forms keep moto's behaviour.
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

_JSON_EQUALS = re.compile(r'^\s*\{\s*\$\.([\w.\-]+)\s*=\s*"([^"]*)"\s*\}\s*$')


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


@contextmanager
def json_filter_patterns() -> Iterator[None]:
    from moto.logs.utils import EventMessageFilter

    original = EventMessageFilter.__init__

    @functools.wraps(original)
    def __init__(self: Any, pattern: str) -> None:
        matched = _JSON_EQUALS.match(pattern or "")
        if matched:
            self.filter_type = JsonEqualsFilter(matched.group(1), matched.group(2))
            return
        original(self, pattern)

    with patched(EventMessageFilter, "__init__", __init__):
        yield
