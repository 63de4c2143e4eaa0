"""A standalone Spark cluster on loopback for tests and benchmarks: one master, one worker,
started from the installed ``pyspark`` (its ``bin/spark-class``) and stopped by PID.

Everything binds to 127.0.0.1 (``SPARK_LOCAL_IP``) on free ports; the worker is small (one
core, 1 GB by default). The master's REST submission server is off (its fixed port 6066 would
collide between runs). Logs and the worker's directory live in ``root``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).parent
NO_PYTHON = "/nonexistent/python3"  # the executors' Python in tests: the program never needs it
STARTUP_SECONDS = 120  # a JVM start on a loaded two-core machine takes 20-30 s


@dataclass(frozen=True)
class Cluster:
    """A running cluster: its master URL and the environment its daemons were started with."""

    master_url: str
    env: Mapping[str, str]
    root: Path

    @property
    def spark_submit(self) -> Path:
        return SPARK_HOME / "bin" / "spark-submit"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def daemon_env(root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SPARK_HOME=str(SPARK_HOME),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_LOG_DIR=str(root / "logs"),
        SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false",
        SPARK_NO_DAEMONIZE="1",
    )
    env.update(extra or {})
    return env


def start(name: str, args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as f:
        return subprocess.Popen(
            [str(SPARK_HOME / "bin" / "spark-class"), name, *args],
            env=dict(env),
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its JVM child
        )


def wait_for(proc: subprocess.Popen[bytes], log: Path, pattern: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if re.search(pattern, log.read_text(errors="replace")):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{log.name}: exited {proc.returncode}:\n{log.read_text()[-2000:]}")
        time.sleep(0.25)
    raise RuntimeError(f"{log.name}: not ready after {STARTUP_SECONDS} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the daemon's process group (spark-class execs the JVM), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


@contextmanager
def standalone_cluster(
    root: Path, cores: int = 1, memory: str = "1g", worker_env: Mapping[str, str] | None = None
) -> Iterator[Cluster]:
    """A master and one worker, ready (the worker registered) when entered, stopped on exit.

    ``worker_env``: extra environment of the worker (a test gives it a ``PYSPARK_PYTHON``
    that does not exist: the program must run without Python on the executors).
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "logs").mkdir(exist_ok=True)
    env = daemon_env(root)
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        master_log = root / "master.log"
        master_args = ["--host", "127.0.0.1", "--port", str(port), "--webui-port", "0"]
        master = start("org.apache.spark.deploy.master.Master", master_args, env, master_log)
        procs.append(master)
        wait_for(master, master_log, r"I have been elected leader")
        worker_log = root / "worker.log"
        worker_args = [
            "--host", "127.0.0.1", "--cores", str(cores), "--memory", memory,
            "--webui-port", "0", "--work-dir", str(root / "work"), url,
        ]  # fmt: skip
        worker = start(
            "org.apache.spark.deploy.worker.Worker",
            worker_args,
            daemon_env(root, worker_env),
            worker_log,
        )
        procs.append(worker)
        wait_for(worker, worker_log, r"Successfully registered with master")
        yield Cluster(url, env, root)
    finally:
        for proc in reversed(procs):
            stop(proc)
