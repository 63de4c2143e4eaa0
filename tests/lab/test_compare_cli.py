"""``creditgate compare`` end to end: a policy against itself moves nobody; against a copy with
other cutoffs every user is in exactly one cell, the cells add up to each policy's own
totals, and the moved users' reasons are the ones that moved them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from creditgate.cli.main import app
from creditgate.policy.loader import default_policy_path
from creditgate.population.synth import write_parquet

runner = CliRunner()
AS_OF = "2025-06-30"


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("compare") / "users.parquet"
    write_parquet(source, 3_000, seed=11, as_of=date(2025, 6, 30), chunk_size=5_000)
    return source


@pytest.fixture(scope="module")
def stricter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default policy with a wider whitelist, lower floors outside tier 1 and a higher
    tier-1 floor: users move both ways."""
    text = default_policy_path().read_text(encoding="utf-8")
    text = text.replace("capacity_share: 0.15", "capacity_share: 0.25", 1)
    old = "cutoffs: {tier1: 557, new_tier1: 567, capital: 577, prefecture: 587}"
    new = "cutoffs: {tier1: 640, new_tier1: 540, capital: 540, prefecture: 540}"
    assert old in text and "capacity_share: 0.25" in text
    text = text.replace(old, new, 1)
    path = tmp_path_factory.mktemp("policies") / "challenger.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def compare(population: Path, a: Path, b: Path, out: Path | None, *extra: str) -> Any:
    args = ["compare", str(a), str(b), "--population", str(population), "--as-of", AS_OF]
    return runner.invoke(app, [*args, *(["--out", str(out)] if out else []), *extra])


def test_a_policy_against_itself_moves_nobody(population: Path, tmp_path: Path) -> None:
    policy = default_policy_path()
    result = compare(population, policy, policy, tmp_path / "same", "--outcome", "defaulted")
    assert result.exit_code == 0, result.output
    body = json.loads((tmp_path / "same" / "compare.json").read_text(encoding="utf-8"))
    assert body["changed"] == 0 and body["unchanged"] == body["users"]
    assert [c["users"] for c in body["swap_set"]][1:3] == [0, 0]
    assert body["reasons_swapped_out"] == body["reasons_swapped_in"] == []
    assert all(t["champion"] == t["challenger"] for t in body["transitions"])
    assert body["swap_set"][0]["users"] == body["champion"]["invited"] > 0


def test_every_user_is_in_exactly_one_cell(
    population: Path, stricter: Path, tmp_path: Path
) -> None:
    result = compare(population, default_policy_path(), stricter, tmp_path / "o")
    assert result.exit_code == 0, result.output
    body = json.loads((tmp_path / "o" / "compare.json").read_text(encoding="utf-8"))
    cells = {(c["champion"], c["challenger"]): c for c in body["swap_set"]}
    quarantined = pq.read_table(population).num_rows - body["users"]
    assert body["users"] == sum(c["users"] for c in cells.values()) and quarantined >= 0
    assert cells["in", "in"]["users"] + cells["in", "out"]["users"] == body["champion"]["invited"]
    assert cells["in", "in"]["users"] + cells["out", "in"]["users"] == body["challenger"]["invited"]
    assert cells["in", "out"]["users"] > 0 and cells["out", "in"]["users"] > 0
    assert sum(t["users"] for t in body["transitions"]) == body["users"]
    out_codes = {r["code"] for r in body["reasons_swapped_out"]}
    assert out_codes & {"SCORE_BELOW_CUTOFF", "CAPACITY", "REGION_QUOTA"}, out_codes
    exposure = sum(c["exposure_champion_cny"] for c in cells.values())
    assert exposure == body["champion"]["exposure_cny"]
    assert cells["out", "in"]["exposure_champion_cny"] == 0  # refused users have no line
    page = (tmp_path / "o" / "compare.html").read_text(encoding="utf-8")
    assert "Swap set" in page and "<script" not in page
    assert "swapped out" in result.output


def test_bad_input_exits_2_in_one_line(population: Path, tmp_path: Path) -> None:
    policy = default_policy_path()
    missing = compare(population, policy, tmp_path / "none.yaml", None)
    assert missing.exit_code == 2 and "no such policy file" in missing.output
    unknown = compare(population, policy, policy, None, "--outcome", "nope")
    assert unknown.exit_code == 2 and "no outcome column 'nope'" in unknown.output
