"""The program as a typed contract: cutoffs as a parameter of one lowering, reasons that reach
their gate through the program, and one score lowering for policies and trained cards."""

from __future__ import annotations

from dataclasses import replace

import pytest

from creditgate.batch.staging import placeholder_cutoffs
from creditgate.batch.whitelist import apply_cutoffs
from creditgate.policy.bindings import BinIndex, Fixed, GateFailed, Points
from creditgate.policy.loader import load_policy
from creditgate.policy.lower import Program, lower
from creditgate.policy.nodes import Policy, RegionStatus
from creditgate.policy.reason_order import SlotKind
from creditgate.population.regions import RegionTable, load_regions
from creditgate.schema import PROFILE_FIELDS
from creditgate.scorecard.artifact import Artifact, CardBin, CardFeature
from creditgate.scorecard.lowering import lower_card


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def regions() -> RegionTable:
    return load_regions()


@pytest.fixture(scope="module")
def shape(policy: Policy, regions: RegionTable) -> Program:
    """The batch's one lowering: capacity cutoffs still to be derived."""
    return lower(apply_cutoffs(policy, placeholder_cutoffs(policy)), regions)


def a_snapshots_cut(policy: Policy, regions: RegionTable) -> Policy:
    """Cutoffs by class, and one city of a partly open class with a cutoff of its own."""
    cuts = {c: 600 + 7 * i for i, c in enumerate(placeholder_cutoffs(policy))}
    partial = next(r.region_class for r in policy.regions if r.status is RegionStatus.PARTIAL)
    city = next(iter(sorted(regions.spellings(["Chengdu"]))))  # any canonical city will do
    return apply_cutoffs(policy, cuts, by_city={partial: {city: 650}})


def test_cutting_a_lowered_program_equals_lowering_the_cut_policy(
    policy: Policy, regions: RegionTable, shape: Program
) -> None:
    cut = a_snapshots_cut(policy, regions)
    once, twice = shape.cut_at(cut), lower(cut, regions)
    assert once.bindings == twice.bindings
    assert once.reasons == twice.reasons and once.policy == cut
    changed = [b.name for b, s in zip(once.bindings, shape.bindings, strict=True) if b is not s]
    assert changed == [Fixed.CAPACITY_CUTOFF.column]  # the one binding reading the cutoffs


def test_a_program_is_cut_only_at_its_own_policy(policy: Policy, shape: Program) -> None:
    other = replace(policy, version=policy.version + "-other")
    with pytest.raises(ValueError, match="beyond its capacity cutoffs"):
        shape.cut_at(apply_cutoffs(other, placeholder_cutoffs(other)))
    uncut = lower(policy, load_regions())
    assert not uncut.capacity
    with pytest.raises(ValueError, match="without capacity cutoffs"):
        uncut.cut_at(apply_cutoffs(policy, placeholder_cutoffs(policy)))


def test_reason_slots_reach_their_gate_and_feature_through_the_program(shape: Program) -> None:
    gates = [s for s in shape.reasons if s.kind == SlotKind.GATE]
    factors = [s for s in shape.reasons if s.kind == SlotKind.FACTOR]
    assert len(gates) == len(shape.policy.gates) and factors
    for slot in gates:
        assert isinstance(slot.subject, GateFailed)
        gate = shape.gate(slot.subject)
        assert gate.code == slot.code and shape.has(GateFailed(gate.id))
    for slot in factors:
        assert isinstance(slot.subject, Points)
        assert shape.feature(slot.subject).factor == slot.code
    # the key bindings begin where the first slot's key is, and only keys follow
    assert shape.bindings[shape.reasons_from].name == shape.reasons[0].binding
    assert shape.reasons_from > shape.at(Fixed.INVITED_SINCE)


def test_a_trained_card_lowers_to_the_score_nodes_of_a_hand_set_one(shape: Program) -> None:
    """A card mirroring the policy's features that read contract fields (no derived field):
    the same bin and points nodes under the same keys, and the same pd node."""
    card = shape.policy.scorecard
    mirrored = [  # a card's bounds are floats: the policy's Decimal bounds would not compare
        f
        for f in card.features
        if f.field in PROFILE_FIELDS
        and all(isinstance(v, int | None) for b in f.bins for v in (b.lower, b.upper))
    ]
    assert mirrored
    artifact = Artifact(
        target="bad",
        bad_value="1",
        base_points=card.base_points,
        scaling=card.scaling,
        features=tuple(
            CardFeature(
                f.name,
                f.field,
                "categorical" if f.bins[0].categories else "numerical",
                tuple(
                    CardBin(
                        b.points,
                        None if b.lower is None else float(b.lower),
                        None if b.upper is None else float(b.upper),
                        b.categories,
                    )
                    for b in f.bins
                ),
                f.missing_points,
                factor=f.factor,
            )
            for f in mirrored
        ),
    )
    trained = lower_card(artifact)
    for f in mirrored:
        for key in (BinIndex(f.name), Points(f.name)):
            assert trained.expr(key) == shape.expr(key), key
    assert trained.expr(Fixed.PD) == shape.expr(Fixed.PD)
