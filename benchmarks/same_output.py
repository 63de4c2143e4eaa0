"""Two batch runs wrote the same output: every file, row for row.

    .venv/bin/python benchmarks/same_output.py RUN_A RUN_B

RUN_A and RUN_B are directories each holding one run of ``creditgate batch SOURCE --out
DIR/decisions.parquet --snapshot DIR/snapshot.parquet`` (the same input, policy and
``--as-of``; e.g. one from the code before a change, one after). Compared: every Parquet file's
column names, types and rows: the snapshot's rows in file order (its order is its contract:
entry, then score, then id), the decisions, offers and quarantine as multisets (DuckDB writes
them from parallel threads without keeping an order, so two runs of one build on two threads
already differ in row order); the decided profiles' Arrow file by content, in order (its
bytes are a function of its rows, but a name change is not a difference); the run report and
the snapshot's copy of it as JSON, except the policy file's path (``source``), which names the
checkout that ran; the snapshot's metadata (cutoffs, city cutoffs, counts, policy, as-of,
capacity share, input fingerprint, the profiles' row count) but for what differs between any
two runs: its creation time and the profiles' and report's file names and digests. Exit 0
when everything matches, 1 otherwise, with a line per file either way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.ipc as ipc

from creditgate.snapshot import read_meta

# Values that name where a run happened, not what it decided.
PLACE_KEYS = frozenset({"source"})


# The files whose row order is part of their contract; the others are compared as multisets.
ORDERED = frozenset({"snapshot.parquet"})


def parquet_difference(
    con: duckdb.DuckDBPyConnection, a: Path, b: Path, ordered: bool
) -> str | None:
    """None when ``a`` and ``b`` hold the same columns (names and types) and the same rows (in
    the same order when ``ordered``); else what differs first."""
    schema_a = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{a}')").fetchall()
    schema_b = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{b}')").fetchall()
    columns_a = [(row[0], row[1]) for row in schema_a]
    columns_b = [(row[0], row[1]) for row in schema_b]
    if columns_a != columns_b:
        return f"columns differ: {columns_a} vs {columns_b}"
    rows_a = con.execute(f"SELECT count(*) FROM read_parquet('{a}')").fetchall()[0][0]
    rows_b = con.execute(f"SELECT count(*) FROM read_parquet('{b}')").fetchall()[0][0]
    if rows_a != rows_b:
        return f"{rows_a:,} rows vs {rows_b:,}"
    if not columns_a:
        return None
    if ordered:
        differs = " OR ".join(f'x."{name}" IS DISTINCT FROM y."{name}"' for name, _ in columns_a)
        found = con.execute(
            f"SELECT count(*) FROM read_parquet('{a}') AS x POSITIONAL JOIN "
            f"read_parquet('{b}') AS y WHERE {differs}"
        ).fetchall()[0][0]
        return f"{found:,} of {rows_a:,} rows differ (in order)" if found else None
    found = con.execute(
        f"SELECT count(*) FROM (SELECT * FROM read_parquet('{a}') "
        f"EXCEPT ALL SELECT * FROM read_parquet('{b}'))"
    ).fetchall()[0][0]
    return f"{found:,} of {rows_a:,} rows have no equal in the other run" if found else None


def without_places(document: Any) -> Any:
    """``document`` with every ``source`` value (a path) left out, at any depth."""
    if isinstance(document, dict):
        return {k: without_places(v) for k, v in document.items() if k not in PLACE_KEYS}
    if isinstance(document, list):
        return [without_places(v) for v in document]
    return document


def report_difference(a: Path, b: Path) -> str | None:
    same = without_places(json.loads(a.read_text())) == without_places(json.loads(b.read_text()))
    return None if same else "the reports differ"


def meta_difference(a: Path, b: Path) -> str | None:
    """The snapshots' metadata compared but for the run's own: when, and the file names and
    digests of the profiles and report (the profiles' rows are compared on their own)."""
    meta_a, meta_b = read_meta(a), read_meta(b)
    kept = []
    for meta in (meta_a, meta_b):
        data = json.loads(meta.to_json())
        data.pop("created_at")
        data.pop("report", None)
        data["profiles"] = (data.get("profiles") or {}).get("rows")
        kept.append(data)
    if kept[0] == kept[1]:
        return None
    keys = sorted(k for k in kept[0].keys() | kept[1].keys() if kept[0].get(k) != kept[1].get(k))
    return f"metadata differs: {', '.join(keys)}"


def only(directory: Path, pattern: str) -> Path | None:
    found = sorted(directory.glob(pattern))
    return found[0] if len(found) == 1 else None


def differences(a: Path, b: Path) -> list[tuple[str, str | None]]:
    """(file, None when the same or what differs) for every output of the two runs."""
    out: list[tuple[str, str | None]] = []
    con = duckdb.connect()
    names = sorted({p.name for p in a.glob("*.parquet")} | {p.name for p in b.glob("*.parquet")})
    for name in names:
        if not (a / name).exists() or not (b / name).exists():
            out.append((name, f"only in {a if (a / name).exists() else b}"))
        else:
            out.append((name, parquet_difference(con, a / name, b / name, name in ORDERED)))
    if (a / "snapshot.parquet").exists() and (b / "snapshot.parquet").exists():
        out.append(
            ("snapshot metadata", meta_difference(a / "snapshot.parquet", b / "snapshot.parquet"))
        )
    for name in sorted({p.name for p in a.glob("*.report.json")}):
        if not (b / name).exists():
            out.append((name, f"only in {a}"))
        else:
            out.append((name, report_difference(a / name, b / name)))
    reports_a, reports_b = only(a, "report-*.json"), only(b, "report-*.json")
    if reports_a is not None or reports_b is not None:  # the snapshot's copy of the report
        if reports_a is None or reports_b is None:
            out.append(("report-*.json", "not one snapshot report in each run"))
        else:
            out.append(("report-*.json", report_difference(reports_a, reports_b)))
    profiles_a, profiles_b = only(a, "profiles-*.arrow"), only(b, "profiles-*.arrow")
    if profiles_a is not None or profiles_b is not None:
        if profiles_a is None or profiles_b is None:
            out.append(("profiles-*.arrow", "not one profiles file in each run"))
        else:
            same = ipc.open_file(profiles_a).read_all().equals(ipc.open_file(profiles_b).read_all())
            out.append(("profiles-*.arrow", None if same else "the decided profiles differ"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    args = parser.parse_args()
    found = differences(args.run_a, args.run_b)
    if not found:
        print("no outputs found", file=sys.stderr)
        return 1
    for name, problem in found:
        print(f"{name}: {problem or 'identical'}")
    return 1 if any(problem for _, problem in found) else 0


if __name__ == "__main__":
    sys.exit(main())
