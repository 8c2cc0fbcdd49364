"""Sections of benchmarks/results.md measured on their own (between BEGIN/END markers) and kept when
``make bench`` rewrites the file."""

from __future__ import annotations

from pathlib import Path


def kept_section(path: Path, begin: str, end: str) -> list[str]:
    """The marked section of the current results (with a blank line before it), or nothing."""
    text = path.read_text() if path.exists() else ""
    if begin not in text or end not in text:
        return []
    return ["", text[text.index(begin) : text.index(end) + len(end)]]


def write_section(path: Path, begin: str, end: str, section: str) -> None:
    """Replace the marked section of the results with ``section`` (appended if it is not there yet)."""
    current = path.read_text() if path.exists() else ""
    if begin in current and end in current:
        current = current[: current.index(begin)].rstrip("\n") + current[current.index(end) + len(end) :]
    path.write_text(current.rstrip("\n") + "\n\n" + section + "\n")
