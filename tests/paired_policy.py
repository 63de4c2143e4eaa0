"""The default policy with two pairwise tables, written as YAML and read by the loader: a
Decimal field by an int one, and a derived clock field (account age) by a float one."""

from __future__ import annotations

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


def paired_text() -> str:
    data = yaml.safe_load(default_policy_path().read_text(encoding="utf-8"))
    data["scorecard"]["pairs"] = PAIRS
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def paired_policy() -> Policy:
    return parse_policy(paired_text(), "paired.yaml")
