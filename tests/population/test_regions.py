from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from creditgate.population.regions import (
    City,
    RegionClass,
    RegionDataError,
    RegionTable,
    UnknownCityError,
    load_regions,
)

PACKAGED = resources.files("creditgate.population") / "data" / "regions.yaml"


@pytest.fixture(scope="module")
def table() -> RegionTable:
    return load_regions()


def test_version_and_size(table):
    assert table.version == "2025.1"
    # 293 prefecture-level cities + 30 autonomous prefectures + 7 地区 + 3 盟 + 4 municipalities.
    assert len(table.cities) == 337


def test_counts_per_class(table):
    counts = Counter(c.region_class for c in table.cities.values())
    assert counts[RegionClass.TIER1] == 4
    assert counts[RegionClass.NEW_TIER1] == 15
    # 31 capitals/municipalities minus 3 in tier1 (北京 上海 广州) and 10 in new_tier1.
    assert counts[RegionClass.CAPITAL] == 18
    assert counts[RegionClass.COUNTY] == 0
    assert {c.name for c in table.in_class(RegionClass.TIER1)} == {"北京", "上海", "广州", "深圳"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("深圳", RegionClass.TIER1),
        ("北京", RegionClass.TIER1),
        ("成都", RegionClass.NEW_TIER1),
        ("天津", RegionClass.NEW_TIER1),
        ("重庆", RegionClass.NEW_TIER1),
        ("东莞", RegionClass.NEW_TIER1),
        ("哈尔滨", RegionClass.CAPITAL),
        ("昆明", RegionClass.CAPITAL),
        ("拉萨", RegionClass.CAPITAL),
        ("绵阳", RegionClass.PREFECTURE),
        ("大理", RegionClass.PREFECTURE),
        ("延边", RegionClass.PREFECTURE),
    ],
)
def test_known_cities(table, name, expected):
    assert table.class_of(name, is_county_area=False) is expected


def test_city_record(table):
    assert table.lookup("深圳") == City("深圳", "广东", RegionClass.TIER1, 35000)
    assert table.lookup("吉林").province == "吉林"
    assert table.lookup("海南州").province == "青海"
    assert table.lookup("海南") is None  # a province, never guessed to be 海南州


@pytest.mark.parametrize("written", ["深圳市", " 深圳 ", "深圳市 ", "\u3000深圳市\u3000"])
def test_suffix_and_whitespace(table, written):
    assert table.lookup(written).name == "深圳"


def test_official_name_alias(table):
    assert table.lookup("大理白族自治州").name == "大理"
    assert table.lookup("锡林郭勒盟").name == "锡林郭勒"


def test_unknown_city_is_none_and_require_suggests(table):
    assert table.lookup("深圳湾") is None
    assert table.class_of("深圳湾", is_county_area=False) is None
    assert table.class_of("深圳湾", is_county_area=True) is None
    with pytest.raises(UnknownCityError) as info:
        table.require("深圳湾")
    assert info.value.city == "深圳湾"
    assert "深圳" in info.value.suggestions
    assert "深圳" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_county_flag(table):
    assert table.class_of("绵阳", is_county_area=True) is RegionClass.COUNTY
    assert table.class_of("绵阳市", is_county_area=False) is RegionClass.PREFECTURE


def test_consumption_index(table):
    assert table.consumption_index("上海") > 1.0 > table.consumption_index("兰州")
    assert table.consumption_index("天水") == table.consumption_index("兰州")
    with pytest.raises(UnknownCityError):
        table.consumption_index("火星")


def test_cities_read_only(table):
    with pytest.raises(TypeError):
        table.cities["火星"] = table.cities["深圳"]


def test_default_is_cached_and_explicit_path_loads(table):
    assert load_regions() is table
    explicit = load_regions(Path(str(PACKAGED)))
    assert explicit == table
    assert explicit is not table


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "regions.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_duplicate_city_rejected(tmp_path):
    text = PACKAGED.read_text(encoding="utf-8")
    line = "  绵阳: {province: 四川, class: prefecture}\n"
    text = text.replace(line, line * 2)
    with pytest.raises(RegionDataError, match="duplicate key '绵阳'"):
        load_regions(_write(tmp_path, text))


def test_unknown_province_named(tmp_path):
    text = PACKAGED.read_text(encoding="utf-8")
    text = text.replace("绵阳: {province: 四川", "绵阳: {province: 蜀")
    with pytest.raises(RegionDataError, match=r"cities\.绵阳\.province: unknown province '蜀'"):
        load_regions(_write(tmp_path, text))


def test_wrong_class_counts_named(tmp_path):
    text = PACKAGED.read_text(encoding="utf-8")
    text = text.replace(
        "佛山: {province: 广东, class: new_tier1}", "佛山: {province: 广东, class: prefecture}"
    )
    text = text.replace(
        "绵阳: {province: 四川, class: prefecture}", "绵阳: {province: 四川, class: capital}"
    )
    with pytest.raises(RegionDataError) as info:
        load_regions(_write(tmp_path, text))
    message = str(info.value)
    assert "exactly 15 cities with class new_tier1, found 14" in message
    assert "cities.绵阳.class" in message


def test_missing_province_entry_named(tmp_path):
    text = PACKAGED.read_text(encoding="utf-8")
    text = text.replace("  甘肃: {capital: 兰州, consumption_per_capita_cny: 18600}\n", "")
    with pytest.raises(RegionDataError) as info:
        load_regions(_write(tmp_path, text))
    assert "cities.兰州.province: unknown province '甘肃'" in str(info.value)
    assert "provinces: expected 31" in str(info.value)
