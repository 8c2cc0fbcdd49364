"""Size of the Lambda asset as CDK ships it: the zipped ``lambdas/`` directory, without bytecode."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from stacks import definitions

EXCLUDED_PARTS = {"__pycache__"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}


def asset_files(root: Path = definitions.LAMBDA_ASSET_DIR) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and not EXCLUDED_PARTS & set(path.parts) and path.suffix not in EXCLUDED_SUFFIXES
    )


def zipped_size(root: Path = definitions.LAMBDA_ASSET_DIR) -> tuple[int, int, int]:
    """(zip bytes, raw bytes, file count) of the asset."""
    buffer = io.BytesIO()
    files = asset_files(root)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(root))
    return len(buffer.getvalue()), sum(path.stat().st_size for path in files), len(files)
