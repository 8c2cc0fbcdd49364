"""What a new user meets first: help text, the `snacks local` banner, a clean install."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from snacks.cli import build_parser

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("command", "defaults"),
    [
        ([], []),
        (["local"], ["(default: 4566)", "(default: 127.0.0.1)", "(default: 4567)"]),
        (["console"], ["(default: 4567)", "(default: 127.0.0.1)"]),
        (["orders", "create"], ["(default: 0"]),
        (["reconcile"], ["(default: 300)"]),
    ],
)
def test_help_has_no_markup_and_shows_defaults(
    capsys: pytest.CaptureFixture[str], command: list[str], defaults: list[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*command, "--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text and "usage: snacks" in text
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "--endpoint-url" in text and "--region" in text  # before or after the command
    for default in defaults:
        assert default in text, text


def test_the_local_banner_commands_work_pasted_into_a_fresh_shell(tmp_path: Path) -> None:
    """Every command the banner prints runs in `env -i bash` (no venv on PATH, no variables set)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "snacks.cli", "local", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )
    try:
        assert server.stdout is not None
        lines: list[str] = []
        while not lines or " trace " not in lines[-1]:
            line = server.stdout.readline()
            assert line, "".join(lines)
            lines.append(line.rstrip("\n"))
        commands = "\n".join(lines[lines.index("Try, in another terminal:") + 1 :])
        assert "<" not in commands, commands  # no placeholders to fill in
        script = tmp_path / "pasted.sh"
        script.write_text("set -e\n" + commands + "\n")
        pasted = subprocess.run(
            ["env", "-i", f"HOME={tmp_path}", "PATH=/usr/bin:/bin", "bash", str(script)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert pasted.returncode == 0, pasted.stdout + pasted.stderr
        assert '"statusCode": 201' in pasted.stdout and '"Items"' in pasted.stdout
        assert re.search(r"^\s+Validate\s", pasted.stdout, re.M), pasted.stdout
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)


def test_the_readme_exports_what_the_banner_exports() -> None:
    """One export line for the local stack: the README's is the banner's, switches included."""
    from snacks.cli import LOCAL_ENDPOINT, _banner, local_exports

    line = local_exports(LOCAL_ENDPOINT, "us-east-1")
    assert "AWS_DISABLE_HOST_PREFIX_INJECTION=true" in line and "DISABLE_DEPRECATION_NOTICE=true" in line
    assert f"\n{line}\n" in (REPO / "README.md").read_text()
    banner_exports = [text.strip() for text in _banner(LOCAL_ENDPOINT, "us-east-1").splitlines() if "export " in text]
    assert banner_exports == [line]


def test_the_bundled_aws_cli_has_no_logs_tail_as_the_readme_says() -> None:
    """The README's note beside the seed's `aws logs tail`: the AWS CLI v1 in .venv refuses it."""
    aws = Path(sys.executable).parent / "aws"
    if not aws.exists():
        pytest.skip(f"no AWS CLI beside {sys.executable}")
    done = subprocess.run([str(aws), "logs", "tail", "/aws/lambda/order-processor"], capture_output=True, text=True)
    assert done.returncode != 0 and "Invalid choice" in done.stderr, done.stderr
    readme = (REPO / "README.md").read_text()
    assert (
        "`aws logs tail`\nexists only in AWS CLI v2" in readme and "snacks logs tail order-processor --follow" in readme
    )


def test_building_the_package_prints_no_setuptools_licence_warning(tmp_path: Path) -> None:
    """`project.license` as a table is deprecated (setuptools >= 77, PEP 639): an SPDX string instead."""
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert build.returncode == 0, build.stdout + build.stderr
    output = build.stdout + build.stderr
    assert "project.license" not in output and "BuildBackendWarning" not in output, output
