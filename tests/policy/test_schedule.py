"""The rollout schedule: loaded with file:line errors, lowered on the evaluation date, and
worded with the date of the stage that opens a user's province."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from creditgate.batch.whitelist import apply_cutoffs
from creditgate.decider import Decider
from creditgate.policy.lint import Level, lint
from creditgate.policy.loader import PolicyError
from creditgate.policy.schedule import opens_on, stage_at
from strategies import AS_OF, CITY_CUTOFFS, scheduled_policy, strong_profile

DECIDER = Decider(scheduled_policy())
PILOT, FUJIAN, EVERYWHERE = date(2026, 1, 1), date(2026, 11, 28), date(2027, 1, 1)
DAY = timedelta(days=1)


def decide(city: str, on: date, decider: Decider = DECIDER, **overrides: object):  # type: ignore[no-untyped-def]
    return decider.decide(strong_profile(city=city, **overrides), on)


def schedule_issues(schedule: str) -> list[str]:
    with pytest.raises(PolicyError) as exc:
        scheduled_policy(schedule)
    return [str(i) for i in exc.value.issues]


def test_the_schedule_loads_in_order_with_canonical_cities() -> None:
    stages = DECIDER.policy.schedule
    assert [s.start for s in stages] == [PILOT, FUJIAN, EVERYWHERE]
    assert stages[0].provinces == ("广东", "甘肃", "山东") and stages[0].cities == ("大理",)
    assert stages[2].every_province and not stages[1].every_province
    assert stage_at(stages, PILOT - DAY) is None and stage_at(stages, FUJIAN) == 1


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            "  schedule:\n    - {from: 2026-01-01, provinces: [火星]}\n",
            "regions.schedule.0.provinces.0: unknown province '火星'",
        ),
        (
            "  schedule:\n    - {from: 2026-01-01, provinces: [广东], cities: [火星市]}\n",
            "regions.schedule.0.cities.0: unknown city '火星市'",
        ),
        (
            "  schedule:\n    - {from: 2026-03-01, provinces: [广东]}\n"
            "    - {from: 2026-01-01, provinces: all}\n",
            "regions.schedule.1.from: stage dates must ascend strictly",
        ),
        (
            "  schedule:\n    - {from: 2026-03-01, provinces: [广东]}\n"
            "    - {from: 2026-03-01, provinces: [甘肃]}\n",
            "regions.schedule.1.from: stage dates must ascend strictly",
        ),
        ("  schedule:\n    - {from: 2026-03-01}\n", "a stage opens `provinces:`"),
        ("  schedule:\n    - {from: 2026-03-01, provinces: everywhere}\n", "provinces"),
        ("  schedule:\n    - {from: not-a-date, provinces: all}\n", "regions.schedule.0.from"),
    ],
)
def test_schedule_errors_name_the_line_and_field(schedule: str, message: str) -> None:
    found = schedule_issues(schedule)
    assert any(message in i for i in found), found
    assert all(re.match(r"<scheduled policy>:\d+:", i) for i in found)
    line = int(found[0].split(":")[1])
    assert line > 0  # the stage's own line, not the file's start


def test_a_province_not_yet_open_is_refused_with_the_date_it_opens() -> None:
    refused = decide("北京", FUJIAN)
    assert (refused.outcome, refused.reason_codes) == ("not_invited", ("REGION_CLOSED",))
    assert "北京" in refused.reasons[0].message["en"]
    (step,) = refused.recourse
    assert (step.code, step.eta, step.immutable) == ("REGION_CLOSED", EVERYWHERE, False)
    for lang in ("zh-CN", "en"):
        assert EVERYWHERE.isoformat() in step.message[lang]
    assert decide("北京", EVERYWHERE - DAY).reason_codes == ("REGION_CLOSED",)
    assert decide("北京", EVERYWHERE).outcome == "invited"
    assert decide("北京", EVERYWHERE + 400 * DAY).outcome == "invited"


def test_each_stage_opens_its_provinces_on_its_date() -> None:
    """One compiled program: the evaluation date picks the stage."""
    assert decide("福州", FUJIAN - DAY).recourse[0].eta == FUJIAN
    assert decide("福州", FUJIAN).outcome == "invited"
    before = decide("深圳", PILOT - DAY)  # nothing is open before the first stage
    assert before.reason_codes == ("REGION_CLOSED",) and before.recourse[0].eta == PILOT
    assert decide("深圳", PILOT).outcome == "invited"
    assert decide("兰州", PILOT).outcome == "invited"
    # a city listed on its own (by its official name) opens although 云南 does not
    assert decide("大理白族自治州", PILOT).outcome == "invited"
    assert decide("昆明", PILOT).reason_codes == ("REGION_CLOSED",)
    assert opens_on(DECIDER.policy.schedule, DECIDER.regions, "昆明", PILOT).start == EVERYWHERE  # type: ignore[union-attr]


def test_a_closed_class_stays_closed_without_a_date() -> None:
    county = decide("深圳", AS_OF, is_county_area=True)
    assert county.reason_codes == ("REGION_CLOSED",)
    (step,) = county.recourse
    assert step.eta is None and step.immutable


def test_no_stage_ever_opening_a_province_gives_no_date() -> None:
    pilot_only = Decider(
        scheduled_policy("  schedule:\n    - {from: 2026-01-01, provinces: [广东]}\n")
    )
    (step,) = decide("北京", AS_OF, pilot_only).recourse
    assert step.eta is None and step.immutable


def test_city_cutoffs_cut_each_city_at_its_own_score() -> None:
    """Same profile (score 681 on that date), four capitals: each city's own snapshot cutoff
    decides, and the reason quotes it."""
    caps = {"tier1": 640, "new_tier1": 660, "capital": 670, "prefecture": 680}
    cut = Decider(apply_cutoffs(DECIDER.policy, caps, AS_OF, by_city=CITY_CUTOFFS), DECIDER.regions)
    weaker = {"ecosystem_repayment_score": 55, "pay_score": 640}
    outcomes = {}
    for city in ("兰州", "济南", "福州", "石家庄", "大理白族自治州", "广州"):
        d = decide(city, EVERYWHERE, cut, **weaker)
        assert d.score == 681
        outcomes[city] = (d.reason_codes, d.reasons[0].required if d.reasons else None)
    assert outcomes == {
        "兰州": (("REGION_QUOTA",), ">= 700"),
        "济南": ((), None),
        "福州": (("REGION_QUOTA",), ">= 690"),
        "石家庄": ((), None),
        "大理白族自治州": (("REGION_QUOTA",), ">= 720"),
        "广州": ((), None),  # a tier-1 city: its class's cutoff
    }
    # the recourse aims at the city's bar, dated by the snapshot
    (step,) = decide("兰州", EVERYWHERE, cut, **weaker).recourse
    assert step.code == "REGION_QUOTA"
    for lang in ("zh-CN", "en"):
        assert "700" in step.message[lang] and AS_OF.isoformat() in step.message[lang]


def test_the_default_policy_pilots_then_opens_everywhere_before_its_evaluation_dates() -> None:
    """The batch tests evaluate at 2025-06-30, the demo at 2026-11-28: every province is
    open then, so the default policy's behaviour there is the schedule-free one."""
    default = Decider()
    stages = default.policy.schedule
    assert len(stages) == 2 and stages[-1].every_province
    assert stages[-1].start <= date(2025, 6, 30) <= AS_OF
    pilot = stages[0].start
    assert decide("深圳", pilot, default).outcome == "invited"  # 广东: a pilot province
    assert decide("北京", pilot, default).recourse[0].eta == stages[1].start


def test_lint_warns_about_a_stage_opening_nothing_new_and_provinces_never_opened() -> None:
    policy = scheduled_policy(
        "  schedule:\n    - {from: 2026-01-01, provinces: [广东]}\n"
        "    - {from: 2026-02-01, provinces: [广东, 甘肃], cities: [兰州]}\n"
    )
    found = [f for f in lint(policy) if f.check == "schedule"]
    assert [f.level for f in found] == [Level.WARNING, Level.WARNING]
    assert "广东, 兰州" in found[0].message and found[0].line == policy.schedule[1].line
    assert "29 provinces are never opened" in found[1].message
    assert not [f for f in lint(DECIDER.policy) if f.check == "schedule"]
