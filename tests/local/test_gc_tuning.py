"""``gc_tuning.survivors_of_full_collections_frozen``: what a full collection keeps is frozen, garbage is not.

No timings here (the benchmark measures the pauses): these pin the mechanism the flat pauses rest on.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

from snacks.local.gc_tuning import survivors_of_full_collections_frozen


class _Node:
    def __init__(self) -> None:
        self.me: Any = self  # a reference cycle: only the cyclic collector can free it


def test_a_full_collection_frees_cyclic_garbage_then_freezes_what_is_alive() -> None:
    gc.unfreeze()
    with survivors_of_full_collections_frozen():
        garbage = _Node()
        dropped = weakref.ref(garbage)
        del garbage
        history = [_Node() for _ in range(100)]
        gc.collect()
        assert dropped() is None, "garbage present at the full collection must be collected, not frozen"
        assert gc.get_freeze_count() >= len(history), "what survived the full collection is frozen"
        frozen = gc.get_freeze_count()
        gc.collect(1)  # younger generations: no freeze
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0, "stopping hands everything back to the collector"
    assert _freeze_callbacks() == 0


def test_objects_frozen_while_the_stack_ran_are_collected_again_after_it_stops() -> None:
    gc.unfreeze()
    with survivors_of_full_collections_frozen():
        kept = _Node()
        survivor = weakref.ref(kept)
        gc.collect()
        del kept  # garbage now, but frozen: the cyclic collector no longer looks at it
        gc.collect()
        assert survivor() is not None
    gc.collect()
    assert survivor() is None


def _freeze_callbacks() -> int:
    return sum(1 for callback in gc.callbacks if getattr(callback, "__module__", "") == "snacks.local.gc_tuning")
