"""The message catalogue: user-facing text in zh-CN and en, loaded once from YAML.

Both languages must define the same keys; ``check_catalogue`` (run by the tests and the lint)
finds a key one language lacks or a placeholder the other does not use.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import yaml

from creditgate.codegen import define

LANGS = ("zh-CN", "en")
SECTIONS = (
    "fields",
    "regions",
    "reasons",
    "recourse",
    "alternatives",
    "in_review",
    "help",
    "cutoffs",
    "review",
    "schedule",
    "notices",
    "products",
)
Text = dict[str, str]
_SEPARATOR = {"zh-CN": "", "en": " "}  # between sentences: Chinese needs no space


@cache
def catalogue(lang: str) -> dict[str, Any]:
    path = resources.files("creditgate.explain") / "messages" / f"{lang}.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def has_message(code: str) -> bool:
    return all(code in catalogue(lang)["reasons"] for lang in LANGS)


Renderer = Callable[..., Text]


@cache
def renderer(section: str, key: str, label: str | None = None) -> Renderer:
    """A function of the placeholder values that renders ``key`` in both languages.

    ``label`` (a field name) is localised and filled in once, here. The templates are compiled
    into one string concatenation per language (no parsing per call): most observed values
    (spend, volatility) are continuous, so callers' caches miss and rendering is on the hot
    path. Rendered messages may be shared between decisions: treat them as read-only.
    """
    return sentences(((section, key, label),))


@cache
def sentences(parts: tuple[tuple[str, str, str | None], ...]) -> Renderer:
    """Several messages (section, key, label) rendered as one, sentence after sentence: one
    compiled function instead of one per part and a join per call (see ``joined``)."""
    templates: list[tuple[str, str]] = []
    for lang in LANGS:
        cat = catalogue(lang)
        pieces = []
        for section, key, label in parts:
            template = str(cat[section][key])
            if label is not None:
                template = template.replace("{label}", str(cat["fields"].get(label, label)))
            pieces.append(template)
        templates.append((lang, _SEPARATOR[lang].join(pieces)))
    if not any(placeholders(t) for _, t in templates):
        constant = dict(templates)
        return lambda **_: constant
    body = ", ".join(f"{lang!r}: {concatenation(t)}" for lang, t in templates)
    lines = ["def render(**values):", f"    return {{{body}}}"]
    name = "+".join(f"{section}.{key}" for section, key, _ in parts)
    render: Renderer = define(lines, {}, f"message {name}")["render"]
    return render


def concatenation(template: str) -> str:
    """Python source equal to ``template.format_map(values)`` (``str.format`` semantics)."""
    parts: list[str] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if literal:
            parts.append(repr(literal))
        if name is not None:
            value = f"values[{name!r}]"
            if conversion:
                value = {"r": "repr", "s": "str", "a": "ascii"}[conversion] + f"({value})"
            parts.append(f"format({value}, {spec!r})")
    return " + ".join(parts) if parts else "''"


def joined(*parts: Text) -> Text:
    """Sentences of several messages as one, per language (Chinese needs no space)."""
    return {lang: _SEPARATOR[lang].join(p[lang] for p in parts) for lang in LANGS}


def text(section: str, key: str, **values: Any) -> Text:
    """One message in both languages, placeholders filled (``label`` names a field)."""
    label = values.pop("label", None)
    return renderer(section, key, label)(**values)


@cache
def region_label(region_class: str) -> Text:
    return {lang: catalogue(lang)["regions"].get(region_class, region_class) for lang in LANGS}


@cache
def region_closed_text(region_class: str) -> Text:
    """REGION_CLOSED names the region in each language's own words."""
    label = region_label(region_class)
    return {
        lang: str(catalogue(lang)["reasons"]["REGION_CLOSED"]).format(observed=label[lang])
        for lang in LANGS
    }


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def check_catalogue() -> list[str]:
    """Keys or placeholders that differ between languages (empty when consistent)."""
    problems: list[str] = []
    zh, en = catalogue("zh-CN"), catalogue("en")
    for section in SECTIONS:
        for key in sorted(set(zh[section]) ^ set(en[section])):
            problems.append(f"{section}.{key} is missing in one language")
        for key in sorted(set(zh[section]) & set(en[section])):
            if placeholders(str(zh[section][key])) != placeholders(str(en[section][key])):
                problems.append(f"{section}.{key} uses different placeholders")
    return problems
