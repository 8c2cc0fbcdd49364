"""CloudWatch Logs JSON filter patterns of the form ``{ $.field = "value" }`` for moto.

moto's ``FilterLogEvents`` treats a pattern that starts with ``{`` as unsupported and returns every
event. ``snacks trace`` selects one execution's records from the state machine's log group with
exactly this form ("Filter pattern syntax for metric filters, subscription filters, and filter log
events", JSON log events: ``{ $.eventType = "UpdateTrail" }``), so the local stack supports it:
string equality on a dotted path, with ``*`` as a wildcard. Also such terms joined with ``&&`` and
``||`` and grouped in parentheses (``{ (($.type = "TaskFailed") || ($.type = "TaskTimedOut")) &&
($.details.resourceType = "events") }``, as CDK's ``FilterPattern.all``/``any`` render the monitoring's
metric filter), so a test can run that very pattern against the workflow's log records. Other forms
(numbers, ``!=``, ``NOT EXISTS``) keep moto's behaviour, which matches every event: a test relying on a
pattern must also see it not match.
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
# One token of a pattern's body: a parenthesis, an operator, or a term ``$.path = "value"``.
_TOKEN = re.compile(r'\s*(?:(?P<paren>[()])|(?P<op>&&|\|\|)|\$\.(?P<path>[\w.\-]+)\s*=\s*"(?P<value>[^"]*)")')


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

    def __init__(self, terms: list[JsonFilter]) -> None:
        self.terms = terms

    def matches(self, message: str) -> bool:
        return all(term.matches(message) for term in self.terms)


class JsonAnyFilter:
    """Terms joined with ``||``: a log event matches when any term does."""

    def __init__(self, terms: list[JsonFilter]) -> None:
        self.terms = terms

    def matches(self, message: str) -> bool:
        return any(term.matches(message) for term in self.terms)


JsonFilter = JsonEqualsFilter | JsonAllFilter | JsonAnyFilter


def _tokens(body: str) -> list[tuple[str, str, str]] | None:
    """(kind, path, value) per token; None when the body holds anything else (numbers, ``!=``, ...)."""
    tokens, position = [], 0
    while body[position:].strip():
        token = _TOKEN.match(body, position)
        if token is None:
            return None
        if token.group("paren"):
            tokens.append((token.group("paren"), "", ""))
        elif token.group("op"):
            tokens.append((token.group("op"), "", ""))
        else:
            tokens.append(("term", token.group("path"), token.group("value")))
        position = token.end()
    return tokens


def parse_json_pattern(pattern: str) -> JsonFilter | None:
    """``{ EXPR }`` of terms ``$.path = "value"`` joined with ``&&`` and ``||`` and grouped in parentheses
    (``&&`` binds tighter, as in the pattern syntax); None for any other form."""
    body = _JSON_PATTERN.match(pattern or "")
    tokens = _tokens(body.group(1)) if body else None
    if not tokens:
        return None
    position = 0

    def peek() -> str | None:
        return tokens[position][0] if position < len(tokens) else None

    def either() -> JsonFilter | None:
        nonlocal position
        terms = [both()]
        while peek() == "||":
            position += 1
            terms.append(both())
        if any(term is None for term in terms):
            return None
        return terms[0] if len(terms) == 1 else JsonAnyFilter([t for t in terms if t is not None])

    def both() -> JsonFilter | None:
        nonlocal position
        terms = [single()]
        while peek() == "&&":
            position += 1
            terms.append(single())
        if any(term is None for term in terms):
            return None
        return terms[0] if len(terms) == 1 else JsonAllFilter([t for t in terms if t is not None])

    def single() -> JsonFilter | None:
        nonlocal position
        kind = peek()
        if kind == "term":
            _, path, value = tokens[position]
            position += 1
            return JsonEqualsFilter(path, value)
        if kind == "(":
            position += 1
            inner = either()
            if peek() != ")":
                return None
            position += 1
            return inner
        return None

    parsed = either()
    return parsed if parsed is not None and position == len(tokens) else None


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
