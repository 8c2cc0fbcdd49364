"""`snacks console` and `snacks local --console` as typed in a terminal (separate processes)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def launch(started: list[subprocess.Popen[str]], *argv: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "snacks.cli", *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    started.append(process)
    return process


def read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    while not any(marker in line for line in lines):
        line = process.stdout.readline()
        assert line, "exited early:\n" + "".join(lines)
        lines.append(line)
    return lines


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return str(response.read().decode())


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    return output


def test_snacks_console_serves_the_stack_it_is_pointed_at(stack: Any, started: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    console = launch(started, "console", "--endpoint-url", stack.endpoint_url, "--port", str(port))
    (line,) = read_until(console, "Ctrl-C")
    assert f"snacks console on http://127.0.0.1:{port} (read-write), reading {stack.endpoint_url}" in line
    assert "<h1>Orders</h1>" in get(f"http://127.0.0.1:{port}/orders")
    stop(console)


def test_snacks_local_with_console_prints_its_url_and_serves_it(started: list[subprocess.Popen[str]]) -> None:
    stack_port, console_port = free_port(), free_port()
    local = launch(started, "local", "--port", str(stack_port), "--console", "--console-port", str(console_port))
    lines = read_until(local, "Console:")
    assert lines[-1].strip() == f"Console: http://127.0.0.1:{console_port}"
    assert "Dead letters" in get(f"http://127.0.0.1:{console_port}/dlq")
    assert "stopping" in stop(local)


def test_snacks_console_with_nothing_listening_says_so_in_one_line() -> None:
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "snacks.cli", "console", "--endpoint-url", f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"snacks: nothing is listening at http://127.0.0.1:{port}: start it with `snacks local`\n"


def test_a_busy_console_port_is_one_line_for_snacks_console_and_snacks_local(stack: Any) -> None:
    """As the stack's own busy port (tests/local/test_startup.py): one line naming the address, exit 1,
    not werkzeug's paragraph; `snacks local --console` stops the stack it had started."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for argv, says in (
            (["console", "--endpoint-url", stack.endpoint_url, "--port", str(port)], "snacks console: "),
            (["local", "--port", "0", "--console", "--console-port", str(port)], "snacks local: the console "),
        ):
            done = subprocess.run(
                [sys.executable, "-m", "snacks.cli", *argv], capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 1 and done.stdout == "", done.stdout
            assert done.stderr.count("\n") == 1, done.stderr
            assert done.stderr.startswith(f"{says}cannot listen on 127.0.0.1:{port}: Address already in use")
