"""``creditgate decide``: one JSON profile in, one decision out; JSON Lines streams."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import orjson
import typer

from creditgate.cli.common import (
    AsOfOption,
    Exit,
    PolicyOption,
    err,
    fail,
    load_decider,
    parse_as_of,
)
from creditgate.decider import Decider
from creditgate.profile import ProfileError, validate_profile
from creditgate.snapshot import SnapshotError, file_snapshot_id, read_meta
from creditgate.snapshot_decider import cutoffs_for, cutoffs_used, snapshot_decider


class Lang(StrEnum):
    ALL = "all"
    ZH = "zh-CN"
    EN = "en"


def langs(lang: Lang) -> tuple[str, ...] | None:
    return None if lang is Lang.ALL else (lang.value,)


def decide_one(
    decider: Decider,
    doc: bytes,
    as_of: date,
    keep: tuple[str, ...] | None,
    line: int | None = None,
    cutoffs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One decision as JSON, with the ``"cutoffs"`` it was cut at (default: the policy's)."""
    row = validate_profile(doc, as_of, decider.policy, decider.regions, line=line)
    out = decider.decide(row, as_of).to_dict(keep)
    out["cutoffs"] = cutoffs_for(cutoffs or cutoffs_used(None), decider, row)
    return out


def with_snapshot(decider: Decider, path: Path) -> tuple[Decider, date, dict[str, Any]]:
    """The decider with a snapshot's cutoffs applied (the snapshot must be of this policy),
    its as-of date and the decisions' ``"cutoffs"`` field, naming the snapshot by the id the
    service gives the same file."""
    try:
        meta = read_meta(path)
        cut = snapshot_decider(decider, meta, str(path))
        return cut, meta.as_of, cutoffs_used(file_snapshot_id(path), meta.as_of, meta.cutoffs)
    except SnapshotError as exc:
        fail(str(exc))


def open_input(source: str) -> IO[bytes]:
    if source == "-":
        return sys.stdin.buffer
    try:
        return Path(source).open("rb")
    except OSError as exc:
        fail(f"{source}: {exc.strerror}")


def numbered(stream: IO[bytes], first: bytes) -> Iterator[tuple[int, bytes]]:
    yield 1, first
    yield from enumerate(stream, start=2)


def decide(
    profile: Annotated[
        str, typer.Argument(help="Profile JSON or JSON Lines file, or - for stdin.")
    ],
    policy: PolicyOption = None,
    as_of: AsOfOption = None,
    lang: Annotated[Lang, typer.Option(help="Languages of the messages.")] = Lang.ALL,
    snapshot: Annotated[
        Path | None,
        typer.Option(
            help="Whitelist snapshot from `creditgate batch`: decide with its capacity and "
            "quota cutoffs (and its as-of date unless --as-of is given).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Decide profiles: one JSON object -> one decision; JSON Lines -> JSON Lines, streaming.

    A bad profile is reported on stderr with its field (and line number in JSON Lines); the
    other lines are still decided, and the exit code is 2.
    """
    decider = load_decider(policy)
    cutoffs = cutoffs_used(None)
    if snapshot is not None:
        decider, snapshot_as_of, cutoffs = with_snapshot(decider, snapshot)
        as_of = as_of or snapshot_as_of.isoformat()
    when = parse_as_of(as_of)
    keep = langs(lang)
    stream = open_input(profile)
    first = stream.readline()
    while first and not first.strip():
        first = stream.readline()
    if not first:
        fail(f"{profile}: no profile in the input")
    try:
        orjson.loads(first)
        single_line = True
    except orjson.JSONDecodeError:
        single_line = False
    if not single_line:  # one pretty-printed JSON document
        text = first + stream.read()
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            fail(f"{profile}: malformed JSON: {exc}")
        if not isinstance(data, dict):
            fail(f"{profile}: expected a JSON object (a profile)")
        try:
            decision = decide_one(decider, text, when, keep, cutoffs=cutoffs)
        except ProfileError as exc:
            fail(f"{profile}: {exc}")
        sys.stdout.buffer.write(orjson.dumps(decision, option=orjson.OPT_INDENT_2))
        sys.stdout.buffer.write(b"\n")
        return
    bad = 0
    for number, raw in numbered(stream, first):
        if not raw.strip():
            continue
        try:
            decision = decide_one(decider, raw, when, keep, line=number, cutoffs=cutoffs)
        except ProfileError as exc:
            bad += 1
            err.print(f"{profile}: {exc}", soft_wrap=True, markup=False)
            continue
        sys.stdout.buffer.write(orjson.dumps(decision) + b"\n")
        sys.stdout.buffer.flush()
    if bad:
        err.print(f"{bad} bad line(s) not decided", markup=False)
        raise typer.Exit(int(Exit.BAD_INPUT))
