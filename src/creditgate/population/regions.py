"""Region table: which class (tier-1, new tier-1, capital, prefecture, county) a user's city is in.

The region rollout layer opens or closes the loan entry by city class and ties the quotas of
partly-open regions to local consumption, so the table is policy input: it is versioned data
shipped in the package (``data/regions.yaml``), validated on load, and never guessed at. A city
that is not in the table is *unknown* (``lookup`` returns ``None``; ``require`` raises with the
closest names) rather than silently mapped to a default class.

Example::

    >>> table = load_regions()
    >>> table.class_of("深圳市", is_county_area=False)
    <RegionClass.TIER1: 'tier1'>
    >>> table.lookup("火星") is None
    True
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import yaml

__all__ = [
    "City",
    "RegionClass",
    "RegionDataError",
    "RegionTable",
    "UnknownCityError",
    "load_regions",
]

_PACKAGED_NAME = "creditgate/population/data/regions.yaml"
_PROVINCE_LEVEL_UNITS = 31  # 22 provinces, 5 autonomous regions, 4 municipalities (mainland)
_TOP_LEVEL_KEYS = frozenset({"version", "source", "provinces", "cities"})
_PROVINCE_KEYS = frozenset({"capital", "consumption_per_capita_cny"})
_CITY_KEYS = frozenset({"province", "class", "aliases", "consumption_per_capita_cny"})


class RegionClass(StrEnum):
    """City class used by the region rollout layer; COUNTY is a user attribute, not a city's."""

    TIER1 = "tier1"
    NEW_TIER1 = "new_tier1"
    CAPITAL = "capital"
    PREFECTURE = "prefecture"
    COUNTY = "county"


# Lists that are fixed by definition, so a miscount means a broken data file.
_EXPECTED_COUNTS: Mapping[RegionClass, int] = MappingProxyType(
    {RegionClass.TIER1: 4, RegionClass.NEW_TIER1: 15}
)
_CITY_CLASSES = (
    RegionClass.TIER1,
    RegionClass.NEW_TIER1,
    RegionClass.CAPITAL,
    RegionClass.PREFECTURE,
)


@dataclass(frozen=True, slots=True)
class City:
    """One prefecture-level unit. ``consumption_per_capita_cny`` is its province's figure;
    ``city_consumption_cny`` the city's own where the table carries one (optional per city)."""

    name: str
    province: str
    region_class: RegionClass
    consumption_per_capita_cny: int
    city_consumption_cny: int | None = None

    @property
    def local_consumption_cny(self) -> int:
        """The city's figure where known, else its province's: what sizes its quota."""
        return self.city_consumption_cny or self.consumption_per_capita_cny


class UnknownCityError(ValueError):
    """A city name that is not in the region table; carries the closest known names."""

    def __init__(self, city: str, suggestions: Sequence[str]) -> None:
        self.city = city
        self.suggestions = tuple(suggestions)
        hint = f"; did you mean {' / '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(
            f"unknown city {city!r}{hint} (known cities are listed in {_PACKAGED_NAME})"
        )


class RegionDataError(ValueError):
    """The region data file is malformed; every problem is listed with its YAML key."""

    def __init__(self, origin: str, errors: Sequence[str]) -> None:
        self.origin = origin
        self.errors = tuple(errors)
        super().__init__(f"{origin}: invalid region data:\n  - " + "\n  - ".join(self.errors))


def _read_only(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping if isinstance(mapping, MappingProxyType) else MappingProxyType(dict(mapping))


def _normalise(name: str) -> str:
    """Users write 深圳 or 深圳市, sometimes with stray (full-width) spaces."""
    name = name.strip()
    if len(name) > 1 and name.endswith("市"):
        name = name[:-1].rstrip()
    return name


@dataclass(frozen=True)
class RegionTable:
    """Read-only city table; ``aliases`` maps official full names to the short keys."""

    version: str
    cities: Mapping[str, City]
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    _mean_consumption: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cities", _read_only(self.cities))
        object.__setattr__(self, "aliases", _read_only(self.aliases))
        # Unweighted mean over provinces: the index compares a province with a typical province.
        per_province = {c.province: c.consumption_per_capita_cny for c in self.cities.values()}
        mean = sum(per_province.values()) / len(per_province) if per_province else 0.0
        object.__setattr__(self, "_mean_consumption", mean)

    def lookup(self, city: str) -> City | None:
        """The city for a user-written name (``深圳``, ``深圳市``, ``大理白族自治州``), or None."""
        key = _normalise(city)
        found = self.cities.get(key)
        if found is None and key in self.aliases:
            found = self.cities.get(self.aliases[key])
        return found

    def require(self, city: str) -> City:
        """Like ``lookup`` but raises ``UnknownCityError`` naming the closest known cities."""
        found = self.lookup(city)
        if found is None:
            raise UnknownCityError(city, self._suggest(_normalise(city)))
        return found

    def class_of(self, city: str, is_county_area: bool) -> RegionClass | None:
        """COUNTY for county-level areas, else the city's class; None when the city is unknown.

        An unknown city stays None even for county areas so that bad input is reported, not
        absorbed by the (closed) county class.
        """
        found = self.lookup(city)
        if found is None:
            return None
        return RegionClass.COUNTY if is_county_area else found.region_class

    def consumption_index(self, city: str) -> float:
        """Local consumption (the city's figure, else its province's) / mean over provinces
        (1.0 = an average province); scales regional quotas."""
        return self.require(city).local_consumption_cny / self._mean_consumption

    @property
    def provinces(self) -> frozenset[str]:
        return frozenset(c.province for c in self.cities.values())

    def spellings(self, names: Iterable[str]) -> tuple[str, ...]:
        """Every name a profile's ``city`` may hold for these cities once canonicalised (the
        short name, and the aliases the batch keeps as written), sorted: a program matches
        the city with ``IN`` in every engine, whichever spelling the engine sees."""
        wanted = set(names)
        found = wanted | {a for a, c in self.aliases.items() if c in wanted}
        return tuple(sorted(found))

    def in_class(self, region_class: RegionClass) -> tuple[City, ...]:
        """Cities of one class in file order (stable, so seeded sampling is reproducible)."""
        return tuple(c for c in self.cities.values() if c.region_class is region_class)

    def _suggest(self, name: str) -> list[str]:
        candidates = [*self.cities, *self.aliases]
        close = difflib.get_close_matches(name, candidates, n=5, cutoff=0.5)
        canonical = [self.aliases.get(c, c) for c in close]
        return list(dict.fromkeys(canonical))[:3]


def load_regions(path: Path | None = None) -> RegionTable:
    """Load and validate a region file; the packaged default is parsed once and cached."""
    if path is None:
        return _load_packaged()
    path = Path(path)
    return _parse_text(path.read_text(encoding="utf-8"), str(path))


@functools.cache
def _load_packaged() -> RegionTable:
    resource = resources.files("creditgate.population") / "data" / "regions.yaml"
    return _parse_text(resource.read_text(encoding="utf-8"), _PACKAGED_NAME)


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a duplicated city must be an error instead."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = line
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_unique_mapping,
)


class _Province(NamedTuple):
    capital: str
    consumption_per_capita_cny: int


def _parse_text(text: str, origin: str) -> RegionTable:
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as exc:
        raise RegionDataError(origin, [str(exc)]) from exc
    if not isinstance(doc, dict):
        raise RegionDataError(
            origin, ["top level must be a mapping: version, source, provinces, cities"]
        )
    errors = [f"{key}: unknown top-level key" for key in doc if key not in _TOP_LEVEL_KEYS]
    for key in ("version", "source"):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            errors.append(f"{key}: required, a non-empty string")
    provinces = _parse_provinces(doc.get("provinces"), errors)
    cities, aliases = _parse_cities(doc.get("cities"), provinces, errors)
    _check_classes(cities, provinces, errors)
    if errors:
        raise RegionDataError(origin, errors)
    return RegionTable(version=doc["version"], cities=cities, aliases=aliases)


def _unknown_keys(entry: Mapping[Any, Any], allowed: frozenset[str], where: str) -> list[str]:
    return [
        f"{where}.{k}: unknown key (allowed: {', '.join(sorted(allowed))})"
        for k in entry
        if k not in allowed
    ]


def _parse_provinces(raw: Any, errors: list[str]) -> dict[str, _Province]:
    if not isinstance(raw, dict):
        errors.append(
            "provinces: required, a mapping of province to {capital, consumption_per_capita_cny}"
        )
        return {}
    provinces: dict[str, _Province] = {}
    for name, entry in raw.items():
        where = f"provinces.{name}"
        if not isinstance(entry, dict):
            errors.append(f"{where}: must be a mapping with capital and consumption_per_capita_cny")
            continue
        errors.extend(_unknown_keys(entry, _PROVINCE_KEYS, where))
        capital, consumption = entry.get("capital"), entry.get("consumption_per_capita_cny")
        if not isinstance(capital, str) or not capital:
            errors.append(f"{where}.capital: required, the capital's short name")
            continue
        if isinstance(consumption, bool) or not isinstance(consumption, int) or consumption <= 0:
            errors.append(f"{where}.consumption_per_capita_cny: required, a positive integer (CNY)")
            continue
        provinces[str(name)] = _Province(capital, consumption)
    if len(raw) != _PROVINCE_LEVEL_UNITS:
        errors.append(
            f"provinces: expected {_PROVINCE_LEVEL_UNITS} province-level units, found {len(raw)}"
        )
    return provinces


def _parse_cities(
    raw: Any, provinces: Mapping[str, _Province], errors: list[str]
) -> tuple[dict[str, City], dict[str, str]]:
    if not isinstance(raw, dict):
        errors.append("cities: required, a mapping of short city name to {province, class}")
        return {}, {}
    cities: dict[str, City] = {}
    aliases: dict[str, str] = {}
    allowed_classes = ", ".join(c.value for c in _CITY_CLASSES)
    for name, entry in raw.items():
        where = f"cities.{name}"
        if not isinstance(name, str) or _normalise(name) != name or not name:
            errors.append(f"{where}: name must be the short form without 市 or surrounding spaces")
            continue
        if not isinstance(entry, dict):
            errors.append(f"{where}: must be a mapping with province and class")
            continue
        errors.extend(_unknown_keys(entry, _CITY_KEYS, where))
        province = entry.get("province")
        if not isinstance(province, str) or province not in provinces:
            errors.append(
                f"{where}.province: unknown province {province!r}; add it under provinces"
            )
            continue
        if entry.get("class") not in {c.value for c in _CITY_CLASSES}:
            errors.append(f"{where}.class: {entry.get('class')!r} is not one of {allowed_classes}")
            continue
        consumption = provinces[province].consumption_per_capita_cny
        own = entry.get("consumption_per_capita_cny")
        if own is not None and (isinstance(own, bool) or not isinstance(own, int) or own <= 0):
            errors.append(f"{where}.consumption_per_capita_cny: a positive integer (CNY)")
            own = None
        cities[name] = City(name, province, RegionClass(entry["class"]), consumption, own)
        for alias in _parse_aliases(entry.get("aliases", []), where, errors):
            if alias in aliases:
                errors.append(f"{where}.aliases: {alias!r} is already an alias of {aliases[alias]}")
            aliases[alias] = name
    errors.extend(
        f"cities.{a}: name is also an alias of {c}" for a, c in aliases.items() if a in raw
    )
    return cities, aliases


def _parse_aliases(raw: Any, where: str, errors: list[str]) -> list[str]:
    if not isinstance(raw, list) or not all(
        isinstance(a, str) and a.strip() == a and a for a in raw
    ):
        errors.append(f"{where}.aliases: must be a list of names")
        return []
    return list(raw)


def _check_classes(
    cities: Mapping[str, City], provinces: Mapping[str, _Province], errors: list[str]
) -> None:
    for region_class, expected in _EXPECTED_COUNTS.items():
        names = [n for n, c in cities.items() if c.region_class is region_class]
        if len(names) != expected:
            errors.append(
                f"cities: expected exactly {expected} cities with class {region_class.value}, "
                f"found {len(names)} ({', '.join(names)})"
            )
    # Capitals are the provinces' capitals minus those promoted to tier1/new_tier1, so the
    # capital count is 31 minus the promoted ones by construction; check names, not just counts.
    promoted = {RegionClass.TIER1, RegionClass.NEW_TIER1}
    expected_capitals: set[str] = set()
    for province, entry in provinces.items():
        city = cities.get(entry.capital)
        if city is None or city.province != province:
            errors.append(
                f"provinces.{province}.capital: {entry.capital!r} is not listed under cities "
                f"with province {province}"
            )
        elif city.region_class not in promoted:
            expected_capitals.add(city.name)
    actual = {n for n, c in cities.items() if c.region_class is RegionClass.CAPITAL}
    errors.extend(
        f"cities.{n}.class: 'capital' but {n} is not a provincial capital in provinces"
        for n in sorted(actual - expected_capitals)
    )
    errors.extend(
        f"cities.{n}.class: a provincial capital must be capital, tier1 or new_tier1, "
        f"found {cities[n].region_class.value}"
        for n in sorted(expected_capitals - actual)
    )
