"""Whitelist cutoffs: fill the capacity and the regional quotas with the best-scored users.

Why population facts: "about 15 % of users see the entry" and "partly open regions get a
quota" cannot be decided one user at a time. A batch ranks the *eligible* users (outcome
``invited`` under the policy's own cutoffs, rollout schedule included) and derives the score a
user needs so that the invited users fit: per city in partly open classes, per class in open
ones. Real-time decisions then apply those cutoffs (``apply_cutoffs``), so ``decide
--snapshot`` and the batch agree user for user.

The exact rules (all counts over eligible users unless said otherwise):

* capacity ``C = floor(capacity_share * all input rows)`` (quarantined rows included: the
  share is of the user base, not of the clean part of a file);
* in a partly open class ``c`` each city ``x`` (its canonical name in the region table) with
  ``E_x`` eligible users gets the quota ``Q_x = floor(min(1, quota_share_c * k_x) * E_x)``,
  ``k_x = RegionTable.consumption_index(x)``: the city's own consumption figure where the
  table carries one, else its province's, over the mean of the provinces (1.0 = an average
  province): richer places open further. The class's quota is the sum of its cities';
* ranking is by score, highest first. A cutoff is a score, so a group of equal scores is never
  split: a city's quota cutoff ``q_x`` is the lowest score with ``#(score >= q_x) <= Q_x``,
  and the capacity cutoff ``g`` the lowest score with ``sum #(score >= floor) <= C`` over
  every city and open class, ``floor`` being ``max(policy cutoff, q_x)`` (open classes: the
  policy cutoff). Who gets in therefore never depends on the order of rows or ids; the
  snapshot lists the invited users by score, then by a hash of ``user_id`` (a stable order,
  not a selection);
* city cutoff = ``max(policy cutoff of c, q_x, g)``; open class cutoff = ``max(policy cutoff,
  g)``. Users at or above the policy cutoff but below theirs are ``not_invited`` with
  REGION_QUOTA (partial classes) or CAPACITY (open classes);
* a partly open class also has a class cutoff ``max(policy cutoff, q_c, g)`` with ``q_c`` the
  class-wide quota cutoff (``k_c`` the eligible users' mean index): it holds the users of a
  city that has no cutoff of its own (no eligible user in the run, or a city the region table
  lacks when the policy maps unknown cities to a class). Cities come first, else the class.

The policy cutoff is the risk floor (the lowest acceptable score), not the selection: the
default policy's floors were calibrated (``scorecard.default_card.calibrate``) so that the
pool left after class-wide quotas (``Cutoffs.after_quotas``) exceeded the capacity and ``g``
bound; under per-city quotas they leave slightly less, and the quotas bind (docs/scorecard.md).
``g``
is taken over the pooled post-quota counts, so room a binding quota leaves in one city goes to
the next-best eligible users everywhere else. Given the quota floors, every cutoff is a
function of (floor, ``g``) alone: ``with_bar``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
from numpy.typing import NDArray

from creditgate.policy.nodes import Policy, RegionStatus
from creditgate.population.regions import RegionTable


@dataclass(frozen=True)
class Eligible:
    """How many eligible users of one region class and city reached one score."""

    region_class: str
    city: str
    score: int
    users: int


CityCutoffs = Mapping[str, Mapping[str, int]]  # partial class -> canonical city -> score


@dataclass(frozen=True)
class Cutoffs:
    capacity: int
    quotas: Mapping[str, int]  # partial class -> quota in users (the sum of its cities')
    by_class: Mapping[str, int]  # every non-closed class -> final score cutoff
    expected_invited: int
    # eligible users at or above their policy and quota cutoffs: the pool the capacity bar
    # picks from (the capacity binds exactly when this exceeds ``capacity``)
    after_quotas: int
    by_city: CityCutoffs = field(default_factory=dict)  # partial class -> city -> cutoff
    city_quotas: CityCutoffs = field(default_factory=dict)  # partial class -> city -> quota

    def cutoff(self, region_class: str, city: str | None) -> int | None:
        """The cutoff a user of this class and (canonical) city is held to; None: closed."""
        own = self.by_city.get(region_class, {}).get(city) if city is not None else None
        return own if own is not None else self.by_class.get(region_class)


def _lowest_fitting(counts: Mapping[int, int], room: int) -> int | None:
    """The lowest score s with #(score >= s) <= room; None when everyone fits."""
    total = sum(counts.values())
    if total <= room:
        return None
    taken = 0
    for score in sorted(counts, reverse=True):
        if taken + counts[score] > room:
            return score + 1
        taken += counts[score]
    raise AssertionError("unreachable")


Scores = dict[int, int]  # score -> eligible users


def quota_sizes(
    share: float, index: NDArray[np.float64], eligible: NDArray[np.int64]
) -> NDArray[np.int64]:
    """``Q = floor(min(1, share * k) * E)`` element-wise: the quotas of groups with
    consumption indexes ``k`` and ``E`` eligible users. One definition for the batch and for
    the calibration, which evaluates it for every candidate floor at once."""
    return np.floor(np.minimum(1.0, share * index) * eligible).astype(np.int64)


def class_index(weights: Iterable[float], users: int) -> float:
    """A partial class's consumption index: the mean of its eligible users' (``weights``:
    users x index per city, unknown cities at 1.0), exact and order-free."""
    return math.fsum(weights) / users if users else 1.0


def city_key(regions: RegionTable, city: str | None) -> str | None:
    """The canonical city a quota is kept for; None for a city the region table lacks."""
    known = regions.lookup(city) if city is not None else None
    return known.name if known is not None else None


@dataclass(frozen=True)
class QuotaFloors:
    """What the quotas alone decide: per group the floor below which the capacity bar need
    not look. ``floor`` holds open classes (by class) and partial classes' class-wide
    fallback; ``city_floor`` each city of a partial class with eligible users."""

    counts: Mapping[str, Mapping[str | None, Scores]]  # class -> city (None: unknown) -> scores
    floor: Mapping[str, int]
    city_floor: Mapping[str, Mapping[str, int]]
    quotas: Mapping[str, int]
    city_quotas: Mapping[str, Mapping[str, int]]

    def pooled(self) -> Scores:
        """Eligible users at or above their group's floor, by score (the capacity's pool)."""
        pooled: Scores = defaultdict(int)
        for c, cities in self.counts.items():
            for city, scores in cities.items():
                bar = self.group_floor(c, city)
                if bar is None:
                    continue
                for score, users in scores.items():
                    if score >= bar:
                        pooled[score] += users
        return pooled

    def group_floor(self, c: str, city: str | None) -> int | None:
        own = self.city_floor.get(c, {}).get(city) if city is not None else None
        return own if own is not None else self.floor.get(c)

    def with_bar(self, capacity: int, g: int | None) -> Cutoffs:
        """The cutoffs once the capacity bar ``g`` (None: everyone fits) is on top."""

        def top(v: int) -> int:
            return v if g is None else max(v, g)

        by_city = {c: {x: top(v) for x, v in xs.items()} for c, xs in self.city_floor.items()}
        cut = Cutoffs(capacity, self.quotas, {c: top(v) for c, v in self.floor.items()}, 0, 0)
        cut = replace(cut, by_city=by_city, city_quotas=self.city_quotas)
        expected = sum(
            users
            for c, cities in self.counts.items()
            for city, scores in cities.items()
            if (bar := cut.cutoff(c, city)) is not None
            for score, users in scores.items()
            if score >= bar
        )
        return replace(cut, expected_invited=expected, after_quotas=sum(self.pooled().values()))


def quota_floors(eligible: Iterable[Eligible], policy: Policy, regions: RegionTable) -> QuotaFloors:
    """Group the eligible users by class and canonical city and apply the quotas."""
    counts: dict[str, dict[str | None, Scores]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for e in eligible:
        counts[e.region_class][city_key(regions, e.city)][e.score] += e.users
    policy_cut = dict(policy.scorecard.cutoffs)
    floor: dict[str, int] = {}
    city_floor: dict[str, dict[str, int]] = {}
    quotas: dict[str, int] = {}
    city_quotas: dict[str, dict[str, int]] = {}
    for rule in policy.regions:
        if rule.status is RegionStatus.CLOSED:
            continue
        c = rule.region_class
        floor[c] = policy_cut[c]
        if rule.status is not RegionStatus.PARTIAL:
            continue
        cities = counts.get(c, {})
        whole: Scores = defaultdict(int)
        weights: list[float] = []
        for city, scores in cities.items():
            users = sum(scores.values())
            weights.append(users * (regions.consumption_index(city) if city is not None else 1.0))
            for score, n in scores.items():
                whole[score] += n
        named = [(city, scores) for city, scores in cities.items() if city is not None]
        sizes = quota_sizes(
            rule.quota_share,
            np.array([regions.consumption_index(city) for city, _ in named], dtype=np.float64),
            np.array([sum(scores.values()) for _, scores in named], dtype=np.int64),
        )
        city_floor[c], city_quotas[c] = {}, {}
        for (city, scores), quota in zip(named, sizes.tolist(), strict=True):
            city_quotas[c][city] = quota
            q = _lowest_fitting(scores, quota)
            city_floor[c][city] = policy_cut[c] if q is None else max(policy_cut[c], q)
        users = sum(whole.values())
        class_quota = int(
            quota_sizes(
                rule.quota_share,
                np.array([class_index(weights, users)]),
                np.array([users], dtype=np.int64),
            )[0]
        )
        quotas[c] = sum(city_quotas[c].values())
        q_class = _lowest_fitting(whole, class_quota)
        if q_class is not None:
            floor[c] = max(floor[c], q_class)
    return QuotaFloors(counts, floor, city_floor, quotas, city_quotas)


def derive_cutoffs(
    eligible: Iterable[Eligible], all_users: int, policy: Policy, regions: RegionTable
) -> Cutoffs:
    """Per-city (partial classes) and per-class score cutoffs that fill the quotas, then the
    capacity (module docstring)."""
    floors = quota_floors(eligible, policy, regions)
    capacity = math.floor(policy.capacity_share * all_users)
    # Pooled *after* the quotas: room a binding quota leaves goes to the next-best users of
    # every other city and class, not to nobody.
    return floors.with_bar(capacity, _lowest_fitting(floors.pooled(), capacity))


def apply_cutoffs(
    policy: Policy,
    cutoffs: Mapping[str, int],
    as_of: date | None = None,
    by_city: CityCutoffs | None = None,
) -> Policy:
    """The policy whose lowered program cuts at a snapshot's cutoffs (CAPACITY/REGION_QUOTA):
    ``by_city`` (partial class -> canonical city -> score) first, else ``cutoffs`` by class;
    ``as_of``, the snapshot's evaluation date, only reaches the user text."""
    cities = tuple(
        sorted((c, city, v) for c, xs in (by_city or {}).items() for city, v in xs.items())
    )
    card = replace(
        policy.scorecard,
        capacity_cutoffs=tuple(sorted(cutoffs.items())),
        capacity_city_cutoffs=cities,
        capacity_as_of=as_of,
    )
    return replace(policy, scorecard=card)
