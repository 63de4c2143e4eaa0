"""The user id character set (issue 13, finding 7): one rule, the same in Python and SQL."""

from __future__ import annotations

import unicodedata

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditgate.identifiers import (
    SUSPECT_PATTERN,
    check_user_id,
    edge_pattern,
    forbidden_pattern,
    maybe_not_nfc_pattern,
    user_id_problem,
)

REFUSED = ["zqx ", " zqx", "zqx\u200b", "zq\x07x", "z" * 65, "", "cafe\u0301", "zq\u2029"]


@pytest.mark.parametrize("user_id", REFUSED)
def test_refused_ids_name_the_rule_without_the_id(user_id: str) -> None:
    with pytest.raises(ValueError, match="user id must") as exc:
        check_user_id(user_id)
    assert "zq" not in str(exc.value) and "caf" not in str(exc.value)


@pytest.mark.parametrize("user_id", ["u_1", "张三", "caf\u00e9", "a b", "x" * 64, "李\u3000四"])
def test_accepted_ids_are_returned_unchanged(user_id: str) -> None:
    assert check_user_id(user_id) == user_id


def test_non_strings_are_refused() -> None:
    assert user_id_problem(12) == "user id must be a string"


def _matches(pattern: str, texts: list[str]) -> set[str]:
    con = duckdb.connect()
    con.register("t", pa.table({"s": texts}))
    rows = con.execute("SELECT s FROM t WHERE regexp_matches(s, ?)", [pattern]).fetchall()
    return {r[0] for r in rows}


def test_sql_character_classes_agree_with_python_on_the_planes_holding_them() -> None:
    """Planes 0, 1 and 14 hold every control, format and separator character."""
    planes = [*range(1, 0xD800), *range(0xE000, 0x20000), *range(0xE0000, 0xE1000)]
    chars = [chr(c) for c in planes]
    inner = {f"a{c}b" for c in chars if user_id_problem(f"a{c}b") is not None}
    inner = {t for t in inner if "control" in str(user_id_problem(t))}
    assert _matches(forbidden_pattern(), [f"a{c}b" for c in chars]) == inner
    edges = {f"{c}b" for c in chars if "start" in str(user_id_problem(f"{c}b"))}
    assert _matches(edge_pattern(), [f"{c}b" for c in chars]) - inner == edges


def test_every_non_nfc_pair_is_a_candidate() -> None:
    """The NFC prefilter may over-match, never miss: sampled pairs of suspicious letters."""
    sample = [chr(c) for c in range(0x20, 0x3000) if unicodedata.category(chr(c))[0] in "LM"]
    texts = [a + b for a in sample[::7] for b in sample[::5]]
    bad = {t for t in texts if not unicodedata.is_normalized("NFC", t)}
    assert bad
    assert bad <= _matches(maybe_not_nfc_pattern(), texts)


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1))
def test_an_id_the_batch_does_not_search_breaks_no_character_rule(text: str) -> None:
    """The batch searches the large classes only in ids ``SUSPECT_PATTERN`` finds: an id
    without such a character must pass every character rule (length is checked apart)."""
    problem = user_id_problem(text[:64])
    assert problem is None
    found = duckdb.execute("SELECT regexp_matches($t, $p)", {"t": text, "p": SUSPECT_PATTERN})
    assert found.fetchone() == (False,)


@pytest.mark.parametrize("user_id", REFUSED[:4] + REFUSED[6:])
def test_every_id_refused_for_a_character_is_suspect(user_id: str) -> None:
    found = duckdb.execute("SELECT regexp_matches($t, $p)", {"t": user_id, "p": SUSPECT_PATTERN})
    assert found.fetchone() == (True,)
