"""The page over a real batch snapshot (source ``snapshot``): a refused user of the batch sees
the batch's reasons, asking for a review stores that answer first, and the CLI's link works."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from selfcheck_helpers import by_testid, page, post, sign_in, state
from test_api import services
from typer.testing import CliRunner

from conftest import SECRET, auth, make_settings
from creditgate.batch.backends import duckdb_backend
from creditgate.batch.run import run_batch
from creditgate.cli.main import app as cli
from creditgate.decider import Decider
from creditgate.population.synth import write_parquet
from creditgate.service.app import create_app
from creditgate.service.web.links import LINK_KIND
from creditgate.store.repo import verify

AS_OF = date(2026, 11, 28)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    """A batch run with its snapshot (and the decided profiles beside it) and its decisions
    (``decisions.parquet`` beside the ``snap`` directory)."""
    work = tmp_path_factory.mktemp("batch")
    source = work / "users.parquet"
    write_parquet(source, 2000, seed=5, as_of=AS_OF, chunk_size=2000)
    decider = Decider()
    snapshot = work / "snap" / "snapshot.parquet"
    snapshot.parent.mkdir()
    out = work / "decisions.parquet"
    run_batch(
        duckdb_backend("1GB", 1), source, out, decider.policy, decider.regions, AS_OF, snapshot
    )
    return snapshot, pq.read_table(out).to_pylist()


@pytest.fixture
def client(batch: tuple[Path, list[dict[str, object]]], tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(
        f"sqlite:///{tmp_path}/c.db",
        snapshot_dir=str(tmp_path / "snapshots"),
        snapshot_path=str(batch[0]),
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        c.app.state.snapshot_reviews.join(120)  # type: ignore[attr-defined]
        yield c


def pick(rows: list[dict[str, object]], outcome: str) -> str:
    for row in rows:
        codes = row["reason_codes"] or []
        if row["outcome"] == outcome and (outcome == "invited" or "PAY_SCORE_LOW" in codes):
            return str(row["user_id"])
    raise AssertionError(f"no {outcome} user in the batch")


def test_refused_batch_user_sees_the_batch_reasons(client: TestClient, batch) -> None:
    rows = batch[1]
    user = pick(rows, "not_invited")
    sign_in(client, user)
    html = page(client, "?lang=en")
    assert state(html) == "hidden" and by_testid(html, "snapshot-as-of")
    codes = [c for r in rows if r["user_id"] == user for c in r["reason_codes"]]
    shown = [c for c in codes if f'data-code="{c}"' in html]
    assert "PAY_SCORE_LOW" in shown and by_testid(html, "recourse-step")
    assert by_testid(html, "whatif-field-pay_score")
    before = verify(services(client).log)[0]
    assert post(client, "/self-check/review").status_code == 303  # stores the answer first
    assert verify(services(client).log)[0] == before + 1
    # (the snapshot's own manual reviews were queued at start-up: kind manual_review)
    appeals = {"kind": "appeal"}
    [queued] = client.get("/v1/admin/reviews", params=appeals, headers=auth("viewer")).json()
    stored = services(client).log.get(queued["decision_id"])
    assert stored.user_id == user and stored.decision["outcome"] == "not_invited"
    assert state(page(client)) == "hidden"  # the same answer, now from the stored decision


def test_invited_batch_user_and_the_cli_link(client: TestClient, batch, monkeypatch) -> None:
    user = pick(batch[1], "invited")
    monkeypatch.setenv("CREDITGATE_SECRET", SECRET)
    result = CliRunner().invoke(cli, ["token", "user", user, "--url", "http://testserver/"])
    assert result.exit_code == 0, result.output
    url = result.stdout.strip()
    assert url.startswith(f"http://testserver/?t={LINK_KIND}.")
    r = client.get(url, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert state(page(client)) == "visible"
    revoked = CliRunner().invoke(cli, ["token", "revoke", url.split("?t=")[1], "--db", "sqlite://"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_demo_prints_working_links_for_an_invited_and_a_refused_user(
    client: TestClient, batch, monkeypatch, capsys
) -> None:
    from creditgate.cli import serve
    from creditgate.cli.demo import page_users

    users = page_users(batch[0].parent.parent / "decisions.parquet")
    assert set(users) == {"invited", "refused"}
    monkeypatch.setenv("CREDITGATE_SECRET", SECRET)
    monkeypatch.setenv("CREDITGATE_TOKENS", "x:admin:some-admin-token")
    for name in ("CREDITGATE_DB_URL", "CREDITGATE_PUBLIC_DOCS"):  # serve_demo sets them:
        monkeypatch.setenv(name, "")  # restored (removed) after the test
    monkeypatch.setattr(serve, "_run", lambda *_: None)
    serve.serve_demo("sqlite://", None, None, "testserver", 80, users)
    printed = capsys.readouterr().out
    token, entry_url = re.findall(r"Bearer (cgu\.\S+)' (\S+/entry)", printed)[0]
    client.cookies.clear()
    r = client.get(entry_url.replace("http://testserver:80", ""), headers=auth_header(token))
    assert r.status_code == 200 and r.json()["entry_visible"]  # the suggested lookup: visible
    urls = dict(re.findall(r"self-check +(\w+): (\S+)", printed))
    assert set(urls) == {"invited", "refused"}
    expected = {"invited": "visible", "refused": "hidden"}
    for label, url in urls.items():
        client.cookies.clear()
        r = client.get(url.replace("http://testserver:80", ""), follow_redirects=False)
        assert r.status_code == 303, label
        html = page(client)
        assert state(html) == expected[label]
        assert label == "invited" or by_testid(html, "recourse-step")
