"""Hot reload: an edit under the functions' code takes effect on the next invoke, no restart.

As ``sam sync --watch`` or LocalStack's hot reload: fix a bug, then ``snacks dlq replay`` the order
it failed. The stack runs a copy of ``lambdas/`` (never the repository's own files) and the test
edits the copy. Figures printed are measured on this run.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

from snacks import operations
from snacks.aws import Aws
from stacks import definitions

PROCESSOR = Path("order_service") / "handlers" / "order_processor.py"
FULFIL = "def _fulfil(request: StepRequest) -> dict[str, Any]:\n"
BUG = FULFIL + '    raise RuntimeError("planted bug: fulfil always fails")\n'
ORDER = {
    "customerName": "Hot Reload",
    "snackItems": [{"name": "Pretzels", "quantity": 1, "price": 1}],
    "totalAmount": 1,
}


def test_fix_the_bug_then_replay_the_dead_letter_without_restarting(tmp_path: Path) -> None:
    from snacks.local import LocalStack

    code = tmp_path / "lambdas"
    shutil.copytree(definitions.LAMBDA_ASSET_DIR, code, ignore=shutil.ignore_patterns("__pycache__"))
    source = code / PROCESSOR
    fixed = source.read_text()
    assert FULFIL in fixed
    source.write_text(fixed.replace(FULFIL, BUG))
    modules_before = {name: module for name, module in sys.modules.items() if name.startswith("order_service")}

    with LocalStack(port=0, code_dir=code, virtual_time=True) as stack:
        aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
        order_id = operations.invoke_creator(aws, ORDER)["orderId"]
        failed = operations.wait_for_final(aws, order_id, timeout=30)
        assert failed is not None and failed.status.value == "FAILED"
        assert failed.failure is not None and failed.failure.get("error") == "RuntimeError"

        edited = time.perf_counter()
        source.write_text(fixed)  # the fix
        outcomes = operations.replay_dead_letters(aws, order_id, dry_run=False)
        assert [outcome.outcome for outcome in outcomes] == ["replayed"], outcomes
        processed = operations.wait_for_final(aws, order_id, timeout=30)
        round_trip = time.perf_counter() - edited
        assert processed is not None and processed.status.value == "PROCESSED"
        assert stack.health()["codeReloads"] == 1
        print(f"\nhot reload: edit -> replayed order PROCESSED in {round_trip * 1000:.0f} ms (no restart)")

    # The process's own modules are back once the stack stops.
    assert {n: m for n, m in sys.modules.items() if n.startswith("order_service")} == modules_before


def test_no_edit_no_reload(tmp_path: Path) -> None:
    """Without an edit nothing is re-imported: each function keeps its warm environment."""
    from snacks.local import LocalStack

    with LocalStack(port=0, virtual_time=True) as stack:
        client: Any = stack.client("lambda")
        for _ in range(3):
            client.invoke(FunctionName=definitions.ORDER_CREATOR, Payload=b"{}")
        assert stack.health()["codeReloads"] == 0
