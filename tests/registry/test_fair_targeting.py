"""Rules that reward the right households (issue 9, items 2 to 6), each shown with a household worked out by hand.

Weights from rules/poverty_measure.yaml: 8 dimensions of 1/8; 3 indicators → 1/24 each, 2 → 1/16 each.
The baseline household (tests/registry/test_eligibility.py) is two adults (the head employed) and two
children in school, deprived in nothing, 4000 NIS a month ≈ 1541 NIS per adult equivalent.
"""

from __future__ import annotations

import datetime as dt
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from registry.eligibility import check_rules, load_measure, load_priority, priority_key, score_household
from tests.registry.test_eligibility import AS_OF, FORMS, RULES, at_k, deprived, household, member, with_member


def row(scoring: Any, key: str) -> dict[str, Any]:
    return next(r for r in scoring.indicators if r["key"] == key)


@pytest.fixture(scope="module")
def measure() -> Any:
    return load_measure(RULES)


# --------------------------------------------------------------------------------------------------
# 2. A blank answer is unknown: never silently deprived, never silently not deprived


def test_blank_electricity_is_unknown_not_deprived(measure: Any) -> None:
    data = household()
    del data["electricity"]  # before issue 9 this read as "no regular electricity": deprived, 1/24
    scoring = score_household(measure, data, as_of=AS_OF)
    energy = row(scoring, "water_sanitation_energy")
    assert energy["unknown"] is True and energy["deprived"] is False
    assert energy["unknown_counts_as"] == "exclude" and energy["weight_exact"] == "0"
    assert scoring.unknown_indicators == ["water_sanitation_energy"]
    assert scoring.unknown_weight == "1/24"
    assert scoring.score_exact == "0"
    assert all(r["unknown"] is False for r in scoring.indicators if r["key"] != "water_sanitation_energy")


def test_blank_health_insurance_and_assets_are_unknown(measure: Any) -> None:
    data = household()
    data["members"][1]["health_insurance"] = None  # before: an uninsured member, 1/24
    del data["assets"]  # before: owns at most one item, 1/16
    scoring = score_household(measure, data, as_of=AS_OF)
    assert set(scoring.unknown_indicators) == {"health_insurance", "assets"}
    assert deprived(scoring) == set()
    assert scoring.score_exact == "0"
    assert scoring.unknown_weight == str(Fraction(1, 24) + Fraction(1, 16))  # 5/48


def test_a_known_uninsured_member_is_deprived_whatever_the_others_answered(measure: Any) -> None:
    data = household()
    data["members"][0]["health_insurance"] = False
    data["members"][1]["health_insurance"] = None
    scoring = score_household(measure, data, as_of=AS_OF)
    assert row(scoring, "health_insurance")["unknown"] is False
    assert deprived(scoring) == {"health_insurance"}
    assert scoring.score_exact == "1/24"


def test_a_blank_answer_that_would_need_proof_counts_as_not_deprived(measure: Any) -> None:
    # Safety: 1/8 over feels_unsafe and violence (1/16 each), both counted only once verified. A blank
    # feels_unsafe is unknown and counts as not deprived (unknown: not_deprived): no weight moves to violence.
    data = household(violence_in_household=True)
    del data["feels_unsafe"]
    scoring = score_household(measure, data, as_of=AS_OF)
    assert scoring.unknown_indicators == ["feels_unsafe"]
    assert row(scoring, "feels_unsafe")["unknown_counts_as"] == "not_deprived"
    assert row(scoring, "violence")["weight_exact"] == "1/16"
    assert scoring.score_exact == "1/16"
    # Refusing never scores above answering "yes" without proof: that claim adds nothing either.
    claimed = household(violence_in_household=True, feels_unsafe=True)
    claimed["sources"]["feels_unsafe"] = {"how": "declared"}
    assert score_household(measure, claimed, as_of=AS_OF).score_exact == scoring.score_exact


def test_a_dimension_with_nothing_known_shares_its_weight_among_the_others(measure: Any) -> None:
    # Income not answered: both monetary indicators (1/16 each, the whole 1/8 dimension) are unknown and
    # excluded, so the other 7/8 are scaled to 1. No regular electricity (1/24 as written) → (1/24) ÷ (7/8) = 1/21.
    data = household(monthly_income=None, not_answered=["monthly_income"], electricity=False)
    scoring = score_household(measure, data, as_of=AS_OF)
    assert set(scoring.unknown_indicators) == {"below_poverty_line", "below_deep_poverty_line"}
    assert scoring.unknown_weight == "1/8"
    assert row(scoring, "water_sanitation_energy")["weight_exact"] == "1/21"
    assert scoring.score_exact == "1/21"
    assert scoring.category == "not_poor"


def test_an_empty_list_is_an_answer_and_none_of_these_is_one_too(measure: Any) -> None:
    answered = score_household(measure, household(services_hard_to_reach=["none"], assets=["none"]), as_of=AS_OF)
    assert answered.unknown_indicators == []
    assert deprived(answered) == {"assets"}  # owns none of the items: 1/16
    assert answered.score_exact == "1/16"


def test_doesnt_know_on_the_form_overrides_an_unticked_box(measure: Any) -> None:
    # A page posts an unticked box as False ("no regular electricity"); marked "doesn't know", it is unknown.
    data = household(electricity=False, not_answered=["electricity"])
    scoring = score_household(measure, data, as_of=AS_OF)
    assert scoring.unknown_indicators == ["water_sanitation_energy"]
    assert scoring.score_exact == "0"
    assert "water_sanitation_energy" in deprived(score_household(measure, household(electricity=False), as_of=AS_OF))


def test_income_not_known_is_unknown_in_both_monetary_indicators(measure: Any) -> None:
    data = household(monthly_income=None, not_answered=["monthly_income"])
    scoring = score_household(measure, data, as_of=AS_OF)
    assert scoring.income_per_ae is None
    assert set(scoring.unknown_indicators) == {"below_poverty_line", "below_deep_poverty_line"}
    assert scoring.unknown_weight == "1/8"
    assert scoring.category == "not_poor"  # 1/8 unknown is within the 1/4 allowed


def test_a_childs_schooling_not_known_is_unknown(measure: Any) -> None:
    data = with_member(household(), 2, schooling="unknown")  # the 13-year-old: "doesn't know / refused"
    scoring = score_household(measure, data, as_of=AS_OF)
    assert scoring.unknown_indicators == ["school_attendance"]
    assert row(scoring, "adult_schooling")["weight_exact"] == "1/8"


def test_too_much_unknown_is_incomplete_and_exactly_the_limit_is_not(measure: Any) -> None:
    # Income (1/8) + access to services (1/8) = 1/4: exactly the limit, still scored.
    at_limit = household(monthly_income=None, unmet_medical_needs=True)
    del at_limit["services_hard_to_reach"]
    scoring = score_household(measure, at_limit, as_of=AS_OF)
    assert scoring.unknown_weight == "1/4" and scoring.max_unknown_weight == "1/4"
    assert scoring.category == "not_poor"
    # ... and feels_unsafe (1/16) on top: 5/16 > 1/4, too much to decide.
    del at_limit["feels_unsafe"]
    over = score_household(measure, at_limit, as_of=AS_OF)
    assert over.unknown_weight == "5/16"
    assert over.category == "incomplete"


# --------------------------------------------------------------------------------------------------
# 3. Employment counts working-age adults: a working child no longer cancels "no employed member"


def test_a_working_child_with_an_unemployed_adult_is_deprived_in_the_whole_work_dimension(measure: Any) -> None:
    data = household()
    with_member(data, 0, work="unemployed")          # the head, 45: unemployed, looking for work
    with_member(data, 1, work="not_in_labour_force")  # the spouse
    with_member(data, 2, work="employed")             # the son, 13: works
    scoring = score_household(measure, data, as_of=AS_OF)
    # Before issue 9 the son counted as the household's employed member: 2/24. Now all three: 3/24.
    assert deprived(scoring) >= {"no_employed_member", "unemployment", "child_labour"}
    assert row(scoring, "no_employed_member")["value"] == 0
    assert deprived(scoring) == {"no_employed_member", "unemployment", "child_labour"}
    assert scoring.score_exact == "1/8"


def test_an_employed_member_above_working_age_does_not_count(measure: Any) -> None:
    data = with_member(household(), 0, birth_date="1955-01-01")  # the employed head is 70
    scoring = score_household(measure, data, as_of=AS_OF)
    assert deprived(scoring) == {"no_employed_member"}
    assert scoring.score_exact == "1/24"


# --------------------------------------------------------------------------------------------------
# 4. An adult still studying has schooling


def test_an_adult_student_counts_as_schooled(measure: Any) -> None:
    data = household()
    with_member(data, 0, schooling="none")
    with_member(data, 1, schooling="none")
    data["members"].append(member("son", "male", "2006-03-03", schooling="enrolled", work="student"))  # 19
    data["rooms"] = 3
    scoring = score_household(measure, data, as_of=AS_OF)
    # Before issue 9 nobody "completed basic": deprived, 1/16. The 19-year-old at university counts.
    assert row(scoring, "adult_schooling")["value"] == 1
    assert deprived(scoring) == set()
    without_student = score_household(measure, with_member(data, 4, schooling="dropped_out", work="unemployed"),
                                      as_of=AS_OF)
    assert deprived(without_student) == {"adult_schooling", "unemployment"}


# --------------------------------------------------------------------------------------------------
# 5. The waiting list: the poorest first, income counted once


def order(households: dict[str, dict[str, Any]], rules: Path = RULES) -> list[str]:
    priority = load_priority(rules)
    keys = {name: priority_key(priority, data, score_household(priority.measure, data, as_of=AS_OF), as_of=AS_OF)
            for name, data in households.items()}
    return sorted(keys, key=keys.__getitem__)


def test_no_income_comes_before_a_one_third_score_with_a_high_income(measure: Any) -> None:
    no_income = household(monthly_income=0)  # deprived only in income: 1/8
    better_off = at_k()  # 1/3 exactly, 4000 NIS ≈ 1541 per adult equivalent
    no_income_scoring = score_household(measure, no_income, as_of=AS_OF)
    better_off_scoring = score_household(measure, better_off, as_of=AS_OF)
    assert (no_income_scoring.score_exact, no_income_scoring.category) == ("1/8", "deeply_poor")
    assert (better_off_scoring.score_exact, better_off_scoring.category) == ("1/3", "poor")
    # Before issue 9 the score came first: better_off, then no_income.
    assert order({"better_off": better_off, "no_income": no_income}) == ["no_income", "better_off"]


def test_below_the_deep_line_the_lowest_income_comes_first_then_the_score_decides() -> None:
    severe = household(unmet_medical_needs=True, rooms=1, damp_or_leaking=True, electricity=False,
                       services_hard_to_reach=["health_centre", "school", "market"], feels_unsafe=True,
                       violence_in_household=True)
    with_member(severe, 1, health_insurance=False)
    with_member(severe, 0, disability=True)  # 1/2: severely poor, but 1541 NIS per adult equivalent
    some_income = household(monthly_income=1500)  # 1500 / 2.595 ≈ 578 per AE: below the deep line (667.75)
    ranking = order({"severe": severe, "some_income": some_income, "no_income": household(monthly_income=0),
                     "at_k": at_k()})
    assert ranking == ["no_income", "some_income", "severe", "at_k"]


# --------------------------------------------------------------------------------------------------
# 6. The money lines follow prices: indexed by rules/price_index.csv by the scoring date


REFERENCE_AE = (2 + 0.46 * 3) ** 0.89  # PCBS's reference household, 2 adults + 3 children ≈ 2.956


def price_table(changes: dict[tuple[int, int], str], last: tuple[int, int] = (2025, 6)) -> str:
    rows = ["# test figures", "year,month,index,source"]
    year, month = 2017, 1
    while (year, month) <= last:
        rows.append(f"{year},{month},{changes.get((year, month), '100')},test")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return "\n".join(rows) + "\n"


@pytest.fixture()
def rules_copy(tmp_path: Path) -> Path:
    shutil.copytree(RULES, tmp_path / "rules")
    shutil.copytree(FORMS, tmp_path / "forms")
    return tmp_path / "rules"


def single_adult(income: int) -> dict[str, Any]:
    data = household(monthly_income=income, rooms=1)
    data["members"] = data["members"][:1]  # 1 adult equivalent: income per AE is the income
    return data


def test_the_lines_follow_the_price_index_of_the_scoring_month(rules_copy: Path) -> None:
    (rules_copy / "price_index.csv").write_text(price_table({(2025, 5): "110", (2025, 6): "120.5"}))
    measure = load_measure(rules_copy)
    in_april = score_household(measure, single_adult(900), as_of=dt.date(2025, 4, 30))
    in_may = score_household(measure, single_adult(900), as_of=dt.date(2025, 5, 20))
    after_table = score_household(measure, single_adult(900), as_of=dt.date(2025, 9, 1))
    # April: 2017 prices (index 100 = the 2017 average): 2470 / 2.956 = 835.53; 900 is above it.
    assert (in_april.poverty_line, in_april.price_month, in_april.price_factor) == (835.53, "2025-04", "1")
    assert in_april.deprived_indicators == 0
    # May: prices 10 % above 2017: 2470 × 1.1 / 2.956 = 919.08 and 1974 × 1.1 / 2.956 = 734.52.
    assert in_may.poverty_line == round(2470 * 1.1 / REFERENCE_AE, 2) == 919.08
    assert in_may.deep_poverty_line == round(1974 * 1.1 / REFERENCE_AE, 2) == 734.52
    assert (in_may.price_month, in_may.price_factor) == ("2025-05", "11/10")
    assert deprived(in_may) == {"below_poverty_line"}
    # September is after the table's last month (June, 120.5): June's prices are used.
    assert after_table.price_month == "2025-06"
    assert after_table.poverty_line == round(2470 * 1.205 / REFERENCE_AE, 2) == 1006.81
    assert after_table.rule_version != load_measure(RULES).rule_version  # the table is part of the rules


@pytest.mark.parametrize(("change", "problem"), [
    (lambda text: text.replace("2020,5,100,test\n", ""), "month 2020-05 is missing between 2020-04 and 2020-06"),
    (lambda text: text.replace("2020,5,100,test", "2020,5,abc,test"),
     "index must be a number such as 104.25 (found 'abc')"),
    (lambda text: text.replace("2020,5,100,test\n2020,6,100,test", "2020,6,100,test\n2020,5,100,test"),
     "2020-05 is out of order: it comes after 2020-06"),
    (lambda text: text.replace("2019,1,100,test", "2019,1,-3,test"), "index must be above 0 (found -3)"),
    (lambda text: text.replace("year,month,index,source", "year,month,cpi"), "the header must be"),
    (lambda text: "\n".join(line for line in text.splitlines() if not line.startswith("2017,")),
     "needs all 12 months of the reference year 2017"),
])
def test_the_check_refuses_a_broken_price_table(rules_copy: Path, change: Any, problem: str) -> None:
    (rules_copy / "price_index.csv").write_text(change(price_table({})))
    problems = check_rules(rules_copy)
    assert any(p.startswith("price_index.csv: ") and problem in p for p in problems), problems


def test_the_shipped_price_table_is_labelled_as_placeholder() -> None:
    text = (RULES / "price_index.csv").read_text(encoding="utf-8")
    assert "PLACEHOLDER FIGURES, NOT PCBS DATA" in text
    assert check_rules(RULES) == []


def test_a_members_blank_answer_stays_unknown_when_the_household_is_recorded() -> None:
    """The registry keeps a member's blank yes/no answer as unknown, so re-scoring the stored household
    reads it as the measure's rules say (health insurance: unknown), never as "no" (uninsured: deprived)."""
    from registry.registration import member_data, person_values

    stored = person_values({**member("head", "male", "1980-01-01"), "health_insurance": None, "disability": False})
    assert stored["health_insurance"] is None and stored["disability"] is False

    class Person:
        pass

    person = Person()
    for name, value in stored.items():
        setattr(person, name, value)
    assert member_data(person)["health_insurance"] is None
