"""The duplicate-id check of a batch run (``batch.run.duplicates``): its result is the grouped
count's whatever the input's order, and an input whose ids rise is spared the count."""

from __future__ import annotations

from collections import Counter

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditgate.batch import backends
from creditgate.batch import run as batch_run
from creditgate.batch.backends import Backend, duckdb_backend
from creditgate.batch.run import duplicates, ids_rise
from creditgate.batch.validate import typed
from creditgate.snapshot_profiles import IdOrder

BACKEND: Backend = duckdb_backend(threads=2)
IDS = st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", "e", "f"])), max_size=12)


def tables(ids: list[str | None]) -> tuple[ibis.Table, ibis.Table]:
    """(an input of these ids, its staged table: the ids contract-typed, as the run has it)."""
    raw = ibis.memtable(pa.table({"user_id": pa.array(ids, pa.string())}))
    return raw, raw.select(user_id=typed(raw, "user_id"))


def expected(ids: list[str | None]) -> tuple[int, set[str]]:
    counts = Counter(i for i in ids if i is not None)
    repeated = {i for i, n in counts.items() if n > 1}
    return sum(counts[i] for i in repeated), repeated


@settings(max_examples=150, deadline=None)
@given(ids=IDS, sort=st.booleans(), batch_rows=st.integers(1, 4))
def test_duplicates_are_those_of_the_grouped_count_in_any_order(
    ids: list[str | None], sort: bool, batch_rows: int
) -> None:
    """Sorted inputs (the streamed path, cut into batches of a few rows so repeats straddle
    them) and shuffled ones (the grouped count) find the same repeated ids."""
    if sort:
        ids = sorted(ids, key=lambda i: (i is None, i or ""))
    raw, staged = tables(ids)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(backends, "BATCH_ROWS", batch_rows)
        rows, table = duplicates(BACKEND, staged, raw)
    found = set() if table is None else set(BACKEND.fetch(table)["_dup_id"].to_pylist())
    assert (rows, found) == expected(ids)


@pytest.mark.parametrize(
    ("ids", "rise"),
    [
        (["a", "b", "c"], True),
        ([None, "a", None, "b"], True),  # missing ids are never duplicates
        ([], True),
        (["a", "a"], False),
        (["a", None, "a"], False),  # a repeat across a missing id
        (["b", "a"], False),
        (["a", "c", "b"], False),
    ],
)
def test_ids_rise_only_when_every_present_id_is_above_the_one_before(
    ids: list[str | None], rise: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, staged = tables(ids)
    assert ids_rise(BACKEND, raw) is rise

    def counted(table: ibis.Table) -> ibis.Table:
        raise AssertionError("the grouped count ran")

    if rise:  # the count is skipped, not merely agreed with
        monkeypatch.setattr(batch_run, "duplicate_ids", counted)
        assert duplicates(BACKEND, staged, raw) == (0, None)


def test_id_order_holds_across_arrays() -> None:
    order = IdOrder()
    assert order.follows(pa.array(["a", "b"]))
    assert order.follows(pa.array([], pa.string()))
    assert order.follows(pa.array(["c"]))
    assert not order.follows(pa.array(["c", "d"]))  # "c" again, at the start of the next
