"""The default policy with two pairwise tables, written as YAML and read by the loader: a
Decimal field by an int one, and a derived clock field (account age) by a float one."""

from __future__ import annotations

from dataclasses import replace

import yaml

from creditgate.policy.loader import default_policy_path, parse_policy
from creditgate.policy.nodes import Policy

PAIRS = [
    {
        "name": "spend_by_pay",
        "axes": [
            {"feature": "spend", "edges": [800, 2000.5]},
            {"feature": "pay_band", "edges": [560, 640, 700]},
        ],
        # rows: missing, then spend's 3 bins; columns: missing, then pay_band's 4 bins
        "points": [[0, 0, 0, 0, 0], [-9, -6, -2, 0, 3], [-4, -1, 0, 2, 5], [0, 2, 4, 7, 12]],
    },
    {
        "name": "tenure_by_activity",
        "axes": [
            {"feature": "tenure", "edges": [3000]},
            {"feature": "activity", "edges": [1.5, 3.0]},
        ],
        "points": [[-3, -3, -3, -3], [-8, -4, 0, 2], [1, 0, 3, 6]],
    },
]


# A table that punishes a high pay score with low spend: moves that ignore it (raising the pay
# score alone) lose the points they were meant to win.
HARSH = [
    {
        "name": "pay_without_spend",
        "axes": [
            {"feature": "spend", "edges": [1500]},
            {"feature": "pay_band", "edges": [600, 650]},
        ],
        "points": [[0, 0, 0, 0], [0, 0, -40, -80], [0, 0, 0, 0]],
    }
]


def paired_text(pairs: list[dict[str, object]] | None = None) -> str:
    data = yaml.safe_load(default_policy_path().read_text(encoding="utf-8"))
    data["scorecard"]["pairs"] = PAIRS if pairs is None else pairs
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def paired_policy(pairs: list[dict[str, object]] | None = None) -> Policy:
    """The default policy with ``pairs`` (default ``PAIRS``)."""
    return parse_policy(paired_text(pairs), "paired.yaml")


def with_pairs(policy: Policy) -> Policy:
    """``policy`` (a variant of the default, same features) with ``PAIRS`` as well."""
    return replace(
        policy, scorecard=replace(policy.scorecard, pairs=paired_policy().scorecard.pairs)
    )
