"""Engines and migrations: SQLite (WAL) embedded by default, PostgreSQL for shared deployments.

Migrations run programmatically (``migrate``) on startup or by ``creditgate serve`` before it
forks workers, so nobody has to remember an ``alembic upgrade`` step.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Row, Table, create_engine, event, select


def make_engine(url: str) -> Engine:
    """An engine with the pragmas that make SQLite safe under concurrent writers."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses nothing
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("creditgate.store") / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def rows_by_seq(engine: Engine, table: Table, batch: int = 2000) -> Iterator[Row[Any]]:
    """Every row of a chained table in ``seq`` order, ``batch`` rows a query (a chain can be
    longer than memory)."""
    with engine.connect() as conn:
        last = 0
        while True:
            chunk = conn.execute(
                select(table).where(table.c.seq > last).order_by(table.c.seq).limit(batch)
            ).all()
            if not chunk:
                return
            yield from chunk
            last = chunk[-1].seq
