"""The user id character set, checked the same way at every entry point.

A user id is 1..64 Unicode code points, already in NFC, with no control (Cc), format (Cf, e.g.
zero-width), surrogate (Cs), line or paragraph separator (Zl, Zp) character anywhere and no
space separator (Zs, e.g. ``" "``, U+3000) at either end. Ids are refused, never repaired:
``"user "`` silently becoming ``"user"`` would merge two callers' records, and a repaired id
would not match the one the caller stores. The same rules run in SQL for the batch (see
``batch.validate``) through the code-point classes below, generated from Python's Unicode
tables so that DuckDB and Spark agree with this module exactly.

Decision ids are made here too, by ``new_decision_id`` alone (the decider, the service and a
person's decision all draw from it).
"""

from __future__ import annotations

import os
import secrets
import sys
import unicodedata
from collections.abc import Iterable
from functools import cache

from creditgate.schema import TEXT_LENGTH

MAX_USER_ID = TEXT_LENGTH[1]
_ID_BYTES, _ID_BATCH = 12, 512
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
EDGE_CATEGORIES = frozenset({"Zs"})
RULES = (
    f"1..{MAX_USER_ID} characters, NFC-normalised, no control or format characters, "
    "no surrounding whitespace"
)


def user_id_problem(text: object) -> str | None:
    """Which rule ``text`` breaks (a message that never repeats the id), or None."""
    if not isinstance(text, str):
        return "user id must be a string"
    if not 1 <= len(text) <= MAX_USER_ID:
        return f"user id must be 1..{MAX_USER_ID} characters"
    if text.isascii() and text.isprintable() and text[0] != " " != text[-1]:
        return None  # the common case, decided by two C scans: printable ASCII is NFC, no Cc
    if any(unicodedata.category(c) in FORBIDDEN_CATEGORIES for c in text):
        return "user id must not contain control or format characters"
    if unicodedata.category(text[0]) in EDGE_CATEGORIES:
        return "user id must not start with whitespace"
    if unicodedata.category(text[-1]) in EDGE_CATEGORIES:
        return "user id must not end with whitespace"
    if not unicodedata.is_normalized("NFC", text):
        return "user id must be NFC-normalised"
    return None


def check_user_id(text: object) -> str:
    """``text`` when it is a valid user id, else ``ValueError`` naming the rule it breaks."""
    problem = user_id_problem(text)
    if problem is not None:
        raise ValueError(problem)
    assert isinstance(text, str)
    return text


def _class(code_points: Iterable[int]) -> str:
    """A regex character class (RE2 and Java syntax) matching exactly ``code_points``."""
    spans: list[list[int]] = []
    for c in sorted(set(code_points)):
        if spans and spans[-1][1] == c - 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    body = "".join(
        f"\\x{{{lo:x}}}" if lo == hi else f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in spans
    )
    return f"[{body}]"


def _code_points(categories: frozenset[str]) -> list[int]:
    return [
        c
        for c in range(sys.maxunicode + 1)
        if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) in categories
    ]


# Every id that breaks a character rule has a character outside printable, non-space ASCII.
SUSPECT_PATTERN = r"[^\x21-\x7e]"


@cache
def forbidden_pattern() -> str:
    """A regex finding a forbidden character anywhere (surrogates are left out: they cannot
    occur in the UTF-8 text of a Parquet file)."""
    return _class(_code_points(FORBIDDEN_CATEGORIES))


@cache
def edge_pattern() -> str:
    """A regex finding a space separator at either end."""
    edge = _class(_code_points(EDGE_CATEGORIES))
    return f"^{edge}|{edge}$"


@cache
def maybe_not_nfc_pattern() -> str:
    """A regex matching every id that might not be NFC (a superset: it finds each code point
    whose NFC quick check is not "yes"); the few matching ids are then checked exactly."""
    suspects: set[int] = set()
    for c in range(sys.maxunicode + 1):
        if 0xD800 <= c <= 0xDFFF:
            continue
        char = chr(c)
        if unicodedata.combining(char) or unicodedata.normalize("NFC", char) != char:
            suspects.add(c)
        parts = unicodedata.decomposition(char).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            suspects.add(int(parts[1], 16))  # may compose with what precedes it
    suspects.update(range(0x1161, 0x1176))  # Hangul vowel jamo compose with L / LV syllables
    suspects.update(range(0x11A8, 0x11C3))
    return _class(suspects)


def not_nfc(ids: Iterable[str | None]) -> list[str]:
    """The ids of ``ids`` that are not NFC (for the batch's candidates)."""
    return [i for i in ids if i is not None and not unicodedata.is_normalized("NFC", i)]


class DecisionIds:
    """Unguessable decision ids: 96 bits each from the operating system's CSPRNG
    (``secrets``), drawn 512 ids at a time: ``os.urandom`` releases the GIL, and re-taking it
    behind the writer thread on every decision costs milliseconds on the event loop."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)  # a forked worker draws its own

    def reset(self) -> None:
        self.pool, self.at = b"", 0

    def __call__(self) -> str:
        if self.at >= len(self.pool):
            self.pool, self.at = secrets.token_bytes(_ID_BYTES * _ID_BATCH), 0
        chunk = self.pool[self.at : self.at + _ID_BYTES]
        self.at += _ID_BYTES
        return "d_" + chunk.hex()


new_decision_id = DecisionIds()
