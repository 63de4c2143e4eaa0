"""Snapshot files (issue 13, findings 1 and 5): only regular files from the snapshot directory,
never the database, one refusal message, and a file swapped after registration never served."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_api import STRONG, decide, services
from typer.testing import CliRunner

from conftest import approved, auth, make_settings, write_snapshot_file
from creditgate.cli.main import app as cli
from creditgate.service.app import create_app
from creditgate.service.settings import Settings
from creditgate.service.snapshot_files import (
    REFUSED,
    SnapshotRefusedError,
    database_files,
    snapshot_directory,
)
from creditgate.store.repo import DecisionLog

write = write_snapshot_file


def load(client: TestClient, path: str) -> tuple[int, object]:
    r = client.post("/v1/admin/snapshots", json={"path": path}, headers=auth("operator"))
    return r.status_code, r.json()


def visible(client: TestClient, user: str) -> bool:
    r = client.get(f"/v1/users/{user}/entry", headers=auth("service"))
    assert r.status_code == 200, r.text
    return bool(r.json()["entry_visible"])


def refused_detail(client: TestClient, path: str) -> object:
    """The 422 detail for ``path``, with a time bound: a FIFO must not hang the request."""
    result: list[tuple[int, object]] = []
    worker = threading.Thread(target=lambda: result.append(load(client, path)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # unblock the reader so the session can end, then fail
        with suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"loading {path!r} did not return within 10 s")
    status, detail = result[0]
    assert status == 422, (path, detail)
    return detail


@pytest.fixture
def snapdir(tmp_path: Path) -> Path:
    return tmp_path / "snapshots"  # the client fixture's CREDITGATE_SNAPSHOT_DIR


def test_everything_but_a_regular_file_inside_is_refused_alike(
    client: TestClient, tmp_path: Path, snapdir: Path
) -> None:
    write(snapdir / "good.parquet", ["alice"])
    outside = write(tmp_path / "outside.parquet", ["mallory"])
    (snapdir / "sub").mkdir()
    os.mkfifo(snapdir / "pipe.parquet")
    (snapdir / "out-link.parquet").symlink_to(outside)
    (snapdir / "loop.parquet").symlink_to(snapdir / "loop.parquet")
    attempts = [
        str(snapdir / "pipe.parquet"),  # a FIFO: must not block the worker
        "pipe.parquet",
        "out-link.parquet",  # a symlink out of the directory
        "../outside.parquet",  # traversal
        "sub/../../outside.parquet",
        str(outside),  # absolute, outside
        "sub",  # a directory
        ".",
        str(snapdir),
        "nope.parquet",  # does not exist
        "loop.parquet",
        "/etc/passwd",
    ]
    details = [refused_detail(client, path) for path in attempts]
    expected = [{"loc": ["body", "path"], "msg": REFUSED, "type": "snapshot"}]
    assert [d for d in details if d != {"detail": expected}] == []
    assert services(client).catalog.snapshots() == []


def test_a_regular_snapshot_inside_loads_by_name_or_absolute_path(
    client: TestClient, snapdir: Path
) -> None:
    path = write(snapdir / "nested" / "good.parquet", ["alice"])
    (snapdir / "alias.parquet").symlink_to(path)  # a symlink that stays inside is followed
    for name in ("nested/good.parquet", str(path), "alias.parquet"):
        status, body = load(client, name)
        assert status == 201, body
        assert isinstance(body, dict) and body["path"] == str(path.resolve())
    sid = body["snapshot_id"]
    assert len(body["sha256"]) == 64 and body["sha256"].startswith(sid)
    approved(client, client.post(f"/v1/admin/snapshots/{sid}/activate", headers=auth("operator")))
    assert visible(client, "alice") and not visible(client, "bob")


def test_the_default_directory_is_beside_the_sqlite_database(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/db/creditgate.db")
    assert snapshot_directory(settings) == tmp_path / "db" / "snapshots"
    pg = make_settings("postgresql://u@localhost/x")
    assert snapshot_directory(pg) == Path.cwd() / "snapshots"
    assert snapshot_directory(make_settings("sqlite://")) == Path.cwd() / "snapshots"
    explicit = make_settings("postgresql://u@localhost/x", snapshot_dir=str(tmp_path / "s"))
    assert snapshot_directory(explicit) == tmp_path / "s"
    (tmp_path / "db").mkdir()
    write(tmp_path / "db" / "snapshots" / "good.parquet", ["alice"])
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert load(client, "good.parquet")[0] == 201


# --- the database's own files --------------------------------------------------------------


@pytest.fixture
def beside_db(tmp_path: Path) -> Iterator[TestClient]:
    """SQLite, with the snapshot directory set to the database's own directory (the worst
    configuration: the database files are inside it)."""
    settings = make_settings(f"sqlite:///{tmp_path}/creditgate.db", snapshot_dir=str(tmp_path))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_the_database_and_its_side_files_are_refused_alike(
    beside_db: TestClient, tmp_path: Path
) -> None:
    decide(beside_db, STRONG)  # the -wal and -shm exist now
    db = tmp_path / "creditgate.db"
    assert Path(f"{db}-wal").exists() and Path(f"{db}-shm").exists()
    os.link(db, tmp_path / "hardlink.parquet")  # same inode, another name
    (tmp_path / "sub").mkdir()
    os.link(db, tmp_path / "sub" / "deeper.parquet")
    attempts = [
        "creditgate.db",
        str(db),
        "creditgate.db-wal",
        "creditgate.db-shm",
        "hardlink.parquet",
        "sub/deeper.parquet",
    ]
    expected = {"detail": [{"loc": ["body", "path"], "msg": REFUSED, "type": "snapshot"}]}
    assert [refused_detail(beside_db, p) for p in attempts] == [expected] * len(attempts)


OTHER_PROCESS = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
query = "select count(*) from decisions where decision_id = ?"
print(conn.execute(query, (sys.argv[2],)).fetchone()[0])
conn.close()
"""


def test_the_database_file_is_never_opened_so_its_locks_and_decisions_survive(
    beside_db: TestClient, tmp_path: Path
) -> None:
    """The original finding: opening and closing the database file in the server process
    dropped SQLite's locks; another process opening the database then removed the live WAL
    and later acknowledged decisions were lost. After the refused request, a second process
    reads the database; the WAL stays and a decision acknowledged afterwards is on disk."""
    db = tmp_path / "creditgate.db"
    decide(beside_db, STRONG)
    wal = os.stat(f"{db}-wal")
    opened: list[str] = []
    real_open = os.open

    def recording_open(path: object, *args: object, **kwargs: object) -> int:
        opened.append(str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "open", recording_open)
        for name in ("creditgate.db", "creditgate.db-wal", "creditgate.db-shm"):
            refused_detail(beside_db, str(tmp_path / name))
    # this test's own files only: another test's server in this worker may open its own
    assert not [p for p in opened if p.startswith(f"{db}")], opened
    subprocess.run([sys.executable, "-c", OTHER_PROCESS, str(db), ""], check=True, timeout=60)
    after = os.stat(f"{db}-wal")  # the other process did not remove the live WAL
    assert (after.st_dev, after.st_ino) == (wal.st_dev, wal.st_ino)
    acked = decide(beside_db, STRONG | {"user_id": "acked-after"})["decision_id"]
    out = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, str(db), acked],
        check=True,
        timeout=60,
        capture_output=True,
    )
    assert out.stdout.strip() == b"1"  # what a restart after kill -9 would find


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_state_refreshes_and_short_lived_stores_leave_no_descriptor_open(
    beside_db: TestClient, tmp_path: Path
) -> None:
    """Each refresh (every second, in every worker) once opened the SQLite write lock's side
    file again and never closed it: a server ran out of descriptors after some hours."""
    state = services(beside_db).state
    state.refresh()
    before = open_descriptors()
    for _ in range(50):
        state.refresh()
    engine = services(beside_db).engine
    for _ in range(50):  # as the CLI's operations make them
        DecisionLog(engine).events.record(
            "host_activation", "host", None, {"key": "k", "value": "v"}
        )
    assert open_descriptors() <= before + 2  # the pool may open a connection or two


def test_database_files_lists_the_sqlite_side_files(tmp_path: Path) -> None:
    names = [p.name for p in database_files(f"sqlite:///{tmp_path}/c.db")]
    assert names[:4] == ["c.db", "c.db-wal", "c.db-shm", "c.db-journal"]
    assert database_files("postgresql://u@h/x") == [] == database_files("sqlite://")


# --- content verified: a swapped file is never served --------------------------------------

SWAPPED = [f"swapped-{i}" for i in range(1003)]


def test_a_file_swapped_before_activation_is_refused(client: TestClient, snapdir: Path) -> None:
    path = write(snapdir / "whitelist.parquet", ["alice", "bob"])
    status, body = load(client, "whitelist.parquet")
    assert status == 201 and isinstance(body, dict) and body["invited"] == 2
    url = f"/v1/admin/snapshots/{body['snapshot_id']}/activate"
    proposed = client.post(url, headers=auth("operator"))
    assert proposed.status_code == 202, proposed.text
    write(path, SWAPPED)  # same name, 1,003 users invited, between proposal and approval
    change = proposed.json()["change_id"]
    r = client.post(f"/v1/admin/changes/{change}/approve", json={}, headers=auth("admin"))
    assert r.status_code == 409 and "changed since it was registered" in r.json()["detail"]
    r = client.post(url, headers=auth("operator"))  # and a new proposal is refused outright
    assert r.status_code == 409 and "changed since it was registered" in r.json()["detail"]
    assert services(client).catalog.active().get("snapshot") is None
    assert not visible(client, "swapped-7") and not visible(client, "alice")


def test_a_worker_never_serves_a_file_swapped_after_activation(
    client: TestClient, db_url: str, snapdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 5: the catalog said 2 invited while 1,003 users saw the entry."""
    path = write(snapdir / "whitelist.parquet", ["alice", "bob"])
    _, body = load(client, "whitelist.parquet")
    assert isinstance(body, dict)
    sid = body["snapshot_id"]
    approved(client, client.post(f"/v1/admin/snapshots/{sid}/activate", headers=auth("operator")))
    original = path.read_bytes()
    write(path, SWAPPED)
    settings = make_settings(db_url, snapshot_dir=str(snapdir))
    with TestClient(create_app(settings), raise_server_exceptions=False) as fresh:  # a restart
        assert not visible(fresh, "swapped-7") and not visible(fresh, "alice")
        health = fresh.get("/healthz").json()
        assert health["status"] == "degraded" and health["snapshot_refused"] == sid
        assert health["snapshot_id"] is None
        assert any("content changed" in r.getMessage() for r in caplog.records)
        assert not any("swapped-" in r.getMessage() for r in caplog.records)
        assert visible(client, "alice") and not visible(client, "swapped-7")  # last good state
        path.write_bytes(original)  # restored: the next refresh loads and verifies it again
        services(fresh).state.refresh()
        assert visible(fresh, "alice") and not visible(fresh, "swapped-7")
        assert fresh.get("/healthz").json() == {
            "status": "ok",
            "policy_version": health["policy_version"],
            "snapshot_id": sid,
            "snapshot_refused": None,
        }


def test_startup_snapshot_is_copied_into_the_directory(db_url: str, tmp_path: Path) -> None:
    """``serve --snapshot FILE`` may name any file; the service keeps a verified copy, so a
    later change of the original is not served."""
    original = write(tmp_path / "elsewhere" / "whitelist.parquet", ["alice"])
    snapdir = tmp_path / "managed"
    settings = make_settings(db_url, snapshot_dir=str(snapdir), snapshot_path=str(original))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        (row,) = services(client).catalog.snapshots()
        assert row["path"] == str(snapdir.resolve() / f"{row['snapshot_id']}.parquet")
        assert visible(client, "alice")
    write(original, SWAPPED)
    with TestClient(create_app(make_settings(db_url, snapshot_dir=str(snapdir)))) as client:
        assert visible(client, "alice") and not visible(client, "swapped-7")


def test_startup_snapshot_cannot_be_the_database(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/creditgate.db"
    create_app(make_settings(db_url))
    settings: Settings = make_settings(db_url, snapshot_path=str(tmp_path / "creditgate.db"))
    with pytest.raises(SnapshotRefusedError):
        create_app(settings)


def test_serve_names_a_refused_startup_snapshot_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "creditgate.db"
    create_app(make_settings(f"sqlite:///{db}"))
    monkeypatch.setenv("CREDITGATE_SECRET", "s" * 32)
    for name in ("CREDITGATE_DB_URL", "CREDITGATE_SNAPSHOT_PATH", "CREDITGATE_MIGRATE"):
        monkeypatch.setenv(name, "")  # serve writes these: restored after the test
        monkeypatch.delenv(name)
    result = CliRunner().invoke(cli, ["serve", "--db", f"sqlite:///{db}", "--snapshot", str(db)])
    assert result.exit_code == 2, result.output
    assert REFUSED in result.output
