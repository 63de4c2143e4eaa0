"""The page's own words: both languages define the same keys, and every input the page lists
(and a user may dispute) has a label in each, never a raw field name."""

from __future__ import annotations

import pytest

from creditgate.service.web.i18n import LANGS, messages
from creditgate.service.web.view import SHOWN


def test_both_languages_define_the_same_words() -> None:
    zh, en = (set(messages(lang)) for lang in LANGS)
    assert zh ^ en == set()


@pytest.mark.parametrize("lang", LANGS)
def test_every_listed_input_has_a_label(lang: str) -> None:
    missing = [name for name in SHOWN if f"field.{name}" not in messages(lang)]
    assert missing == []
