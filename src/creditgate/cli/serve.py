"""``creditgate serve``: migrate once, then run uvicorn (optionally several workers).

Workers are separate processes and read their settings from ``CREDITGATE_*`` variables, so
this command writes its options into the environment before starting them.

With several workers on Linux each worker listens on its own ``SO_REUSEPORT`` socket, so the
kernel spreads connections over the workers. uvicorn's default (one listening socket shared by
all workers) lets whichever worker wakes first accept every pending connection: in load tests
the 16 keep-alive connections split 16/0 in some runs (one worker idle) and 10/6 in others,
and decisions/s and p99 moved with the split. A crashed worker's queued connections are lost
with its socket (as with any per-worker listener); its replacement listens anew.

Every process logs JSON lines on stderr (``service/logs.py``) at ``CREDITGATE_LOG_LEVEL``; the
logging configuration goes to uvicorn, which applies it in each worker.
"""

from __future__ import annotations

import logging.config
import os
import secrets
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from uvicorn.supervisors import Multiprocess

from creditgate.cli.common import err, fail, out
from creditgate.service.logs import logging_config
from creditgate.service.ops import bootstrap
from creditgate.service.pairing import PairingError
from creditgate.service.security import issue_user_token
from creditgate.service.settings import Settings
from creditgate.service.web.links import issue_link, link_url
from creditgate.snapshot import SnapshotError

APP = "creditgate.service.app:app_from_env"


def _run(host: str, port: int, workers: int) -> None:
    settings = Settings()
    try:
        log_config = logging_config(settings.log_level)
    except ValueError as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    logging.config.dictConfig(log_config)  # this process; uvicorn applies it in each worker
    try:
        bootstrap(settings)
    except SnapshotError as exc:  # --snapshot: not a regular snapshot file, or the database
        fail(f"--snapshot {settings.snapshot_path}: {exc}")
    except PairingError as exc:  # --policy/--snapshot not made for each other
        fail(str(exc))
    os.environ["CREDITGATE_MIGRATE"] = "false"
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "access_log": False,  # the app writes its own, without raw user ids
        "log_config": log_config,
        "log_level": settings.log_level.strip().lower(),
        "timeout_graceful_shutdown": 5,
        # a spawned worker first re-imports the CLI (5-7 s on a busy 2-core host) before it
        # answers the supervisor's ping; at uvicorn's 5 s it is killed and respawned forever
        "timeout_worker_healthcheck": 30,
    }
    if workers > 1 and port != 0 and hasattr(socket, "SO_REUSEPORT"):
        config = uvicorn.Config(APP, **options)
        probe = reuse_port_socket(host, port)  # fails here, once, if the port is taken
        try:
            Multiprocess(config, sockets=PerWorkerListener(host, port, config.backlog)).run()
        finally:
            probe.close()
    else:
        uvicorn.run(APP, **options)


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound with ``SO_REUSEPORT`` (not yet listening)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def listen_reuse_port(host: str, port: int, backlog: int) -> list[socket.socket]:
    """In a worker: its own listening socket on the shared port."""
    sock = reuse_port_socket(host, port)
    sock.listen(backlog)
    return [sock]


class PerWorkerListener(list[socket.socket]):
    """The ``sockets`` handed to uvicorn's worker supervisor: empty in the parent; each worker
    unpickles it (spawn) into a socket of its own, bound with ``SO_REUSEPORT`` to the same
    address. A bound but non-listening probe in the parent keeps the port and receives
    nothing (the kernel hands connections to listening sockets only)."""

    def __init__(self, host: str, port: int, backlog: int) -> None:
        super().__init__()
        self.address = (host, port, backlog)

    def __reduce__(self) -> tuple[Any, tuple[str, int, int]]:
        return listen_reuse_port, self.address


def _environment(db: str, policy: Path | None, snapshot: Path | None) -> None:
    os.environ["CREDITGATE_DB_URL"] = db
    if policy is not None:
        os.environ["CREDITGATE_POLICY_PATH"] = str(policy)
    if snapshot is not None:
        os.environ["CREDITGATE_SNAPSHOT_PATH"] = str(snapshot)
    if not os.environ.get("CREDITGATE_SECRET"):
        os.environ["CREDITGATE_SECRET"] = secrets.token_hex(32)
        err.print("CREDITGATE_SECRET unset: using a random one (user tokens end with this run)")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    db: Annotated[str, typer.Option("--db", help="Database URL.")] = "sqlite:///creditgate.db",
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.", min=1)] = 1,
    policy: Annotated[Path | None, typer.Option(help="Policy YAML to activate.")] = None,
    snapshot: Annotated[
        Path | None,
        typer.Option(help="Whitelist snapshot to activate (copied into the snapshot directory)."),
    ] = None,
) -> None:
    """Run the decision service (tokens from CREDITGATE_TOKENS="name:role:token,...")."""
    _environment(db, policy, snapshot)
    if not os.environ.get("CREDITGATE_TOKENS"):
        err.print("CREDITGATE_TOKENS unset: only user tokens will be accepted")
    _run(host, port, workers)


def serve_demo(
    db_url: str,
    policy_path: Path | None,
    snapshot_path: Path | None,
    host: str,
    port: int,
    page_users: dict[str, str] | None = None,
) -> None:
    """Serve for the demo: fresh tokens, printed URLs, one worker, until Ctrl-C. The policy
    is the one the batch cut the snapshot with (``--policy``, else the default);
    ``page_users`` (label -> user id) get a one-time self-check link each (valid an hour)."""
    _environment(db_url, policy_path, snapshot_path)
    admin, operator, service = (secrets.token_urlsafe(16) for _ in range(3))
    os.environ.setdefault(
        "CREDITGATE_TOKENS",
        f"demo-admin:admin:{admin},demo-operator:operator:{operator},"
        f"demo-service:service:{service}",
    )
    os.environ.setdefault("CREDITGATE_PUBLIC_DOCS", "true")  # the demo prints the docs URLs
    # the entry lookup for a user of the batch (an example profile is not in the population:
    # its entry stays hidden, "not assessed", until a real-time decision is taken for it)
    looked_up = (page_users or {}).get("invited", "demo-strong")
    user = issue_user_token(os.environ["CREDITGATE_SECRET"].encode(), looked_up, 3600)
    base = f"http://{host}:{port}"
    secret = os.environ["CREDITGATE_SECRET"].encode()
    links = "".join(
        f"  self-check    {label}: {link_url(base, issue_link(secret, uid, 3600))}\n"
        for label, uid in (page_users or {"demo-strong": "demo-strong"}).items()
    )
    out.print(
        f"\n[bold]creditgate service[/] on {base}  (database {db_url})\n"
        f"  API docs      {base}/docs\n  OpenAPI       {base}/openapi.json\n"
        f"  health        {base}/healthz\n{links}"
        f"  console       {base}/console   (sign in with the admin or operator token below)\n"
        f"  admin token   {admin}   (approves what an operator proposes: four eyes)\n"
        f"  operator token {operator}\n  service token {service}\n"
        f"  try: curl -H 'Authorization: Bearer {admin}' {base}/v1/admin/policies\n"
        f"       curl -H 'Authorization: Bearer {user}' {base}/v1/users/{looked_up}/entry\n"
        "Ctrl-C stops the server.",
        soft_wrap=True,
    )
    _run(host, port, 1)
