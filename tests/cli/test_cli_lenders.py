"""``creditgate lenders check``: 0 for the packaged directory, 1 naming file:line otherwise."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from creditgate.cli.main import app

PACKAGED = Path(__file__).parents[2] / "src/creditgate/lenders/directory.yaml"


def test_the_packaged_directory_checks() -> None:
    result = CliRunner().invoke(app, ["lenders", "check"])
    assert result.exit_code == 0, result.output
    assert "4 lender(s), APR cap 24.00%: ok" in result.output


def test_an_apr_above_the_cap_fails_naming_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "lenders.yaml"
    bad.write_text(PACKAGED.read_text().replace('max: "0.2100"', 'max: "0.2500"'))
    result = CliRunner().invoke(app, ["lenders", "check", str(bad)])
    assert result.exit_code == 1
    line = PACKAGED.read_text().splitlines().index('    apr: {min: "0.0900", max: "0.2100"}') + 1
    assert f"{bad}:{line}: lenders.0.apr.max: APR 0.2500 is above the jurisdiction's cap" in (
        result.output
    )
