"""A household through every path of the case-management process, as API users would do it."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Api
from tests.factories import PLAN, pdf_document, registration

BOTH_DATABASES = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


def task_of(user: Api, case_id: int) -> dict[str, Any]:
    """The one task of this case in the user's inbox (assigned to them or open for their role)."""
    response = user.get("/tasks")
    assert response.status_code == 200
    tasks = [t for t in response.get_json()["tasks"] if t["case_id"] == case_id]
    assert len(tasks) == 1, tasks
    return tasks[0]


def complete(user: Api, case_id: int, data: dict[str, Any], expect_form: str | None = None) -> dict[str, Any]:
    task = task_of(user, case_id)
    if expect_form:
        assert task["form_key"] == expect_form
    response = user.post(f"/tasks/{task['id']}/complete", {"data": data})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def open_case(reception: Api) -> int:
    response = reception.post("/cases", {})
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["case_id"])


def register_and_recommend(reception: Api, **overrides: Any) -> int:
    case_id = open_case(reception)
    complete(reception, case_id, registration(**overrides), expect_form="registration")
    complete(reception, case_id, {"decision": "recommend_eligible", "recommendation_notes": "Deprived."},
             expect_form="eligibility_recommendation")
    return case_id


@BOTH_DATABASES
def test_household_goes_from_registration_to_closure_through_every_loop(api: Callable[[str], Api]) -> None:
    reception, supervisor, manager = api("reception1"), api("supervisor1"), api("casemanager1")
    case_id = open_case(reception)
    first = task_of(reception, case_id)
    assert (first["form_key"], first["assignee"] is not None, first["due_at"] is not None) == \
        ("registration", True, True)

    complete(reception, case_id, registration())
    case = reception.get(f"/cases/{case_id}").get_json()
    assert case["stage"] == "eligibility"
    assert len(case["household"]["members"]) == 4
    scored = case["eligibility"][0]
    assert scored["category"] in ("poor", "deeply_poor")
    assert any(i["deprived"] for i in scored["indicators"])

    complete(reception, case_id, {"decision": "recommend_eligible", "recommendation_notes": "Deprived."})
    # The document loop, twice.
    for attempt in range(2):
        complete(supervisor, case_id, {"decision": "request_documents", "missing_documents": ["income_proof"],
                                       "review_comments": f"pass {attempt}"}, expect_form="eligibility_review")
        pdf = base64.b64encode(pdf_document("proof of income")).decode()
        complete(reception, case_id, {"documents": [{"name": "income.pdf", "content_base64": pdf}]},
                 expect_form="attach_documents")
    managers = supervisor.get(f"/tasks/{task_of(supervisor, case_id)['id']}").get_json()["fields"]
    chosen = next(f for f in managers if f["name"] == "case_manager")["choices"][0]["value"]
    result = complete(supervisor, case_id, {"decision": "approve", "case_manager": chosen})
    assert result["stage"] == "assessment"
    assert [t["form_key"] for t in result["next_tasks"]] == ["needs_assessment"]
    assert result["next_tasks"][0]["assignee"] == int(chosen)

    visit = {"visit_date": "2026-11-03", "needs_areas": ["health", "work"], "needs_description": "Treatment.",
             "household_resources": "The mother sews.", "risk_level": "medium"}
    complete(manager, case_id, {**visit, "another_visit_needed": True}, expect_form="needs_assessment")
    complete(manager, case_id, {**visit, "another_visit_needed": False}, expect_form="needs_assessment")
    complete(manager, case_id, PLAN, expect_form="assistance_plan")
    complete(supervisor, case_id, {"decision": "revise", "plan_comments": "Add a health referral."},
             expect_form="plan_review")
    complete(manager, case_id, PLAN, expect_form="assistance_plan")
    complete(supervisor, case_id, {"decision": "approve"}, expect_form="plan_review")

    follow = {"visit_date": "2026-12-01", "progress": "on_track", "follow_up_notes": "Transfer paid."}
    complete(manager, case_id, {**follow, "more_follow_up": True}, expect_form="follow_up")
    complete(manager, case_id, {**follow, "more_follow_up": False}, expect_form="follow_up")
    complete(manager, case_id, {"goals_achieved": "partly", "decision": "extend", "extension_weeks": 4,
                                "evaluation_notes": "Training not finished."}, expect_form="outcome_evaluation")
    extended = manager.get(f"/cases/{case_id}").get_json()
    assert extended["plan_end_date"] == "2027-03-10"  # four weeks past the plan's end
    complete(manager, case_id, {**follow, "more_follow_up": False}, expect_form="follow_up")
    result = complete(manager, case_id, {"goals_achieved": "fully", "decision": "close",
                                         "evaluation_notes": "Goals met."}, expect_form="outcome_evaluation")
    assert result["next_tasks"] == []

    final = manager.get(f"/cases/{case_id}").get_json()
    assert (final["status"], final["stage"]) == ("closed", "closed")
    assert len(final["documents"]) == 2 and len(final["document_requests"]) == 2
    actions = [e["action"] for e in final["history"]]
    assert actions.count("task_completed") == 18
    assert actions.count("documents_requested") == 2
    assert "case_manager_assigned" in actions and "plan_extended" in actions and actions[-1] == "task_completed"
    assert "case_closed" in actions


@BOTH_DATABASES
def test_rejection_ends_the_case_with_its_reason(api: Callable[[str], Api]) -> None:
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception, monthly_income=9000)
    result = complete(supervisor, case_id, {"decision": "reject", "rejection_reason": "Income above the line."})
    assert result["next_tasks"] == [] and result["status"] == "rejected"
    case = supervisor.get(f"/cases/{case_id}").get_json()
    assert case["outcome_reason"] == "Income above the line."
    assert case["open_tasks"] == []


def test_approval_without_a_choice_assigns_the_least_loaded_case_manager(
        api: Callable[[str], Api], app: Any) -> None:
    from registry.auth import hash_password
    from registry.models import User
    from webui.db import db_session

    with app.app_context():
        session = db_session()
        first = session.query(User).filter_by(username="casemanager1").one()
        session.add(User(username="casemanager1b", full_name="Second manager", role="case_manager",
                         directorate_id=first.directorate_id, password_hash=hash_password("demo"), is_demo=True))
        session.commit()
    reception, supervisor = api("reception1"), api("supervisor1")
    assigned = []
    for _ in range(2):
        case_id = register_and_recommend(reception)
        result = complete(supervisor, case_id, {"decision": "approve"})
        assigned.append(result["next_tasks"][0]["assignee"])
    assert len(set(assigned)) == 2  # the second case went to the one without a case


def test_missing_decision_field_is_refused_and_changes_nothing(api: Callable[[str], Api]) -> None:
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    task = task_of(supervisor, case_id)
    before = supervisor.get(f"/cases/{case_id}").get_json()
    response = supervisor.post(f"/tasks/{task['id']}/complete", {"data": {"decision": "request_documents"}})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"missing_documents": ["This field is required."]}
    after = supervisor.get(f"/cases/{case_id}").get_json()
    assert after["history"] == before["history"] and task_of(supervisor, case_id)["id"] == task["id"]
