"""Score a table with a trained card: lower to nodes, compile with a pluggable engine.

The engine is a parameter (``ScoreEngine``): the row engine here, an Ibis/DuckDB compiler of
the same nodes later. Scoring keeps every input row in its order and appends ``score`` and
``pd``; it never imports the trainer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from creditgate.engines.row import compile_program
from creditgate.policy.bindings import BinIndex, Fixed, PairBin
from creditgate.scorecard.artifact import Artifact
from creditgate.scorecard.lowering import CardProgram, lower_card

_EPOCH = date(1970, 1, 1)  # cards read no dates; the row engine still takes an as-of


class DataError(ValueError):
    """Input data that cannot be scored; the message names the column (and row)."""


class ScoreEngine(Protocol):
    """Evaluates ``outputs`` of a card program for every row of ``table``, in order."""

    def evaluate(
        self, program: CardProgram, table: pa.Table, outputs: Sequence[str]
    ) -> dict[str, pa.Array]: ...


class RowEngine:
    """The compiled row engine (``engines.row``), one record batch at a time."""

    def __init__(self, progress: Callable[[int], None] | None = None) -> None:
        self.progress = progress

    def evaluate(
        self, program: CardProgram, table: pa.Table, outputs: Sequence[str]
    ) -> dict[str, pa.Array]:
        run = compile_program(program)
        at = [program.names.index(o) for o in outputs]
        columns: list[list[object]] = [[] for _ in outputs]
        for batch in table.select(list(program.columns)).to_batches(max_chunksize=65536):
            for row in batch.to_pylist():
                values = run(row, _EPOCH)
                for col, i in zip(columns, at, strict=True):
                    col.append(values[i])
            if self.progress is not None:
                self.progress(batch.num_rows)
        return {o: pa.array(c) for o, c in zip(outputs, columns, strict=True)}


def read_table(path: Path) -> pa.Table:
    """CSV or Parquet by extension; ``DataError`` for anything else or unreadable input."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pq.read_table(path)
        if suffix == ".csv":
            return pacsv.read_csv(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    raise DataError(f"{path}: expected a .csv or .parquet file")


def write_table(table: pa.Table, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        pq.write_table(table, path)
    elif suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        raise DataError(f"{path}: output must end in .csv or .parquet")


def first_bad_row(raw: pa.ChunkedArray) -> int:
    for i, value in enumerate(raw.to_pylist()):
        try:
            float(value) if value is not None else None
        except (TypeError, ValueError):
            return i
    return -1


def conform(table: pa.Table, card: Artifact) -> pa.Table:
    """Only the card's columns, typed as the card reads them: numbers as float (NaN -> NULL),
    categories as strings. A missing column or a non-number in a numeric one is bad input."""
    missing = [c for c in card.columns if c not in table.column_names]
    if missing:
        raise DataError(f"column(s) missing from the input: {', '.join(missing)}")
    arrays: dict[str, pa.ChunkedArray] = {}
    for f in card.features:
        raw = table.column(f.column)
        if f.kind == "categorical":
            # training compared categories as Python text: True, not Arrow's "true"
            if pa.types.is_boolean(raw.type):
                arrays[f.column] = pc.if_else(raw, "True", "False")
            else:
                arrays[f.column] = pc.cast(raw, pa.string())
            continue
        try:
            values = pc.cast(raw, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            row = first_bad_row(raw)
            raise DataError(
                f"column {f.column!r}, row {row + 1}: {raw[row].as_py()!r} is not a number"
            ) from exc
        arrays[f.column] = pc.if_else(pc.is_nan(values), None, values)
    return pa.table(arrays)


def score_table(table: pa.Table, card: Artifact, engine: ScoreEngine | None = None) -> pa.Table:
    """``table`` with ``score`` (int, higher is better) and ``pd`` appended, rows in order."""
    program = lower_card(card)
    score, pd_ = Fixed.SCORE.column, Fixed.PD.column  # the output columns' names too
    result = (engine or RowEngine()).evaluate(program, conform(table, card), [score, pd_])
    out = table
    for name in (score, pd_):
        if name in out.column_names:
            out = out.drop_columns([name])
    out = out.append_column(score, pc.cast(result[score], pa.int64()))
    return out.append_column(pd_, pc.cast(result[pd_], pa.float64()))


def bins_matrix(
    table: pa.Table, card: Artifact, engine: ScoreEngine | None = None
) -> Iterator[tuple[str, pa.Array]]:
    """Each feature's bin index per row (for drift and batch recourse), then each pair's axis
    indices (``pairbin.<pair>.0``, ``.1``) when the card has pairs, then the score."""
    program = lower_card(card)
    outputs = [BinIndex(f.name).column for f in card.features]
    outputs += [PairBin(p.name, k).column for p in card.pairs for k in (0, 1)]
    outputs += [Fixed.SCORE.column]
    result = (engine or RowEngine()).evaluate(program, conform(table, card), outputs)
    yield from result.items()
