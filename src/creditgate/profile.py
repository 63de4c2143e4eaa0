"""Input validation for profiles: strict types, ranges, cross-field and as-of checks.

The Pydantic model is generated from ``schema.PROFILE_FIELDS`` so the contract lives in one
place. Bad input is never fixed silently: every problem names its field; a JSON Lines stream
reports the line. City names are canonicalised (spaces and a trailing 市 removed), which is a
spelling rule, not a guess: a city still unknown after it is rejected with suggestions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic import Field as PField

from creditgate.policy.nodes import Policy
from creditgate.population.regions import RegionTable
from creditgate.schema import DATE_FIELDS_NOT_AFTER_AS_OF, PROFILE_FIELDS, FieldSpec


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ProfileError(ValueError):
    """A profile that cannot be decided; ``problems`` names each bad field."""

    def __init__(self, problems: list[FieldProblem], line: int | None = None) -> None:
        prefix = f"line {line}: " if line is not None else ""
        super().__init__(prefix + "; ".join(str(p) for p in problems))
        self.problems, self.line = problems, line


def _annotation(spec: FieldSpec) -> Any:
    constraints: dict[str, Any] = {}
    if spec.ge is not None:
        constraints["ge"] = spec.ge
    if spec.le is not None:
        constraints["le"] = spec.le
    if spec.type is str:
        constraints["min_length"] = 1
        constraints["max_length"] = 64
    if spec.type is Decimal:
        constraints["allow_inf_nan"] = False
        constraints["max_digits"] = 16
        constraints["decimal_places"] = 2
    if spec.type is float:
        constraints["allow_inf_nan"] = False
    kind: Any = spec.type
    if spec.choices:
        from typing import Literal

        kind = Literal[spec.choices]
    annotated = Annotated[kind, PField(**constraints)]
    return (annotated | None, None) if spec.nullable else (annotated, ...)


@cache
def profile_model() -> type[BaseModel]:
    """Strict: ``"700"`` is not a pay score, ``1`` is not ``true``; unknown fields are errors."""
    fields = {name: _annotation(spec) for name, spec in PROFILE_FIELDS.items()}
    model: type[BaseModel] = create_model(
        "Profile", __config__=ConfigDict(extra="forbid", strict=True), **fields
    )
    return model


def _problems(exc: ValidationError) -> list[FieldProblem]:
    out = []
    for e in exc.errors(include_url=False):
        field = ".".join(str(p) for p in e["loc"])
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            message = "unknown field (not in the profile contract)"
        out.append(FieldProblem(field, message))
    return out


def canonical_city(name: str) -> str:
    name = name.strip()
    return name[:-1] if name.endswith("市") and len(name) > 2 else name


def check_semantics(
    row: dict[str, Any], as_of: date, policy: Policy, regions: RegionTable
) -> list[FieldProblem]:
    """Rules between fields and against the evaluation date."""
    problems = []
    for name in DATE_FIELDS_NOT_AFTER_AS_OF:
        value = row.get(name)
        if value is not None and value > as_of:
            problems.append(FieldProblem(name, f"{value} is after the evaluation date {as_of}"))
    if row["overdue_count_24m"] > 0 and row.get("last_overdue_on") is None:
        problems.append(FieldProblem("last_overdue_on", "required when overdue_count_24m > 0"))
    if row["birth_date"] > row["registered_at"] and row["birth_date"] <= as_of:
        problems.append(FieldProblem("registered_at", "is before birth_date"))
    city = canonical_city(row["city"])
    known = regions.lookup(city)
    row["city"] = known.name if known is not None else city  # official names and aliases too
    if policy.unknown_city is None and known is None:
        try:
            regions.require(city)
        except ValueError as exc:
            problems.append(FieldProblem("city", str(exc)))
    return problems


def validate_profile(
    data: Mapping[str, Any] | str | bytes,
    as_of: date,
    policy: Policy,
    regions: RegionTable,
    line: int | None = None,
) -> dict[str, Any]:
    """A JSON document or a mapping -> a validated row ready for ``Decider.decide``.

    Raises ``ProfileError`` naming every bad field (and ``line`` in a JSON Lines stream).
    """
    model = profile_model()
    try:
        if isinstance(data, str | bytes):
            parsed = model.model_validate_json(data)
        else:
            parsed = model.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_problems(exc), line) from None
    row = dict(parsed.__dict__)
    problems = check_semantics(row, as_of, policy, regions)
    if problems:
        raise ProfileError(problems, line)
    return row
