"""A whole batch on synthetic users: counts reconcile, dirty rows are quarantined exactly as
``validate_profile`` rejects them, and ``decide`` with the snapshot agrees with every row."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from shared_spark import SharedRun, read_spark_dir

from creditgate.batch import backends
from creditgate.batch.backends import duckdb_backend
from creditgate.batch.decisions import decision_columns
from creditgate.batch.run import BatchInputError, BatchReport, open_population, run_batch
from creditgate.batch.validate import valid_profiles
from creditgate.batch.whitelist import apply_cutoffs
from creditgate.decider import Decider
from creditgate.policy.lower import lower
from creditgate.population.schema import PROFILE_SCHEMA
from creditgate.population.synth import write_parquet
from creditgate.population.synth_dirty import DirtyKind
from creditgate.profile import ProfileError, validate_profile
from creditgate.schema import PROFILE_FIELDS
from creditgate.snapshot import read_invited, read_meta
from creditgate.snapshot_decider import city_cutoff, snapshot_decider

AS_OF = date(2025, 6, 30)


def run(tmp: Path, users: int, dirty: float = 0.0) -> tuple[Path, BatchReport, Decider]:
    source = tmp / "users.parquet"
    write_parquet(source, users, seed=11, as_of=AS_OF, dirty_fraction=dirty, chunk_size=5_000)
    decider = Decider()
    report = run_batch(
        duckdb_backend("1GB", 2),
        source,
        tmp / "decisions.parquet",
        decider.policy,
        decider.regions,
        AS_OF,
        snapshot=tmp / "snapshot.parquet",
    )
    return source, report, decider


def parsed(name: str, text: str | None) -> Any:
    """A dirty file's text as the typed value a JSON feed would carry (bad text stays text)."""
    kind = PROFILE_FIELDS[name].type
    if text is None or kind is str:
        return text
    try:
        if kind is bool:
            return {"true": True, "false": False}[text]
        if kind is date:
            return date.fromisoformat(text)
        return kind(text)
    except (KeyError, ValueError, ArithmeticError):
        return text


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BatchReport, Decider]:
    return run(tmp_path_factory.mktemp("clean"), 20_000)


def test_counts_reconcile_and_capacity_holds(clean: tuple[Path, BatchReport, Decider]) -> None:
    _, report, decider = clean
    assert report.reconciles and report.quarantined == 0
    invited = report.outcomes["invited"]
    assert invited == report.cutoffs.expected_invited
    assert invited <= report.cutoffs.capacity == int(0.15 * report.input_rows)
    meta = read_meta(report.snapshot_path)  # type: ignore[arg-type]
    assert dict(meta.cutoffs) == dict(report.cutoffs.by_class)
    assert read_invited(report.snapshot_path).num_rows == invited  # type: ignore[arg-type]
    cards = dict(decider.policy.scorecard.cutoffs)
    assert all(v >= cards[c] for c, v in meta.cutoffs.items())


def test_snapshot_streams_every_invited_row_in_score_then_id_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written a record batch at a time (here 97 rows each), the snapshot still holds exactly
    the decisions' invited rows, ordered by score descending, then ``user_id``."""
    monkeypatch.setattr(backends, "BATCH_ROWS", 97)
    _, report, _ = run(tmp_path, 4_000)
    decided = pq.read_table(tmp_path / "decisions.parquet")
    invited = decided.filter(pc.equal(decided["outcome"], "invited"))
    expected = invited.select(
        ["user_id", "region_class", "score", "limit_cny", "apr", "entry", "invited_since"]
    )
    expected = expected.sort_by([("score", "descending"), ("user_id", "ascending")])
    assert set(expected["invited_since"].to_pylist()) == {AS_OF}  # no --previous: all new
    snap = read_invited(report.snapshot_path)  # type: ignore[arg-type]
    assert expected.num_rows > 3 * 97
    assert snap.to_pydict() == expected.cast(snap.schema).to_pydict()
    assert pq.ParquetFile(report.snapshot_path).metadata.num_row_groups > 3  # type: ignore[arg-type]


def test_decide_with_the_snapshot_agrees_with_every_batch_row(
    clean: tuple[Path, BatchReport, Decider],
) -> None:
    source, report, decider = clean
    meta = read_meta(report.snapshot_path)  # type: ignore[arg-type]
    # the cut ``decide --snapshot`` and the service make: class cutoffs and city quotas
    realtime = snapshot_decider(decider, meta)
    assert meta.city_cutoffs == {c: dict(xs) for c, xs in report.cutoffs.by_city.items() if xs}
    capitals = meta.city_cutoffs["capital"]
    assert len({capitals[c] for c in ("兰州", "济南", "福州", "石家庄")}) > 1
    batch = {
        r["user_id"]: r for r in pq.read_table(source.with_name("decisions.parquet")).to_pylist()
    }
    seen_cut = set()
    for row in pq.read_table(source, columns=PROFILE_SCHEMA.names).to_pylist():
        d = realtime.decide(
            validate_profile(row, meta.as_of, realtime.policy, realtime.regions), meta.as_of
        )
        b = batch[row["user_id"]]
        assert (d.outcome, list(d.reason_codes), d.score, d.limit_cny) == (
            b["outcome"],
            b["reason_codes"],
            b["score"],
            b["limit_cny"],
        ), row["user_id"]
        if d.reason_codes in (("CAPACITY",), ("REGION_QUOTA",)):
            seen_cut.add(d.reason_codes[0])
        if d.reason_codes == ("REGION_QUOTA",):  # the bar named is the user's city's
            own = city_cutoff(realtime, row)
            assert own is not None and d.reasons[0].required == f">= {own[1]}"
    assert "REGION_QUOTA" in seen_cut  # the quotas really cut someone


def test_dirty_rows_are_quarantined_exactly_as_validate_profile_rejects(tmp_path: Path) -> None:
    source, report, decider = run(tmp_path, 6_000, dirty=0.1)
    assert report.reconciles
    rows = pq.read_table(source).to_pylist()
    quarantine = pq.read_table(report.quarantine_path).to_pylist()
    assert len(quarantine) == report.quarantined
    reasons = {(r["user_id"], r["_dirty_kind"]): r["quarantine_reason"] for r in quarantine}
    duplicated = {r["user_id"] for r in quarantine if "duplicate" in r["quarantine_reason"]}
    for row in rows:
        key = (row["user_id"], row["_dirty_kind"])
        profile = {name: parsed(name, row[name]) for name in PROFILE_FIELDS}
        try:
            validate_profile(profile, AS_OF, decider.policy, decider.regions)
            rejected = set()
        except ProfileError as exc:
            rejected = {p.field.split(".")[0] for p in exc.problems}
        if row["_dirty_kind"] == DirtyKind.DUPLICATE_USER_ID:
            assert row["user_id"] in duplicated  # both copies go, none silently kept
            continue
        if rejected:
            assert key in reasons, (row, rejected)
            named = {part.split(":")[0] for part in reasons[key].split("; ")}
            assert rejected <= named
        elif row["user_id"] not in duplicated:
            assert key not in reasons, reasons.get(key)
    decided = pq.read_table(source.with_name("decisions.parquet"), columns=["user_id"])
    assert decided.num_rows + len(quarantine) == len(rows)
    assert not set(decided["user_id"].to_pylist()) & duplicated


def test_unusable_input_is_refused(tmp_path: Path) -> None:
    decider = Decider()
    backend = duckdb_backend("1GB", 1)
    with pytest.raises(BatchInputError, match="no such file"):
        run_batch(
            backend,
            tmp_path / "nope.parquet",
            tmp_path / "o.parquet",
            decider.policy,
            decider.regions,
            AS_OF,
        )
    narrow = tmp_path / "narrow.parquet"
    pq.write_table(PROFILE_SCHEMA.empty_table().drop_columns(["pay_score"]), narrow)
    with pytest.raises(BatchInputError, match="pay_score"):
        run_batch(backend, narrow, tmp_path / "o.parquet", decider.policy, decider.regions, AS_OF)


@pytest.mark.parametrize(
    ("field", "text", "problem"),
    [
        ("monthly_spend_cny_6m", "12.345", "monthly_spend_cny_6m: not a valid"),
        ("avg_daily_opens_90d", "NaN", "avg_daily_opens_90d: must be finite"),
        ("occupation", "farmer", "occupation: must be one of"),
        ("city", " 深圳市 ", None),  # canonicalised like validate_profile, then decided
    ],
)
def test_hand_made_rows(tmp_path: Path, field: str, text: str, problem: str | None) -> None:
    source = tmp_path / "one.parquet"
    write_parquet(source, 1, seed=3, as_of=AS_OF, dirty_fraction=0.0)
    table = pq.read_table(source)
    from creditgate.population.synth_dirty import to_strings

    strings = to_strings(table)
    column = strings.schema.get_field_index(field)
    import pyarrow as pa

    strings = strings.set_column(column, field, pa.array([text], pa.string()))
    pq.write_table(strings, source)
    decider = Decider()
    report = run_batch(
        duckdb_backend("1GB", 1),
        source,
        tmp_path / "o.parquet",
        decider.policy,
        decider.regions,
        AS_OF,
    )
    assert report.reconciles
    if problem is None:
        assert report.decided == 1
        return
    (row,) = pq.read_table(report.quarantine_path).to_pylist()
    assert row["quarantine_reason"].startswith(problem)
    assert row[field] == text  # quarantined as read, never fixed


def test_spark_runs_the_same_batch_as_duckdb(spark_run: SharedRun) -> None:
    """The staged run (one program pass, ranking, late bindings, reason lists) on Spark: the
    session's shared run (``shared_spark.py``), written partitioned by region class and
    province."""
    spark, duck = spark_run.spark, spark_run.duck
    assert (spark.outcomes, spark.quarantined, spark.duplicate_rows) == (
        duck.outcomes,
        duck.quarantined,
        duck.duplicate_rows,
    )
    assert duck.quarantined > 0 and duck.duplicate_rows > 0
    assert spark.cutoffs == duck.cutoffs
    want = pq.read_table(spark_run.duck_decisions).sort_by("user_id")
    got = read_spark_dir(spark_run.out / "decisions", want.schema)
    assert got.sort_by("user_id").to_pylist() == want.to_pylist()


def test_an_official_city_name_is_decided_as_its_city(tmp_path: Path) -> None:
    """The batch keeps an alias as written (大理白族自治州, canonicalised only like
    ``canonical_city``) where ``validate_profile`` gives the short name (大理): the program
    matches every spelling, so both decide the same region, quota and outcome."""
    source = tmp_path / "dali.parquet"
    write_parquet(source, 400, seed=5, as_of=AS_OF, dirty_fraction=0.0)
    table = pq.read_table(source)
    spelled = ["大理白族自治州" if i % 2 else "大理" for i in range(table.num_rows)]
    table = table.set_column(table.schema.get_field_index("city"), "city", pa.array(spelled))
    pq.write_table(table, source)
    decider = Decider()
    report = run_batch(
        duckdb_backend("1GB", 1),
        source,
        tmp_path / "decisions.parquet",
        decider.policy,
        decider.regions,
        AS_OF,
        snapshot=tmp_path / "snapshot.parquet",
    )
    assert report.outcomes.get("invited", 0) > 0
    assert set(report.cutoffs.by_city["prefecture"]) == {"大理"}  # one city, one quota
    realtime = snapshot_decider(decider, read_meta(tmp_path / "snapshot.parquet"))
    batch = {r["user_id"]: r for r in pq.read_table(tmp_path / "decisions.parquet").to_pylist()}
    for row in table.select(PROFILE_SCHEMA.names).to_pylist():
        d = realtime.decide(validate_profile(row, AS_OF, decider.policy, decider.regions), AS_OF)
        b = batch[row["user_id"]]
        assert (b["region_class"], b["outcome"], b["reason_codes"]) == (
            "county" if row["is_county_area"] else "prefecture",
            d.outcome,
            list(d.reason_codes),
        ), row["city"]


def test_the_staged_plan_writes_what_one_projection_decides(tmp_path: Path) -> None:
    """The run (staged early bindings, decided rows staged once for the write, the report,
    the counts and the snapshot) writes row for row what the one-expression plan
    (``decision_columns``, no staging) decides under the run's cutoffs; every column of the
    file is optional, whatever the rows (DuckDB declares a column read from a stored table
    required when it holds no NULL)."""
    source, report, decider = run(tmp_path, 4_000, dirty=0.05)
    backend = duckdb_backend("1GB", 2)
    pop = open_population(backend, source, decider.policy, decider.regions, AS_OF)
    cut = apply_cutoffs(decider.policy, report.cutoffs.by_class, by_city=report.cutoffs.by_city)
    program = lower(cut, decider.regions)
    want = backend.fetch(decision_columns(program, valid_profiles(pop.table), AS_OF))
    written = pq.read_table(source.with_name("decisions.parquet"))
    assert all(f.nullable for f in written.schema), written.schema
    got = written.select(want.column_names).sort_by("user_id").to_pylist()
    kept = {r["user_id"] for r in got}  # duplicate ids are quarantined, every copy
    assert got == [r for r in want.sort_by("user_id").to_pylist() if r["user_id"] in kept]
    counts = pc.value_counts(written["outcome"]).to_pylist()
    assert report.outcomes == {c["values"]: c["counts"] for c in counts}


@pytest.mark.parametrize(("dirty", "shuffled"), [(0.0, False), (0.0, True), (0.05, True)])
def test_the_decided_profiles_are_the_valid_rows_sorted_by_id(
    tmp_path: Path, dirty: float, shuffled: bool
) -> None:
    # A clean input's profiles skip the second validation (the staged pass counted no bad
    # row): the file holds the valid rows, sorted by id, whatever the input's order.
    source = tmp_path / "users.parquet"
    write_parquet(source, 3_000, seed=5, as_of=AS_OF, dirty_fraction=dirty, chunk_size=1_000)
    if shuffled:
        rows = pq.read_table(source)
        pq.write_table(rows.take(pa.array(range(rows.num_rows - 1, -1, -1))), source)
    decider = Decider()
    backend = duckdb_backend("1GB", 2)
    run_batch(
        backend,
        source,
        tmp_path / "decisions.parquet",
        decider.policy,
        decider.regions,
        AS_OF,
        snapshot=tmp_path / "snapshot.parquet",
    )
    pop = open_population(backend, source, decider.policy, decider.regions, AS_OF)
    want = backend.fetch(valid_profiles(pop.table)).sort_by("user_id")
    if dirty:
        decided = pq.read_table(tmp_path / "decisions.parquet", columns=["user_id"])
        want = want.filter(pc.is_in(want["user_id"], decided["user_id"]))
    name = read_meta(tmp_path / "snapshot.parquet").profiles["name"]
    got = pa.ipc.open_file(tmp_path / name).read_all()
    assert got.num_rows == want.num_rows > 0
    assert got.equals(want.select(got.column_names).cast(got.schema))
