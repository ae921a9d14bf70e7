"""Bad input gets a clear error and changes nothing: fields, types, IDs, scope, roles, staleness."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Api
from tests.factories import member, pdf_document, registration
from tests.webui.test_case_paths import complete, open_case, register_and_recommend, task_of

PDF_BASE64 = base64.b64encode(pdf_document("report")).decode()


def history(user: Api, case_id: int) -> list[Any]:
    return user.get(f"/cases/{case_id}").get_json()["history"]


def test_missing_and_wrong_typed_fields_are_reported_per_field(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    before = history(reception, case_id)
    data = registration(rooms="three", monthly_income="a lot", phone="call me")
    del data["locality"]
    data["members"][1]["birth_date"] = "31/02/1990"
    response = reception.post(f"/tasks/{task['id']}/complete", {"data": data})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert errors["rooms"] == ["Enter a whole number."]
    assert errors["monthly_income"] == ["Enter a number."]
    assert errors["phone"] == ["Enter a phone number of 7 to 15 digits."]
    assert errors["members.1.birth_date"] == ["Enter a valid date (YYYY-MM-DD)."]
    assert history(reception, case_id) == before
    assert task_of(reception, case_id)["id"] == task["id"]


def test_missing_required_field_is_named(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    data = registration()
    del data["locality"]
    response = reception.post(f"/tasks/{task_of(reception, case_id)['id']}/complete", {"data": data})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"locality": ["This field is required."]}


def test_an_invalid_national_id_is_refused_with_a_clear_message(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    data = registration()
    data["members"][2]["national_id"] = "123456789"  # fails the check digit
    response = reception.post(f"/tasks/{task_of(reception, case_id)['id']}/complete", {"data": data})
    assert response.status_code == 422
    assert response.get_json()["errors"]["members.2.national_id"] == [
        "This is not a valid national ID number (9 digits with a check digit)."]
    assert reception.post("/cases", {"national_id": "039337422"}).status_code == 422


def test_arabic_error_messages_for_arabic_users(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    reception.headers["Accept-Language"] = "ar"
    case_id = open_case(reception)
    data = registration()
    del data["locality"]
    response = reception.post(f"/tasks/{task_of(reception, case_id)['id']}/complete", {"data": data})
    assert response.get_json()["errors"] == {"locality": ["هذا الحقل مطلوب."]}


def test_another_directorates_case_and_task_are_not_found(api: Callable[[str], Api]) -> None:
    reception, other = api("reception1"), api("reception2")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    assert other.get(f"/cases/{case_id}").status_code == 404
    assert other.get(f"/tasks/{task['id']}").status_code == 404
    assert other.post(f"/tasks/{task['id']}/complete", {"data": registration()}).status_code == 404
    assert other.post(f"/tasks/{task['id']}/claim").status_code == 404
    assert all(t["case_id"] != case_id for t in other.get("/tasks").get_json()["tasks"])


def test_a_user_of_the_wrong_role_cannot_see_or_act(api: Callable[[str], Api]) -> None:
    reception, supervisor, manager = api("reception1"), api("supervisor1"), api("casemanager1")
    case_id = register_and_recommend(reception)
    review = task_of(supervisor, case_id)
    assert reception.get(f"/tasks/{review['id']}").status_code == 404
    assert manager.post(f"/tasks/{review['id']}/complete", {"data": {"decision": "approve"}}).status_code == 404
    assert manager.post("/cases", {}).status_code == 403


def test_an_unknown_choice_is_refused(api: Callable[[str], Api]) -> None:
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    task = task_of(supervisor, case_id)
    response = supervisor.post(f"/tasks/{task['id']}/complete", {"data": {"decision": "maybe"}})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"decision": ["Choose one of the listed options."]}
    response = supervisor.post(f"/tasks/{task['id']}/complete",
                               {"data": {"decision": "approve", "case_manager": "999"}})
    assert response.status_code == 422 and "case_manager" in response.get_json()["errors"]


def test_a_second_submit_of_the_same_task_is_refused(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    data = registration()
    assert reception.post(f"/tasks/{task['id']}/complete", {"data": data}).status_code == 200
    before = history(reception, case_id)
    again = reception.post(f"/tasks/{task['id']}/complete", {"data": data})
    assert again.status_code == 409
    assert "already completed by Lina Haddad" in again.get_json()["error"]
    assert history(reception, case_id) == before


def test_a_stale_form_is_refused(api: Callable[[str], Api]) -> None:
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    task = task_of(supervisor, case_id)
    version = supervisor.get(f"/tasks/{task['id']}").get_json()["version"]
    assert supervisor.post(f"/tasks/{task['id']}/claim").status_code == 200  # the case moves on meanwhile
    response = supervisor.post(f"/tasks/{task['id']}/complete",
                               {"data": {"decision": "approve"}, "version": version - 1})
    assert response.status_code == 409
    assert "changed since this form was opened" in response.get_json()["error"]


def test_a_task_claimed_by_a_colleague_cannot_be_completed(api: Callable[[str], Api], app: Flask) -> None:
    from registry.auth import hash_password
    from registry.models import User
    from webui.db import db_session

    with app.app_context():
        session = db_session()
        first = session.query(User).filter_by(username="supervisor1").one()
        session.add(User(username="supervisor1b", full_name="Second supervisor", role="supervisor",
                         directorate_id=first.directorate_id, password_hash=hash_password("demo"), is_demo=True))
        session.commit()
    reception, supervisor, colleague = api("reception1"), api("supervisor1"), api("supervisor1b")
    case_id = register_and_recommend(reception)
    task = task_of(supervisor, case_id)
    assert supervisor.post(f"/tasks/{task['id']}/claim").status_code == 200
    response = colleague.post(f"/tasks/{task['id']}/complete", {"data": {"decision": "approve"}})
    assert response.status_code == 409 and "claimed by Omar Khalil" in response.get_json()["error"]
    assert colleague.post(f"/tasks/{task['id']}/claim").status_code == 409
    assert all(t["id"] != task["id"] for t in colleague.get("/tasks").get_json()["tasks"])
    assert supervisor.post(f"/tasks/{task['id']}/release").status_code == 200
    response = supervisor.post(f"/tasks/{task['id']}/release")  # nobody holds it now
    assert response.status_code == 409 and "not claimed by you" in response.get_json()["error"]


def test_no_token_no_access(client: Any) -> None:
    assert client.get("/api/v1/tasks").status_code == 401
    assert client.get("/api/v1/tasks", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert client.post("/api/v1/auth/token", json={"username": "reception1", "password": "x"}).status_code == 401


def test_a_body_that_is_not_an_object_is_refused(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    assert reception.post(f"/tasks/{task['id']}/complete", {"data": ["not", "a", "form"]}).status_code == 422
    assert reception.post(f"/tasks/{task['id']}/complete", {"nothing": 1}).status_code == 422


def test_a_household_of_two_heads_is_refused(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    data = registration(members=[member(), member()])
    response = reception.post(f"/tasks/{task_of(reception, case_id)['id']}/complete", {"data": data})
    assert response.status_code == 422
    assert response.get_json()["errors"]["members"] == ["Exactly one member must be the head of household."]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_same_task_completed_twice_at_once_succeeds_exactly_once(api: Callable[[str], Api]) -> None:
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    task = task_of(supervisor, case_id)
    first, second = api("supervisor1"), api("supervisor1")  # two browsers of the same supervisor
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def submit(user: Api) -> None:
        barrier.wait()
        response = user.post(f"/tasks/{task['id']}/complete",
                             {"data": {"decision": "request_documents", "missing_documents": ["medical_report"]}})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=submit, args=(u,)) for u in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 409]
    events = history(supervisor, case_id)
    completions = [e for e in events
                   if e["action"] == "task_completed" and e["details"]["task"] == "review_eligibility"]
    assert len(completions) == 1
    assert [e["action"] for e in events].count("documents_requested") == 1
    assert complete(reception, case_id, {"documents": [{"name": "r.pdf", "content_base64": PDF_BASE64}]})
