"""Bad input never reaches the engine: each problem names its field."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given

from creditgate.decider import Decider
from creditgate.profile import ProfileError, validate_profile
from deciders import decider_for
from strategies import AS_OF, profiles, strong_profile


def as_json(row: dict[str, Any]) -> bytes:
    return json.dumps(row, default=str).encode()


def problems(decider: Decider, doc: bytes | dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ProfileError) as exc:
        validate_profile(doc, AS_OF, decider.policy, decider.regions)
    return {p.field: p.message for p in exc.value.problems}


@given(profiles())
def test_valid_profiles_round_trip_through_json(row: dict[str, Any]) -> None:
    decider = decider_for()
    validated = validate_profile(as_json(row), AS_OF, decider.policy, decider.regions)
    assert validated == row


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"pay_score": "700"}, "pay_score", "valid integer"),
        ({"pay_score": 9999}, "pay_score", "less than or equal to 850"),
        ({"pay_score": 700.5}, "pay_score", "integer"),
        ({"is_student": 1}, "is_student", "valid boolean"),
        ({"applications_7d": -1}, "applications_7d", "greater than or equal to 0"),
        ({"birth_date": "1990-13-01"}, "birth_date", "date"),
        ({"birth_date": "2030-01-01"}, "birth_date", "after the evaluation date"),
        ({"registered_at": "2027-01-01"}, "registered_at", "after the evaluation date"),
        ({"occupation": "pilot"}, "occupation", "salaried"),
        ({"city": "亚特兰蒂斯"}, "city", "unknown city"),
        ({"overdue_count_24m": 2}, "last_overdue_on", "required when overdue_count_24m > 0"),
        ({"monthly_spend_cny_6m": "12.345"}, "monthly_spend_cny_6m", "decimal places"),
        ({"monthly_flow_cv_6m": "NaN"}, "monthly_flow_cv_6m", ""),
        ({"nickname": "x"}, "nickname", "unknown field"),
    ],
)
def test_bad_values_name_the_field(
    decider: Decider, change: dict[str, Any], field: str, message: str
) -> None:
    row = {k: str(v) if isinstance(v, date) else v for k, v in strong_profile().items()}
    row["monthly_spend_cny_6m"] = "5200.00"
    row.update(change)
    found = problems(decider, json.dumps(row).encode())
    assert field in found, found
    assert message in found[field]


def test_missing_required_field_and_optional_field(decider: Decider) -> None:
    row = json.loads(as_json(strong_profile()))
    del row["pay_score"]
    assert "pay_score" in problems(decider, json.dumps(row).encode())
    row = json.loads(as_json(strong_profile()))
    del row["sim_changed_days_ago"]  # optional: the policy says how NULL is treated
    assert (
        validate_profile(json.dumps(row).encode(), AS_OF, decider.policy, decider.regions)[
            "sim_changed_days_ago"
        ]
        is None
    )


def test_unknown_city_suggests_the_closest_and_suffix_is_canonical(decider: Decider) -> None:
    row = json.loads(as_json(strong_profile()))
    row["city"] = " 深圳市 "
    assert (
        validate_profile(json.dumps(row).encode(), AS_OF, decider.policy, decider.regions)["city"]
        == "深圳"
    )
    row["city"] = "深川"
    assert "深圳" in problems(decider, json.dumps(row).encode())["city"]


def test_malformed_json_is_a_profile_error(decider: Decider) -> None:
    assert problems(decider, b'{"user_id": ')
    assert problems(decider, b"[1, 2]")


def test_official_names_resolve_to_the_table_key(decider: Decider) -> None:
    row = json.loads(as_json(strong_profile()))
    row["city"] = "大理白族自治州"
    validated = validate_profile(json.dumps(row).encode(), AS_OF, decider.policy, decider.regions)
    assert validated["city"] == "大理"
    assert decider.evaluate(validated, AS_OF)["region_class"] == "prefecture"
