"""The product family in the lab's other commands: ``compare`` reports per product the users
offered under each policy and the change when either declares a family; ``policy show``
lists the family (own gates, lines, plans with their computed APR, lenders and shares);
``calibrate`` runs unchanged on a policy with a family and keeps its ``products:`` text."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from creditgate.cli import common
from creditgate.cli.main import app
from creditgate.lab.compare import product_deltas
from creditgate.policy.loader import load_policy
from creditgate.population.synth import write_parquet
from product_family import FAMILY, family_text, single_text

runner = CliRunner()
AS_OF = "2025-06-30"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A small population, the default policy with the test family, and the default's cash
    loan alone (the packaged default declares the family too)."""
    tmp = tmp_path_factory.mktemp("products-cli")
    source = tmp / "users.parquet"
    write_parquet(source, 800, seed=11, as_of=date(2025, 6, 30), chunk_size=5_000)
    policy = tmp / "family.yaml"
    policy.write_text(family_text(), encoding="utf-8")
    single = tmp / "single.yaml"
    single.write_text(single_text(), encoding="utf-8")
    return source, policy, single


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's console 240 columns wide: it is made once per process, so ``COLUMNS`` set
    for one invocation comes too late when an earlier test made it."""
    monkeypatch.setattr(common.out, "width", 240)


def test_compare_reports_each_products_offered_change(
    files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    source, family, single = files
    args = ["compare", str(single), str(family), "--population", str(source)]
    result = runner.invoke(app, [*args, "--as-of", AS_OF, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    body = json.loads((tmp_path / "compare.json").read_text(encoding="utf-8"))
    deltas = {d["product"]: d for d in body["products"]}
    assert list(deltas) == ["cash_loan", "instalments", "joint_loan"]
    # the same shared layers: the cash loan is offered to whoever each invites
    cash = deltas["cash_loan"]
    assert cash["offered_champion"] == body["champion"]["invited"]
    assert cash["offered_challenger"] == body["challenger"]["invited"] == cash["offered_champion"]
    assert cash["offered_delta"] == 0
    for pid in ("instalments", "joint_loan"):  # only the challenger offers them
        d = deltas[pid]
        assert d["offered_champion"] == 0 and d["offered_delta"] == d["offered_challenger"] > 0
        assert d["exposure_delta_cny"] == d["exposure_challenger_cny"] > 0
    assert "products: users offered" in result.output
    page = (tmp_path / "compare.html").read_text(encoding="utf-8")
    assert 'id="products"' in page and f"+{deltas['instalments']['offered_delta']:,}" in page


def test_compare_without_a_family_has_no_products() -> None:
    plain = {"invited": 5, "exposure_cny": 50}
    assert product_deltas(plain, plain) == []


def test_policy_show_lists_the_family(files: tuple[Path, Path, Path], wide: None) -> None:
    _, family, single = files
    result = runner.invoke(app, ["policy", "show", str(family)])
    assert result.exit_code == 0, result.output
    shown = result.output
    policy = load_policy(family)
    assert "products (on top of the shared layers" in shown
    for p in policy.products:
        assert p.id in shown
        for plan in p.plans:  # the APR computed at load, beside the fee
            assert f"fee {plan.fee_per_period * 100:.2f}% a period" in shown
            assert f"APR {plan.apr * 100:.2f}% (IRR x 12)" in shown
        for lender in p.lenders:
            assert f"{lender.id} (" in shown and f"share {lender.share}" in shown
    assert "LOW_SPEND: monthly_spend_cny_6m >= 1000" in shown
    assert "ACCOUNT_TOO_NEW: account_age_days >= 730" in shown
    assert "at most 20,000 yuan" in shown and "partner declines: pass_to_next" in shown
    plain = runner.invoke(app, ["policy", "show", str(single)])
    assert plain.exit_code == 0 and "products (" not in plain.output
    packaged = runner.invoke(app, ["policy", "show"])  # the packaged default declares it
    assert packaged.exit_code == 0 and "products (" in packaged.output


def test_calibrate_runs_with_a_family(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    source, family, _ = files
    out = tmp_path / "calibrated.yaml"
    args = ["calibrate", str(family), "--population", str(source), "--as-of", AS_OF]
    result = runner.invoke(app, [*args, "--bad-rate-ceiling", "0.05", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = out.read_text(encoding="utf-8")
    assert written.endswith(FAMILY)  # the family's text is kept as written
    assert [p.id for p in load_policy(out).products] == [p.id for p in load_policy(family).products]
