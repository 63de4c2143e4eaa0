"""Finding 2 of issue 13: a CN policy with no age, student, real-name, credit, behaviour or
fraud rules and cutoffs of 1, built from the packaged default so it tracks its format."""

from __future__ import annotations

import re

from creditgate.policy.loader import default_policy_path

DROPPED_GATES = (
    "adult|not_student|real_name|pay_score|not_overdue|clean_24m|"
    "account_age|bank_card|stable_flow|ecosystem"
)


def unsafe_cn_policy() -> str:
    text = default_policy_path().read_text(encoding="utf-8")
    text = re.sub(rf"(?m)^  - \{{id: ({DROPPED_GATES})\b.*\n", "", text)
    text = re.sub(r"(?ms)^fraud:.*?^scorecard:", "fraud: []\n\nscorecard:", text)
    text = re.sub(
        r"cutoffs: \{.*\}", "cutoffs: {tier1: 1, new_tier1: 1, capital: 1, prefecture: 1}", text
    )
    text = text.replace("review_band: 5", "review_band: 0")
    return text.replace('version: "2026.12.2"', 'version: "unsafe.1"')
