"""The page's own words: both languages define the same keys, and every input the page lists
(and a user may dispute) has a label in each, never a raw field name."""

from __future__ import annotations

from typing import get_args

import pytest

from creditgate.human import RESOLUTIONS
from creditgate.service.web.i18n import LANGS, messages
from creditgate.service.web.view import SHOWN
from creditgate.store.changes import Kind


def test_both_languages_define_the_same_words() -> None:
    zh, en = (set(messages(lang)) for lang in LANGS)
    assert zh ^ en == set()


@pytest.mark.parametrize("lang", LANGS)
def test_every_listed_input_has_a_label(lang: str) -> None:
    missing = [name for name in SHOWN if f"field.{name}" not in messages(lang)]
    assert missing == []


@pytest.mark.parametrize("lang", LANGS)
def test_every_change_kind_and_resolution_has_words_in_the_console(lang: str) -> None:
    """A proposal of any kind, and every resolution of a review, is named on the console."""
    words = messages(lang)
    missing = [k for k in get_args(Kind) if f"console_change_{k}" not in words]
    missing += [
        r for rs in RESOLUTIONS.values() for r in rs if f"console_resolution_{r}" not in words
    ]
    missing += [k for k in RESOLUTIONS if f"console_kind_{k}" not in words]
    assert missing == []
