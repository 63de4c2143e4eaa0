"""The service's CLI pieces: user tokens, demo --serve wiring."""

from __future__ import annotations

from typer.testing import CliRunner

from creditgate.cli.main import app as cli
from creditgate.cli.serve import serve_demo
from creditgate.service.security import check_user_token

runner = CliRunner()


def test_token_user_prints_a_token_that_verifies(monkeypatch) -> None:
    monkeypatch.setenv("CREDITGATE_SECRET", "cli-secret")
    result = runner.invoke(cli, ["token", "user", "alice", "--ttl", "60"])
    assert result.exit_code == 0, result.output
    assert check_user_token(b"cli-secret", result.stdout.strip()).user_id == "alice"


def test_token_user_without_secret_is_bad_input(monkeypatch) -> None:
    monkeypatch.delenv("CREDITGATE_SECRET", raising=False)
    assert runner.invoke(cli, ["token", "user", "alice"]).exit_code == 2


def test_demo_has_a_serve_option_and_serve_demo_is_exposed() -> None:
    result = runner.invoke(cli, ["demo", "--help"])
    assert "--serve" in result.output
    assert callable(serve_demo)
