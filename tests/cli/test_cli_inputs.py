"""Issue 13 at the command line: the as-of window, user ids, the CN lint."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from creditgate.cli.main import app
from strategies import strong_profile
from unsafe_policy import unsafe_cn_policy

runner = CliRunner()


@pytest.mark.parametrize("as_of", ["2099-01-01", "1999-12-31"])
@pytest.mark.parametrize("command", ["decide", "batch"])
def test_as_of_outside_the_window_exits_2(tmp_path: Path, command: str, as_of: str) -> None:
    source = tmp_path / "in.json"
    source.write_text("{}", encoding="utf-8")
    args = [command, str(source), "--as-of", as_of]
    if command == "batch":
        args += ["--out", str(tmp_path / "out.parquet")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "must lie between 2000-01-01" in result.output and as_of not in result.output


@pytest.mark.parametrize("user_id", ["user ", "user\u200b", "us\x07er", "u" * 65])
def test_token_for_a_bad_user_id_exits_2(monkeypatch: pytest.MonkeyPatch, user_id: str) -> None:
    monkeypatch.setenv("CREDITGATE_SECRET", "cli-secret")
    result = runner.invoke(app, ["token", "user", user_id])
    assert result.exit_code == 2 and "user id must" in result.output


def test_decide_refuses_a_bad_user_id(tmp_path: Path) -> None:
    import json

    source = tmp_path / "p.json"
    profile = strong_profile(user_id="user\u200b")
    source.write_text(json.dumps(profile, default=str), encoding="utf-8")
    result = runner.invoke(app, ["decide", str(source), "--as-of", "2026-11-28"])
    assert result.exit_code == 2 and "user_id: user id must" in result.output


def test_policy_lint_refuses_the_unsafe_cn_policy(tmp_path: Path) -> None:
    path = tmp_path / "unsafe.yaml"
    path.write_text(unsafe_cn_policy(), encoding="utf-8")
    result = runner.invoke(app, ["policy", "lint", str(path)])
    assert result.exit_code == 1
    assert "CN_MANDATORY" in result.output and "CN_CUTOFF" in result.output
