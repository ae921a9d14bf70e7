"""The complaint pages: anonymous filing and follow-up, the portal's complaints, staff handling, and who sees what."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Api
from tests.factories import national_id
from tests.registry.test_citizen_status import PASSWORD, Household, citizen_for
from tests.registry.test_complaints import add_handler

TEXT = "I waited three months and nobody called me back."


def file_anonymously(client: FlaskClient, **data: str) -> tuple[str, str]:
    form = {"directorate": "RBH", "kind": "delay", "text": TEXT, **data}
    response = client.post("/complaints/new", data=form)
    assert response.status_code == 201, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    reference = re.search(r'data-testid="complaint-reference"><bdi[^>]*>([^<]+)<', html)
    code = re.search(r'data-testid="complaint-code"><bdi[^>]*>([^<]+)<', html)
    assert reference and code, html
    return reference.group(1), code.group(1)


def portal(app: Flask, national: str) -> FlaskClient:
    browser = app.test_client()
    response = browser.post("/portal/login", data={"national_id": national, "password": PASSWORD, "lang": "en"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


def test_an_anonymous_complaint_shows_its_number_and_code_once_and_is_followed_with_them(client: FlaskClient) -> None:
    page = client.get("/complaints/new")
    assert page.status_code == 200 and 'name="kind"' in page.get_data(as_text=True)
    reference, code = file_anonymously(client)
    assert code not in client.get("/complaints/follow").get_data(as_text=True)
    followed = client.post("/complaints/follow", data={"reference": reference, "code": code})
    html = followed.get_data(as_text=True)
    assert followed.status_code == 200 and reference in html and 'data-testid="status"' in html


def test_a_wrong_code_answers_as_an_unknown_reference(client: FlaskClient) -> None:
    reference, code = file_anonymously(client)
    wrong = client.post("/complaints/follow", data={"reference": reference, "code": "WRONG234"})
    unknown = client.post("/complaints/follow", data={"reference": "CMP-2345-6789", "code": code})
    assert wrong.status_code == unknown.status_code == 404

    def message(html: str) -> str:
        found = re.search(r'data-testid="follow-error">([^<]+)<', html)
        assert found
        return found.group(1)

    assert message(wrong.get_data(as_text=True)) == message(unknown.get_data(as_text=True))


def test_repeated_code_guesses_are_throttled_even_with_the_right_code_after(app: Flask, client: FlaskClient) -> None:
    app.config["COMPLAINT_FOLLOW_LIMIT_PER_REFERENCE"] = "3/hour"
    reference, code = file_anonymously(client)
    for guess in ("AAAA2222", "BBBB3333", "CCCC4444"):
        assert client.post("/complaints/follow", data={"reference": reference, "code": guess}).status_code == 404
    assert client.post("/complaints/follow", data={"reference": reference, "code": code}).status_code == 429


def test_anonymous_filing_is_throttled_per_address(app: Flask, client: FlaskClient) -> None:
    app.config["COMPLAINT_FILING_LIMIT"] = "2/hour"
    file_anonymously(client)
    file_anonymously(client)
    response = client.post("/complaints/new", data={"directorate": "RBH", "kind": "delay", "text": TEXT})
    assert response.status_code == 429


def test_a_bad_complaint_is_answered_in_the_users_language_and_nothing_is_filed(client: FlaskClient) -> None:
    response = client.post("/complaints/new", data={"directorate": "", "kind": "", "text": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-testid="error-summary"' in html
    assert "هذا الحقل مطلوب" in html or "This field is required." in html


def test_a_forged_complaint_without_the_form_token_is_refused(app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    browser = app.test_client()
    with browser.session_transaction() as cookie:
        cookie["lang"] = "en"
    response = browser.post("/complaints/new", data={"directorate": "RBH", "kind": "delay", "text": TEXT})
    assert response.status_code == 302 and response.headers["Location"] == "/complaints/new"  # back, no login page
    assert "nothing was sent" in browser.get("/complaints/new").get_data(as_text=True)
    with app.app_context():
        from sqlalchemy import func, select

        from registry.complaints.models import Complaint
        from webui.db import db_session

        assert db_session().scalar(select(func.count()).select_from(Complaint)) == 0


def test_a_citizen_files_about_a_decision_from_the_portal_and_nobody_else_sees_it(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    household = Household(app, api).register()
    browser = portal(app, household.national_id)
    assert browser.get("/portal/complaints").status_code == 200
    form = browser.get(f"/portal/complaints/new?case={household.reference}&about=decision").get_data(as_text=True)
    assert f'value="{household.reference}" selected' in form and 'value="decision" checked' in form
    response = browser.post("/portal/complaints/new", data={"kind": "decision", "case_reference": household.reference,
                                                            "text": "Why was I refused?"})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    reference = re.search(r'data-testid="reference">([^<]+)<', page)
    assert reference and 'data-testid="complaint-filed"' in page
    assert reference.group(1) in browser.get("/portal/complaints").get_data(as_text=True)
    stranger = portal(app, _other_citizen(app))
    assert stranger.get(f"/portal/complaints/{reference.group(1)}").status_code == 404
    assert app.test_client().get("/portal/complaints/new").status_code == 302  # not signed in: to the login
    history = login_as("supervisor1").get(f"/cases/{household.case_id}?tab=history").get_data(as_text=True)
    assert reference.group(1) in history and "Complaint filed" in history


def _other_citizen(app: Flask) -> str:
    other = national_id()
    citizen_for(app, other)
    return other


def test_staff_file_on_behalf_then_the_handler_acknowledges_and_resolves_on_the_web(
        login_as: Callable[..., FlaskClient], client: FlaskClient) -> None:
    reception = login_as("reception1")
    response = reception.post("/complaints/file", data={"kind": "delay", "text": TEXT, "contact_mobile": ""})
    assert response.status_code == 201, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    reference = re.search(r'data-testid="complaint-reference"><bdi[^>]*>([^<]+)<', html)
    code = re.search(r'data-testid="complaint-code"><bdi[^>]*>([^<]+)<', html)
    assert reference and code
    assert reception.get("/complaints").status_code == 403  # reception files, handlers handle
    handler = login_as("complaints1")
    listing = handler.get("/complaints").get_data(as_text=True)
    assert reference.group(1) in listing and 'data-testid="complaint-task"' in listing
    for data in ({"acknowledgement": "We received it; we will answer within two weeks."},
                 {"findings": "The visit was forgotten.", "outcome": "upheld",
                  "resolution": "The visit was forgotten. A social worker will visit you on Sunday."}):
        page = handler.get(f"/complaints/{reference.group(1)}").get_data(as_text=True)
        task = re.search(r'href="(/complaints/[^"]+/tasks/[^"]+)" data-testid="open-task"', page)
        assert task, page
        form = handler.get(task.group(1)).get_data(as_text=True)
        version = re.search(r'name="_version" value="(\d+)"', form)
        assert version
        done = handler.post(task.group(1), data={**data, "_version": version.group(1)})
        assert done.status_code == 302, done.get_data(as_text=True)
    followed = client.post("/complaints/follow", data={"reference": reference.group(1), "code": code.group(1)})
    assert "A social worker will visit you on Sunday." in followed.get_data(as_text=True)


def test_the_staff_member_a_complaint_is_about_can_neither_see_nor_act_on_it(
        app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    subject = add_handler(app)
    reception = login_as("reception1")
    response = reception.post("/complaints/file", data={"kind": "staff", "text": "He shouted at me.",
                                                        "about_user_id": str(subject)})
    assert response.status_code == 201, response.get_data(as_text=True)
    found = re.search(r'data-testid="complaint-reference"><bdi[^>]*>([^<]+)<', response.get_data(as_text=True))
    assert found
    reference = found.group(1)
    handler = login_as("complaints1")
    page = handler.get(f"/complaints/{reference}").get_data(as_text=True)
    task = re.search(r'href="(/complaints/[^"]+/tasks/[^"]+)" data-testid="open-task"', page)
    assert task
    him = login_as("complaints2")
    assert reference not in him.get("/complaints").get_data(as_text=True)
    assert him.get(f"/complaints/{reference}").status_code == 404
    assert him.get(task.group(1)).status_code == 404
    assert him.post(task.group(1), data={"acknowledgement": "Nothing happened."}).status_code == 404
    assert handler.get(task.group(1)).status_code == 200  # still waiting for someone else


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_the_public_pages_render_in_both_languages(app: Flask, lang: str) -> None:
    browser = app.test_client()
    browser.post(f"/language/{lang}", data={"next": "/complaints/new"})
    for path in ("/complaints/new", "/complaints/follow"):
        html = browser.get(path).get_data(as_text=True)
        assert f'lang="{lang}"' in html
