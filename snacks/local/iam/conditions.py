"""The Condition element: every operator of IAM's "Condition operators" page, parsed and evaluated.

IAM User Guide, "IAM JSON policy elements: Condition operators"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)
and "Creating a condition with multiple context keys or values" / "Set operators for multivalued
context keys" (reference_policies_condition-logic-multiple-context-keys-or-values.html,
reference_policies_condition-single-vs-multi-valued-context-keys.html):

- several operators, or several keys under one operator: all must hold (AND);
- several values for one key: any may match (OR); for a negated operator (StringNotEquals, ...)
  the key must match none of them (NOR);
- a key absent from the request context: the condition is false, except that a negated operator is
  then true; ``...IfExists`` is true; ``Null`` tests presence itself;
- ``ForAnyValue:``: at least one request value matches (false when the key is missing or empty);
  ``ForAllValues:``: every request value matches (true when the key is missing or empty).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from snacks.local.iam.model import ContextValue
from snacks.local.iam.patterns import arn_match, glob_match, literal, substitute


def _text_equal(policy: str, value: str) -> bool:
    return literal(policy) == value


def _text_equal_ignore_case(policy: str, value: str) -> bool:
    return literal(policy).lower() == value.lower()


def _like(policy: str, value: str) -> bool:
    return glob_match(policy, value)


def _number(text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation as error:
        raise ValueError(f"not a number: {text!r}") from error


def _date(text: str) -> datetime.datetime:
    text = text.strip()
    try:
        return datetime.datetime.fromtimestamp(float(text), tz=datetime.UTC)
    except ValueError:
        pass
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _numeric(compare: Callable[[Decimal, Decimal], bool]) -> Callable[[str, str], bool]:
    def match(policy: str, value: str) -> bool:
        return compare(_number(value), _number(policy))

    return match


def _dated(compare: Callable[[datetime.datetime, datetime.datetime], bool]) -> Callable[[str, str], bool]:
    def match(policy: str, value: str) -> bool:
        return compare(_date(value), _date(policy))

    return match


def _bool(policy: str, value: str) -> bool:
    return policy.strip().lower() == value.strip().lower()


def _binary(policy: str, value: str) -> bool:
    try:
        return base64.b64decode(policy, validate=True) == base64.b64decode(value, validate=True)
    except binascii.Error:
        return False


def _ip(policy: str, value: str) -> bool:
    try:
        return ipaddress.ip_address(value.strip()) in ipaddress.ip_network(policy.strip(), strict=False)
    except ValueError:
        return False


@dataclass(frozen=True)
class _Operator:
    match: Callable[[str, str], bool]  # (policy value, request value) -> matches
    negated: bool = False
    variables: bool = False  # policy variables allowed in the values ("Policy variables - Supported")


# The base operators, as the page lists them (Null is handled apart: it tests presence).
OPERATORS: dict[str, _Operator] = {
    "StringEquals": _Operator(_text_equal, variables=True),
    "StringNotEquals": _Operator(_text_equal, negated=True, variables=True),
    "StringEqualsIgnoreCase": _Operator(_text_equal_ignore_case, variables=True),
    "StringNotEqualsIgnoreCase": _Operator(_text_equal_ignore_case, negated=True, variables=True),
    "StringLike": _Operator(_like, variables=True),
    "StringNotLike": _Operator(_like, negated=True, variables=True),
    "NumericEquals": _Operator(_numeric(lambda a, b: a == b)),
    "NumericNotEquals": _Operator(_numeric(lambda a, b: a == b), negated=True),
    "NumericLessThan": _Operator(_numeric(lambda a, b: a < b)),
    "NumericLessThanEquals": _Operator(_numeric(lambda a, b: a <= b)),
    "NumericGreaterThan": _Operator(_numeric(lambda a, b: a > b)),
    "NumericGreaterThanEquals": _Operator(_numeric(lambda a, b: a >= b)),
    "DateEquals": _Operator(_dated(lambda a, b: a == b)),
    "DateNotEquals": _Operator(_dated(lambda a, b: a == b), negated=True),
    "DateLessThan": _Operator(_dated(lambda a, b: a < b)),
    "DateLessThanEquals": _Operator(_dated(lambda a, b: a <= b)),
    "DateGreaterThan": _Operator(_dated(lambda a, b: a > b)),
    "DateGreaterThanEquals": _Operator(_dated(lambda a, b: a >= b)),
    "Bool": _Operator(_bool, variables=True),
    "BinaryEquals": _Operator(_binary),
    "IpAddress": _Operator(_ip),
    "NotIpAddress": _Operator(_ip, negated=True),
    # "ArnEquals, ArnLike: Case-sensitive matching of the ARN. Each of the six colon-delimited
    # components of the ARN is checked separately and each can include wildcards" (the same match).
    "ArnEquals": _Operator(arn_match, variables=True),
    "ArnLike": _Operator(arn_match, variables=True),
    "ArnNotEquals": _Operator(arn_match, negated=True, variables=True),
    "ArnNotLike": _Operator(arn_match, negated=True, variables=True),
}
NULL = "Null"
SET_OPERATORS = ("ForAnyValue", "ForAllValues")
IF_EXISTS = "IfExists"


class ConditionSyntaxError(ValueError):
    """An operator or value IAM does not accept (the caller adds where it is)."""


@dataclass(frozen=True)
class Condition:
    """One operator + key + its values, e.g. ``ArnLike aws:SourceArn [arn...]``."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str
    values: tuple[str, ...]
    base: str
    set_operator: str | None
    if_exists: bool

    def describe(self) -> str:
        shown = self.values[0] if len(self.values) == 1 else list(self.values)
        return f"{self.operator} {self.key} {shown!r}"


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ConditionSyntaxError(f"condition value {value!r} is not a string, number or boolean")


def parse_operator(operator: str) -> tuple[str, str | None, bool]:
    """``ForAllValues:StringLikeIfExists`` -> ("StringLike", "ForAllValues", True); unknown -> error."""
    set_operator: str | None = None
    name = operator
    if ":" in name:
        prefix, _, name = name.partition(":")
        if prefix not in SET_OPERATORS:
            raise ConditionSyntaxError(f"unknown condition operator {operator!r} (set operator {prefix!r})")
        set_operator = prefix
    if_exists = name.endswith(IF_EXISTS) and name != IF_EXISTS
    base = name[: -len(IF_EXISTS)] if if_exists else name
    if base == NULL:
        if if_exists or set_operator:
            raise ConditionSyntaxError(f"unknown condition operator {operator!r} (Null takes no qualifier)")
    elif base not in OPERATORS:
        raise ConditionSyntaxError(f"unknown condition operator {operator!r}")
    return base, set_operator, if_exists


def parse_conditions(block: object) -> tuple[Condition, ...]:
    """The Condition element -> its (operator, key, values) triples; raises ConditionSyntaxError."""
    if block is None:
        return ()
    if not isinstance(block, Mapping):
        raise ConditionSyntaxError("Condition must be an object of operators")
    conditions: list[Condition] = []
    for operator, keys in block.items():
        base, set_operator, if_exists = parse_operator(str(operator))
        if not isinstance(keys, Mapping) or not keys:
            raise ConditionSyntaxError(f"condition operator {operator!r} must map keys to values")
        for key, raw in keys.items():
            values = tuple(_as_text(v) for v in (raw if isinstance(raw, list) else [raw]))
            if not values:
                raise ConditionSyntaxError(f"condition {operator} {key} has no value")
            if base == NULL and any(v.lower() not in ("true", "false") for v in values):
                raise ConditionSyntaxError(f"condition Null {key} takes true or false")
            conditions.append(Condition(str(operator), str(key), values, base, set_operator, if_exists))
    return tuple(conditions)


class Context:
    """The request context with IAM's case-insensitive key lookup ("Condition key names are not
    case-sensitive", IAM JSON policy elements: Condition)."""

    def __init__(self, values: Mapping[str, ContextValue]) -> None:
        self._values = {key.lower(): value for key, value in values.items()}

    def get(self, key: str) -> tuple[str, ...] | None:
        value = self._values.get(key.lower())
        if value is None:
            return None
        if isinstance(value, bool):
            return ("true" if value else "false",)
        if isinstance(value, int | str):
            return (str(value),)
        return tuple(str(item) for item in value)

    def single(self, key: str) -> str | None:
        """The value of a policy variable: a single-valued key only."""
        values = self.get(key)
        return values[0] if values is not None and len(values) == 1 else None


def evaluate(condition: Condition, context: Context) -> str | None:
    """None when the condition holds, else why it fails (one phrase, for Decision.explain)."""
    present = context.get(condition.key)
    if condition.base == NULL:
        wants_absent = condition.values[0].lower() == "true"
        absent = present is None or len(present) == 0
        if absent == wants_absent:
            return None
        return f"{condition.describe()}: key is {'present' if present else 'absent'} in the request context"
    operator = OPERATORS[condition.base]
    values = condition.values
    if operator.variables:
        substituted = [substitute(value, context.single) for value in values]
        values = tuple(value for value in substituted if value is not None)
    if present is None or (condition.set_operator and not present):
        if condition.if_exists:
            return None
        if condition.set_operator == "ForAllValues":
            return None  # "returns true if there are no context keys in the request"
        if condition.set_operator is None and operator.negated:
            return None
        return f"{condition.describe()}: {condition.key} not in request context"

    def satisfies(request_value: str) -> bool:
        try:
            matched = any(operator.match(value, request_value) for value in values)
        except ValueError:
            matched = False
        return not matched if operator.negated else matched

    if condition.set_operator == "ForAllValues":
        holds = all(satisfies(value) for value in present)
    else:  # ForAnyValue, or a single-valued key (several request values: any of them)
        holds = any(satisfies(value) for value in present)
        if operator.negated and condition.set_operator is None:
            holds = all(satisfies(value) for value in present)
    if holds:
        return None
    shown = present[0] if len(present) == 1 else list(present)
    return f"{condition.describe()}: request has {shown!r}"


def evaluate_all(conditions: Sequence[Condition], context: Context) -> str | None:
    """All conditions must hold (AND); the first that fails, in words."""
    for condition in conditions:
        failure = evaluate(condition, context)
        if failure is not None:
            return failure
    return None
