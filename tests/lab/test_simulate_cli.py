"""``creditgate simulate`` from the command line: files written, bad input in one line, and
the same report.json on DuckDB and Spark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from creditgate.cli.main import app
from creditgate.policy.loader import default_policy_path
from creditgate.population.synth import write_parquet

runner = CliRunner()
AS_OF = "2025-06-30"


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from datetime import date

    source = tmp_path_factory.mktemp("cli") / "users.parquet"
    write_parquet(source, 600, seed=4, as_of=date(2025, 6, 30), chunk_size=5_000)
    return source


def simulate(population: Path, out: Path, *extra: str) -> tuple[int, str]:
    args = ["simulate", str(default_policy_path()), "--population", str(population)]
    result = runner.invoke(app, [*args, "--out", str(out), "--as-of", AS_OF, *extra])
    return result.exit_code, result.output


def test_writes_report_and_page(population: Path, tmp_path: Path) -> None:
    code, output = simulate(population, tmp_path / "out", "--outcome", "defaulted")
    assert code == 0, output
    [report] = json.loads((tmp_path / "out" / "report.json").read_text())["reports"]
    assert report["population"] == 600 and report["realised_bad_rate"] is not None
    page = (tmp_path / "out" / "index.html").read_text()
    assert "<script" not in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "invited" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--outcome", "nope"), "no outcome column 'nope'"),
        (("--population", "/nonexistent.parquet"), "no such file"),
    ],
)
def test_bad_input_is_one_line(
    population: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    code, output = simulate(population, tmp_path / "out", *args)
    assert code == 2 and message in output, output


def test_broken_policy_names_file_and_line(population: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = default_policy_path().read_text(encoding="utf-8")
    bad.write_text(text.replace("capacity_share: 0.15", "capacity_share: 7", 1), encoding="utf-8")
    line = (
        bad.read_text()
        .splitlines()
        .index(next(x for x in bad.read_text().splitlines() if x.startswith("capacity_share: 7")))
        + 1
    )
    result = runner.invoke(
        app, ["simulate", str(bad), "--population", str(population), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and f"{bad}:{line}: capacity_share" in result.output
    missing = runner.invoke(
        app,
        [
            "simulate",
            str(tmp_path / "none.yaml"),
            "--population",
            str(population),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert missing.exit_code == 2 and "no such policy file" in missing.output


def test_spark_writes_the_same_report(population: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    code, output = simulate(population, tmp_path / "duck", "--outcome", "defaulted")
    assert code == 0, output
    code, output = simulate(
        population, tmp_path / "spark", "--outcome", "defaulted", "--engine", "spark"
    )
    assert code == 0, output
    duck = json.loads((tmp_path / "duck" / "report.json").read_text())
    spark = json.loads((tmp_path / "spark" / "report.json").read_text())
    assert duck == spark
