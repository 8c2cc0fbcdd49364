"""``snacks orders watch ID``: follow one order until it settles, printing each status change and step.

Polls the order (DynamoDB) and its executions (the state machine's log group, as ``snacks trace``); an
Express execution has no DescribeExecution, so the log group is where its steps show up. Below
logging level ALL it says first what steps it cannot show (snacks.trace_coverage).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from order_service.domain.order import OrderStatus
from snacks import operations, trace_coverage
from snacks.aws import Aws
from snacks.errors import USER_MISTAKE, UserError

# Exit codes (documented in the command's help and the README).
EXIT_PROCESSED = 0
EXIT_FAILED = 1
EXIT_NOT_FULFILLED = 3  # REJECTED or CANCELLED: settled, but nothing was delivered
EXIT_TIMED_OUT = 4  # still NEW when the timeout passed
EXIT_NOT_FOUND = USER_MISTAKE  # 2: no such order (a mistyped id), as for every other command
EXIT_CODES = {
    OrderStatus.PROCESSED: EXIT_PROCESSED,
    OrderStatus.FAILED: EXIT_FAILED,
    OrderStatus.REJECTED: EXIT_NOT_FULFILLED,
    OrderStatus.CANCELLED: EXIT_NOT_FULFILLED,
}


def _now() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


def watch_order(
    aws: Aws,
    order_id: str,
    timeout: float,
    poll_seconds: float = 0.5,
    say: Callable[[str], None] = print,
) -> int:
    """Print every status change and every step the order's executions enter; return the exit code."""
    from snacks.console.executions import ExecutionFinder

    finder = ExecutionFinder(aws)
    level = trace_coverage.workflow_log_level(aws)
    note = trace_coverage.coverage_note(level)
    if note:
        say(f"{_now()}  {note}")
    seen_steps: set[tuple[str, int]] = set()
    status: OrderStatus | None = None
    deadline = time.monotonic() + timeout

    def report_steps() -> None:
        if not trace_coverage.records_history(level):
            return
        for execution in finder.for_order(order_id):
            for index, state in enumerate(execution["states"]):
                key = (str(execution["executionArn"]), index)
                if key not in seen_steps:
                    seen_steps.add(key)
                    say(f"{_now()}  step   {state['name']} ({state['outcome']})  [{execution['name'][:8]}]")

    while True:
        order = operations.get_order(aws, order_id)
        if order is None:  # orders are never deleted: the id is wrong (exit 2, one line on stderr)
            raise UserError(f"order {order_id} not found; `snacks orders list` shows the orders there are")
        # == rather than `is`: the local stack may load the domain module afresh (hot reload).
        if order.status != status:
            status = order.status
            reason = ""
            if order.rejection:
                reason = f"  ({order.rejection.get('reason')})"
            elif order.failure and status == OrderStatus.FAILED:
                reason = f"  ({order.failure.get('step')}: {order.failure.get('error')})"
            say(f"{_now()}  status {status.value}{reason}")
        report_steps()
        if status != OrderStatus.NEW:
            return EXIT_CODES[status]
        if time.monotonic() >= deadline:
            say(f"{_now()}  still NEW after {timeout:g} s; `snacks trace {order_id}` shows where it is")
            return EXIT_TIMED_OUT
        time.sleep(poll_seconds)
