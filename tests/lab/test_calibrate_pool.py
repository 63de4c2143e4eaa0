"""The pool one batch run yields is exactly the users the definition names, and the last
class's binary search finds the best option where the excess first falls, then rises."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from creditgate.batch.backends import duckdb_backend
from creditgate.decider import Decider
from creditgate.lab.calibrate import _last, _Options
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


def options(a: list[int], e: list[int]) -> _Options:
    argmin: list[int] = []
    for i in range(len(e)):
        argmin.append(i if not argmin or e[i] < e[argmin[-1]] else argmin[-1])
    return _Options(a, e, [0] * len(a), list(range(len(a))), len(a), argmin)


def test_the_last_class_search_looks_past_a_long_fall() -> None:
    # excess falls slowly, then drops: a bisection over the whole list would miss index 5
    o = options([0, 1, 2, 3, 4, 5, 6], [0, -1, -2, -3, -4, -100, 100])
    assert _last(o, room=10, budget=-50, need=-1) == 5
    assert _last(o, room=4, budget=-3, need=-1) == 4
    assert _last(o, room=4, budget=-5, need=-1) is None
    assert _last(o, room=10, budget=-50, need=5) is None


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
