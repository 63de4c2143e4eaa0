"""``benchmarks/same_output.py``, the check behind "output identical" for a batch change: two
runs of the same input agree file by file, and a changed value, a changed order where order is
the contract (the snapshot), a changed report or a missing file is found and named; the
decisions' order, which DuckDB's parallel write does not keep, is not a difference."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from batch_runs import AS_OF, run_into

from creditgate.batch.backends import duckdb_backend
from creditgate.population.synth import write_parquet
from creditgate.snapshot import read_meta

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "same_output.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("same_output", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One dirty input (quarantined rows included) decided twice, into two directories."""
    root = tmp_path_factory.mktemp("same-output")
    source = root / "users.parquet"
    write_parquet(source, 3_000, seed=5, as_of=AS_OF, dirty_fraction=0.05, chunk_size=1_000)
    dirs = [root / "a", root / "b"]
    for out in dirs:
        run_into(duckdb_backend("1GB", 2), source, out)
    return dirs[0], dirs[1]


def copy_of(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    target.mkdir()
    for path in run.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


def problems(a: Path, b: Path) -> dict[str, str | None]:
    return dict(load_script().differences(a, b))


def test_two_runs_of_one_input_are_identical_in_every_output(runs: tuple[Path, Path]) -> None:
    found = problems(*runs)
    assert set(found) == {
        "decisions.parquet",
        "decisions.offers.parquet",
        "decisions.quarantine.parquet",
        "snapshot.parquet",
        "snapshot metadata",
        "decisions.report.json",
        "report-*.json",
        "profiles-*.arrow",
    }
    assert all(problem is None for problem in found.values()), found
    assert pq.read_metadata(runs[1] / "decisions.quarantine.parquet").num_rows > 1


def test_a_changed_value_is_counted(runs: tuple[Path, Path], tmp_path: Path) -> None:
    changed = copy_of(runs[1], tmp_path)
    table = pq.read_table(changed / "decisions.parquet")
    scores = table["score"].to_pylist()
    row = next(i for i, s in enumerate(scores) if s is not None)
    scores[row] += 1
    column = table.schema.get_field_index("score")
    table = table.set_column(column, "score", pa.array(scores, table["score"].type))
    pq.write_table(table, changed / "decisions.parquet")
    found = problems(runs[0], changed)
    assert found["decisions.parquet"] == (
        f"1 of {table.num_rows:,} rows have no equal in the other run"
    )
    assert found["decisions.offers.parquet"] is None


def reverse(path: Path) -> None:
    table = pq.read_table(path)
    pq.write_table(
        table.take(pc.subtract(table.num_rows - 1, pa.array(range(table.num_rows)))), path
    )


def test_order_counts_in_the_snapshot_only(runs: tuple[Path, Path], tmp_path: Path) -> None:
    changed = copy_of(runs[1], tmp_path)
    reverse(changed / "snapshot.parquet")
    reverse(changed / "decisions.parquet")
    found = problems(runs[0], changed)
    problem = found["snapshot.parquet"]
    assert problem is not None and problem.endswith("rows differ (in order)")
    assert found["decisions.parquet"] is None


def test_a_report_differs_by_its_figures_not_by_the_policy_files_path(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    changed = copy_of(runs[1], tmp_path)
    path = changed / "decisions.report.json"
    document = json.loads(path.read_text())
    document["reports"][0]["policy"]["source"] = "/elsewhere/default.yaml"
    path.write_text(json.dumps(document))
    assert problems(runs[0], changed)["decisions.report.json"] is None
    document["reports"][0]["invited"] += 1
    path.write_text(json.dumps(document))
    assert problems(runs[0], changed)["decisions.report.json"] == "the reports differ"


def test_a_missing_output_is_named(runs: tuple[Path, Path], tmp_path: Path) -> None:
    changed = copy_of(runs[1], tmp_path)
    (changed / "decisions.offers.parquet").unlink()
    assert problems(runs[0], changed)["decisions.offers.parquet"] == f"only in {runs[0]}"


def test_a_changed_cutoff_in_the_snapshot_metadata_is_named(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    changed = copy_of(runs[1], tmp_path)
    path = changed / "snapshot.parquet"
    table = pq.read_table(path)
    meta = json.loads(read_meta(path).to_json())
    key = next(k for k, v in (table.schema.metadata or {}).items() if b'"cutoffs"' in v)
    meta["cutoffs"] = {c: v + 1 for c, v in meta["cutoffs"].items()}
    metadata = dict(table.schema.metadata or {})
    metadata[key] = json.dumps(meta).encode()
    pq.write_table(table.replace_schema_metadata(metadata), path)
    found = problems(runs[0], changed)
    assert found["snapshot metadata"] == "metadata differs: cutoffs"
    assert found["snapshot.parquet"] is None
