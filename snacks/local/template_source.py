"""The synthesized CloudFormation template the local stack takes its permissions from.

``cdk synth`` of the same app and stage (``-c stage=``, ``-c workflowLogLevel=``), cached under
``.snacks-cache/templates/`` by a hash of what the template is made from, so a restart (and every
test worker after the first) reads a file instead of running Node for seconds. A lock file keeps
concurrent processes (pytest-xdist workers) from synthesizing the same template twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stacks import definitions

CACHE_DIR_VARIABLE = "SNACKS_CACHE_DIR"
# What the template is made from. lambdas/ is left out on purpose: the code changes only the
# asset's hash in the template, never a policy, and hashing it would re-synthesize on every edit.
INPUTS = ("app.py", "cdk.json", "package-lock.json", "stacks", "statemachines")
SYNTH_TIMEOUT_SECONDS = 300


class TemplateUnavailable(RuntimeError):
    """No template and no way to synthesize one: one line saying what to do."""


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_DIR_VARIABLE) or definitions.REPO_ROOT / ".snacks-cache") / "templates"


def _input_files(root: Path) -> Iterator[Path]:
    for name in INPUTS:
        path = root / name
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        elif path.is_file():
            yield path


def inputs_hash(stage: str | None, workflow_log_level: str | None, root: Path = definitions.REPO_ROOT) -> str:
    digest = hashlib.sha256(json.dumps([stage, workflow_log_level]).encode())
    for path in _input_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def context_arguments(stage: str | None, workflow_log_level: str | None) -> list[str]:
    # The local stack always serves the storefront's APIs (snacks/local/storefront.py), so the template
    # its permissions come from has the storefront's functions and roles (opt-in on AWS: -c storefront=true).
    arguments: list[str] = ["-c", "storefront=true"]
    if stage:
        arguments += ["-c", f"stage={stage}"]
    if workflow_log_level:
        arguments += ["-c", f"workflowLogLevel={workflow_log_level}"]
    return arguments


def synthesized_template(stage: str | None = None, workflow_log_level: str | None = None) -> Path:
    """The template ``cdk synth`` produces for this stage, from the cache or synthesized now."""
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    key = inputs_hash(stage, workflow_log_level)
    target = directory / f"{definitions.resource_names(stage).stack}-{key}.template.json"
    if target.exists():
        return target
    with open(directory / f".{target.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be synthesizing this very template
        if not target.exists():
            _synthesize_into(target, stage, workflow_log_level)
    return target


def _synthesize_into(target: Path, stage: str | None, workflow_log_level: str | None) -> None:
    npx = shutil.which("npx")
    if npx is None:
        raise TemplateUnavailable(
            "no Node.js (npx) to synthesize the template the local stack's permissions come from: "
            "install Node, pass --template FILE (from `make synth`), or run with --iam off"
        )
    root = definitions.REPO_ROOT
    with tempfile.TemporaryDirectory(prefix="snacks-synth-") as outdir:
        # `cdk synth` runs `python3 app.py` (cdk.json): the venv's Python first, as the Makefile does.
        environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        environment.setdefault("CDK_DISABLE_VERSION_CHECK", "1")
        command = [npx, "cdk", "synth", "--quiet", "--output", outdir, *context_arguments(stage, workflow_log_level)]
        done = subprocess.run(
            command,
            cwd=root,
            env=environment,
            capture_output=True,
            text=True,
            timeout=SYNTH_TIMEOUT_SECONDS,
            check=False,
        )
        produced = Path(outdir) / f"{definitions.resource_names(stage).stack}.template.json"
        if done.returncode != 0 or not produced.exists():
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise TemplateUnavailable(f"`cdk synth` failed ({' '.join(command[1:])}): {last[0]}")
        partial = target.with_suffix(".partial")
        shutil.copyfile(produced, partial)
        partial.replace(target)  # readers see the whole file or none


def load_template(path: Path) -> dict[str, Any]:
    try:
        template = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise TemplateUnavailable(f"cannot read the template {path}: {error}") from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateUnavailable(f"{path} is not a CloudFormation template (no Resources)")
    return template
