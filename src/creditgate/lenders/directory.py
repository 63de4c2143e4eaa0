"""The directory of licensed third-party lenders (``directory.yaml``), validated on load.

Every error names ``file:line: path`` (the policy's YAML reader, ``policy/yamlsrc.py``). What is
checked beyond the shape: licence numbers in their licence type's format, an APR range with
``min <= max`` and, when a cap is given, ``max`` at most the jurisdiction's cap (a lender above
it is never shown); criteria on real profile fields and known provinces; the fields a lender
asks for exist and are never security data (anti-fraud inputs are not shared with anyone).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from creditgate.policy.yamlsrc import SourceIssue, SourceMap, YamlSyntaxError, load_yaml
from creditgate.population.regions import RegionTable, load_regions
from creditgate.schema import PROFILE_FIELDS, Consent, Occupation

PACKAGED = "creditgate/lenders/directory.yaml"


class LicenceType(StrEnum):
    """Who may lend, by the licence the regulator grants (names in ``LICENCE_NAMES``)."""

    CONSUMER_FINANCE_COMPANY = "consumer_finance_company"
    COMMERCIAL_BANK = "commercial_bank"
    MICROLENDER = "microlender"


LICENCE_NAMES: Mapping[LicenceType, dict[str, str]] = {
    LicenceType.CONSUMER_FINANCE_COMPANY: {
        "zh-CN": "消费金融公司",
        "en": "licensed consumer finance company",
    },
    LicenceType.COMMERCIAL_BANK: {"zh-CN": "商业银行", "en": "commercial bank"},
    LicenceType.MICROLENDER: {"zh-CN": "小额贷款公司", "en": "licensed microlender"},
}

# Banks and consumer finance companies hold a 金融许可证 whose 机构编码 is a letter, four
# digits, a letter and nine digits; a microlender holds a provincial permit numbered like
# 粤金监小贷〔2025〕017号 (issuing regulator, year, serial).
_FINANCIAL_LICENCE = re.compile(r"[A-Z]\d{4}[A-Z]\d{9}")
_MICROLENDER_PERMIT = re.compile(r"[\u4e00-\u9fff]{1,8}小贷〔\d{4}〕\d{1,4}号")
LICENCE_FORMATS: Mapping[LicenceType, re.Pattern[str]] = {
    LicenceType.CONSUMER_FINANCE_COMPANY: _FINANCIAL_LICENCE,
    LicenceType.COMMERCIAL_BANK: _FINANCIAL_LICENCE,
    LicenceType.MICROLENDER: _MICROLENDER_PERMIT,
}


class Purpose(StrEnum):
    """What a lender lends for: a business need is never sent to a consumption lender."""

    CONSUMPTION = "consumption"
    BUSINESS = "business"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(_Strict):
    zh_cn: str = Field(alias="zh-CN", min_length=1, max_length=64)
    en: str = Field(min_length=1, max_length=96)

    def text(self) -> dict[str, str]:
        return {"zh-CN": self.zh_cn, "en": self.en}


class Licence(_Strict):
    type: LicenceType
    number: str = Field(min_length=1, max_length=40)

    @model_validator(mode="after")
    def _format(self) -> Self:
        if LICENCE_FORMATS[self.type].fullmatch(self.number) is None:
            raise ValueError(f"licence number is not in the format of a {self.type.value} licence")
        return self


class AprRange(_Strict):
    """Annualised (IRR method), as fractions: 0.18 is 18% a year."""

    min: Decimal = Field(gt=0, lt=1)
    max: Decimal = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"apr min {self.min} is above apr max {self.max}")
        return self


class AgeRange(_Strict):
    min: int = Field(ge=18, le=100)
    max: int = Field(ge=18, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"age min {self.min} is above age max {self.max}")
        return self


class Criteria(_Strict):
    """A lender's published conditions; an absent one is no condition. Conditions on credit
    or behaviour data fail for a user who did not consent to that data being processed."""

    age: AgeRange | None = None
    pay_score_min: int | None = Field(default=None, ge=300, le=850)
    ecosystem_repayment_score_min: int | None = Field(default=None, ge=0, le=100)
    max_current_overdue_days: int | None = Field(default=None, ge=0)
    occupations: tuple[Occupation, ...] | None = Field(default=None, min_length=1)
    provinces: tuple[str, ...] | None = Field(default=None, min_length=1)  # absent: nationwide
    county_areas: bool = True  # whether county-level areas are served


class MiniProgram(_Strict):
    app_id: str = Field(pattern=r"^wx[0-9a-f]{16}$")  # a WeChat mini-program AppID
    path: str = Field(pattern=r"^[a-z0-9][a-z0-9/_-]{0,120}$")


class Lender(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    name: Names
    licence: Licence
    purpose: Purpose
    apr: AprRange
    criteria: Criteria = Criteria()
    fields: tuple[str, ...] = Field(min_length=1)
    mini_program: MiniProgram

    @field_validator("fields")
    @classmethod
    def _fields(cls, fields: tuple[str, ...]) -> tuple[str, ...]:
        for name in fields:
            spec = PROFILE_FIELDS.get(name)
            if spec is None:
                raise ValueError(f"{name!r} is not a profile field")
            if spec.consent is Consent.SECURITY or name == "user_id":
                raise ValueError(f"{name!r} is never shared with a lender")
        if len(set(fields)) != len(fields):
            raise ValueError("a field is named twice")
        return fields

    def public(self) -> dict[str, Any]:
        """What a decision and the page say about the lender (no criteria: they are its own)."""
        return {
            "id": self.id,
            "name": self.name.text(),
            "licence_type": self.licence.type.value,
            "licence_type_name": dict(LICENCE_NAMES[self.licence.type]),
            "licence_number": self.licence.number,
            "purpose": self.purpose.value,
            "apr_min": str(self.apr.min),
            "apr_max": str(self.apr.max),
            "fields": list(self.fields),
            "mini_program": {"app_id": self.mini_program.app_id, "path": self.mini_program.path},
        }


class _DirectorySpec(_Strict):
    version: str = Field(min_length=1, max_length=32)
    lenders: tuple[Lender, ...]


@dataclass(frozen=True, slots=True)
class Directory:
    version: str
    lenders: tuple[Lender, ...]

    def get(self, lender_id: str) -> Lender | None:
        return next((lender for lender in self.lenders if lender.id == lender_id), None)


DirectoryIssue = SourceIssue  # a directory file's problem, at file:line


class DirectoryError(ValueError):
    """Every problem of a directory file, each naming ``file:line``."""

    def __init__(self, issues: list[DirectoryIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def parse_directory(
    text: str, file: str, apr_cap: Decimal | None = None, regions: RegionTable | None = None
) -> Directory:
    """A validated ``Directory``; ``DirectoryError`` lists every problem with its line."""
    try:
        data, source = load_yaml(text, file)
    except YamlSyntaxError as exc:
        raise DirectoryError(
            [DirectoryIssue(file, exc.line, "", str(exc).split(": ", 1)[-1])]
        ) from None
    try:
        spec = _DirectorySpec.model_validate(data)
    except ValidationError as exc:
        raise DirectoryError(
            [
                DirectoryIssue(
                    file, source.line_of(tuple(e["loc"])), _dotted(e["loc"]), _message(e)
                )
                for e in exc.errors()
            ]
        ) from None
    issues = _meaning(spec, source, apr_cap, regions or load_regions())
    if issues:
        raise DirectoryError(issues)
    return Directory(spec.version, spec.lenders)


def _message(error: Mapping[str, Any]) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


def _meaning(
    spec: _DirectorySpec, source: SourceMap, apr_cap: Decimal | None, regions: RegionTable
) -> list[DirectoryIssue]:
    """Checks that need more than one value: unique ids, the cap, known provinces."""
    issues: list[DirectoryIssue] = []

    def issue(path: tuple[str | int, ...], message: str) -> None:
        issues.append(DirectoryIssue(source.file, source.line_of(path), _dotted(path), message))

    seen: set[str] = set()
    known = regions.provinces
    for i, lender in enumerate(spec.lenders):
        if lender.id in seen:
            issue(("lenders", i, "id"), f"lender id {lender.id!r} is listed twice")
        seen.add(lender.id)
        if apr_cap is not None and lender.apr.max > apr_cap:
            issue(
                ("lenders", i, "apr", "max"),
                f"APR {lender.apr.max} is above the jurisdiction's cap of {apr_cap}",
            )
        for j, province in enumerate(lender.criteria.provinces or ()):
            if province not in known:
                issue(("lenders", i, "criteria", "provinces", j), f"unknown province {province!r}")
    return issues


def load_directory(
    path: Path | None = None, apr_cap: Decimal | None = None, regions: RegionTable | None = None
) -> Directory:
    """The directory at ``path``, or the packaged one; checked against ``apr_cap`` if given."""
    if path is None:
        return packaged_directory(apr_cap)
    return parse_directory(Path(path).read_text(encoding="utf-8"), str(path), apr_cap, regions)


@cache
def packaged_directory(apr_cap: Decimal | None = None) -> Directory:
    text = (resources.files("creditgate.lenders") / "directory.yaml").read_text(encoding="utf-8")
    return parse_directory(text, PACKAGED, apr_cap)
