"""Full garbage collections that cost what is new, not what the local stack has accumulated.

The stack keeps every order, execution, history event and log line it has seen (moto keeps them,
as AWS does): about 450 objects per order, millions after a soak. CPython's full collection walks
every tracked object, so each one grows with history: over a second, holding the GIL, at 10,000
orders, which every request in flight waits for. What survives a full collection is, at that
moment, all live; almost all of it is history that stays live. Freezing the survivors
(``gc.freeze``) moves them out of later collections, so each full collection walks only what came
since the last one. Cyclic garbage made of objects that were alive at a freeze is not collected
(reference counting still frees everything else): a local dev stack trades those few bytes for flat
pauses. Undone on stop: ``gc.unfreeze`` hands everything back to the collector.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


@contextmanager
def survivors_of_full_collections_frozen() -> Iterator[None]:
    # What exists at start (imported modules, botocore's models: most of the heap) stays too:
    # frozen now, rather than walked by the first full collections.
    gc.freeze()
    gc.callbacks.append(_freeze_survivors)
    try:
        yield
    finally:
        gc.callbacks.remove(_freeze_survivors)
        gc.unfreeze()
