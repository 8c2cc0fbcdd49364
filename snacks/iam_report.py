"""``snacks iam report``: per principal, the actions its policies grant and those a run used.

The local stack records every allowed action per principal (``GET /_snacks/iam``); a grant that no
run used is either a permission the stack does not need (remove it: least privilege) or one the
local flows never exercise (say why it stays).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from snacks.aws import Aws, is_loopback
from snacks.errors import UserError

IAM_PATH = "/_snacks/iam"


def fetch_usage(aws: Aws) -> dict[str, Any]:
    if not aws.endpoint_url or not is_loopback(aws.endpoint_url):
        raise UserError(
            "snacks iam report reads a local stack (snacks local): give --endpoint-url http://127.0.0.1:PORT"
        )
    try:
        with urllib.request.urlopen(f"{aws.endpoint_url.rstrip('/')}{IAM_PATH}", timeout=10) as reply:
            usage: dict[str, Any] = json.loads(reply.read())
    except OSError as error:
        raise UserError(f"cannot read {aws.endpoint_url}{IAM_PATH}: {error}") from None
    return usage


def render_report(usage: dict[str, Any]) -> str:
    if usage.get("mode") == "off":
        return "IAM is off on this stack (snacks local --iam off): nothing was recorded.\n"
    lines = [f"IAM {usage['mode']}, permissions from {usage.get('template')}", ""]
    for principal, actions in usage["principals"].items():
        granted, used = set(actions["granted"]), set(actions["used"])
        lines.append(principal)
        for action in sorted(granted | used):
            mark = "used" if action in used else "NEVER USED"
            if action not in granted:
                mark = "used (granted by a resource or key policy)"
            lines.append(f"  {action:<40} {mark}")
        lines.append("")
    unused = sum(1 for a in usage["principals"].values() for action in a["granted"] if action not in set(a["used"]))
    denials = usage.get("denials") or []
    lines.append(f"{unused} grant(s) never used; {len(denials)} denial(s) this run")
    for denial in denials:
        lines.append(f"  denied: {denial['principal']} {denial['action']} on {denial['resource']}")
    return "\n".join(lines) + "\n"
