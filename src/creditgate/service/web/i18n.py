"""The page's own words (headings, buttons, labels) in zh-CN and en, and the language a
request asks for: ``?lang=`` (remembered in a cookie), else the cookie, else zh-CN."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGS = ("zh-CN", "en")
DEFAULT = "zh-CN"
COOKIE = "cg_lang"
_DIR = Path(__file__).parent / "messages"


@cache
def messages(lang: str) -> Mapping[str, str]:
    """The chrome texts of ``lang`` (a ``KeyError`` for an unknown language)."""
    if lang not in LANGS:
        raise KeyError(lang)
    loaded: dict[str, Any] = yaml.safe_load((_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in loaded.items()}


def pick(query: str | None, cookie: str | None) -> tuple[str, bool]:
    """The language to answer in, and whether the query chose it (then it is remembered)."""
    if query in LANGS:
        return query, True
    return (cookie if cookie in LANGS else DEFAULT), False


class Texts:
    """``t("key", name=value)`` in templates; ``t.msg(decision_message)`` picks a decision's
    own text in this language (the other language if it has none)."""

    def __init__(self, lang: str) -> None:
        self.lang, self.words = lang, messages(lang)

    def __call__(self, key: str, **values: object) -> str:
        text = self.words[key]
        return text.format(**values) if values else text

    def msg(self, message: Mapping[str, str] | None) -> str:
        if not message:
            return ""
        return message.get(self.lang) or next(iter(message.values()), "")

    def label(self, field: str) -> str:
        return self.words.get(f"field.{field}", field)

    def value(self, field: str, value: object) -> str:
        """A choice's words (e.g. an occupation), else the value as it is."""
        return self.words.get(f"{field}.{value}", str(value))
