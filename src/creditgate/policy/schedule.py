"""The rollout schedule: which provinces and cities are open on a date.

A policy's ``regions.schedule`` lists stages, earliest first; each opens the open and partly
open classes in more provinces (and single cities) from its date on, Asia/Shanghai. The stage
in force at the evaluation date is the latest one that has started; stages add up, so a
pilot's provinces stay open when a later stage widens the rollout. Outside the opened places,
and before the first stage, every class is closed (REGION_CLOSED). Without a schedule the
classes' statuses alone decide.

The schedule is lowered into the program (``open_expr``) as a CASE on the evaluation date
(``AsOf``), so one compiled program serves every day and every engine; the same rules,
evaluated here in Python, word the refusal and date the recourse (``opens_on``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from creditgate.policy.nodes import AsOf, Case, CmpOp, Compare, Expr, Field, InSet, Literal, Policy
from creditgate.policy.nodes import RolloutStage as Stage
from creditgate.population.regions import RegionTable


def stage_at(schedule: Sequence[Stage], as_of: date) -> int | None:
    """The index of the stage in force at ``as_of`` (None: before the first stage)."""
    started = [i for i, s in enumerate(schedule) if s.start <= as_of]
    return started[-1] if started else None


def opened_by(
    schedule: Sequence[Stage], index: int, regions: RegionTable
) -> tuple[str, ...] | None:
    """The canonical cities stages ``0..index`` open together (None: every province)."""
    stages = schedule[: index + 1]
    if any(s.every_province for s in stages):
        return None
    provinces = {p for s in stages for p in s.provinces}
    cities = {c for s in stages for c in s.cities}
    cities |= {c.name for c in regions.cities.values() if c.province in provinces}
    return tuple(sorted(cities))


def is_open(schedule: Sequence[Stage], regions: RegionTable, city: str, as_of: date) -> bool:
    """Is ``city`` (any spelling the table knows) inside the rollout at ``as_of``?"""
    if not schedule:
        return True
    index = stage_at(schedule, as_of)
    if index is None:
        return False
    opened = opened_by(schedule, index, regions)
    known = regions.lookup(city)
    return opened is None or (known is not None and known.name in opened)


def opens_on(
    schedule: Sequence[Stage], regions: RegionTable, city: str, as_of: date
) -> Stage | None:
    """The first later stage that opens ``city`` (None: open now, or no stage ever opens it)."""
    if is_open(schedule, regions, city, as_of):
        return None
    for i, stage in enumerate(schedule):
        if stage.start > as_of and is_open(schedule[: i + 1], regions, city, stage.start):
            return stage
    return None


def province_of(regions: RegionTable, city: str) -> str | None:
    known = regions.lookup(city)
    return known.province if known is not None else None


def open_expr(policy: Policy, regions: RegionTable) -> Expr:
    """TRUE where the schedule has opened the user's city at the evaluation date: a CASE on
    ``AsOf``, latest stage first, each matching every spelling of the cities opened so far."""
    schedule = policy.schedule
    whens: list[tuple[Expr, Expr]] = []
    for i in reversed(range(len(schedule))):
        opened = opened_by(schedule, i, regions)
        inside: Expr = (
            Literal(True) if opened is None else InSet(Field.of("city"), regions.spellings(opened))
        )
        whens.append((Compare(CmpOp.GE, AsOf(), Literal(schedule[i].start)), inside))
    return Case(tuple(whens), Literal(False))
