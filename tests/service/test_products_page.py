"""Under a policy with a product family, an invited user's self-check page shows each offer:
the instalment plans with their APRs and who funds the joint loan."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from selfcheck_helpers import by_testid, page, sign_in, state
from sqlalchemy import text
from test_api import PROFILES, STRONG, decide
from typer.testing import CliRunner

from conftest import make_settings
from creditgate.cli.main import app as cli
from creditgate.service.app import create_app
from product_family import family_text


def test_the_page_shows_every_offer(tmp_path: Path) -> None:
    policy = tmp_path / "family.yaml"
    policy.write_text(family_text(), encoding="utf-8")
    settings = make_settings(
        f"sqlite:///{tmp_path / 'p.db'}",
        snapshot_dir=str(tmp_path / "snapshots"),
        policy_path=str(policy),
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        decision = decide(client, STRONG)
        sign_in(client, str(STRONG["user_id"]))
        html = page(client, "?lang=en")
    assert state(html) == "visible"
    offers = by_testid(html, "offer")
    assert [o.split('data-product="')[1].split('"')[0] for o in offers] == [
        o["product"] for o in decision["offers"]
    ]
    instalments = next(o for o in decision["offers"] if o["product"] == "instalments")
    plans = by_testid(html, "offer-plan")
    assert len(plans) == len(instalments["plans"]) == 3
    assert all(p["apr"] in html for p in instalments["plans"])
    lenders = {f["lender"] for o in decision["offers"] for f in o["funding"] if f["amount_cny"]}
    assert {
        f.split('data-lender="')[1].split('"')[0] for f in by_testid(html, "offer-funding")
    } == lenders


def test_replay_reproduces_a_family_decision_and_sees_a_changed_offer(tmp_path: Path) -> None:
    """``replay`` decides a stored decision again, offers included: identical as stored, and
    an offer changed in the log (a joint loan's funding) is a difference."""
    policy = tmp_path / "family.yaml"
    policy.write_text(family_text(), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    settings = make_settings(url, snapshot_dir=str(tmp_path / "s"), policy_path=str(policy))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        ids = [decide(client, p)["decision_id"] for p in PROFILES.values()]
        log = client.app.state.services.log  # type: ignore[attr-defined]
    runner = CliRunner()
    for decision_id in ids:
        result = runner.invoke(cli, ["replay", decision_id, "--db", url])
        assert result.exit_code == 0, result.output
    with log.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE decisions SET decision = replace(decision, "
                '\'"lender":"partner_a"\', \'"lender":"partner_z"\') WHERE seq = 1'
            )
        )
    result = runner.invoke(cli, ["replay", ids[0], "--db", url])
    assert result.exit_code != 0
