from __future__ import annotations

from creditgate.explain.catalogue import LANGS, catalogue, check_catalogue, placeholders, text
from creditgate.policy.loader import load_policy

CONTRACT_CODES = [
    "CONSENT_MISSING",
    "UNDERAGE",
    "STUDENT",
    "NOT_REAL_NAME",
    "NO_BANK_CARD",
    "UNSTABLE_FLOW",
    "PAY_SCORE_LOW",
    "OVERDUE_RECORD",
    "CURRENTLY_OVERDUE",
    "ACCOUNT_TOO_NEW",
    "LOW_ECOSYSTEM_USAGE",
    "REGION_CLOSED",
    "REGION_QUOTA",
    "FRAUD_SUSPECTED",
    "SCORE_BELOW_CUTOFF",
    "LOW_ACTIVITY",
    "LOW_SPEND",
    "LOW_REPAYMENT_SCORE",
    "CAPACITY",
    "BUSINESS_PURPOSE",
]


def test_languages_agree_on_keys_and_placeholders() -> None:
    assert check_catalogue() == []


def test_every_contract_code_and_policy_factor_has_both_languages() -> None:
    policy = load_policy()
    codes = CONTRACT_CODES + [f.factor for f in policy.scorecard.features]
    for code in codes:
        for lang in LANGS:
            assert code in catalogue(lang)["reasons"], (lang, code)


def test_every_message_formats() -> None:
    values = {
        "observed": 1,
        "required": 2,
        "label": "pay_score",
        "to": 3,
        "eta": "2027-01-01",
        "from": 0,
        "province": "甘肃",
        # a named lender (explain/alternatives.lender_alternative)
        "name": "示例",
        "licence_type": "bank",
        "licence": "B0001H111000001",
        "apr_min": "4.32%",
        "apr_max": "18.00%",
    }
    for section in ("reasons", "recourse", "alternatives", "schedule"):
        for key, template in catalogue("en")[section].items():
            assert placeholders(template) <= set(values)
            message = text(section, key, **values)
            assert set(message) == set(LANGS) and all(message.values())


def test_fraud_text_reveals_no_signal() -> None:
    for lang in LANGS:
        message = catalogue(lang)["reasons"]["FRAUD_SUSPECTED"].lower()
        for word in ("blacklist", "device", "sim", "黑名单", "设备", "手机卡"):
            assert word not in message
