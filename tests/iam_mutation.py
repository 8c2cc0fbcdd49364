"""``make iam-mutate``: remove each statement of the synthesized template's policies, one at a time,
run the flows on the changed template, and require an access denial or a reason.

For every statement ``PolicyStore.statements()`` lists (identity, resource and key policies; trust
policies are listed but the local stack does not model role assumption):
1. write the template without that statement;
2. run FLOW_TESTS with ``SNACKS_TEMPLATE`` pointing at it (every LocalStack of the run takes it);
3. KILLED: a named test fails and its output shows an access denial; SURVIVED: nothing failed. A
   survivor is then matched against the baseline run's usage (``SNACKS_IAM_USAGE``): statements whose
   actions no flow used are "unused" (remove them, or say why they stay: needed on AWS, not exercised
   locally).

Prints a Markdown table (docs/testing.md keeps the last one). ``--limit N`` / ``--only TEXT`` narrow it.
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from snacks.local.iam import PolicyStore, StatementRef
from snacks.local.template_source import synthesized_template
from tests.support.iam_templates import without_empty_policies

FLOW_TESTS = (
    "tests/e2e/test_seed_flow.py",
    "tests/statemachine/test_fulfillment_workflow.py",
    "tests/local/test_cli.py",
    "tests/local/test_iam_service_steps.py",
)
DENIAL = re.compile(r"not authorized to perform|AccessDenied|AuthorizationError|NO_PERMISSIONS|Log Destination")
FAILED = re.compile(r"^FAILED (\S+)", re.MULTILINE)
ACCOUNT, REGION = "123456789012", "us-east-1"


def _document(template: dict[str, Any], ref: StatementRef) -> list[Any]:
    props = template["Resources"][ref.logical_id]["Properties"]
    match = re.fullmatch(r"Policies\[(\d+)\]", ref.policy)
    if match:
        statements: list[Any] = props["Policies"][int(match.group(1))]["PolicyDocument"]["Statement"]
    else:
        statements = props[ref.policy]["Statement"]
    return statements


def without(template: dict[str, Any], ref: StatementRef) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    statements = _document(changed, ref)
    del statements[ref.index]
    return without_empty_policies(changed)


def run_flows(template_path: Path | None, usage: Path | None, tests: tuple[str, ...]) -> tuple[int, str]:
    environment = {**os.environ}
    if template_path is not None:
        environment["SNACKS_TEMPLATE"] = str(template_path)
    if usage is not None:
        environment["SNACKS_IAM_USAGE"] = str(usage)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:randomly", "-p", "no:cacheprovider", "-rf", *tests],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def used_actions(usage: Path) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for line in usage.read_text().splitlines():
        for principal, actions in json.loads(line)["principals"].items():
            used.setdefault(principal, set()).update(actions["used"])
    return used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="mutate at most N statements")
    parser.add_argument("--only", default="", help="only statements whose logical id or Sid contains this")
    args = parser.parse_args(argv)

    base_path = synthesized_template()
    template = json.loads(base_path.read_text())
    store = PolicyStore.from_template(template, account=ACCOUNT, region=REGION)
    refs = [ref for ref, _ in store.statements() if ref.policy != "AssumeRolePolicyDocument"]
    refs = [ref for ref in refs if args.only in ref.logical_id or args.only in (ref.sid or "")]
    if args.limit:
        refs = refs[: args.limit]

    with tempfile.TemporaryDirectory(prefix="iam-mutate-") as scratch:
        usage = Path(scratch) / "usage.jsonl"
        started = time.monotonic()
        code, output = run_flows(base_path, usage, FLOW_TESTS)
        if code != 0:
            print(output[-3000:])
            print("the flows fail on the unchanged template: fix that first", file=sys.stderr)
            return 1
        used = used_actions(usage) if usage.exists() else {}
        print(f"baseline: flows pass in {time.monotonic() - started:.0f} s; {len(refs)} statements to remove\n")
        print("| statement | construct | removed → |")
        print("|---|---|---|")
        survivors = 0
        for ref in refs:
            path = Path(scratch) / "mutant.template.json"
            path.write_text(json.dumps(without(template, ref)))
            code, output = run_flows(path, None, FLOW_TESTS)
            failed = FAILED.findall(output)
            if code != 0 and DENIAL.search(output):
                verdict = f"killed: `{failed[0] if failed else 'the run'}` (access denied)"
            elif code != 0:
                verdict = f"killed without a denial?: `{failed[0] if failed else output.strip().splitlines()[-1]}`"
            else:
                survivors += 1
                actions = _statement_actions(template, ref)
                ever_used = any(
                    fnmatch.fnmatchcase(u.lower(), a.lower()) for acts in used.values() for u in acts for a in actions
                )
                verdict = "SURVIVED: " + (
                    "its actions were used (another statement also grants them)"
                    if ever_used
                    else "unused by every flow"
                )
            print(f"| {ref.describe()} | `{ref.construct_path}` | {verdict} |", flush=True)
        print(f"\n{len(refs) - survivors} killed, {survivors} survived, in {time.monotonic() - started:.0f} s")
    return 0


def _statement_actions(template: dict[str, Any], ref: StatementRef) -> list[str]:
    statement = _document(template, ref)[ref.index]
    actions = statement.get("Action", [])
    return [str(a) for a in (actions if isinstance(actions, list) else [actions])]


if __name__ == "__main__":
    sys.exit(main())
