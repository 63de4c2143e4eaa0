"""A throwaway PostgreSQL server for tests: initdb into a temp dir, start on a free loopback
port, stop at the end. initdb refuses to run as root, so as root it runs as ``nobody``."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], as_nobody: bool) -> None:
    if as_nobody:
        cmd = ["runuser", "-u", "nobody", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields ``postgresql://postgres@127.0.0.1:PORT/postgres``."""
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries")
    root = Path(tempfile.mkdtemp(prefix="creditgate-pg-"))
    as_nobody = os.geteuid() == 0
    if as_nobody:
        shutil.chown(root, "nobody")
    data, port = root / "data", free_port()
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            as_nobody,
        )
        opts = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-l",
                str(root / "log"),
                "-w",
                "start",
            ],
            as_nobody,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], as_nobody)
        shutil.rmtree(root, ignore_errors=True)
