"""Input validation for profiles: strict types, ranges, cross-field and as-of checks.

The Pydantic model is generated from ``schema.PROFILE_FIELDS`` so the contract lives in one
place. Bad input is never fixed silently: every problem names its field; a JSON Lines stream
reports the line. City names are canonicalised (spaces and a trailing 市 removed), which is a
spelling rule, not a guess: a city still unknown after it is rejected with suggestions.
Messages never repeat a submitted value (a profile is personal data). The user id follows
``identifiers`` (refused, never repaired); dates must be plausible: no birth date more than
``validation_rules.MAX_AGE_YEARS`` before the evaluation date, which itself lies in
``timeutil.as_of_window``. The rules between fields are declared once in ``validation_rules``,
the per-field ones on ``schema.FieldSpec``: the batch quarantine compiles the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, create_model
from pydantic import Field as PField
from pydantic_core import PydanticCustomError

from creditgate.identifiers import user_id_problem
from creditgate.policy.nodes import Policy
from creditgate.population.regions import RegionTable, UnknownCityError
from creditgate.schema import MONEY_PLACES, PROFILE_FIELDS, FieldSpec
from creditgate.validation_rules import SEMANTIC_RULES, violated

JSON_INT_RANGE = (-(2**63), 2**64 - 1)  # what a JSON number may carry here (orjson's range)


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
    if spec.length is not None:
        constraints["min_length"], constraints["max_length"] = spec.length
    if spec.type is Decimal:
        constraints["allow_inf_nan"] = False
        constraints["max_digits"] = 16
        constraints["decimal_places"] = MONEY_PLACES
    if spec.type is float:
        constraints["allow_inf_nan"] = False
    kind: Any = spec.type
    if spec.choices:
        from typing import Literal

        kind = Literal[spec.choices]
    annotated: Any = Annotated[kind, PField(**constraints)]
    if spec.name == "user_id":
        annotated = Annotated[annotated, AfterValidator(_user_id)]
    return (annotated | None, None) if spec.nullable else (annotated, ...)


def _user_id(value: str) -> str:
    problem = user_id_problem(value)
    if problem is not None:
        raise PydanticCustomError("user_id", problem)
    return value


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


def unencodable(data: Any, path: str = "") -> list[FieldProblem]:
    """Values no JSON encoder here can write: integers beyond 64 bits and lone surrogates
    (Python's ``json`` reads both). Checked before the profile is re-encoded or stored."""
    problems: list[FieldProblem] = []
    stack: list[tuple[str, Any]] = [(path, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and not JSON_INT_RANGE[0] <= value <= JSON_INT_RANGE[1]:
            problems.append(FieldProblem(where, "integer out of range (beyond 64 bits)"))
        elif isinstance(value, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            problems.append(FieldProblem(where, "not valid Unicode text (lone surrogate)"))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in key):
                    problems.append(FieldProblem(where, "not valid Unicode text (lone surrogate)"))
                    continue
                stack.append((f"{where}.{key}" if where else str(key), item))
        elif isinstance(value, list | tuple):
            stack.extend((f"{where}.{i}" if where else str(i), v) for i, v in enumerate(value))
    return sorted(problems, key=lambda p: p.field)


def canonical_city(name: str) -> str:
    name = name.strip()
    return name[:-1] if name.endswith("市") and len(name) > 2 else name


def check_semantics(
    row: dict[str, Any], as_of: date, policy: Policy, regions: RegionTable
) -> list[FieldProblem]:
    """Rules between fields and against the evaluation date (``validation_rules``)."""
    problems = [
        FieldProblem(rule.field, rule.message())
        for rule in SEMANTIC_RULES
        if violated(rule, row, as_of)
    ]
    city = canonical_city(row["city"])
    known = regions.lookup(city)
    row["city"] = known.name if known is not None else city  # official names and aliases too
    if policy.unknown_city is None and known is None:
        try:
            regions.require(city)
        except UnknownCityError as exc:
            hint = f"; did you mean {' / '.join(exc.suggestions)}?" if exc.suggestions else ""
            problems.append(FieldProblem("city", f"unknown city{hint}"))
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
    if not isinstance(data, str | bytes) and (problems := unencodable(data)):
        raise ProfileError(problems, line)
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
