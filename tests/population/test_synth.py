from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from creditgate.population.regions import RegionClass, load_regions
from creditgate.population.schema import (
    DIRTY_KIND_COLUMN,
    DIRTY_SCHEMA,
    PROFILE_SCHEMA,
    SYNTH_SCHEMA,
)
from creditgate.population.synth import (
    PLATFORM_LAUNCH,
    default_probability,
    generate,
    write_parquet,
)
from creditgate.population.synth_dirty import DirtyKind, to_strings

AS_OF = date(2025, 6, 30)
USERS = 200_000

# The profile contract (docs/architecture.md, "Contracts"), in order.
CONTRACT = [
    ("user_id", pa.string()),
    ("birth_date", pa.date32()),
    ("registered_at", pa.date32()),
    ("real_name_verified", pa.bool_()),
    ("bank_card_bound", pa.bool_()),
    ("is_student", pa.bool_()),
    ("occupation", pa.string()),
    ("city", pa.string()),
    ("is_county_area", pa.bool_()),
    ("consent_credit_data", pa.bool_()),
    ("consent_behaviour_data", pa.bool_()),
    ("pay_score", pa.int64()),
    ("overdue_count_24m", pa.int64()),
    ("current_overdue_days", pa.int64()),
    ("last_overdue_on", pa.date32()),
    ("ecosystem_repayment_score", pa.int64()),
    ("ecosystem_active_products", pa.int64()),
    ("avg_daily_opens_90d", pa.float64()),
    ("monthly_spend_cny_6m", pa.decimal128(14, 2)),
    ("monthly_flow_cv_6m", pa.float64()),
    ("blacklist_hit", pa.bool_()),
    ("accounts_on_device", pa.int64()),
    ("sim_changed_days_ago", pa.int64()),
    ("applications_7d", pa.int64()),
    ("has_outstanding_loan", pa.bool_()),  # optional: NULL in a new programme's population
    ("invited_since", pa.date32()),
    ("invited_limit_cny", pa.int64()),
    ("loan_purpose", pa.string()),  # optional: NULL (consumption) unless the user states one
]
NULLABLE = {
    "last_overdue_on",
    "sim_changed_days_ago",
    "has_outstanding_loan",
    "invited_since",
    "invited_limit_cny",
    "loan_purpose",
}


@pytest.fixture(scope="module")
def population() -> pa.Table:
    return pa.concat_tables(generate(USERS, seed=7, as_of=AS_OF, chunk_size=50_000))


@pytest.fixture(scope="module")
def cols(population) -> dict[str, np.ndarray]:
    out = {}
    for name in population.column_names:
        column = population[name]
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
        if pa.types.is_date32(column.type):
            out[name] = column.to_numpy().astype("datetime64[D]")
        else:
            out[name] = column.to_numpy()
    today = np.datetime64(AS_OF)
    out["age_years"] = (today - out["birth_date"]).astype(np.int64) / 365.2425
    out["account_age_days"] = (today - out["registered_at"]).astype(np.int64)
    return out


def test_schema_is_the_contract(population):
    assert [(f.name, f.type) for f in PROFILE_SCHEMA] == CONTRACT
    assert {f.name for f in PROFILE_SCHEMA if f.nullable} == NULLABLE
    assert population.schema == SYNTH_SCHEMA
    assert SYNTH_SCHEMA.names == [name for name, _ in CONTRACT] + ["defaulted"]
    for name in SYNTH_SCHEMA.names:
        if name not in NULLABLE:
            assert population[name].null_count == 0, name


def test_row_counts_exact():
    sizes = [t.num_rows for t in generate(1_001, seed=1, as_of=AS_OF, chunk_size=300)]
    assert sizes == [300, 300, 300, 101]
    assert list(generate(0, seed=1, as_of=AS_OF)) == []


def test_user_ids_unique_and_stable(population):
    ids = population["user_id"]
    assert ids[0].as_py() == "u000000001"
    assert ids[USERS - 1].as_py() == f"u{USERS:09d}"
    assert pc.count_distinct(ids).as_py() == USERS


def test_same_seed_same_data_other_seed_differs():
    first = pa.concat_tables(generate(5_000, seed=11, as_of=AS_OF, chunk_size=2_000))
    again = pa.concat_tables(generate(5_000, seed=11, as_of=AS_OF, chunk_size=2_000))
    other = pa.concat_tables(generate(5_000, seed=12, as_of=AS_OF, chunk_size=2_000))
    assert first.equals(again)
    assert not first.equals(other)
    assert first["user_id"].equals(other["user_id"])  # ids follow the row index only


def test_chunk_independent_of_how_many_are_read():
    full = list(generate(7_000, seed=5, as_of=AS_OF, chunk_size=2_000))
    partial = generate(7_000, seed=5, as_of=AS_OF, chunk_size=2_000)
    next(partial)
    assert next(partial).equals(full[1])
    # A longer population shares its leading chunks with a shorter one.
    longer = list(generate(9_000, seed=5, as_of=AS_OF, chunk_size=2_000))
    assert all(a.equals(b) for a, b in zip(full[:3], longer[:3], strict=True))


def test_arguments_checked_before_iteration():
    with pytest.raises(ValueError, match="users"):
        generate(-1, seed=1, as_of=AS_OF)
    with pytest.raises(ValueError, match="chunk_size"):
        generate(10, seed=1, as_of=AS_OF, chunk_size=0)
    with pytest.raises(ValueError, match="dirty_fraction"):
        generate(10, seed=1, as_of=AS_OF, dirty_fraction=1.5)
    with pytest.raises(ValueError, match="as_of"):
        generate(10, seed=1, as_of=date(2010, 1, 1))


def test_value_ranges_and_consistency(cols):
    assert cols["pay_score"].min() >= 300 and cols["pay_score"].max() <= 850
    assert cols["ecosystem_repayment_score"].min() >= 0
    assert cols["ecosystem_repayment_score"].max() <= 100
    for name in ("overdue_count_24m", "current_overdue_days", "ecosystem_active_products"):
        assert cols[name].min() >= 0, name
    assert cols["accounts_on_device"].min() >= 1
    assert cols["monthly_flow_cv_6m"].min() >= 0
    assert np.array_equal(cols["is_student"], cols["occupation"] == "student")
    assert not np.any(cols["bank_card_bound"] & ~cols["real_name_verified"])
    registered = cols["registered_at"]
    assert registered.min() >= np.datetime64(PLATFORM_LAUNCH)
    assert registered.max() <= np.datetime64(AS_OF)
    assert 0.05 < np.mean(cols["account_age_days"] < 365) < 0.25
    assert registered.min() > cols["birth_date"].min()


def test_ages(cols):
    age = cols["age_years"]
    assert age.min() >= 16
    assert 0.001 < np.mean(age < 18) < 0.02  # a few minors to be declined
    assert np.mean((age >= 18) & (age <= 70)) > 0.97
    students = cols["is_student"]
    assert np.mean((age[students] >= 17) & (age[students] < 25)) > 0.85


def test_overdue_history_consistent(cols):
    last = cols["last_overdue_on"]
    never = np.isnat(last)
    assert np.array_equal(never, cols["overdue_count_24m"] == 0)
    assert np.all(cols["overdue_count_24m"][cols["current_overdue_days"] > 0] >= 1)
    seen = last[~never]
    assert seen.max() <= np.datetime64(AS_OF)
    assert seen.min() >= np.datetime64(AS_OF - timedelta(days=730))
    assert np.all(seen >= cols["registered_at"][~never])


def test_cities_known_and_region_mix(population, cols):
    table = load_regions()
    classes = [
        table.class_of(city, county)
        for city, county in zip(
            population["city"].to_pylist(), cols["is_county_area"].tolist(), strict=True
        )
    ]
    assert None not in classes
    share = {c: classes.count(c) / USERS for c in RegionClass}
    expected = {"tier1": 0.10, "new_tier1": 0.20, "capital": 0.15, "prefecture": 0.35}
    expected["county"] = 0.20
    for region_class, target in expected.items():
        assert share[RegionClass(region_class)] == pytest.approx(target, abs=0.01)
    county_cities = {
        c
        for c, k in zip(population["city"].to_pylist(), classes, strict=True)
        if k is RegionClass.COUNTY
    }
    assert {table.require(c).region_class for c in county_cities} <= {
        RegionClass.CAPITAL,
        RegionClass.PREFECTURE,
    }


def test_rates_of_flags(cols):
    assert 0.93 < cols["consent_credit_data"].mean() < 0.98
    assert 0.93 < cols["consent_behaviour_data"].mean() < 0.98
    assert cols["real_name_verified"].mean() > 0.93
    assert cols["bank_card_bound"].mean() > 0.85
    assert 0.002 < cols["blacklist_hit"].mean() < 0.01
    assert np.mean(cols["accounts_on_device"] == 1) > 0.85
    assert cols["accounts_on_device"].max() <= 6
    assert np.mean(cols["applications_7d"] <= 2) > 0.95
    assert np.mean(np.isnan(cols["sim_changed_days_ago"].astype(float))) > 0.7


def test_correlation_signs(cols):
    def corr(a, b):
        return np.corrcoef(np.asarray(a, float), np.asarray(b, float))[0, 1]

    assert corr(cols["pay_score"], cols["overdue_count_24m"]) < -0.2
    assert corr(cols["pay_score"], cols["current_overdue_days"] > 0) < 0
    assert corr(cols["avg_daily_opens_90d"], cols["ecosystem_active_products"]) > 0.2
    assert corr(cols["avg_daily_opens_90d"], cols["ecosystem_repayment_score"]) > 0.1
    assert corr(cols["age_years"], np.log(cols["monthly_spend_cny_6m"])) > 0
    assert corr(cols["pay_score"], cols["defaulted"]) < 0
    salaried = cols["occupation"] == "salaried"
    assert np.median(cols["monthly_flow_cv_6m"][salaried]) < np.median(
        cols["monthly_flow_cv_6m"][~salaried]
    )


def hard_gates(cols) -> np.ndarray:
    """The default policy's compliance, credit and behaviour layers (docs/policy.md),
    reference thresholds."""
    compliance = (
        cols["consent_credit_data"]
        & cols["consent_behaviour_data"]
        & (cols["age_years"] >= 18)
        & ~cols["is_student"]
        & cols["real_name_verified"]
    )
    credit = (
        (cols["pay_score"] >= 600)
        & (cols["overdue_count_24m"] == 0)
        & (cols["current_overdue_days"] == 0)
    )
    behaviour = (
        (cols["account_age_days"] >= 365)
        & cols["bank_card_bound"]
        & (cols["monthly_flow_cv_6m"] <= 0.6)
        & (cols["ecosystem_active_products"] >= 2)
    )
    return compliance & credit & behaviour


def test_pass_rate_and_default_rate_calibrated(cols):
    passing = hard_gates(cols)
    assert 0.25 <= passing.mean() <= 0.40
    defaulted = cols["defaulted"]
    assert 0.03 <= defaulted.mean() <= 0.06
    assert defaulted[passing].mean() < defaulted[~passing].mean() / 3


def test_label_follows_documented_model(cols):
    probability = default_probability(cols)
    assert probability.mean() == pytest.approx(cols["defaulted"].mean(), abs=0.003)
    worse = dict(cols, pay_score=cols["pay_score"] - 100)
    assert np.all(default_probability(worse) > probability)


def test_dirty_fraction_exact_and_labelled():
    clean = pa.concat_tables(generate(10_000, seed=3, as_of=AS_OF, chunk_size=3_000))
    dirty = pa.concat_tables(
        generate(10_000, seed=3, as_of=AS_OF, chunk_size=3_000, dirty_fraction=0.05)
    )
    assert dirty.schema == DIRTY_SCHEMA
    kind = dirty[DIRTY_KIND_COLUMN]
    assert dirty.num_rows - kind.null_count == 500
    assert set(pc.unique(kind.drop_null()).to_pylist()) == {k.value for k in DirtyKind}
    untouched = pc.is_null(kind)
    expected = to_strings(clean).filter(untouched)
    assert dirty.filter(untouched).equals(expected)


def _rows(dirty: pa.Table, kind: DirtyKind) -> list[dict]:
    return dirty.filter(pc.equal(dirty[DIRTY_KIND_COLUMN], kind.value)).to_pylist()


def test_dirty_rows_carry_their_defect():
    dirty = pa.concat_tables(
        generate(20_000, seed=9, as_of=AS_OF, chunk_size=8_000, dirty_fraction=0.1)
    )
    table = load_regions()
    for row in _rows(dirty, DirtyKind.PAY_SCORE_OUT_OF_RANGE):
        assert not 300 <= int(row["pay_score"]) <= 850
    for row in _rows(dirty, DirtyKind.UNKNOWN_CITY):
        assert table.lookup(row["city"]) is None
    for row in _rows(dirty, DirtyKind.BIRTH_DATE_IN_FUTURE):
        assert date.fromisoformat(row["birth_date"]) > AS_OF
    for row in _rows(dirty, DirtyKind.REGISTERED_AFTER_AS_OF):
        assert date.fromisoformat(row["registered_at"]) > AS_OF
    required = [f.name for f in PROFILE_SCHEMA if not f.nullable]
    for row in _rows(dirty, DirtyKind.NULL_REQUIRED):
        assert any(row[name] is None for name in required)
    ints = ["overdue_count_24m", "current_overdue_days", "ecosystem_active_products"]
    ints += ["accounts_on_device", "applications_7d"]
    for row in _rows(dirty, DirtyKind.NEGATIVE_COUNT):
        assert any(int(row[name]) < 0 for name in ints)
    for row in _rows(dirty, DirtyKind.WRONG_TYPE):
        assert any(not (row[name] or "x").lstrip("-").isdigit() for name in ["pay_score", *ints])
    counts = pc.value_counts(dirty["user_id"])
    repeated = set(counts.filter(pc.greater(counts.field("counts"), 1)).field("values").to_pylist())
    assert {row["user_id"] for row in _rows(dirty, DirtyKind.DUPLICATE_USER_ID)} <= repeated


def test_write_parquet_streams_exact_rows(tmp_path):
    path = tmp_path / "users.parquet"
    seen: list[int] = []
    written = write_parquet(
        path, 600_000, seed=2, as_of=AS_OF, progress=seen.append, chunk_size=100_000
    )
    assert written == 600_000
    assert seen == [100_000 * i for i in range(1, 7)]
    metadata = pq.read_metadata(path)
    assert metadata.num_rows == 600_000
    assert metadata.num_row_groups == 6
    assert pq.read_schema(path).remove_metadata() == SYNTH_SCHEMA
    assert list(tmp_path.iterdir()) == [path]


def test_write_parquet_dirty_uses_string_schema(tmp_path):
    path = tmp_path / "dirty.parquet"
    assert write_parquet(path, 1_000, seed=2, as_of=AS_OF, dirty_fraction=0.1) == 1_000
    assert pq.read_schema(path).remove_metadata() == DIRTY_SCHEMA
    kinds = pq.read_table(path, columns=[DIRTY_KIND_COLUMN])[DIRTY_KIND_COLUMN]
    assert len(kinds) - kinds.null_count == 100
