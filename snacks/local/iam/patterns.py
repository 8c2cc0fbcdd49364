"""Wildcards and policy variables as IAM matches them.

IAM User Guide, "IAM JSON policy elements: Action" / "Resource": ``*`` matches any run of
characters, ``?`` any single character; action names are case-insensitive, ARNs case-sensitive.
"IAM JSON policy elements: Condition operators", ARN section: ArnLike checks "each of the six
colon-delimited components of the ARN separately", each may hold wildcards.
"IAM policy elements: Variables and tags": ``${aws:username}`` is replaced by the request's value;
``${*}``, ``${?}`` and ``${$}`` stand for the literal characters; ``${key, 'default'}`` gives a default.
A variable whose key the request lacks makes the element not match.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERALS = {"*": "\x00STAR\x00", "?": "\x00QMARK\x00", "$": "$"}
ARN_SEGMENTS = 6


@functools.lru_cache(maxsize=8192)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts: list[str] = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    text = "".join(parts).replace(re.escape("\x00STAR\x00"), r"\*").replace(re.escape("\x00QMARK\x00"), r"\?")
    return re.compile(text, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """``*`` / ``?`` wildcard match of the whole value (literal ``*``/``?`` come from ``${*}``/``${?}``)."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, arn: str) -> bool:
    """ArnLike: the six colon-delimited components matched separately (the last keeps its colons)."""
    if pattern == "*":
        return True
    pattern_parts = pattern.split(":", ARN_SEGMENTS - 1)
    arn_parts = arn.split(":", ARN_SEGMENTS - 1)
    if len(arn_parts) != ARN_SEGMENTS:  # not an ARN (e.g. a service's non-ARN resource): plain wildcard match
        return glob_match(pattern, arn)
    if len(pattern_parts) != ARN_SEGMENTS:
        return False
    return all(glob_match(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


def substitute(text: str, lookup: Callable[[str], str | None]) -> str | None:
    """Replace policy variables; None when a variable's key is absent from the request (no default)."""
    if "${" not in text:
        return text
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        body = match.group(1).strip()
        if body in _LITERALS:
            return _LITERALS[body]
        key, _, default = body.partition(",")
        value = lookup(key.strip())
        if value is not None:
            return value
        default = default.strip()
        if len(default) >= 2 and default[0] == default[-1] == "'":
            return default[1:-1]
        missing = True
        return ""

    result = _VARIABLE.sub(replace, text)
    return None if missing else result


def literal(text: str) -> str:
    """A substituted value read as plain text (``${*}`` back to ``*``), for exact comparisons."""
    return text.replace(_LITERALS["*"], "*").replace(_LITERALS["?"], "?")
