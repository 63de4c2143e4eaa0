"""The pool one batch run yields is exactly the users the definition names; the last class's
search finds the best option whatever the shape of its excess curve; the per-floor counts
after per-city quotas agree with counting user by user."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditgate.batch.backends import duckdb_backend
from creditgate.decider import Decider
from creditgate.lab.calibrate import _after_quotas, _last, _Options
from creditgate.lab.pool import read_pool
from creditgate.population.schema import PROFILE_SCHEMA
from creditgate.population.synth import write_parquet
from creditgate.profile import validate_profile

AS_OF = date(2026, 11, 28)


def test_the_pool_is_every_user_passing_all_but_the_score(tmp_path: Path) -> None:
    """Row engine, original policy: no gate failed, no fraud rule fired, not referred."""
    source = tmp_path / "users.parquet"
    write_parquet(source, 1500, seed=3, as_of=AS_OF, chunk_size=5_000)
    decider = Decider()
    pool = read_pool(duckdb_backend("1GB", 2), source, decider.policy, decider.regions, AS_OF)
    names = decider.program.names
    stops = [
        i
        for i, n in enumerate(names)
        if (n.startswith("fail.") and n not in ("fail.score",)) or n.startswith("fraud.")
    ]
    expected: Counter[tuple[str, str, int]] = Counter()
    for row in pq.read_table(source, columns=PROFILE_SCHEMA.names).to_pylist():
        profile = validate_profile(row, AS_OF, decider.policy, decider.regions)
        values = decider.run_head(profile, AS_OF)
        if any(values[i] for i in stops) or values[decider.index["refer.segment"]]:
            continue
        city = decider.regions.require(row["city"]).name
        expected[(values[decider.index["region_class"]], city, values[decider.index["score"]])] += 1
    got = Counter({(e.region_class, e.city, e.score): e.users for e in pool.eligible})
    assert got == expected and sum(got.values()) > 100
    assert pool.all_users == 1500


def options(a: list[int], e: list[int], nested: bool = True) -> _Options:
    ids = list(range(len(a)))
    return _Options("c", a, e, a, ids, nested, np.array(e, dtype=np.int64))


@pytest.mark.parametrize("nested", [True, False])
def test_the_last_class_search_finds_the_best_option_on_any_curve(nested: bool) -> None:
    # The excess falls slowly, drops, rises and falls again: a lower floor can add a city's
    # best users (its quota grows with its eligible count), so no shape can be assumed.
    o = options([0, 1, 2, 3, 4, 5, 6, 7], [0, -1, -2, -3, -4, -100, 100, -60], nested)
    assert _last(o, room=10, budget=-50, need=-1) == 7
    assert _last(o, room=6, budget=-50, need=-1) == 5
    assert _last(o, room=4, budget=-3, need=-1) == 4
    assert _last(o, room=4, budget=-5, need=-1) is None
    assert _last(o, room=10, budget=-50, need=7) is None  # b (= a here) must exceed need
    assert _last(o, room=10, budget=-50, need=5) == 7


@given(
    st.integers(1, 6).flatmap(
        lambda floors: st.tuples(
            st.lists(
                st.lists(st.integers(0, 5), min_size=floors, max_size=floors),
                min_size=1,
                max_size=4,
            ),
            st.booleans(),
        )
    ),
    st.data(),
)
def test_counts_after_quotas_agree_with_counting_each_city(
    case: tuple[list[list[int]], bool], data: st.DataObject
) -> None:
    """Monotone threshold columns take the step path, others the direct one; both count a
    city's users at column i for floor o exactly when i >= threshold."""
    columns, monotone = case
    if monotone:  # a lower floor (a later row) never raises a city's threshold
        columns = [sorted(c, reverse=True) for c in columns]
    thresholds = np.array(columns, dtype=np.intp).T
    per_score = np.array(
        data.draw(
            st.lists(
                st.lists(st.integers(0, 9), min_size=5, max_size=5),
                min_size=len(columns),
                max_size=len(columns),
            )
        ),
        dtype=np.int64,
    )
    floors, groups = thresholds.shape
    expected = [
        [
            sum(int(per_score[g, i]) for g in range(groups) if i >= thresholds[o, g])
            for i in range(5)
        ]
        for o in range(floors)
    ]
    assert _after_quotas(thresholds, per_score).tolist() == expected


def test_spark_counts_the_same_pool_as_duckdb(tmp_path: Path) -> None:
    """The only engine-dependent step of a calibration; the search reads these counts."""
    pytest.importorskip("pyspark")
    from creditgate.batch.backends import spark_backend

    source = tmp_path / "users.parquet"
    write_parquet(source, 800, seed=4, as_of=AS_OF, dirty_fraction=0.05, chunk_size=5_000)
    decider = Decider()
    pools = [
        read_pool(backend, source, decider.policy, decider.regions, AS_OF)
        for backend in (duckdb_backend("1GB", 2), spark_backend())
    ]
    duck, spark = (
        Counter({(e.region_class, e.city, e.score): e.users for e in p.eligible}) for p in pools
    )
    assert duck == spark and sum(duck.values()) > 50
    assert pools[0].all_users == pools[1].all_users == 800
