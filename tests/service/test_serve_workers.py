"""``serve --workers N``: each worker listens on its own SO_REUSEPORT socket."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from creditgate.cli.serve import PerWorkerListener, reuse_port_socket
from pgserver import free_port

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT")


def test_each_worker_unpickles_a_listening_socket_of_its_own() -> None:
    port = free_port()
    probe = reuse_port_socket("127.0.0.1", port)  # the parent's: bound, not listening
    listener = PerWorkerListener("127.0.0.1", port, 128)
    assert list(listener) == []  # the parent holds no listening socket
    first, second = pickle.loads(pickle.dumps(listener)), pickle.loads(pickle.dumps(listener))
    try:
        assert len(first) == len(second) == 1
        assert first[0].fileno() != second[0].fileno()
        for sock in (first[0], second[0]):
            assert sock.getsockname() == ("127.0.0.1", port)
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # accepted by one of the two listeners, never by the probe
    finally:
        for sock in (*first, *second, probe):
            sock.close()


def test_a_taken_port_fails_in_the_parent() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            reuse_port_socket("127.0.0.1", taken.getsockname()[1]).close()


def test_serve_with_two_workers_answers(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {"CREDITGATE_TOKENS": "service:svc-token-123", "CREDITGATE_SECRET": "x"}
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "creditgate.cli.main", "serve", "--workers", "2"]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--db", f"sqlite:///{tmp_path}/c.db"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline, answered = time.monotonic() + 60, 0
        while time.monotonic() < deadline and answered < 20:
            try:  # a new connection each time: both workers' sockets get some
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                answered += r.status_code == 200
            except httpx.HTTPError:
                time.sleep(0.1)
            assert proc.poll() is None, log.read_text()
        assert answered == 20, log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
