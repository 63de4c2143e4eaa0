"""The lender directory: the packaged file is valid under the default policy's cap; every
problem of a bad file names its line; an APR above the cap is refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from creditgate.lenders.directory import (
    DirectoryError,
    LicenceType,
    load_directory,
    packaged_directory,
    parse_directory,
)
from creditgate.policy.loader import load_policy

CAP = load_policy().jurisdiction.apr_cap
GOOD = """\
version: "t1"
lenders:
  - id: alpha_cfc
    name: {zh-CN: 阿尔法示例消费金融, en: Alpha Example CFC}
    licence: {type: consumer_finance_company, number: N0001H111000001}
    purpose: consumption
    apr: {min: "0.10", max: "0.20"}
    criteria:
      age: {min: 22, max: 55}
      provinces: [广东]
    fields: [birth_date, pay_score]
    mini_program: {app_id: wx0123456789abcdef, path: pages/apply}
"""


def issues(text: str, cap: Decimal | None = CAP) -> list[str]:
    with pytest.raises(DirectoryError) as caught:
        parse_directory(text, "lenders.yaml", cap)
    return [str(i) for i in caught.value.issues]


def test_the_packaged_directory_is_valid_under_the_default_cap() -> None:
    directory = packaged_directory(CAP)
    assert len(directory.lenders) >= 4
    assert {x.licence.type for x in directory.lenders} == set(LicenceType)
    assert all(x.apr.max <= CAP for x in directory.lenders)
    text = (Path(__file__).parents[2] / "src/creditgate/lenders/directory.yaml").read_text()
    assert "FICTIONAL" in text  # says so


def test_a_good_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(GOOD, encoding="utf-8")
    directory = load_directory(path, CAP)
    assert directory.get("alpha_cfc") is not None and directory.get("beta") is None


def test_apr_above_the_cap_is_refused_on_its_line() -> None:
    found = issues(GOOD.replace('max: "0.20"', 'max: "0.25"'))
    assert found == [
        "lenders.yaml:7: lenders.0.apr.max: APR 0.25 is above the jurisdiction's cap of 0.24"
    ]


def test_errors_name_file_and_line() -> None:
    bad = GOOD.replace("N0001H111000001", "X12345").replace("wx0123456789abcdef", "wx0123")
    found = issues(bad)
    assert len(found) == 2
    assert found[0].startswith("lenders.yaml:5: lenders.0.licence:") and "format" in found[0]
    assert found[1].startswith("lenders.yaml:12: lenders.0.mini_program.app_id:")
    # a lender may not ask for security data, nor for a field the contract lacks
    for field in ("accounts_on_device", "height"):
        found = issues(GOOD.replace("[birth_date, pay_score]", f"[birth_date, {field}]"))
        assert len(found) == 1 and found[0].startswith("lenders.yaml:11: lenders.0.fields:")
        assert field in found[0]
    # the province is checked once the shape is right
    assert issues(GOOD.replace("[广东]", "[火星]")) == [
        "lenders.yaml:10: lenders.0.criteria.provinces.0: unknown province '火星'"
    ]


def test_min_above_max_and_unknown_keys_are_refused() -> None:
    found = issues(GOOD.replace('min: "0.10"', 'min: "0.21"'))
    assert len(found) == 1 and found[0].startswith("lenders.yaml:7: lenders.0.apr:")
    found = issues(GOOD.replace("purpose: consumption", "purpose: consumption\n    rating: AAA"))
    assert found[0].startswith("lenders.yaml:7: lenders.0.rating:")


def test_duplicate_ids_and_yaml_errors_name_lines() -> None:
    entry = GOOD.split("lenders:\n", 1)[1]
    found = issues(GOOD + entry)
    assert found == ["lenders.yaml:13: lenders.1.id: lender id 'alpha_cfc' is listed twice"]
    assert issues("version: [\n")[0].startswith("lenders.yaml:2:")


def test_without_a_cap_only_the_shape_is_checked() -> None:
    text = GOOD.replace('max: "0.20"', 'max: "0.30"')
    assert parse_directory(text, "x.yaml").lenders[0].apr.max == Decimal("0.30")
