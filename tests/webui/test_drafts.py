"""What staff type in a task form is kept on the server, so an ended session or a closed tab loses nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from registry.auth import hash_password
from registry.drafts import MAX_DRAFT_BYTES, TaskDraft
from registry.models import Directorate, User
from tests.conftest import Api, Clock
from tests.factories import registration
from tests.webui.test_case_paths import complete, open_case, task_of
from webui.db import db_session

pytestmark = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)

NOTES = "Five children, the father lost his job in March."
TYPED = {"decision": "recommend_eligible", "recommendation_notes": NOTES}


@pytest.fixture
def recommendation(api: Callable[[str], Api]) -> str:
    """Reception's "recommend on eligibility" task of a freshly registered household, in reception1's inbox."""
    reception = api("reception1")
    case_id = open_case(reception)
    complete(reception, case_id, registration(), expect_form="registration")
    task = task_of(reception, case_id)
    assert task["form_key"] == "eligibility_recommendation"
    return str(task["id"])


def put_draft(browser: FlaskClient, task_id: str, values: Any) -> Any:
    return browser.put(f"/tasks/{task_id}/draft", json={"values": values})


def drafts_of(app: Flask, task_id: str) -> int:
    with app.app_context():
        return int(db_session().scalar(select(func.count()).select_from(TaskDraft)
                                       .where(TaskDraft.task_id == task_id)) or 0)


def shows_typed_values(page: str) -> bool:
    selected = re.search(r'<option value="recommend_eligible"[^>]*\bselected', page)
    return NOTES in page and selected is not None


def test_typing_saves_a_draft_that_the_task_page_restores(login_as: Callable[..., FlaskClient],
                                                          recommendation: str) -> None:
    browser = login_as("reception1")
    assert not shows_typed_values(browser.get(f"/tasks/{recommendation}").get_data(as_text=True))
    saved = put_draft(browser, recommendation, TYPED)
    assert saved.status_code == 200, saved.get_json()
    page = browser.get(f"/tasks/{recommendation}").get_data(as_text=True)
    assert shows_typed_values(page)
    assert "Restored your unsaved draft from 10:30." in page  # 08:30 UTC is 10:30 in Hebron in November
    assert put_draft(browser, recommendation, {**TYPED, "recommendation_notes": "Changed."}).status_code == 200
    assert "Changed." in browser.get(f"/tasks/{recommendation}").get_data(as_text=True)


def test_discarding_a_draft_brings_back_the_task_values(login_as: Callable[..., FlaskClient],
                                                        recommendation: str, app: Flask) -> None:
    browser = login_as("reception1")
    put_draft(browser, recommendation, TYPED)
    response = browser.post(f"/tasks/{recommendation}/draft/discard", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "The draft was discarded." in page
    assert not shows_typed_values(page) and "Restored your unsaved draft" not in page
    assert drafts_of(app, recommendation) == 0


def test_after_an_expired_session_the_user_logs_in_in_arabic_and_submits_the_typed_values(
        login_as: Callable[..., FlaskClient], recommendation: str, clock: Clock, app: Flask) -> None:
    browser = login_as("reception1", lang="ar")
    assert put_draft(browser, recommendation, TYPED).status_code == 200
    clock.advance(minutes=31)  # past the idle limit: the session has ended
    sent = browser.post(f"/tasks/{recommendation}", data={**TYPED, "_version": "0"})
    assert sent.status_code == 302
    assert sent.headers["Location"] == f"/login?next=/tasks/{recommendation}"
    login_page = browser.get(sent.headers["Location"]).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in login_page
    assert "انتهت جلستك، فلم يُرسَل النموذج" in login_page
    assert 'name="lang" value="ar"' in login_page
    again = browser.post(sent.headers["Location"], data={"username": "reception1", "password": "demo", "lang": "ar"})
    assert again.status_code == 302 and again.headers["Location"] == f"/tasks/{recommendation}"
    page = browser.get(f"/tasks/{recommendation}").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page and shows_typed_values(page)
    version = re.search(r'name="_version" value="(\d+)"', page)
    assert version
    done = browser.post(f"/tasks/{recommendation}", data={**TYPED, "_version": version.group(1)})
    assert done.status_code == 302 and "/login" not in done.headers["Location"]
    assert drafts_of(app, recommendation) == 0


def _csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_a_browser_that_lost_its_session_cookie_goes_to_login_in_its_language_not_to_a_400(
        app: Flask, recommendation: str) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    browser = app.test_client()
    token = _csrf_token(browser.get("/login").get_data(as_text=True))
    logged_in = browser.post("/login", data={"csrf_token": token, "username": "reception1", "password": "demo",
                                             "lang": "ar"})
    assert logged_in.status_code == 302
    page = browser.get(f"/tasks/{recommendation}").get_data(as_text=True)
    saved = browser.put(f"/tasks/{recommendation}/draft", json={"values": TYPED},
                        headers={"X-CSRFToken": _csrf_token(page)})
    assert saved.status_code == 200, saved.get_json()
    browser.delete_cookie("session")  # the browser was restarted: its session cookie is gone, the language stays
    sent = browser.post(f"/tasks/{recommendation}", data={**TYPED, "csrf_token": _csrf_token(page), "_version": "0"})
    assert sent.status_code == 302
    assert sent.headers["Location"] == f"/login?next=/tasks/{recommendation}"
    login_page = browser.get(sent.headers["Location"]).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in login_page and "انتهت جلستك، فلم يُرسَل النموذج" in login_page
    again = browser.post(sent.headers["Location"], data={"csrf_token": _csrf_token(login_page),
                                                         "username": "reception1", "password": "demo", "lang": "ar"})
    assert again.headers["Location"] == f"/tasks/{recommendation}"
    assert shows_typed_values(browser.get(f"/tasks/{recommendation}").get_data(as_text=True))


def test_a_draft_without_a_csrf_token_is_refused_in_json(app: Flask, login_as: Callable[..., FlaskClient],
                                                         recommendation: str) -> None:
    browser = login_as("reception1")
    app.config["WTF_CSRF_ENABLED"] = True
    refused = put_draft(browser, recommendation, TYPED)
    assert refused.status_code == 400 and "form expired" in refused.get_json()["error"]


def test_another_user_can_neither_read_nor_write_someones_draft(login_as: Callable[..., FlaskClient], app: Flask,
                                                                recommendation: str) -> None:
    owner = login_as("reception1")
    assert put_draft(owner, recommendation, TYPED).status_code == 200
    for stranger in ("reception2", "supervisor1"):  # another directorate, another role
        refused = put_draft(login_as(stranger), recommendation, {"recommendation_notes": "overwritten"})
        assert refused.status_code == 404 and refused.get_json()["error"]
    with app.app_context():
        session = db_session()
        directorate = session.scalar(select(Directorate).where(Directorate.code == "RBH"))
        assert directorate is not None
        session.add(User(username="reception1b", full_name="Maha Odeh", role="reception", password_hash=hash_password(
            "demo"), directorate_id=directorate.id, is_demo=True))
        session.commit()
    colleague = login_as("reception1b")  # same role and directorate: sees the task, never the draft
    page = colleague.get(f"/tasks/{recommendation}").get_data(as_text=True)
    assert NOTES not in page and "Restored your unsaved draft" not in page
    held = put_draft(colleague, recommendation, {"recommendation_notes": "Mine."})  # the task is reception1's
    assert held.status_code == 409 and held.get_json()["error"] == "This task is claimed by Lina Haddad."
    assert shows_typed_values(owner.get(f"/tasks/{recommendation}").get_data(as_text=True))
    assert drafts_of(app, recommendation) == 1


def test_a_completed_task_leaves_no_draft_and_takes_none(login_as: Callable[..., FlaskClient], app: Flask,
                                                        api: Callable[[str], Api], recommendation: str) -> None:
    browser = login_as("reception1")
    assert put_draft(browser, recommendation, TYPED).status_code == 200
    reception = api("reception1")
    assert reception.post(f"/tasks/{recommendation}/complete", {"data": TYPED}).status_code == 200
    assert drafts_of(app, recommendation) == 0
    late = put_draft(browser, recommendation, TYPED)
    assert late.status_code == 409 and "already completed by Lina Haddad" in late.get_json()["error"]
    assert drafts_of(app, recommendation) == 0


@pytest.mark.parametrize(("values", "status", "error", "fields"), [
    ({"decision": "recommend_eligible", "salary": "1000"}, 422,
     "The draft names fields this form does not have (salary); it was not saved.", ["salary"]),
    ({"recommendation_notes": "x" * (MAX_DRAFT_BYTES + 1)}, 413,
     "The draft is larger than 64 KB and was not saved.", None),
    ({"recommendation_notes": {"nested": "object"}}, 400,
     'A draft is a JSON object {"values": {field name: text or list of texts}}.', None),
    (["not", "an", "object"], 400, 'A draft is a JSON object {"values": {field name: text or list of texts}}.', None),
])
def test_a_bad_draft_is_refused_with_a_clear_json_error(login_as: Callable[..., FlaskClient], app: Flask,
                                                        recommendation: str, values: Any, status: int, error: str,
                                                        fields: list[str] | None) -> None:
    refused = put_draft(login_as("reception1"), recommendation, values)
    assert refused.status_code == status
    assert refused.get_json()["error"] == error
    assert refused.get_json().get("fields") == fields
    assert drafts_of(app, recommendation) == 0


def test_a_draft_body_that_is_not_json_or_is_huge_is_refused_in_json(login_as: Callable[..., FlaskClient],
                                                                     recommendation: str) -> None:
    browser = login_as("reception1")
    garbage = browser.put(f"/tasks/{recommendation}/draft", data="{not json", content_type="application/json")
    assert garbage.status_code == 400 and "error" in garbage.get_json()
    huge = browser.put(f"/tasks/{recommendation}/draft", json={"values": {"recommendation_notes": "x" * 300_000}})
    assert huge.status_code == 413 and "64 KB" in huge.get_json()["error"]


def test_a_draft_after_the_session_ended_gets_a_json_401_not_a_login_page(
        login_as: Callable[..., FlaskClient], clock: Clock, recommendation: str, app: Flask) -> None:
    browser = login_as("reception1")
    clock.advance(minutes=31)
    refused = put_draft(browser, recommendation, TYPED)
    assert refused.status_code == 401 and "session ended" in refused.get_json()["error"]
    assert drafts_of(app, recommendation) == 0


def test_the_language_outlives_the_session(login_as: Callable[..., FlaskClient], app: Flask) -> None:
    browser = login_as("reception1", lang="en")
    browser.post("/language/ar", data={"next": "/"})
    browser.post("/logout")
    browser.delete_cookie("session")
    assert '<html lang="ar" dir="rtl">' in browser.get("/login").get_data(as_text=True)
    browser.post("/language/en", data={"next": "/login"})
    browser.delete_cookie("session")
    assert '<html lang="en" dir="ltr">' in browser.get("/login").get_data(as_text=True)
