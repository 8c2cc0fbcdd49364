"""`snacks iam report`, `/_snacks/iam`, and the one-line answers when there is no template to enforce."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from snacks import cli, operations
from snacks.aws import Aws
from snacks.local import LocalStack, template_source
from snacks.local.stack import StartupError

ORDER = {"customerName": "Ada", "snackItems": [{"name": "Chips", "quantity": 1, "price": 2.5}], "totalAmount": 2.5}


def test_the_report_lists_per_principal_what_was_granted_and_what_was_used(capsys: pytest.CaptureFixture[str]) -> None:
    with LocalStack(port=0, virtual_time=True) as stack:
        aws = Aws(endpoint_url=stack.endpoint_url, region=stack.region)
        operations.invoke_creator(aws, ORDER)
        stack.wait_until_idle()
        with urllib.request.urlopen(f"{stack.endpoint_url}/_snacks/iam") as reply:
            usage = json.loads(reply.read())
        assert stack.iam is not None
        creator = stack.iam.store.role_arn_of(function=aws.names.order_creator)
        assert creator is not None
        assert "events:PutEvents" in usage["principals"][creator]["used"]
        assert "events:PutEvents" in usage["principals"][creator]["granted"]
        assert cli.main(["iam", "report", "--endpoint-url", stack.endpoint_url]) == 0
    out = capsys.readouterr().out
    assert creator in out
    assert any("events:PutEvents" in line and line.rstrip().endswith("used") for line in out.splitlines())
    assert "NEVER USED" in out  # e.g. the canceller's grants: nothing cancelled in this run
    assert "grant(s) never used" in out


def test_without_node_the_start_says_how_to_run_without_enforcement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(template_source.CACHE_DIR_VARIABLE, str(tmp_path))  # nothing cached
    monkeypatch.setattr(template_source.shutil, "which", lambda _: None)
    with pytest.raises(StartupError) as raised, LocalStack(port=0):
        pass
    message = str(raised.value)
    assert "\n" not in message and "--iam off" in message and "--template" in message


def test_a_template_that_is_not_a_template_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text("[]")
    with (
        pytest.raises(StartupError, match="not a CloudFormation template") as raised,
        LocalStack(port=0, template=path),
    ):
        pass
    assert "\n" not in str(raised.value)


def test_with_iam_off_no_template_is_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(template_source.shutil, "which", lambda _: None)
    monkeypatch.setenv(template_source.CACHE_DIR_VARIABLE, str(tmp_path))
    with LocalStack(port=0, iam="off", virtual_time=True) as stack:
        assert stack.iam is None and stack.health()["iam"] == "off"
