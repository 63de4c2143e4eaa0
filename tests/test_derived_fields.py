"""A derived field is declared once (``features.DERIVED_SPECS``): every reader agrees with it.

These tests fail when a derived field is added, renamed or retyped in one place only: its
expression without a declaration, a declaration without a type the engine produces, a range
the lint cannot read, or a message key the catalogue lacks.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from creditgate.decider import Decider
from creditgate.explain.catalogue import LANGS, catalogue
from creditgate.features import DERIVED_SPECS, derived_fields
from creditgate.policy.lint import field_range
from creditgate.policy.loader import PolicyError, parse_policy
from creditgate.population.regions import RegionClass, load_regions
from creditgate.schema import PROFILE_FIELDS
from strategies import AS_OF, DEFAULT_POLICY, profiles

DECIDER = Decider()


def test_every_derived_expression_has_one_declaration_in_order() -> None:
    fields = derived_fields(load_regions(), DEFAULT_POLICY.unknown_city)
    assert [f.name for f in fields] == list(DERIVED_SPECS)
    assert all(f.spec is DERIVED_SPECS[f.name] for f in fields)
    assert not set(DERIVED_SPECS) & set(PROFILE_FIELDS)


@pytest.mark.parametrize("name", list(DERIVED_SPECS))
def test_each_declaration_is_complete(name: str) -> None:
    spec = DERIVED_SPECS[name]
    assert spec.type in (int, float, Decimal, str, date, bool)
    numeric = spec.type in (int, float, Decimal)
    assert (spec.range is not None) == numeric, "a number has a range, nothing else does"
    assert field_range(name) == spec.range  # the lint reads the declaration
    if spec.choices:
        assert spec.type is str
    if spec.unit is not None:
        assert spec.time_start is not None and numeric


def test_region_class_choices_are_the_region_classes() -> None:
    assert DERIVED_SPECS["region_class"].choices == tuple(c.value for c in RegionClass)


@pytest.mark.parametrize(
    "key", sorted({s.message for s in (*DERIVED_SPECS.values(), *PROFILE_FIELDS.values())} - {None})
)
def test_every_declared_message_key_is_worded_in_every_language(key: str) -> None:
    for lang in LANGS:
        assert key in catalogue(lang)["recourse"], (lang, key)


@settings(max_examples=60, deadline=None)
@given(profiles())
def test_the_engine_computes_each_derived_field_in_its_declared_type(row: dict[str, Any]) -> None:
    evaluation = DECIDER.evaluate(row, AS_OF)
    for name, spec in DERIVED_SPECS.items():
        value = evaluation.field(name)
        if value is None:
            continue
        assert type(value) is spec.type, (name, value)
        if spec.range is not None:
            assert spec.range[0] <= value <= spec.range[1], (name, value)
        if spec.choices:
            assert value in spec.choices or value == DEFAULT_POLICY.unknown_city, (name, value)


def _policy_with_gate(field: str, value: str) -> str:
    text = Path(DEFAULT_POLICY.source).read_text(encoding="utf-8")
    gate = (
        f"  - {{id: probe, code: UNDERAGE, layer: compliance, field: {field}, op: '==', "
        f"value: {value}}}\n"
    )
    return text.replace("gates:\n", "gates:\n" + gate, 1)


def test_the_loader_types_and_checks_a_derived_threshold_by_its_declaration() -> None:
    with pytest.raises(PolicyError) as exc:
        parse_policy(_policy_with_gate("region_class", "tier_9"), DEFAULT_POLICY.source)
    assert "'tier_9' is not one of" in str(exc.value)
    with pytest.raises(PolicyError) as exc:
        parse_policy(_policy_with_gate("age", "'thirty'"), DEFAULT_POLICY.source)
    assert "expected a int value" in str(exc.value)
