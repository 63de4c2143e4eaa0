"""``creditgate demo`` settles its port before it starts: a taken ``--port`` stops it at once
in one line (nothing else printed, exit 2), and a taken default gives way to a free port."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from creditgate.cli import demo
from creditgate.cli.main import app

runner = CliRunner()


@pytest.fixture
def taken() -> Iterator[int]:
    """A port on 127.0.0.1 that a listening socket holds."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_a_taken_port_stops_the_demo_before_anything_runs(taken: int) -> None:
    result = runner.invoke(app, ["demo", "--examples-only", "--port", str(taken)])
    assert result.exit_code == 2
    assert result.stdout == ""  # no example, no token, no curl line
    assert result.stderr.strip() == (
        f"error: port {taken} on 127.0.0.1 is in use: pass another --port, or --no-serve"
    )


def test_without_port_a_taken_default_gives_way_to_a_free_one(
    taken: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "DEMO_PORT", taken)
    chosen = demo.demo_port("127.0.0.1", None)
    assert chosen != taken and demo.port_free("127.0.0.1", chosen)
    assert demo.demo_port("127.0.0.1", chosen) == chosen
