"""Answers on the household's word alone do not qualify it: how each value is known, kept and shown.

The household of issue 9: one adult with 10,000 NIS a month who answers yes to unmet medical needs,
feeling unsafe, violence, restricted movement and no access to four services. Worked out by hand from
rules/poverty_measure.yaml (8 dimensions of 1/8; 3 indicators → 1/24 each, 2 indicators → 1/16 each,
common denominator 48):

    unmet medical needs             health, 3 indicators        1/24 = 2/48
    no health centre                services, 3 indicators      1/24 = 2/48
    no school                                                   1/24 = 2/48
    no transport or market                                      1/24 = 2/48
    feels unsafe                    safety, 2 indicators        1/16 = 3/48
    violence                                                    1/16 = 3/48
    movement restricted             assets and freedom, 2       1/16 = 3/48
                                                                total 17/48 ≥ k = 1/3 = 16/48: poor

All seven are marked ``counts_when: verified``. Nothing else is deprived (insured, secondary schooling,
employed, 1 person in 2 rooms, a car, income far above the lines). On the household's word alone none of
the seven counts: 0/48, not poor.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from registry.eligibility import load_measure, score_household
from tests.conftest import Api
from tests.factories import member, registration
from tests.webui.test_case_paths import complete, open_case, task_of

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
AS_OF = dt.date(2025, 6, 1)
AHMAD = "895160174"  # head of a demo family known to all three ministries (data/ministries/README.md)

FIVE_ANSWERS = ("unmet_medical_needs", "feels_unsafe", "violence_in_household", "movement_restricted",
                "services_hard_to_reach")
SEVEN_INDICATORS = {"unmet_medical_needs", "health_centre_access", "school_access", "transport_market_access",
                    "feels_unsafe", "violence", "movement_restricted"}


def issue_household(**overrides: Any) -> dict[str, Any]:
    data = {
        "members": [{"relation": "head", "sex": "male", "birth_date": "1985-01-01", "disability": False,
                     "chronic_illness": False, "health_insurance": True, "schooling": "secondary",
                     "work": "employed"}],
        "monthly_income": 10000, "dwelling_type": "apartment", "rooms": 2, "damp_or_leaking": False,
        "water_source": "public_network", "sanitation": "public_sewer", "electricity": True,
        "cooking_fuel": "gas", "assets": ["refrigerator", "washing_machine", "car"],
        "services_hard_to_reach": ["health_centre", "school", "transport", "market"],
        "unmet_medical_needs": True, "feels_unsafe": True, "violence_in_household": True,
        "movement_restricted": True,
    }
    data.update(overrides)
    return data


def rows(scoring: Any) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in scoring.indicators}


def test_the_issues_household_on_its_word_alone_is_not_poor() -> None:
    scoring = score_household(load_measure(RULES), issue_household(), as_of=AS_OF)
    assert (scoring.score_exact, scoring.category) == ("0", "not_poor")
    deprived = {key for key, row in rows(scoring).items() if row["deprived"]}
    assert deprived == SEVEN_INDICATORS  # what the answers say is kept, and shown
    for key in SEVEN_INDICATORS:
        row = rows(scoring)[key]
        assert (row["counted"], row["reason"]) == (False, "unverified")
    assert rows(scoring)["violence"]["unverified"] == ["violence_in_household"]
    assert scoring.deprived_indicators == 0 and scoring.deprived_dimensions == 0


def test_the_issues_household_is_poor_once_its_answers_are_verified() -> None:
    sources = {name: {"how": "field_visit", "on": "2025-05-30", "by": 9} for name in FIVE_ANSWERS}
    scoring = score_household(load_measure(RULES), issue_household(sources=sources), as_of=AS_OF)
    assert (scoring.score_exact, scoring.category) == ("17/48", "poor")
    assert all(rows(scoring)[key]["counted"] and "reason" not in rows(scoring)[key] for key in SEVEN_INDICATORS)
    assert scoring.inputs["sources"] == sources  # kept with the score's inputs


def test_only_the_verified_answers_count() -> None:
    # Safety proven by a protection report, the rest the household's word: 3/48 + 3/48 = 1/8.
    sources = {"feels_unsafe": {"how": "document"}, "violence_in_household": {"how": "document"},
               "unmet_medical_needs": {"how": "declared"}}
    scoring = score_household(load_measure(RULES), issue_household(sources=sources), as_of=AS_OF)
    assert (scoring.score_exact, scoring.category) == ("1/8", "not_poor")
    assert {key for key, row in rows(scoring).items() if row["counted"]} == {"feels_unsafe", "violence"}


def test_a_ministry_record_counts_as_verified(tmp_path: Path) -> None:
    # A copy of the rules where disability counts only once verified: the Ministry of Health's record does.
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    text = (rules / "poverty_measure.yaml").read_text(encoding="utf-8")
    anchor = '        label: {en: "Disability or chronic illness", ar: "الإعاقة أو المرض المزمن"}\n'
    assert anchor in text
    (rules / "poverty_measure.yaml").write_text(text.replace(anchor, anchor + "        counts_when: verified\n"),
                                                encoding="utf-8")
    measure = load_measure(rules)
    data = issue_household(unmet_medical_needs=False, feels_unsafe=False, violence_in_household=False,
                           movement_restricted=False, services_hard_to_reach=[])
    data["members"][0]["disability"] = True
    declared = score_household(measure, data, as_of=AS_OF)
    assert rows(declared)["disability_or_chronic_illness"]["reason"] == "unverified"
    assert declared.score_exact == "0"
    data["sources"] = {"members.0.disability": {"how": "ministry", "source": "health", "as_of": "2025-03-01"}}
    recorded = score_household(measure, data, as_of=AS_OF)
    assert rows(recorded)["disability_or_chronic_illness"]["counted"] is True
    assert recorded.score_exact == "1/24"  # health: 1/8 over 3 indicators


# --- through the application ---------------------------------------------------------------------

def _issue_registration(**overrides: Any) -> dict[str, Any]:
    head = member(work="employed", schooling="secondary", health_insurance=True)
    fields = issue_household()
    fields.pop("members")
    return registration(members=[head], **{**fields, "rooms": 2, **overrides})


def test_supervisor_sees_unverified_answers_and_a_field_visit_makes_them_count(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    reception, supervisor, manager = api("reception1"), api("supervisor1"), api("casemanager1")
    case_id = open_case(reception)
    complete(reception, case_id, _issue_registration(), expect_form="registration")
    complete(reception, case_id, {"decision": "recommend_eligible", "recommendation_notes": "As declared."},
             expect_form="eligibility_recommendation")
    case = reception.get(f"/cases/{case_id}").get_json()
    assert [(s["score_exact"], s["category"]) for s in case["eligibility"]] == [("0", "not_poor")]
    sources = case["household"]["sources"]
    assert sources["monthly_income"] == {"how": "declared"}
    assert sources["feels_unsafe"] == {"how": "declared"}
    assert sources["members.0.birth_date"] == {"how": "declared"}

    review = task_of(supervisor, case_id)
    for lang, words in (("en", ("Not counted until verified", "Safety where the household lives", "Violence")),
                        ("ar", ("لا تُحتسب حتى يتم التحقق منها", "الأمان في مكان السكن", "العنف"))):
        html = login_as("supervisor1", lang=lang).get(f"/tasks/{review['id']}").get_data(as_text=True)
        assert 'data-testid="unverified-answers"' in html
        assert all(word in html for word in words), lang
    assert supervisor.get(f"/tasks/{review['id']}").get_json()["sources"]["violence_in_household"] == {
        "how": "declared"}

    complete(supervisor, case_id, {"decision": "approve"}, expect_form="eligibility_review")
    complete(manager, case_id, {"visit_date": "2026-11-05", "needs_areas": ["safety"],
                                "needs_description": "Seen at the visit.", "household_resources": "Work.",
                                "risk_level": "high", "verified_at_visit": list(FIVE_ANSWERS)},
             expect_form="needs_assessment")
    case = manager.get(f"/cases/{case_id}").get_json()
    # The newest score first: 17/48 once the five answers are verified (hand-worked above).
    assert [(s["score_exact"], s["category"]) for s in case["eligibility"]] == [("17/48", "poor"),
                                                                                 ("0", "not_poor")]
    visit = case["household"]["sources"]["feels_unsafe"]
    assert visit["how"] == "field_visit" and visit["by"] is not None and visit["on"]
    assert case["household"]["sources"]["monthly_income"] == {"how": "declared"}
    assert any(e["action"] == "answers_verified" and sorted(e["details"]["verified"]) == sorted(FIVE_ANSWERS)
               for e in case["history"])


def test_a_document_seen_at_registration_verifies_what_it_proves(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    data = _issue_registration(verified_by_document=["unmet_medical_needs", "violence_in_household",
                                                     "movement_restricted"])
    complete(reception, case_id, data, expect_form="registration")
    case = reception.get(f"/cases/{case_id}").get_json()
    # Counted: treatment 2/48 + violence 3/48 + movement 3/48 = 8/48 = 1/6, below k.
    assert [(s["score_exact"], s["category"]) for s in case["eligibility"]] == [("1/6", "not_poor")]
    assert case["household"]["sources"]["violence_in_household"]["how"] == "document"
    assert "verified_by_document" not in case["household"]["living_conditions"]


def test_a_ministrys_value_is_verified_by_that_ministry_with_its_date(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    created = reception.post("/cases", {"national_id": AHMAD, "consent_data_exchange": True}).get_json()
    task = reception.get(f"/tasks/{created['first_task']['id']}").get_json()
    birth = task["sources"]["members.0.birth_date"]
    assert birth["how"] == "ministry" and birth["source"] == "interior"
    assert dt.date.fromisoformat(birth["as_of"])
    fields = {f["name"]: f for f in task["fields"]}
    members = [{**m, "work": m.get("work") or "unemployed"} for m in fields["members"]["value"]]
    data = registration(members=members, head_national_id=AHMAD, governorate=fields["governorate"]["value"],
                        locality=fields["locality"]["value"], address=fields["address"]["value"])
    complete(reception, created["case_id"], data, expect_form="registration")
    case = reception.get(f"/cases/{created['case_id']}").get_json()
    assert case["household"]["sources"]["members.0.birth_date"] == birth
    assert case["household"]["sources"]["monthly_income"] == {"how": "declared"}
    score = case["eligibility"][0]
    assert score["category"] in ("deeply_poor", "poor", "not_poor")


def test_a_correction_shows_field_before_and_after_in_the_history(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient], app: Flask) -> None:
    reception = api("reception1")
    created = reception.post("/cases", {"national_id": AHMAD, "consent_data_exchange": True}).get_json()
    task = reception.get(f"/tasks/{created['first_task']['id']}").get_json()
    fields = {f["name"]: f for f in task["fields"]}
    members = [{**m, "work": m.get("work") or "unemployed"} for m in fields["members"]["value"]]
    members[0]["birth_date"] = "1979-04-14"  # the Interior holds 1979-03-14
    data = registration(members=members, head_national_id=AHMAD, governorate=fields["governorate"]["value"],
                        locality=fields["locality"]["value"], address=fields["address"]["value"],
                        correction_reason="Birth certificate shows 14 April.")
    complete(reception, created["case_id"], data, expect_form="registration")
    case = reception.get(f"/cases/{created['case_id']}").get_json()
    corrected = case["household"]["sources"]["members.0.birth_date"]
    assert corrected["how"] == "declared"
    assert corrected["correction"]["before"] == "1979-03-14"
    assert corrected["correction"]["source"] == "interior"
    assert corrected["correction"]["reason"] == "Birth certificate shows 14 April."
    html = login_as("reception1").get(f"/cases/{created['case_id']}?tab=history").get_data(as_text=True)
    history = html[html.index('data-testid="corrections"'):]
    history = history[:history.index("</ul>")]
    assert "Date of birth" in history and "1979-03-14" in history and "1979-04-14" in history
    assert "Ministry of Interior" in history
