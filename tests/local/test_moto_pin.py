"""The local stack patches moto's internals: the pin must be exact, and each patch must still find its target."""

from __future__ import annotations

import inspect
import re
import tomllib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import moto
import pytest

from snacks.local import moto_tuning
from stacks import definitions


def _patches() -> dict[str, Callable[[], AbstractContextManager[None]]]:
    """Every patch of moto_tuning: its module-level context managers, ``patched`` itself aside."""
    return {
        name: function
        for name, function in inspect.getmembers(moto_tuning, inspect.isfunction)
        if function.__module__ == moto_tuning.__name__
        and name != "patched"
        and hasattr(function, "__wrapped__")
        and not inspect.signature(function).parameters
    }


def test_moto_is_pinned_exactly_to_the_version_the_patches_were_written_for() -> None:
    project = tomllib.loads((definitions.REPO_ROOT / "pyproject.toml").read_text())["project"]
    specs = [spec for group in project["optional-dependencies"].values() for spec in group if spec.startswith("moto")]
    (spec,) = specs
    pinned = re.fullmatch(r"moto\[[^\]]*\]==(\S+)", spec)
    assert pinned, f"moto must be pinned with == (the patches depend on its internals), got {spec!r}"
    assert moto.__version__ == pinned.group(1)


def test_there_are_patches_to_check() -> None:
    assert len(_patches()) >= 10, sorted(_patches())


@pytest.mark.parametrize("name", sorted(_patches()))
def test_each_patch_applies_and_reverts(name: str) -> None:
    """Fails naming the patch (MotoInternalsMoved) when moto moved what it replaces."""
    patch = _patches()[name]
    with patch():
        pass


def test_a_moved_target_fails_loudly_with_the_patch_named() -> None:
    class MotoClassWithoutTheMethod:
        pass

    moved = moto_tuning.patched(MotoClassWithoutTheMethod, "call_action", lambda: None)
    with pytest.raises(moto_tuning.MotoInternalsMoved, match=r"MotoClassWithoutTheMethod\.call_action.*moto_tuning"):
        moved.__enter__()


def _unused(_: Any) -> None: ...
