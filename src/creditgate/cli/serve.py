"""``creditgate serve``: migrate once, then run uvicorn (optionally several workers).

Workers are separate processes and read their settings from ``CREDITGATE_*`` variables, so
this command writes its options into the environment before starting them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from creditgate.cli.common import err, out
from creditgate.service.ops import bootstrap
from creditgate.service.security import issue_user_token
from creditgate.service.settings import Settings

APP = "creditgate.service.app:app_from_env"


def _run(host: str, port: int, workers: int) -> None:
    settings = Settings()
    bootstrap(settings)
    os.environ["CREDITGATE_MIGRATE"] = "false"
    uvicorn.run(
        APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


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
    snapshot: Annotated[Path | None, typer.Option(help="Whitelist snapshot to activate.")] = None,
) -> None:
    """Run the decision service (tokens from CREDITGATE_TOKENS="role:token,...")."""
    _environment(db, policy, snapshot)
    if not os.environ.get("CREDITGATE_TOKENS"):
        err.print("CREDITGATE_TOKENS unset: only user tokens will be accepted")
    _run(host, port, workers)


def serve_demo(db_url: str, snapshot_path: Path | None, host: str, port: int) -> None:
    """Serve for the demo: fresh tokens, printed URLs, one worker, until Ctrl-C."""
    _environment(db_url, None, snapshot_path)
    admin, service = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    os.environ.setdefault("CREDITGATE_TOKENS", f"admin:{admin},service:{service}")
    user = issue_user_token(os.environ["CREDITGATE_SECRET"].encode(), "demo-strong", 3600)
    base = f"http://{host}:{port}"
    out.print(
        f"\n[bold]creditgate service[/] on {base}  (database {db_url})\n"
        f"  API docs      {base}/docs\n  OpenAPI       {base}/openapi.json\n"
        f"  health        {base}/healthz\n"
        f"  admin token   {admin}\n  service token {service}\n"
        f"  try: curl -H 'Authorization: Bearer {admin}' {base}/v1/admin/policies\n"
        f"       curl -H 'Authorization: Bearer {user}' {base}/v1/users/demo-strong/entry\n"
        "Ctrl-C stops the server.",
        soft_wrap=True,
    )
    _run(host, port, 1)
