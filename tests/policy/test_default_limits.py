"""The default policy's limits on the issue's synthetic population (20,000 users, seed 5,
``synth`` and ``batch`` as of 2026-11-28): within the household cap, a 500 yuan line for some,
the top line rare, and no line far beyond what the user spends."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from creditgate.cli.main import app
from creditgate.policy.loader import load_policy

AS_OF = "2026-11-28"
MOST_MONTHS = 10  # the matrix's largest multiple of monthly spend (stable flow, score >= 760)


@pytest.fixture(scope="module")
def invited(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, Decimal]]:
    """(limit, monthly spend) of every invited user."""
    tmp = tmp_path_factory.mktemp("limits")
    users, out = tmp / "users.parquet", tmp / "decisions.parquet"
    runner = CliRunner()
    made = runner.invoke(
        app, ["synth", "--users", "20000", "--seed", "5", "--as-of", AS_OF, "--out", str(users)]
    )
    assert made.exit_code == 0, made.output
    args = ["batch", str(users), "--out", str(out), "--snapshot", str(tmp / "snapshot.parquet")]
    done = runner.invoke(app, [*args, "--as-of", AS_OF])
    assert done.exit_code == 0, done.output
    spend = dict(
        zip(
            *pq.read_table(users, columns=["user_id", "monthly_spend_cny_6m"]).to_pydict().values(),
            strict=True,
        )
    )
    decided = pq.read_table(out, columns=["user_id", "outcome", "limit_cny"]).to_pylist()
    return [(d["limit_cny"], spend[d["user_id"]]) for d in decided if d["outcome"] == "invited"]


def test_no_invited_user_gets_more_than_the_household_cap(
    invited: list[tuple[int, Decimal]],
) -> None:
    policy = load_policy()
    # capacity 15% (3,000); per-city quotas bind a little below it (docs/scorecard.md)
    assert 2_600 <= len(invited) <= 3_000
    assert max(limit for limit, _ in invited) <= policy.jurisdiction.household_line_cap_cny


def test_some_get_the_500_line_and_the_top_line_is_rare(
    invited: list[tuple[int, Decimal]],
) -> None:
    counts = Counter(limit for limit, _ in invited)
    assert counts[500] > 0
    top = max(counts)
    assert counts[top] / len(invited) < 0.01
    assert len(counts) >= 10  # a spread of lines, not a few steps by score


def test_lines_follow_spend(invited: list[tuple[int, Decimal]]) -> None:
    for limit, spend in invited:
        assert limit <= MOST_MONTHS * max(spend, Decimal(500)), (limit, spend)
    small = [limit for limit, spend in invited if spend < 1000]
    big = [limit for limit, spend in invited if spend >= 10000]
    assert small and big and max(small) < min(big)
