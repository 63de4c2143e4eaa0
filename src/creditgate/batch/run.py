"""One batch run: read, validate, rank, decide, write decisions, quarantine and snapshot.

Counts reconcile by construction and are checked: every input row is either decided (one
output row) or quarantined (one quarantine row with its reason).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import overload

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from creditgate.batch.backends import Backend, duckdb_beside
from creditgate.batch.decisions import (
    OUTPUT_COLUMNS,
    SIGNATURE,
    Split,
    final_columns,
    with_reasons,
)
from creditgate.batch.locations import Location, local_path, sibling, text_of
from creditgate.batch.offers import (
    offer_bindings,
    offer_enums,
    offer_lists,
    offers_of,
    offers_path,
)
from creditgate.batch.profiles import ProfilesBeside, write_sorted_profiles
from creditgate.batch.staging import OUTCOME, stage_policies
from creditgate.batch.validate import (
    BAD_COLUMN,
    CityRules,
    checked,
    city_rules,
    duplicate_ids,
    id_candidates,
    missing_columns,
    not_nfc_ids,
    quarantined,
    typed,
    typed_profiles,
    valid_profiles,
)
from creditgate.batch.whitelist import Cutoffs, Eligible, apply_cutoffs, derive_cutoffs
from creditgate.engines.ibis import column_strings, reason_lists, with_optional_fields
from creditgate.lab.funnel import FIRST, MASK, FunnelStep, mask_and_first
from creditgate.lab.report import report_of, report_text, with_counts
from creditgate.policy.bindings import Fixed
from creditgate.policy.lower import refs
from creditgate.policy.nodes import Outcome, Policy
from creditgate.population.regions import RegionTable
from creditgate.profile import canonical_city
from creditgate.snapshot import (
    REVIEW,
    SnapshotError,
    SnapshotMeta,
    read_invited,
    read_meta,
    write_snapshot,
)
from creditgate.snapshot_profiles import IdOrder
from creditgate.snapshot_report import write_run_report

Step = Callable[[str], None]
MAX_LISTS = 1_000_000  # reason lists built from enumerated signatures, at most


class BatchInputError(ValueError):
    """The input cannot be used at all (missing file, missing contract columns)."""


class BatchOutputError(BatchInputError):
    """An output cannot be written (a remote file system refused, a path vanished): like bad
    input, the run ends with a one-line reason (exit 2 in the CLI)."""


@dataclass
class BatchReport:
    input_rows: int
    decided: int
    quarantined: int
    duplicate_rows: int
    outcomes: dict[str, int]
    cutoffs: Cutoffs
    quarantine_path: Location
    snapshot_path: Path | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    report_path: Location | None = None  # the strategy lab's report of this run (``lab.report``)

    @property
    def reconciles(self) -> bool:
        return self.input_rows == self.decided + self.quarantined


def summary(exc: Exception) -> str:
    """An engine's error in a line: its first line, and the deepest cause a JVM names (Spark's
    messages carry a Java stack trace, DuckDB's the SQL it ran)."""
    lines = [t for line in str(exc).splitlines() if (t := line.strip()) and not t.startswith("at ")]
    causes = [t for t in lines if t.startswith("Caused by:")]
    return "; ".join(lines[:1] + causes[-1:]) or type(exc).__name__


@overload
def quarantine_path(out: Path) -> Path: ...
@overload
def quarantine_path(out: Location) -> Location: ...
def quarantine_path(out: Location) -> Location:
    """``decisions.parquet`` -> ``decisions.quarantine.parquet`` (next to the output)."""
    return sibling(out, ".quarantine.parquet")


@overload
def report_path(out: Path) -> Path: ...
@overload
def report_path(out: Location) -> Location: ...
def report_path(out: Location) -> Location:
    """``decisions.parquet`` -> ``decisions.report.json`` (next to the output)."""
    return sibling(out, ".report.json")


def fingerprint(path: Path) -> str:
    """Cheap and stable: sizes and names of the input files, plus their first megabyte."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        digest.update(f"{p.name}:{p.stat().st_size}".encode())
        with p.open("rb") as f:
            digest.update(f.read(1 << 20))
    return "sha256:" + digest.hexdigest()[:32]


def input_fingerprint(backend: Backend, source: Location) -> str:
    """``fingerprint`` of a local input; a remote one's file names and sizes (reading its
    first megabyte through the cluster's file system is not worth a round trip per file)."""
    local = local_path(source)
    if local is not None:
        return fingerprint(local)
    digest = hashlib.sha256(text_of(source).encode())
    for name, size in backend.listing(source):
        digest.update(f"{name}:{size}".encode())
    return "sha256:" + digest.hexdigest()[:32]


def write_output(
    backend: Backend,
    expr: ir.Table,
    path: Location,
    partition_by: Sequence[str] = (),
    enums: Mapping[str, tuple[str, ...]] | None = None,
) -> None:
    """``Backend.write``, an engine's failure (a file system that refuses, a bucket that is
    not there) turned into ``BatchOutputError`` with its reason in a line."""
    try:
        backend.write(expr, path, partition_by, enums)
    except Exception as exc:  # the engines raise their own types (Py4J, DuckDB)
        raise BatchOutputError(f"{text_of(path)}: cannot write: {summary(exc)}") from exc


def run_batch(
    backend: Backend,
    source: Location,
    out: Location,
    policy: Policy,
    regions: RegionTable,
    as_of: date,
    snapshot: Path | None = None,
    step: Step = lambda _: None,
    previous: Path | None = None,
    partition_by: Sequence[str] = (),
) -> BatchReport:
    """Decide ``source``; with ``previous`` (the snapshot in force), each user's invitation
    held there (since when, which line) is what the policy's stability rules read.

    ``source`` and ``out`` may be URIs of the engine's file systems (``batch.locations``);
    ``partition_by`` (Spark): ``region_class`` and/or ``province`` directories of ``out``.
    """
    pop = open_population(backend, source, policy, regions, as_of, step, previous)
    raw, input_rows, cities, not_nfc = pop.raw, pop.input_rows, pop.cities, pop.not_nfc
    step("deciding under the policy's own cutoffs")
    table, [sp] = stage_policies(
        backend, pop.table, [policy], regions, as_of, pop.raw_cities, cities
    )
    shape, staged = sp.shape, sp.view
    # The decided rows are staged as a table of their own, read by the write, the report,
    # the counts and the snapshot, and the early table is dropped at once. (On Spark this
    # needs a staged table whose plan is a leaf, ``backends.checkpointed``: a cached view
    # of the whole program made every later query match that plan, minutes per query.)
    try:
        step("finding duplicate user ids")
        duplicate_rows, dup_table = duplicates(backend, staged, raw)
        step("ranking eligible users")
        counted = ranking(backend, shape, staged, dup_table)
        cutoffs = derive_cutoffs(counted.eligible, input_rows, policy, regions)
        step("deciding")
        final = shape.cut_at(apply_cutoffs(policy, cutoffs.by_class, by_city=cutoffs.by_city))
        rows, lists = decided(
            backend, final, valid_rows(staged, dup_table), as_of, counted.signatures, sp.steps
        )
        # once, for the write, the report, the counts and the snapshot
        rows = backend.stage(rows, decided_enums(final, rows))
    except BaseException:
        backend.release(table)
        raise
    backend.release(table)
    dirty = bool(counted.bad_rows) or dup_table is not None
    with ExitStack() as cleanup:
        beside: ProfilesBeside | None = None
        try:
            if snapshot is not None and not dirty and backend.name == "duckdb":
                # a clean input's profiles are its own rows: a second DuckDB writes them meanwhile
                beside = cleanup.enter_context(
                    closing(profiles_beside(backend, source, as_of, previous, snapshot.parent))
                )
            step("writing decisions")
            provinces = provinces_of(pop.raw_cities, regions) if PROVINCE in partition_by else None
            write_output(
                backend, as_optional(decisions_of(rows, lists, provinces)), out, partition_by
            )
            if policy.products:
                step("writing offers")
                offers = as_optional(offers_of(final.program, rows, lists))
                write_output(backend, offers, offers_path(out), enums=offer_enums(final.program))
            step("reporting")
            lab_report = report_of(backend, rows, sp.steps, policy, cutoffs, regions, as_of)
            step("writing quarantine")
            q_path = quarantine_path(out)
            if dirty:
                bad = quarantined(checked(raw, as_of, cities, dup_table, not_nfc))
                write_output(backend, bad, q_path)
            else:  # the staged pass counted the bad rows: a clean file needs no validating scan
                write_output(backend, quarantined(pop.table).limit(0), q_path)
            step("counting")
            outcomes: dict[str, int] = dict(lab_report["outcomes"])  # the report's grouped pass
            report = BatchReport(
                input_rows=input_rows,
                decided=sum(outcomes.values()),
                quarantined=int(backend.scalar(backend.read(q_path).count())),
                duplicate_rows=duplicate_rows,
                outcomes=outcomes,
                cutoffs=cutoffs,
                quarantine_path=q_path,
                report_path=report_path(out),
            )
            # The snapshot's few rows, kept so the decided rows can go before the profiles' sort.
            shown = backend.stage(snapshot_rows(rows)) if snapshot is not None else None
        finally:
            if lists is not None:
                backend.release(lists)
            backend.release(rows)
        document = with_counts(
            lab_report, input_rows, report.decided, report.quarantined, duplicate_rows
        ) | {"as_of": as_of.isoformat(), "outcome_column": None}
        try:
            backend.write_text(report_path(out), report_text([document]))
        except Exception as exc:  # a local OSError or the JVM's IOException
            raise BatchOutputError(
                f"{text_of(report_path(out))}: cannot write: {summary(exc)}"
            ) from exc
        if snapshot is None or shown is None:
            return report
        try:
            step("writing the decided profiles")
            profiles_ref = beside.result() if beside is not None else None
            if profiles_ref is None:
                if dirty:  # the validity test's IN-list joins lose the input's order
                    profiles = valid_profiles(checked(raw, as_of, cities, dup_table, not_nfc))
                else:  # every row is decided (counted in the staged pass): no validity test
                    profiles = typed_profiles(raw)
                in_order = not dirty and not (beside is not None and beside.unordered)
                profiles_ref = write_sorted_profiles(
                    backend, snapshot.parent, profiles, try_input_order=in_order
                )
            report_ref = write_run_report(snapshot.parent, document)
            step("writing snapshot")
            ordered = backend.batches(
                shown.order_by([ibis.asc("entry"), ibis.desc("score"), ibis.asc("user_id")])
            )
            meta = SnapshotMeta(
                policy_name=policy.name,
                policy_version=policy.version,
                as_of=as_of,
                cutoffs=dict(cutoffs.by_class),
                city_cutoffs={c: dict(xs) for c, xs in cutoffs.by_city.items() if xs},
                capacity_share=policy.capacity_share,
                input_fingerprint=input_fingerprint(backend, source),
                created_at=datetime.now(UTC),
                profiles=profiles_ref.to_json(),
                report=report_ref.to_json(),
                counts={
                    "input": report.input_rows,
                    "decided": report.decided,
                    "quarantined": report.quarantined,
                    "invited": outcomes.get(Outcome.INVITED, 0),
                    "manual_review": outcomes.get(Outcome.MANUAL_REVIEW, 0),
                    "capacity": cutoffs.capacity,
                },
            )
            write_snapshot(snapshot, meta, ordered)
            report.snapshot_path = snapshot
        finally:
            backend.release(shown)
        return report


def snapshot_rows(decided: ir.Table) -> ir.Table:
    """The snapshot's rows (``SNAPSHOT_SCHEMA``'s columns) of a decisions table: every user
    who sees the entry, and every hidden ``manual_review`` user as a ``review`` row (score and
    region class only), whom the service queues for review when the snapshot is activated."""
    review = (decided["outcome"] == Outcome.MANUAL_REVIEW.value) & (decided["entry"] == "hidden")
    kept = decided.filter((decided["entry"] != "hidden") | review)
    no_int = ibis.null().cast("int64")
    return kept.select(
        user_id=kept["user_id"],
        region_class=kept["region_class"],
        score=kept["score"],
        limit_cny=review.ifelse(no_int, kept["limit_cny"]),
        apr=review.ifelse(ibis.null().cast("string"), kept["apr"]),
        entry=review.ifelse(ibis.literal(REVIEW), kept["entry"]),
        invited_since=review.ifelse(ibis.null().cast("date"), kept["invited_since"]),
    )


@dataclass
class Population:
    """An input read once, its contract checks built: what batch and the strategy lab share.

    ``table`` is the checked expression (``batch.validate.checked``): every input column, each
    contract column typed (``_v_<name>``) and the ``_cg_bad`` flag; nothing is computed yet.
    """

    raw: ir.Table
    input_rows: int
    raw_cities: list[str | None]
    cities: CityRules
    not_nfc: tuple[str, ...]
    table: ir.Table


def open_population(
    backend: Backend,
    source: Location,
    policy: Policy,
    regions: RegionTable,
    as_of: date,
    step: Step = lambda _: None,
    previous: Path | None = None,
) -> Population:
    """Read ``source`` and build its validation: the row count, the file's cities (their
    canonical names and the unknown ones, under ``policy.unknown_city``) and the ids that are
    not NFC, each read once. With ``previous`` (a snapshot), the invitations it holds replace
    the input's ``invited_since`` and ``invited_limit_cny`` (``with_held``). Raises
    ``BatchInputError`` when the input cannot be used."""
    name = text_of(source)
    try:
        found = backend.exists(source)
    except Exception as exc:  # a remote file system that cannot be reached, or no such scheme
        raise BatchInputError(f"{name}: cannot reach: {summary(exc)}") from exc
    if not found:
        raise BatchInputError(f"{name}: no such file or directory")
    step("reading input")
    raw = read_input(backend, source, as_of, previous)
    input_rows = int(backend.scalar(raw.count()))
    # As the rows see them: contract-typed (a number in a city column is a string, unknown).
    raw_cities = backend.fetch(raw.select(city=typed(raw, "city")).distinct())["city"].to_pylist()
    cities = city_rules(raw_cities, policy, regions)
    not_nfc = not_nfc_ids(backend.fetch(id_candidates(raw))["user_id"].to_pylist())
    table = checked(raw, as_of, cities, not_nfc=not_nfc)
    return Population(raw, input_rows, raw_cities, cities, not_nfc, table)


def read_input(
    backend: Backend, source: Location, as_of: date, previous: Path | None = None
) -> ir.Table:
    """``source`` as a run reads it: the optional profile fields added where the file has
    none and, with ``previous``, the invitations that snapshot holds (``with_held``). Raises
    ``BatchInputError`` when it cannot be read or lacks profile columns."""
    name = text_of(source)
    try:
        raw = backend.read(source)
    except Exception as exc:  # the backends raise their own types for unreadable files
        raise BatchInputError(f"{name}: cannot read as Parquet: {summary(exc)}") from exc
    missing = missing_columns(raw)
    if missing:
        raise BatchInputError(f"{name}: missing profile columns: {', '.join(missing)}")
    raw = with_optional_fields(raw)
    return raw if previous is None else with_held(raw, previous, as_of)


def profiles_beside(
    backend: Backend, source: Location, as_of: date, previous: Path | None, directory: Path
) -> ProfilesBeside:
    """A clean input's decided profiles (every row, contract-typed) written into
    ``directory`` by a second DuckDB while ``backend`` goes on (``batch.profiles``)."""
    side = duckdb_beside(backend)
    try:
        return ProfilesBeside(
            side, typed_profiles(read_input(side, source, as_of, previous)), directory
        )
    except BaseException:
        side.con.disconnect()
        raise


def with_held(raw: ir.Table, previous: Path, as_of: date) -> ir.Table:
    """``raw`` with each user's invitation in the snapshot ``previous`` (the whitelist in
    force): ``invited_since`` (from snapshots before stable entries: their ``as_of``) and
    ``invited_limit_cny``, NULL for users it does not invite. One left join on the id, so
    every input row stays one row (duplicates included, quarantined later)."""
    try:
        meta = read_meta(previous)
        held = read_invited(previous)
    except SnapshotError as exc:
        raise BatchInputError(f"--previous: {exc}") from exc
    if meta.as_of > as_of:
        raise BatchInputError(
            f"--previous: snapshot as of {meta.as_of}, after this run's as_of {as_of}"
        )
    table = pa.table(
        {
            "_held_id": held["user_id"],
            "_held_since": held["invited_since"],
            "_held_limit": held["limit_cny"],
        }
    )
    h = ibis.memtable(table)
    joined = raw.left_join(h, typed(raw, "user_id") == h["_held_id"])
    return joined.mutate(
        invited_since=joined["_held_since"], invited_limit_cny=joined["_held_limit"]
    ).drop("_held_id", "_held_since", "_held_limit")


def duplicates(backend: Backend, staged: ir.Table, raw: ir.Table) -> tuple[int, ir.Table | None]:
    """(rows whose ``user_id`` occurs more than once, those ids as a small table or None).

    ``raw`` is the input ``staged`` was computed from: when its contract-typed ids rise
    strictly in the input's order (``ids_rise``), no id repeats and the count over every
    id is skipped."""
    if ids_rise(backend, raw):
        return 0, None
    dups = backend.fetch(duplicate_ids(staged))
    duplicate_rows = int(pc.sum(dups["_dup_count"]).as_py() or 0)
    return duplicate_rows, (ibis.memtable(dups) if dups.num_rows else None)


def ids_rise(backend: Backend, raw: ir.Table) -> bool:
    """Whether the contract-typed ids of ``raw`` rise strictly in the input's order, the
    missing ones (NULL, never duplicates: ``duplicate_ids``) aside: true of an export sorted
    by id, as exports often are, which then repeats no id. DuckDB streams the ids (10M:
    0.2 s, where the grouped count of every id takes 1.1 s on two threads); the first batch
    out of order ends the attempt, so another input pays about a batch. Spark collects a
    result before its first batch: there the count runs at once."""
    if backend.name == "spark":
        return False
    order = IdOrder()
    with closing(backend.batches(raw.select(user_id=typed(raw, "user_id")))) as stream:
        return all(order.follows(pc.drop_null(batch.column("user_id"))) for batch in stream)


@dataclass
class Ranking:
    """What one aggregate over the staged rows tells: the eligible users by (class, city,
    score), the bad rows, and the early reason signatures of the valid rows."""

    eligible: list[Eligible]
    bad_rows: int
    signatures: list[int]
    valid_rows: int = 0  # decided: neither bad nor a duplicate id


def ranking(backend: Backend, sp: Split, staged: ir.Table, dups: ir.Table | None) -> Ranking:
    """One ``GROUP BY`` of the staged table: valid non-duplicate rows invited under the
    policy's own cutoffs by (class, city, score), everyone else by reason signature only."""
    t = staged
    bad = t[BAD_COLUMN]
    if dups is not None:
        t = t.left_join(dups, t["user_id"] == dups["_dup_id"])
        valid = ~bad & t["_dup_count"].isnull()
    else:
        valid = ~bad
    invited = valid & (t[sp.column(outcome_binding(sp))] == Outcome.INVITED.value)
    sig = ibis.ifelse(valid, t[SIGNATURE], ibis.null("int64")) if sp.codes else ibis.null("int64")
    agg = t.group_by(
        bad=bad,
        valid=valid,
        sig=sig,
        region_class=ibis.ifelse(invited, t[sp.column("region_class")], ibis.null("string")),
        city=ibis.ifelse(invited, t["city"], ibis.null("string")),
        score=ibis.ifelse(invited, rank_score(sp, t), ibis.null("int64")),
    ).agg(n=t.count())
    out = Ranking([], 0, [])
    signatures: set[int] = set()
    for r in backend.fetch(agg).to_pylist():
        if r["bad"]:
            out.bad_rows += int(r["n"])
        if r["valid"]:
            out.valid_rows += int(r["n"])
        if r["sig"] is not None:
            signatures.add(int(r["sig"]))
        if r["score"] is not None:
            e = Eligible(r["region_class"], r["city"], int(r["score"]), int(r["n"]))
            out.eligible.append(e)
    out.signatures = sorted(signatures)
    return out


HELD_RECENTLY = 1_000_000  # the rank of an invitation within its minimum period: above all


def rank_score(sp: Split, t: ir.Table) -> ir.IntegerValue:
    """The score a user is ranked at when the cutoffs fill the quotas and the capacity.

    Held invitations come first (docs/policy.md, "Stable entries"): one within its
    minimum period always stays, so it ranks above every score; one past it stays while
    ``score + band`` reaches the cutoff, so it ranks at ``score + band``. Then a cutoff ``c``
    derived from these ranks invites exactly the users the program keeps at ``c`` (new users
    at ``score >= c``, held ones by the hysteresis), and the capacity counts the held first."""
    score = t[sp.column(Fixed.SCORE.column)].cast("int64")
    if not sp.program.has(Fixed.STABLE_HELD):
        return score
    held = t[sp.column(Fixed.STABLE_HELD.column)]
    recent = t[sp.column(Fixed.STABLE_RECENT.column)]
    band = sp.program.policy.stability.band
    return ibis.cases(
        (held & recent, ibis.literal(HELD_RECENTLY, "int64")),
        (held, score + band),
        else_=score,
    )


def outcome_binding(sp: Split) -> str:
    """The outcome under the policy's own cutoffs (``outcome`` when no class has a cutoff)."""
    return (Fixed.POLICY_OUTCOME if sp.program.capacity else Fixed.OUTCOME).column


def all_signatures(sp: Split, early: list[int]) -> list[int] | None:
    """Every full signature: each early one with every combination of the late slots' keys
    (two capacity slots: four combinations). None when there are too many to list."""
    assert sp.codes is not None
    late = [
        [c * sp.codes.radix[i] for c in range(len(sp.codes.values[i]) + 1)] for i in sp.late_slots
    ]
    combos = [sum(c) for c in itertools.product(*late)]
    if len(combos) * len(early) > MAX_LISTS:
        return None
    return sorted({e + c for e in early for c in combos})


def valid_rows(staged: ir.Table, dups: ir.Table | None) -> ir.Table:
    """The staged rows that are decided: not bad, ``user_id`` not duplicated."""
    good = staged.filter(~staged[BAD_COLUMN])
    if dups is not None:
        good = good.anti_join(dups, good["user_id"] == dups["_dup_id"])
    return good


def decided(
    backend: Backend,
    sp: Split,
    good: ir.Table,
    as_of: date,
    early_signatures: list[int],
    steps: Sequence[FunnelStep],
) -> tuple[ir.Table, ir.Table | None]:
    """The decided rows of the staged valid rows and the staged table of reason lists
    (``Backend.release`` it when done; None when the rows carry ``reason_codes`` already).

    Columns: the contract's (``reason_codes`` only with ``with_reasons(rows, lists)``; the
    signature ``_sig`` instead), ``region_class``, ``segment``, the product family's
    (``batch.offers.offer_bindings``), ``city``, the funnel's
    ``_fmask`` and ``_ffirst`` with the whitelist's cuts, and ``_outcome`` when staged."""
    late = {i: s for i, s in enumerate(steps) if s.late}
    flags = tuple(str(refs(s.condition).pop()) for s in late.values())
    extra = ("region_class", "segment", *flags, *offer_bindings(sp.program))
    keep = tuple(c for c in ("city", MASK, FIRST, OUTCOME) if c in good.columns)
    rows = final_columns(sp, good, as_of, extra=extra, keep=keep)
    cut = {i: rows[extra[2 + j]] for j, i in enumerate(late)}
    mask, first = mask_and_first(steps, cut)
    renamed_rows = {c: c for c in rows.columns if c not in flags and c not in (MASK, FIRST)}
    rows = rows.select(
        **{c: rows[c] for c in renamed_rows},
        **{MASK: rows[MASK] + mask, FIRST: ibis.coalesce(rows[FIRST], first)},
    )
    if sp.codes is None:
        return rows, None
    listed = all_signatures(sp, early_signatures)
    if listed is None:  # too many combinations: ask the rows which signatures occur
        listed = backend.fetch(rows.select(SIGNATURE).distinct())[SIGNATURE].to_pylist()
    signatures = ibis.memtable(pa.table({SIGNATURE: pa.array(listed, pa.int64())}))
    lists = reason_lists(sp.program, sp.codes, signatures, SIGNATURE)
    codes = {s.code for s in sp.program.reasons}
    by_key = offer_lists(sp.program) if sp.program.policy.products else None
    if by_key is not None:  # the offers' lists by key (``batch.offers.offer_lists``)
        lists = lists.union(ibis.memtable(by_key).cast(lists.schema()))
        codes |= {c for own in by_key["reason_codes"].to_pylist() for c in own}
    # A few thousand rows; as a DuckDB ENUM list the codes are written as cheaply as integers.
    return rows, backend.stage(lists, enums={"reason_codes": tuple(sorted(codes))})


def decided_enums(sp: Split, rows: ir.Table) -> dict[str, tuple[str, ...]]:
    """The decided rows' string columns that hold only the program's constants (the outcome,
    the entry, the daily rate and APR, each product's status, reason and APR), staged as
    DuckDB ENUMs as the early ones are: a byte a row to store, and written without hashing
    every string again."""
    enums = {}
    for name in rows.columns:
        if name in sp.program.names:
            values = column_strings(sp.program, name, rows[name])
            if values is not None:
                enums[name] = values
    return enums


def as_optional(expr: ir.Table) -> ir.Table:
    """``expr`` with every column passed through an identity CASE. DuckDB's Parquet writer
    declares a column *required* when its statistics show no NULL, and statistics pass
    through a stored table's columns: written from the staged decided rows, which columns
    are required would depend on the data. Every column is optional instead, as the
    contract's schema is (``decisions`` columns may hold NULL), whatever the rows.
    The NULL is left untyped (``ELSE NULL``): DuckDB gives the CASE the column's own type,
    so an ENUM column stays an ENUM to the writer (a typed ``VARCHAR`` NULL turned every
    staged ENUM, the reason lists included, back into strings, each hashed again)."""
    null = ibis.null()
    return expr.select(**{c: expr[c].notnull().ifelse(expr[c], null) for c in expr.columns})


def decisions_of(
    rows: ir.Table, lists: ir.Table | None, provinces: Mapping[str, str] | None = None
) -> ir.Table:
    """The contract's columns plus ``region_class``, as ``batch`` writes them; with
    ``provinces`` (city -> province, ``provinces_of``) also ``province``, to partition by."""
    full = rows if lists is None else with_reasons(rows, lists)
    if provinces is None:
        return full.select(*OUTPUT_COLUMNS, "region_class")
    province = full["city"].substitute(dict(provinces), else_=ibis.null("string"))
    return full.select(*OUTPUT_COLUMNS, "region_class", **{PROVINCE: province})


PROVINCE = "province"


def provinces_of(raw_cities: Sequence[str | None], regions: RegionTable) -> dict[str, str]:
    """Each city of the input, as the decided rows spell it (``canonical_city``), to its
    province; cities the region table does not know are left out (their province is NULL)."""
    found: dict[str, str] = {}
    for raw in raw_cities:
        if raw is not None and (city := regions.lookup(canonical_city(raw))) is not None:
            found[canonical_city(raw)] = city.province
    return found
