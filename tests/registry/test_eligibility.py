"""The poverty measure read from rules/: hand-worked households, rule checks, priority order.

Expected scores are worked out by hand from the weights written in rules/poverty_measure.yaml
(8 dimensions of 1/8; 3 indicators → 1/24 each, 2 indicators → 1/16 each), never by the code.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import shutil
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from engine import expressions
from engine.errors import ExpressionError
from engine.script_engine import SafeScriptEngine
from registry.eligibility import (
    RuleFileInvalid,
    aggregate,
    categorise,
    check_rules,
    explain_priority,
    load_measure,
    load_priority,
    priority_key,
    score_household,
    score_many,
)

RULES = Path(__file__).resolve().parents[2] / "rules"
FORMS = Path(__file__).resolve().parents[2] / "forms"
AS_OF = dt.date(2025, 6, 1)


# --------------------------------------------------------------------------------------------------
# Households written out: a baseline deprived in nothing, and small changes to it.


def member(relation: str, sex: str, birth_date: str, **fields: Any) -> dict[str, Any]:
    record = {
        "national_id": "123456782",
        "name_ar": "اسم",
        "relation": relation,
        "sex": sex,
        "birth_date": birth_date,
        "marital_status": "married" if relation in ("head", "spouse") else "single",
        "disability": False,
        "chronic_illness": False,
        "health_insurance": True,
        "schooling": "secondary",
        "work": "employed",
    }
    record.update(fields)
    return record


#: The answers behind the indicators rules/poverty_measure.yaml counts only once verified.
VERIFIED_ONLY_ANSWERS = ("unmet_medical_needs", "services_hard_to_reach", "feels_unsafe", "violence_in_household",
                         "movement_restricted")


def household(**fields: Any) -> dict[str, Any]:
    """Two adults and two children (13 and 8 on AS_OF), deprived in nothing."""
    data = {
        "head_national_id": "123456782",
        "phone": "0599123456",
        "governorate": "PS-HBN",
        "members": [
            member("head", "male", "1980-01-01"),
            member("spouse", "female", "1983-05-05", schooling="basic", work="not_in_labour_force"),
            member("son", "male", "2012-02-02", schooling="enrolled", work="student"),
            member("daughter", "female", "2016-09-09", schooling="enrolled", work="student"),
        ],
        # 2 adults + 2 children = (2 + 0.46 × 2) ** 0.89 ≈ 2.595 adult equivalents: 4000 NIS ≈ 1541 per AE.
        "monthly_income": 4000,
        "dwelling_type": "apartment",
        "dwelling_tenure": "owned",
        "rooms": 2,
        "damp_or_leaking": False,
        "water_source": "public_network",
        "sanitation": "public_sewer",
        "electricity": True,
        "cooking_fuel": "gas",
        "assets": ["refrigerator", "washing_machine", "television"],
        "services_hard_to_reach": [],
        "unmet_medical_needs": False,
        "feels_unsafe": False,
        "violence_in_household": False,
        "movement_restricted": False,
        # Every answer confirmed at a field visit, so the indicators that count only verified answers
        # (counts_when: verified) count here as the others do; tests/registry/test_answer_verification.py
        # is about the household's word alone.
        "sources": {name: {"how": "field_visit"} for name in VERIFIED_ONLY_ANSWERS},
    }
    data.update(fields)
    return data


def with_member(data: dict[str, Any], index: int, **fields: Any) -> dict[str, Any]:
    data["members"][index].update(fields)
    return data


def deprived(scoring: Any) -> set[str]:
    return {row["key"] for row in scoring.indicators if row["deprived"]}


def counted(scoring: Any) -> set[str]:
    """The deprivations that add their weight (an unverified answer of a verified-only one does not)."""
    return {row["key"] for row in scoring.indicators if row["counted"]}


@pytest.fixture(scope="module")
def measure() -> Any:
    return load_measure(RULES)


def test_baseline_household_is_deprived_in_nothing(measure: Any) -> None:
    scoring = score_household(measure, household(), as_of=AS_OF)
    assert deprived(scoring) == set()
    assert scoring.score_exact == "0"
    assert scoring.score == 0.0
    assert scoring.category == "not_poor"


# One household deprived in exactly one indicator, for every indicator of every dimension.
ONE_DEPRIVATION = [
    # health: 1/8 over 3 indicators
    ("health_insurance", lambda d: with_member(d, 1, health_insurance=False), Fraction(1, 24)),
    ("unmet_medical_needs", lambda d: d.update(unmet_medical_needs=True) or d, Fraction(1, 24)),
    ("disability_or_chronic_illness", lambda d: with_member(d, 0, chronic_illness=True), Fraction(1, 24)),
    # education: 1/8 over 2 indicators
    ("school_attendance", lambda d: with_member(d, 2, schooling="dropped_out"), Fraction(1, 16)),
    ("adult_schooling", lambda d: with_member(with_member(d, 0, schooling="none"), 1, schooling="none"),
     Fraction(1, 16)),
    # work: 1/8 over 3 indicators
    ("no_employed_member", lambda d: with_member(d, 0, work="not_in_labour_force"), Fraction(1, 24)),
    ("unemployment", lambda d: with_member(d, 1, work="unemployed"), Fraction(1, 24)),
    ("child_labour", lambda d: with_member(d, 2, work="employed"), Fraction(1, 24)),
    # housing: 1/8 over 3 indicators
    ("overcrowding", lambda d: d.update(rooms=1) or d, Fraction(1, 24)),
    ("dwelling_condition", lambda d: d.update(damp_or_leaking=True) or d, Fraction(1, 24)),
    ("water_sanitation_energy", lambda d: d.update(electricity=False) or d, Fraction(1, 24)),
    # access to services: 1/8 over 3 indicators
    ("health_centre_access", lambda d: d.update(services_hard_to_reach=["health_centre"]) or d,
     Fraction(1, 24)),
    ("school_access", lambda d: d.update(services_hard_to_reach=["school"]) or d, Fraction(1, 24)),
    ("transport_market_access", lambda d: d.update(services_hard_to_reach=["market"]) or d, Fraction(1, 24)),
    # safety: 1/8 over 2 indicators
    ("feels_unsafe", lambda d: d.update(feels_unsafe=True) or d, Fraction(1, 16)),
    ("violence", lambda d: d.update(violence_in_household=True) or d, Fraction(1, 16)),
    # assets and freedom: 1/8 over 2 indicators
    ("assets", lambda d: d.update(assets=["television"]) or d, Fraction(1, 16)),
    ("movement_restricted", lambda d: d.update(movement_restricted=True) or d, Fraction(1, 16)),
    # monetary: 2000 NIS / 2.595 AE ≈ 771 per AE: below the poverty line (835.53), above the deep one (667.75)
    ("below_poverty_line", lambda d: d.update(monthly_income=2000) or d, Fraction(1, 16)),
]


@pytest.mark.parametrize(("key", "change", "weight"), ONE_DEPRIVATION,
                         ids=[row[0] for row in ONE_DEPRIVATION])
def test_one_deprivation_scores_that_indicators_weight(measure: Any, key: str, change: Any,
                                                       weight: Fraction) -> None:
    scoring = score_household(measure, change(household()), as_of=AS_OF)
    assert deprived(scoring) == {key}
    assert scoring.score_exact == str(weight)
    assert scoring.score == round(float(weight), 6)
    assert scoring.deprived_indicators == 1
    assert scoring.deprived_dimensions == 1
    row = next(row for row in scoring.indicators if row["key"] == key)
    assert row["weight_exact"] == str(weight)
    assert row["weight"] == float(weight)
    assert row["label"]["ar"] and row["cutoff"]["en"]
    assert scoring.category == "not_poor"


def test_every_dimension_is_covered_by_the_one_deprivation_cases(measure: Any) -> None:
    assert {row[0] for row in ONE_DEPRIVATION} | {"below_deep_poverty_line"} == {
        ind.key for ind in measure.indicators
    }
    assert len(measure.dimensions) == 8


def at_k() -> dict[str, Any]:
    """3/24 health + 3/24 access + 2/24 work = 8/24 = 1/3 exactly."""
    data = household(unmet_medical_needs=True,
                     services_hard_to_reach=["health_centre", "school", "transport"])
    with_member(data, 1, health_insurance=False, work="unemployed")
    with_member(data, 0, chronic_illness=True)
    with_member(data, 2, work="employed")  # a 13-year-old working: child labour
    return data


def test_household_at_exactly_k_counts_as_poor(measure: Any) -> None:
    scoring = score_household(measure, at_k(), as_of=AS_OF)
    assert scoring.score_exact == "1/3"
    assert scoring.score == 0.333333
    assert scoring.deprived_indicators == 8
    assert scoring.deprived_dimensions == 3
    assert scoring.multidimensionally_poor is True
    assert scoring.category == "poor"


def test_household_just_below_k_is_not_poor(measure: Any) -> None:
    data = with_member(at_k(), 2, work="student")  # 7/24
    scoring = score_household(measure, data, as_of=AS_OF)
    assert scoring.score_exact == "7/24"
    assert scoring.multidimensionally_poor is False
    assert scoring.category == "not_poor"


def test_household_at_the_deep_cut_off_is_deeply_poor(measure: Any) -> None:
    # 9 indicators of 1/24 (health, housing, access) + 2 of 1/16 (safety) = 18/48 + 6/48 = 1/2.
    data = household(unmet_medical_needs=True, rooms=1, damp_or_leaking=True, electricity=False,
                     services_hard_to_reach=["health_centre", "school", "market"], feels_unsafe=True,
                     violence_in_household=True)
    with_member(data, 1, health_insurance=False)
    with_member(data, 0, disability=True)
    scoring = score_household(measure, data, as_of=AS_OF)
    assert scoring.score_exact == "1/2"
    assert scoring.category == "deeply_poor"


def test_poor_household_with_income_below_the_deep_line_is_deeply_poor(measure: Any) -> None:
    # monetary 2/16 + health 3/24 + access 2/24 = 6/48 + 6/48 + 4/48 = 1/3; 1000 NIS ≈ 385 per AE.
    data = household(monthly_income=1000, unmet_medical_needs=True,
                     services_hard_to_reach=["school", "market"])
    with_member(data, 1, health_insurance=False)
    with_member(data, 3, chronic_illness=True)
    scoring = score_household(measure, data, as_of=AS_OF)
    assert scoring.score_exact == "1/3"
    assert {"below_poverty_line", "below_deep_poverty_line"} <= deprived(scoring)
    assert scoring.category == "deeply_poor"


def test_deep_monetary_poverty_alone_is_deeply_poor(measure: Any) -> None:
    # Deep poverty as PCBS defines it (income below the deep line) is deeply poor whatever the score
    # (poverty_category.dmn, rule 3); before issue 9 it was only "poor".
    scoring = score_household(measure, household(monthly_income=1000), as_of=AS_OF)
    assert deprived(scoring) == {"below_poverty_line", "below_deep_poverty_line"}
    assert scoring.score_exact == "1/8"
    assert scoring.category == "deeply_poor"


# --------------------------------------------------------------------------------------------------
# Monetary poverty


def test_poverty_lines_per_adult_equivalent_come_from_the_2017_reference_household(measure: Any) -> None:
    reference_ae = (2 + 0.46 * 3) ** 0.89  # 2 adults + 3 children, PCBS 2017
    assert measure.poverty_line == round(2470 / reference_ae, 2) == 835.53
    assert measure.deep_poverty_line == round(1974 / reference_ae, 2) == 667.75


def single_adult(income: Any) -> dict[str, Any]:
    # One adult: (1 + 0) ** 0.89 = 1 adult equivalent, so income per AE is the income itself.
    data = household(monthly_income=income, rooms=1)
    data["members"] = data["members"][:1]
    return data


@pytest.mark.parametrize(("income", "below_line", "below_deep_line", "category"), [
    (836, False, False, "not_poor"),
    (835, True, False, "not_poor"),
    (668, True, False, "not_poor"),
    (667, True, True, "deeply_poor"),
    (0, True, True, "deeply_poor"),
])
def test_monetary_poverty_lines(measure: Any, income: int, below_line: bool, below_deep_line: bool,
                                category: str) -> None:
    scoring = score_household(measure, single_adult(income), as_of=AS_OF)
    assert scoring.income_per_ae == income
    assert ("below_poverty_line" in deprived(scoring)) is below_line
    assert ("below_deep_poverty_line" in deprived(scoring)) is below_deep_line
    assert scoring.category == category


def test_income_per_adult_equivalent_uses_the_equivalence_scale(measure: Any) -> None:
    scoring = score_household(measure, household(monthly_income=3000), as_of=AS_OF)
    assert scoring.income_per_ae == round(3000 / (2 + 0.46 * 2) ** 0.89, 2)
    assert scoring.household_values["adults"] == 2
    assert scoring.household_values["children"] == 2


def test_missing_income_is_not_counted_as_monetary_poverty(measure: Any) -> None:
    data = household()
    del data["monthly_income"]
    scoring = score_household(measure, data, as_of=AS_OF)
    assert scoring.income_per_ae is None
    assert deprived(scoring) == set()
    assert scoring.inputs["monthly_income"] is None


def test_age_is_taken_on_the_scoring_date(measure: Any) -> None:
    data = household()
    with_member(data, 2, birth_date="2008-01-15", schooling="dropped_out")  # 17 on AS_OF, 18 a year later
    assert "school_attendance" in deprived(score_household(measure, data, as_of=AS_OF))
    assert "school_attendance" not in deprived(score_household(measure, data, as_of=dt.date(2026, 6, 1)))


# --------------------------------------------------------------------------------------------------
# What a scoring records


def test_scoring_records_the_inputs_it_read_and_is_json_able(measure: Any) -> None:
    data = household()
    del data["feels_unsafe"]
    data["members"][0]["birth_date"] = dt.date(1980, 1, 1)
    scoring = score_household(measure, data, as_of=AS_OF)
    stored = json.loads(json.dumps(scoring.to_dict(), ensure_ascii=False))
    assert stored["inputs"]["feels_unsafe"] is None
    assert stored["inputs"]["members"][0]["birth_date"] == "1980-01-01"
    assert stored["inputs"]["assets"] == ["refrigerator", "washing_machine", "television"]
    assert "phone" not in stored["inputs"] and "name_ar" not in stored["inputs"]["members"][0]
    assert stored["rule_version"].startswith("2025.1-draft+")
    assert stored["as_of"] == "2025-06-01"
    assert stored["k"] == "1/3"


def test_scoring_does_not_change_the_data(measure: Any) -> None:
    data = at_k()
    before = copy.deepcopy(data)
    score_household(measure, data, as_of=AS_OF)
    assert data == before


def test_score_many_gives_the_same_scorings_as_score_household(measure: Any) -> None:
    households = [household(), at_k(), household(monthly_income=1000), single_adult(700)]
    many = [s.to_dict() for s in score_many(measure, households, as_of=AS_OF)]
    assert many == [score_household(measure, h, as_of=AS_OF).to_dict() for h in households]


def test_aggregate_censors_non_poor_scores() -> None:
    # The worked example of FACTS.md: global weights, k = 1/3.
    scores = [{"score_exact": "5/18"}, {"score_exact": "1/2"}, {"score_exact": "1/9"}, {"score_exact": "1/3"}]
    measure = SimpleNamespace(k=Fraction(1, 3))
    assert aggregate(measure, scores) == {"households": 4, "poor": 2, "H": "1/2", "A": "5/12", "M0": "5/24"}


# --------------------------------------------------------------------------------------------------
# Properties

MEMBER = st.fixed_dictionaries(
    {
        "relation": st.sampled_from(["head", "spouse", "son", "daughter", "parent", "other"]),
        "sex": st.sampled_from(["female", "male"]),
        "birth_date": st.dates(dt.date(1925, 1, 1), AS_OF).map(dt.date.isoformat),
    },
    optional={
        "disability": st.booleans(),
        "chronic_illness": st.booleans(),
        "health_insurance": st.booleans(),
        "schooling": st.sampled_from(["none", "enrolled", "dropped_out", "basic", "secondary", "higher"]),
        "work": st.sampled_from(["employed", "unemployed", "not_in_labour_force", "student",
                                 "unable_to_work"]),
    },
)
HOUSEHOLD = st.fixed_dictionaries(
    {
        "members": st.lists(MEMBER, min_size=1, max_size=10),
        "monthly_income": st.integers(0, 20000),
        "dwelling_type": st.sampled_from(["house", "apartment", "shared_room", "tent_or_caravan"]),
        "rooms": st.integers(1, 8),
        "water_source": st.sampled_from(["public_network", "tanker", "well_or_spring", "none_reliable"]),
        "sanitation": st.sampled_from(["public_sewer", "cesspit", "none"]),
        "cooking_fuel": st.sampled_from(["gas", "electricity", "wood_or_coal"]),
    },
    optional={
        "damp_or_leaking": st.booleans(),
        "electricity": st.booleans(),
        "assets": st.lists(st.sampled_from(["refrigerator", "washing_machine", "heater", "television",
                                            "computer", "car"]), unique=True),
        "services_hard_to_reach": st.lists(st.sampled_from(["health_centre", "school", "transport",
                                                            "market"]), unique=True),
        "unmet_medical_needs": st.booleans(),
        "feels_unsafe": st.booleans(),
        "violence_in_household": st.booleans(),
        "movement_restricted": st.booleans(),
        # How each answer is known: the household's word, or verified one of the ways that count.
        "sources": st.dictionaries(st.sampled_from(VERIFIED_ONLY_ANSWERS), st.sampled_from(
            [{"how": "declared"}, {"how": "document"}, {"how": "field_visit"}, {"how": "ministry"}])),
    },
)


def _add_service(service: str) -> Any:
    return lambda d: d.update(services_hard_to_reach=[*(d.get("services_hard_to_reach") or []), service])


# Each flip changes one input so that the named indicator is deprived, and touches nothing else.
FLIPS = {
    "unmet_medical_needs": lambda d: d.update(unmet_medical_needs=True),
    "feels_unsafe": lambda d: d.update(feels_unsafe=True),
    "violence": lambda d: d.update(violence_in_household=True),
    "movement_restricted": lambda d: d.update(movement_restricted=True),
    "dwelling_condition": lambda d: d.update(damp_or_leaking=True),
    "water_sanitation_energy": lambda d: d.update(electricity=False),
    "health_centre_access": _add_service("health_centre"),
    "school_access": _add_service("school"),
    "transport_market_access": _add_service("market"),
    "assets": lambda d: d.update(assets=[]),
    "health_insurance": lambda d: d["members"][0].update(health_insurance=False),
    "disability_or_chronic_illness": lambda d: d["members"][0].update(disability=True),
    "below_poverty_line": lambda d: d.update(monthly_income=0),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=HOUSEHOLD)
def test_score_is_always_between_0_and_1(data: dict[str, Any]) -> None:
    scoring = score_household(load_measure(RULES), data, as_of=AS_OF)
    assert 0 <= Fraction(scoring.score_exact) <= 1
    assert 0.0 <= scoring.score <= 1.0
    assert scoring.category in ("deeply_poor", "poor", "not_poor", "incomplete")
    assert (scoring.category == "incomplete") is (Fraction(scoring.unknown_weight) > Fraction(1, 4))
    assert {r["key"] for r in scoring.indicators if r["unknown"]} == set(scoring.unknown_indicators)
    assert Fraction(scoring.score_exact) == sum(Fraction(r["weight_exact"]) for r in scoring.indicators
                                                if r["counted"])
    assert all(r["deprived"] for r in scoring.indicators if r["counted"])
    json.dumps(scoring.to_dict())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=HOUSEHOLD, flip=st.sampled_from(sorted(FLIPS)))
def test_adding_a_deprivation_never_lowers_the_score(data: dict[str, Any], flip: str) -> None:
    measure = load_measure(RULES)
    if flip.endswith("_access") and data.get("services_hard_to_reach") is None:
        # A worse answer to the question, not the first answer to it: a list not answered is unknown, and
        # answering it makes the other services known too (which may lower the share deprived).
        data["services_hard_to_reach"] = []
    before = score_household(measure, data, as_of=AS_OF)
    flipped = copy.deepcopy(data)
    FLIPS[flip](flipped)
    # The worse answer is a verified one: an unverified claim does not count (counts_when: verified), and
    # then an unknown answer left out (its weight shared) may score higher than the claim.
    answer = {"violence": "violence_in_household"}.get(flip, flip)
    answer = "services_hard_to_reach" if flip.endswith("_access") else answer
    if answer in VERIFIED_ONLY_ANSWERS:
        flipped.setdefault("sources", {})[answer] = {"how": "field_visit"}
    after = score_household(measure, flipped, as_of=AS_OF)
    assert flip in deprived(after)
    assert Fraction(after.score_exact) >= Fraction(before.score_exact)
    if flip not in deprived(before) and flip in counted(after) and flip not in before.unknown_indicators:
        # From unknown to deprived may leave the score as it was: an unknown left out counts as the
        # share of its dimension that is known to be deprived (Alkire–Foster), which may be all of it.
        assert Fraction(after.score_exact) > Fraction(before.score_exact)
    assert Fraction(after.unknown_weight) <= Fraction(before.unknown_weight)
    if before.category != "incomplete":
        rank = {"not_poor": 0, "poor": 1, "deeply_poor": 2}
        assert rank[after.category] >= rank[before.category]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=HOUSEHOLD, answer=st.sampled_from(VERIFIED_ONLY_ANSWERS))
def test_verifying_an_answer_never_lowers_the_score(data: dict[str, Any], answer: str) -> None:
    measure = load_measure(RULES)
    before = score_household(measure, data, as_of=AS_OF)
    verified = copy.deepcopy(data)
    verified.setdefault("sources", {})[answer] = {"how": "document"}
    after = score_household(measure, verified, as_of=AS_OF)
    assert Fraction(after.score_exact) >= Fraction(before.score_exact)
    assert deprived(after) == deprived(before)


# --------------------------------------------------------------------------------------------------
# The category table: the .dmn file, as SpiffWorkflow reads it


def test_category_table_parses_with_spiffworkflows_validating_parser() -> None:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_dmn_file(str(RULES / "poverty_category.dmn"))
    assert list(parser.dmn_parsers) == ["poverty_category"]


def test_category_agrees_with_spiffworkflows_dmn_engine(measure: Any) -> None:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_dmn_file(str(RULES / "poverty_category.dmn"))
    dmn = parser.dmn_parsers["poverty_category"]
    dmn.parse()
    engine = DMNEngine(dmn.decision.decisionTables[0])
    workflow = SimpleNamespace(script_engine=SafeScriptEngine())
    seen = set()
    scores = (Fraction(0), Fraction(7, 24), Fraction(1, 3), Fraction(11, 24), Fraction(1, 2), Fraction(1))
    for score in scores:
        for income in (None, 0.0, 600.0, 700.0, 900.0):
            for unknown in (Fraction(0), Fraction(1, 4), Fraction(7, 24)):
                data = {"score": score, "k": measure.k, "deep_k": measure.deep_k, "income_per_ae": income,
                        "poverty_line": measure.poverty_line, "deep_poverty_line": measure.deep_poverty_line,
                        "unknown_weight": unknown, "max_unknown_weight": measure.max_unknown_weight}
                expected = engine.result(SimpleNamespace(data=data, workflow=workflow))["category"]
                assert categorise(measure, score=score, income_per_ae=income, unknown_weight=unknown) == expected
                seen.add(expected)
    assert seen == {"deeply_poor", "poor", "not_poor", "incomplete"}


# --------------------------------------------------------------------------------------------------
# Rule files as the analyst edits them


@pytest.fixture()
def rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    shutil.copytree(FORMS, tmp_path / "forms")
    return target


def edit_measure(rules_dir: Path, change: Any) -> None:
    path = rules_dir / "poverty_measure.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")


def dimension(raw: dict[str, Any], key: str) -> dict[str, Any]:
    return next(d for d in raw["dimensions"] if d["key"] == key)


def indicator(raw: dict[str, Any], key: str) -> dict[str, Any]:
    return next(i for d in raw["dimensions"] for i in d["indicators"] if i["key"] == key)


def test_the_shipped_rules_pass_every_check() -> None:
    assert check_rules(RULES) == []


def test_an_analysts_weight_change_changes_the_score_and_the_rule_version(rules_copy: Path) -> None:
    data = household(unmet_medical_needs=True)
    original = score_household(load_measure(RULES), data, as_of=AS_OF)

    def reweigh(raw: dict[str, Any]) -> None:
        dimension(raw, "health")["weight"] = "3/16"
        dimension(raw, "education")["weight"] = "1/16"

    edit_measure(rules_copy, reweigh)
    changed = score_household(load_measure(rules_copy), data, as_of=AS_OF)
    assert original.score_exact == "1/24"
    assert changed.score_exact == "1/16"  # 3/16 split over 3 indicators
    assert changed.rule_version != original.rule_version
    assert check_rules(rules_copy) == []


def test_a_changed_file_is_reloaded_and_an_unchanged_one_is_cached(rules_copy: Path) -> None:
    first = load_measure(rules_copy)
    assert load_measure(rules_copy) is first
    edit_measure(rules_copy, lambda raw: raw.update(poverty_cutoff_k="1/4"))
    path = rules_copy / "poverty_measure.yaml"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    second = load_measure(rules_copy)
    assert second is not first
    assert second.k == Fraction(1, 4)
    assert second.rule_version != first.rule_version


def test_weights_not_adding_up_to_one_are_refused(rules_copy: Path) -> None:
    edit_measure(rules_copy, lambda raw: dimension(raw, "health").update(weight="1/4"))
    with pytest.raises(RuleFileInvalid) as refused:
        load_measure(rules_copy)
    problem = "poverty_measure.yaml: dimensions: the dimension weights add up to 9/8, not 1"
    assert problem in refused.value.problems
    assert "the dimension weights add up to 9/8, not 1" in " ".join(check_rules(rules_copy))


def test_an_inexact_weight_is_refused(rules_copy: Path) -> None:
    edit_measure(rules_copy, lambda raw: dimension(raw, "health").update(weight=0.125))
    with pytest.raises(RuleFileInvalid) as refused:
        load_measure(rules_copy)
    assert any("dimension 'health' weight" in p and "exact fraction" in p for p in refused.value.problems)


def test_a_dangerous_expression_is_refused(rules_copy: Path) -> None:
    edit_measure(rules_copy,
                 lambda raw: indicator(raw, "unmet_medical_needs").update(deprived_if='__import__("os")'))
    with pytest.raises(RuleFileInvalid) as refused:
        load_measure(rules_copy)
    (problem,) = refused.value.problems
    assert problem.startswith("poverty_measure.yaml: indicator 'unmet_medical_needs' deprived_if:")
    assert "unknown function '__import__'" in problem


@pytest.mark.parametrize("condition", ['"().__class__"', '"__import__(1)"', "sex"])
def test_a_dangerous_per_member_condition_is_refused(rules_copy: Path, condition: str) -> None:
    edit_measure(rules_copy, lambda raw: indicator(raw, "child_labour").update(
        value=f"count_where(members, {condition})"))
    with pytest.raises(RuleFileInvalid) as refused:
        load_measure(rules_copy)
    assert any("indicator 'child_labour' value" in p for p in refused.value.problems)


def test_a_dangerous_dmn_entry_is_refused(rules_copy: Path) -> None:
    path = rules_copy / "poverty_category.dmn"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("<text>&gt;= deep_k</text>", '<text>__import__("os")</text>'),
                    encoding="utf-8")
    with pytest.raises(RuleFileInvalid) as refused:
        load_measure(rules_copy)
    assert any(p.startswith("poverty_category.dmn: rule 2:") and "unknown function '__import__'" in p
               for p in refused.value.problems)


def test_a_dmn_without_the_category_output_is_refused(rules_copy: Path) -> None:
    path = rules_copy / "poverty_category.dmn"
    path.write_text(path.read_text(encoding="utf-8").replace('name="category"', 'name="eligible"'),
                    encoding="utf-8")
    with pytest.raises(RuleFileInvalid) as refused:
        load_measure(rules_copy)
    assert any("needs exactly one output named 'category'" in p for p in refused.value.problems)


def test_a_misspelt_form_field_is_reported(rules_copy: Path) -> None:
    edit_measure(rules_copy, lambda raw: indicator(raw, "feels_unsafe").update(value="feels_unsafee == True"))
    assert check_rules(rules_copy) == [
        "poverty_measure.yaml: reads 'feels_unsafee', which is not a field of forms/registration.yaml"
    ]


# --------------------------------------------------------------------------------------------------
# Waiting-list priority


def order(households: dict[str, dict[str, Any]]) -> list[str]:
    measure = load_measure(RULES)
    keys = {name: priority_key(measure, data, score_household(measure, data, as_of=AS_OF), as_of=AS_OF)
            for name, data in households.items()}
    return sorted(keys, key=keys.__getitem__)


def test_priority_puts_the_higher_score_first() -> None:
    plain = household(feels_unsafe=True, violence_in_household=True)  # 1/8
    vulnerable = with_member(household(feels_unsafe=True), 0, disability=True)  # 1/16 + 1/24, disabled
    assert order({"vulnerable": vulnerable, "plain": plain}) == ["plain", "vulnerable"]


def test_priority_breaks_equal_scores_by_vulnerability() -> None:
    # All score 1/24 (disability or chronic illness of one member), then differ one key at a time.
    base = lambda: with_member(household(), 1, chronic_illness=True)  # noqa: E731
    disabled = with_member(household(), 1, disability=True)
    female_headed = base()
    with_member(female_headed, 0, sex="female")
    with_member(female_headed, 1, sex="male", relation="spouse")
    # The spouse (not in the labour force) is 65 on AS_OF: an elderly head would also leave the household
    # without an employed member of working age (18–64), a deprivation of its own.
    elderly = with_member(base(), 1, birth_date="1960-01-01")
    poorer = base()
    poorer["monthly_income"] = 3000
    plain = base()
    ranking = order({"plain": plain, "poorer": poorer, "elderly": elderly, "female_headed": female_headed,
                     "disabled": disabled})
    assert ranking == ["disabled", "female_headed", "elderly", "poorer", "plain"]


def test_priority_prefers_more_children_then_lower_income() -> None:
    more_children = household()
    more_children["members"].append(member("son", "male", "2020-01-01", schooling=None, work=None))
    more_children["rooms"] = 3
    assert order({"fewer": household(), "more": more_children}) == ["more", "fewer"]


def test_priority_puts_an_unrecorded_income_last() -> None:
    unknown = household()
    del unknown["monthly_income"]
    assert order({"unknown": unknown, "known": household(monthly_income=5000)}) == ["known", "unknown"]


def test_a_priority_key_without_a_direction_is_refused(rules_copy: Path) -> None:
    path = rules_copy / "priority.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("direction: ascending", "direction: up"),
                    encoding="utf-8")
    with pytest.raises(RuleFileInvalid) as refused:
        load_priority(rules_copy)
    assert refused.value.problems == [
        "priority.yaml: key 'poorest_first': direction must be ascending or descending (found 'up')",
        "priority.yaml: key 'income_per_ae': direction must be ascending or descending (found 'up')",
    ]
    assert check_rules(rules_copy) == refused.value.problems


def test_priority_key_reads_a_stored_scoring_like_a_fresh_one() -> None:
    priority = load_priority(RULES)
    data = at_k()
    scoring = score_household(priority.measure, data, as_of=AS_OF)
    assert priority_key(priority, data, scoring.to_dict(), as_of=AS_OF) == priority_key(
        priority, data, scoring, as_of=AS_OF)


def test_priority_explanation_lists_each_key_with_its_value() -> None:
    priority = load_priority(RULES)
    data = with_member(at_k(), 0, sex="female")
    scoring = score_household(priority.measure, data, as_of=AS_OF)
    explained = explain_priority(priority, data, scoring, as_of=AS_OF)
    assert [row["key"] for row in explained] == [key.key for key in priority.keys]
    values = {row["key"]: row["value"] for row in explained}
    assert values["intensity"] == pytest.approx(1 / 3)
    assert values["female_headed"] is True
    assert values["children"] == 2
    assert explained[0]["label"]["ar"] == "الدخل دون خط الفقر المدقع"
    assert values["deep_monetary_poverty"] is False and values["poorest_first"] is None
    json.dumps(explained)


# --------------------------------------------------------------------------------------------------
# The expression helpers added for the rule files


def test_count_where_counts_items_for_which_the_condition_holds() -> None:
    items = [{"age": 4, "sex": "female"}, {"age": 40}, "not a record", {"age": 9, "sex": "female"}]
    assert expressions.evaluate('count_where(items, "age < 18 and sex == \'female\'")', {"items": items}) == 2
    assert expressions.evaluate('count_where(items, "age > 1")', {"items": None}) == 0


@pytest.mark.parametrize(("expression", "reason"), [
    ("count_where(items, condition)", "must be a literal string"),
    ('count_where(items, "__import__(1)")', "unknown function '__import__'"),
    ('count_where(items, "x.y")', "Attribute is not allowed"),
    ("power(2, n)", None),
])
def test_item_conditions_are_checked_when_compiled(expression: str, reason: str | None) -> None:
    if reason is None:
        expressions.validate(expression)
        return
    with pytest.raises(ExpressionError, match=reason):
        expressions.validate(expression)


def test_power_allows_only_small_exponents() -> None:
    assert expressions.evaluate("power(8, 1/3)", {}) == pytest.approx(2.0)
    with pytest.raises(ExpressionError, match="exponents between -10 and 10"):
        expressions.evaluate("power(2, n)", {"n": 1000})


def test_evaluator_reads_missing_names_as_none_and_functions_win_over_data() -> None:
    run = expressions.evaluator("len(items) if missing is None else 0")
    assert run({"items": [1, 2], "len": "shadow"}) == 2


def test_assigner_runs_steps_in_order_and_names_the_failing_expression() -> None:
    run = expressions.assigner([("a", "len(items)"), ("b", "a * 2"), ("c", "b < limit")])
    namespace: dict[str, Any] = {"items": [1, 2, 3], "limit": 10}
    run(namespace)
    assert (namespace["a"], namespace["b"], namespace["c"]) == (3, 6, True)
    with pytest.raises(ExpressionError) as failed:
        run({"items": [1]})
    assert failed.value.expression == "b < limit"
    with pytest.raises(ExpressionError, match="cannot assign to 'len'"):
        expressions.assigner([("len", "1")])
