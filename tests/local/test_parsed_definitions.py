"""``moto_tuning.parsed_definitions_cached``: one ASL parse per definition, also when executions start together.

The bench's clients start eight executions at once; each parse takes ~100 ms of CPU, so a cache
that let every concurrent first execution parse for itself cost the stack over a second per run.
"""

from __future__ import annotations

import threading
import time
import types
from typing import Any

import pytest

from snacks.local.moto_tuning import parsed_definitions_cached


def _worker(definition: str) -> Any:
    details = types.SimpleNamespace(state_machine_details=types.SimpleNamespace(definition=definition))
    return types.SimpleNamespace(_evaluation_details=details)


def test_executions_starting_together_share_one_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    parses: list[str] = []

    def slow_parse(definition: str) -> tuple[Any, Any]:
        parses.append(definition)
        time.sleep(0.05)  # long enough for the other threads to arrive while the first parses
        return (f"program of {definition}", None)

    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(slow_parse))
    programs: list[Any] = []
    with parsed_definitions_cached():
        entrypoint = ExecutionWorker._get_evaluation_entrypoint
        threads = [
            threading.Thread(target=lambda: programs.append(entrypoint(_worker('{"StartAt": "A"}'))))  # type: ignore[arg-type]
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        programs.append(entrypoint(_worker('{"StartAt": "B"}')))  # type: ignore[arg-type]
    assert parses == ['{"StartAt": "A"}', '{"StartAt": "B"}']
    assert programs == ['program of {"StartAt": "A"}'] * 8 + ['program of {"StartAt": "B"}']
