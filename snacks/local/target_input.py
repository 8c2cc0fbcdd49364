"""What EventBridge hands a rule target: the event, or its target's ``Input``, ``InputPath`` or
``InputTransformer`` applied to it, as the EventBridge User Guide describes ("Amazon EventBridge input
transformation", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).

moto has a transformer (``moto.events.utils.EventTemplateParser``) that this does not reuse: it parses the
result back into a dict (a string template cannot be delivered), leaves ``<name>`` in place when a path
matches nothing, and inserts an unquoted string value without quotes (invalid JSON where AWS, in the page's
"Simple JSON" example, delivers ``"i-0123456789"``).

The rules modelled, each from that page (its "Input transform examples" table and "Common Issues with
transforming input") or, where the page is silent, from EventBridge's recorded answers in LocalStack's
AWS-validated snapshots (tests/aws/services/events/test_events_inputs.snapshot.json):
- a variable inside a quoted string in the template is replaced by the value's text, not escaped
  ("EventBridge doesn't escape values extracted by Input Path");
- an unquoted variable is replaced by the value as JSON: a string gets its quotes ("Simple JSON"), an object
  or array is inserted as JSON;
- a path that matches nothing gives an empty value: nothing inside a string, ``""`` as a JSON value
  (the snapshot ``custom-variables-not-match-all``: ``"command": ""``);
- ``InputPath`` delivers the value at the path as JSON (snapshot ``test_put_events_with_input_path``).
What the local stack cannot model without guessing (an object or array inside a quoted string, wildcard
paths, an ``InputPath`` that matches nothing, ``<aws.events.event.ingestion-time>``) raises
:class:`UnsupportedTransform`: the delivery fails and is retried, then dead-lettered, and the error says why
(docs/local-stack.md lists these).
"""

from __future__ import annotations

import json
import re
from typing import Any

PLACEHOLDER = re.compile(r"<([^<>]+)>")
PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
RULE_ARN = "aws.events.rule-arn"
RULE_NAME = "aws.events.rule-name"
EVENT = "aws.events.event"
EVENT_JSON = "aws.events.event.json"
INGESTION_TIME = "aws.events.event.ingestion-time"
RESERVED = frozenset({RULE_ARN, RULE_NAME, EVENT, EVENT_JSON, INGESTION_TIME})  # "you can't create variables"
_MISSING = object()


class UnsupportedTransform(ValueError):
    """A transformation whose AWS result the local stack does not know."""


def target_input(target: dict[str, Any], event: dict[str, Any], rule_arn: str) -> str:
    """The text a target receives for ``event`` (the event as delivered: ISO-8601 ``time``)."""
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        value = resolve(event, str(target["InputPath"]))
        if value is _MISSING:
            raise UnsupportedTransform(f"InputPath {target['InputPath']!r} matches nothing in the event")
        return json.dumps(value)
    transformer = target.get("InputTransformer")
    if transformer:
        variables = {name: resolve(event, str(path)) for name, path in (transformer.get("InputPathsMap") or {}).items()}
        return render(str(transformer["InputTemplate"]), variables, event, rule_arn)
    return json.dumps(event)


def resolve(event: dict[str, Any], path: str) -> Any:
    """The value at a JSON path of the subset EventBridge documents (``$``, dot notation, array indices);
    ``_MISSING`` when the path matches nothing."""
    if path == "$":
        return event
    if not path.startswith("$") or "*" in path:
        raise UnsupportedTransform(f"JSON path {path!r}: the local stack resolves $, .name and [index] only")
    value: Any = event
    rest = path[1:]
    position = 0
    while position < len(rest):
        step = PATH_STEP.match(rest, position)
        if step is None:
            raise UnsupportedTransform(f"JSON path {path!r}: cannot read {rest[position:]!r}")
        key, index = step.groups()
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
        position = step.end()
    return value


def render(template: str, variables: dict[str, Any], event: dict[str, Any], rule_arn: str) -> str:
    """The template with each ``<name>`` replaced, as text inside a quoted string, as JSON outside one."""
    predefined: dict[str, Any] = {
        RULE_ARN: rule_arn,
        RULE_NAME: rule_arn.rsplit("/", 1)[-1],
        EVENT: {key: value for key, value in event.items() if key != "detail"},
        EVENT_JSON: event,
    }
    out: list[str] = []
    in_string = False
    position = 0
    while position < len(template):
        char = template[position]
        match = PLACEHOLDER.match(template, position) if char == "<" else None
        if match is not None and (match.group(1) in variables or match.group(1) in predefined):
            name = match.group(1)
            value = variables[name] if name in variables else predefined[name]
            out.append(_inside_string(name, value) if in_string else _as_json_value(value))
            position = match.end()
            continue
        if match is not None and match.group(1) == INGESTION_TIME:
            raise UnsupportedTransform(f"<{INGESTION_TIME}>: the local stack does not keep the ingestion time")
        if char == "\\" and in_string:
            out.append(template[position : position + 2])
            position += 2
            continue
        if char == '"':
            in_string = not in_string
        out.append(char)
        position += 1
    return "".join(out)


def _inside_string(name: str, value: Any) -> str:
    if value is _MISSING:
        return ""
    if isinstance(value, str):
        return value  # not escaped, as the page says
    if isinstance(value, dict | list):
        raise UnsupportedTransform(f"<{name}> is a JSON {type(value).__name__} inside a quoted string")
    return json.dumps(value)


def _as_json_value(value: Any) -> str:
    if value is _MISSING:
        return '""'
    if isinstance(value, str):
        return f'"{value}"'  # quoted, not escaped
    return json.dumps(value, separators=(",", ":"))
