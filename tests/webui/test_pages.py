"""The pages as staff use them: login, inbox, task form with errors, case page; Arabic and English."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Clock
from tests.factories import member, pdf_document


def _task_link(html: str) -> str:
    match = re.search(r'href="(/tasks/[0-9a-f-]{36})"', html)
    assert match, "the inbox should link to a task"
    return match.group(1)


def _start(browser: FlaskClient, national_id: str = "123456782") -> str:
    response = browser.post("/cases/new", data={"national_id": national_id, "consent": "1"})
    assert response.status_code == 302
    location: str = response.headers["Location"]
    assert location.startswith("/tasks/")
    return location


def test_login_is_refused_with_a_wrong_password_and_demo_passwords_outside_demo_mode(
        client: FlaskClient, app: Flask) -> None:
    response = client.post("/login", data={"username": "reception1", "password": "wrong", "lang": "en"})
    assert response.status_code == 401 and "Wrong username or password." in response.get_data(as_text=True)
    app.config["DEMO_MODE"] = False
    response = client.post("/login", data={"username": "reception1", "password": "demo", "lang": "en"})
    assert response.status_code == 401


def test_repeated_failures_are_throttled_for_that_address_only(client: FlaskClient, app: Flask) -> None:
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "5/hour"
    for _ in range(5):
        client.post("/login", data={"username": "supervisor1", "password": "nope"})
    response = client.post("/login", data={"username": "supervisor1", "password": "demo", "lang": "en"})
    assert response.status_code == 429 and "Too many attempts" in response.get_data(as_text=True)
    elsewhere = client.post("/login", data={"username": "supervisor1", "password": "demo"},
                            environ_base={"REMOTE_ADDR": "198.51.100.20"})
    assert elsewhere.status_code == 302


def test_pages_need_a_login(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_reception_starts_a_registration_and_sees_it_first_in_my_tasks(login_as: Callable[..., FlaskClient]) -> None:
    browser = login_as("reception1")
    task_url = _start(browser)
    inbox = browser.get("/").get_data(as_text=True)
    assert "My tasks" in inbox and task_url in inbox and "Register the household" in inbox
    page = browser.get(task_url).get_data(as_text=True)
    assert 'name="members-0-national_id"' in page and "Reasons for the request" in page


def test_an_invalid_submission_shows_errors_beside_the_fields_in_arabic(
        login_as: Callable[..., FlaskClient]) -> None:
    browser = login_as("reception1", lang="ar")
    task_url = _start(browser)
    response = browser.post(task_url, data={"members-0-national_id": "123456789", "members-0-relation": "head",
                                            "rooms": "ثلاث"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'dir="rtl"' in html
    assert "رقم الهوية غير صحيح (9 أرقام مع رقم التحقق)." in html
    assert "هذا الحقل مطلوب." in html
    assert 'value="123456789"' in html  # what the user typed is kept


def test_a_complete_registration_moves_the_case_to_recommendation(login_as: Callable[..., FlaskClient]) -> None:
    browser = login_as("reception1")
    task_url = _start(browser)
    head = member()
    form = {
        "consent_data_exchange": "1", "head_national_id": head["national_id"], "phone": "0599000111",
        "governorate": "PS-RBH", "locality": "Ramallah", "reasons": ["illness"], "reasons_details": "Ill.",
        "monthly_income": "600", "dwelling_type": "house", "dwelling_tenure": "owned", "rooms": "2",
        "water_source": "public_network", "sanitation": "public_sewer", "cooking_fuel": "gas",
        "members-0-national_id": head["national_id"], "members-0-name_ar": "خالد عمر", "members-0-relation": "head",
        "members-0-sex": "male", "members-0-birth_date": "1970-01-01", "members-0-chronic_illness": "1",
    }
    response = browser.post(task_url, data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Recommend on eligibility" in page
    assert "Eligibility: multidimensional poverty" in page and 'data-testid="indicators"' in page


def test_overdue_tasks_stand_out_in_the_inbox(login_as: Callable[..., FlaskClient], clock: Clock) -> None:
    browser = login_as("reception1")
    _start(browser)
    assert 'badge danger">Overdue' not in browser.get("/").get_data(as_text=True)
    clock.advance(days=3)  # the registration is due in two days; the idle session has ended meanwhile
    html = login_as("reception1").get("/").get_data(as_text=True)
    assert 'class="overdue"' in html and "Overdue" in html


def test_the_language_switch_turns_the_page_arabic(login_as: Callable[..., FlaskClient]) -> None:
    browser = login_as("supervisor1")
    assert 'dir="ltr"' in browser.get("/").get_data(as_text=True)
    browser.post("/language/ar", data={"next": "/"})
    html = browser.get("/").get_data(as_text=True)
    assert 'dir="rtl"' in html and "صندوق المهام" in html and "المهام المفتوحة لدوري" in html


def test_another_directorates_case_page_is_not_found(login_as: Callable[..., FlaskClient]) -> None:
    reception = login_as("reception1")
    task_url = _start(reception)
    case_link = re.search(r'href="(/cases/\d+)"', reception.get(task_url).get_data(as_text=True))
    assert case_link
    assert reception.get(case_link.group(1)).status_code == 200
    assert login_as("supervisor2").get(case_link.group(1)).status_code == 404
    assert login_as("reception2").get(task_url).status_code == 404


def test_only_reception_opens_registrations(login_as: Callable[..., FlaskClient]) -> None:
    assert login_as("casemanager1").get("/cases/new").status_code == 403


def test_the_analyst_sees_the_process_check(login_as: Callable[..., FlaskClient]) -> None:
    html = login_as("analyst").get("/processes/").get_data(as_text=True)
    assert "Version 1" in html and "The files on the server are those of the latest version." in html
    assert login_as("reception1").get("/processes/").status_code == 404


def test_reception_attaches_requested_documents_from_the_page(login_as: Callable[..., FlaskClient],
                                                              api: Callable[..., object]) -> None:
    import io

    from tests.webui.test_case_paths import complete, register_and_recommend

    reception_api, supervisor_api = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception_api)
    complete(supervisor_api, case_id, {"decision": "request_documents", "missing_documents": ["medical_report"]})
    browser = login_as("reception1")
    inbox = browser.get("/").get_data(as_text=True)
    task_url = _task_link(inbox.split('data-testid="open-tasks"')[1])
    page = browser.get(task_url).get_data(as_text=True)
    assert "Medical report" in page  # what the supervisor asked for is shown beside the form
    empty = browser.post(task_url, data={})
    assert empty.status_code == 422 and "This field is required." in empty.get_data(as_text=True)
    response = browser.post(task_url, data={"documents": (io.BytesIO(pdf_document("report")), "report.pdf")},
                            content_type="multipart/form-data")
    assert response.status_code == 302
    case_page = browser.get(f"/cases/{case_id}?tab=documents").get_data(as_text=True)
    link = re.search(r'href="(/documents/\d+)"><bdi>report.pdf</bdi><', case_page)
    assert link, "the case lists the attached document"
    with browser.get(link.group(1)) as download:  # closed, as a server closes it: the file is streamed
        assert download.data == pdf_document("report")
    assert login_as("reception2").get(link.group(1)).status_code == 404


def test_a_supervisor_reassigns_a_case_and_its_waiting_tasks(login_as: Callable[..., FlaskClient],
                                                             api: Callable[..., object], app: Flask) -> None:
    from registry.auth import hash_password
    from registry.models import User
    from tests.webui.test_case_paths import complete, register_and_recommend
    from webui.db import db_session

    with app.app_context():
        session = db_session()
        first = session.query(User).filter_by(username="casemanager1").one()
        session.add(User(username="casemanager1b", full_name="Maha Odeh", full_name_ar="مها عودة",
                         role="case_manager", directorate_id=first.directorate_id,
                         password_hash=hash_password("demo"), is_demo=True))
        session.commit()
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    complete(supervisor, case_id, {"decision": "approve", "case_manager": str(first.id)})
    browser = login_as("supervisor1")
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    new_id = re.search(r'<option value="(\d+)">Maha Odeh</option>', page)
    assert new_id, "the supervisor is offered the directorate's other case managers"
    refused = browser.post(f"/cases/{case_id}/reassign", data={"case_manager": new_id.group(1), "reason": ""},
                           follow_redirects=True)
    assert "This field is required." in refused.get_data(as_text=True)
    done = browser.post(f"/cases/{case_id}/reassign", data={"case_manager": new_id.group(1), "reason": "Leave"},
                        follow_redirects=True).get_data(as_text=True)
    assert "now belong to the chosen case manager" in done
    assert "Case reassigned" in browser.get(f"/cases/{case_id}?tab=history").get_data(as_text=True)
    successor = api("casemanager1b")
    visit = {"visit_date": "2026-11-03", "needs_areas": ["health"], "needs_description": "Treatment.",
             "household_resources": "Family support.", "risk_level": "low", "another_visit_needed": True}
    result = complete(successor, case_id, visit)  # the waiting task moved with the case ...
    assert result["next_tasks"][0]["assignee"] == int(new_id.group(1))  # ... and so do the next ones
    assert all(t["case_id"] != case_id for t in api("casemanager1").get("/tasks").get_json()["tasks"])
    assert login_as("casemanager1").post(f"/cases/{case_id}/reassign",
                                         data={"case_manager": str(first.id), "reason": "x"}).status_code == 403
