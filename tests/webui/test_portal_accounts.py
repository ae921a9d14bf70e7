"""The portal's accounts in the browser's terms: sign up with a code from the outbox, log in and out, reset."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from registry.citizens.models import Citizen, CitizenSession
from registry.notifications import OutboxMessage
from tests import factories
from tests.conftest import Clock
from webui.db import db_session

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
PASSWORD = "green-olive-7"  # noqa: S105 - a test password
MOBILE = "0599 876 543"


def _latest_code(app: Flask, national_id: str) -> str:
    """The code the citizen would read in the text message: the newest outbox message to their account."""
    with app.app_context():
        session = db_session()
        citizen_id = session.scalar(select(Citizen.id).where(Citizen.national_id == national_id))
        body = session.scalar(select(OutboxMessage.body).where(OutboxMessage.citizen_id == citizen_id)
                              .order_by(OutboxMessage.id.desc()).limit(1))
    assert body is not None
    found = re.search(r"\b(\d{6})\b", body)
    assert found is not None, body
    return found.group(1)


def _count(app: Flask, model: Any) -> int:
    with app.app_context():
        return int(db_session().scalar(select(func.count()).select_from(model)) or 0)


def _sign_up(browser: FlaskClient, national_id: str, /, lang: str = "en", **overrides: str) -> Any:
    data = {"national_id": national_id, "mobile": MOBILE, "password": PASSWORD, "password_again": PASSWORD,
            "lang": lang, **overrides}
    return browser.post("/portal/signup", data=data)


def _signed_up_and_confirmed(app: Flask, national_id: str | None = None) -> tuple[FlaskClient, str]:
    national_id = national_id or factories.national_id()
    browser = app.test_client()
    assert _sign_up(browser, national_id).status_code == 302
    response = browser.post("/portal/confirm", data={"code": _latest_code(app, national_id), "lang": "en"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser, national_id


def _log_in(app: Flask, national_id: str, password: str = PASSWORD, address: str = "192.0.2.10") -> Any:
    browser = app.test_client()
    response = browser.post("/portal/login", data={"national_id": national_id, "password": password, "lang": "en"},
                            environ_base={"REMOTE_ADDR": address})
    return browser, response


@BOTH_DATABASES
def test_sign_up_confirm_with_the_code_from_the_outbox_log_in_and_log_out(app: Flask) -> None:
    national_id = factories.national_id()
    browser = app.test_client()
    response = _sign_up(browser, national_id)
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/confirm")
    page = browser.get("/portal/confirm").get_data(as_text=True)
    assert "6-digit code" in page
    # Not confirmed yet: the password alone does not open the account.
    assert _log_in(app, national_id)[1].status_code == 401

    response = browser.post("/portal/confirm", data={"code": _latest_code(app, national_id), "lang": "en"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/")
    home = browser.get("/portal/")
    assert home.status_code == 200
    text = home.get_data(as_text=True)
    for section in ("My applications", "Apply for assistance", "Complaints"):
        assert section in text
    assert 'href="/portal/apply"' in text and 'href="/portal/complaints"' in text

    other, response = _log_in(app, national_id)
    assert response.status_code == 302
    assert other.get("/portal/").status_code == 200
    cookie = other.get_cookie("portal_session", path="/portal")
    assert cookie is not None
    assert other.post("/portal/logout", data={}).status_code == 302
    # The session ended on the server: even a kept copy of the cookie opens nothing.
    thief = app.test_client()
    thief.set_cookie("portal_session", cookie.value, path="/portal")
    response = thief.get("/portal/")
    assert response.status_code == 302 and "/portal/login" in response.headers["Location"]
    assert browser.get("/portal/").status_code == 200  # the first browser's own session goes on


def test_the_home_page_needs_a_login_and_comes_back_after_it(app: Flask) -> None:
    _browser, national_id = _signed_up_and_confirmed(app)
    fresh = app.test_client()
    response = fresh.get("/portal/")
    assert response.status_code == 302 and "/portal/login" in response.headers["Location"]
    response = fresh.post("/portal/login?next=/portal/", data={"national_id": national_id, "password": PASSWORD})
    assert response.headers["Location"] == "/portal/"
    # Never on to another site or a staff page.
    response = app.test_client().post("/portal/login?next=https://evil.example/",
                                      data={"national_id": national_id, "password": PASSWORD})
    assert response.headers["Location"] == "/portal/"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("national_id", "123456789", "not a valid national ID"),
    ("national_id", "", "This field is required"),
    ("mobile", "0791234567", "Palestinian mobile number"),
    ("mobile", "", "This field is required"),
    ("password", "", "This field is required"),
    ("password", "short1", "at least 8 characters"),
    ("password", "11111111", "too easy to guess"),
    ("password_again", "something-else-1", "not the same"),
])
def test_bad_sign_ups_get_a_clear_error_and_create_nothing(app: Flask, field: str, value: str,
                                                           message: str) -> None:
    response = _sign_up(app.test_client(), factories.national_id(), **{field: value})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and 'data-testid="error-summary"' in page
    assert f'id="e-{field}"' in page
    assert _count(app, Citizen) == 0 and _count(app, OutboxMessage) == 0


def test_errors_are_in_arabic_for_an_arabic_page(app: Flask) -> None:
    response = _sign_up(app.test_client(), "123456789", lang="ar")
    assert response.status_code == 400
    assert 'lang="ar" dir="rtl"' in response.get_data(as_text=True)


def test_a_password_that_is_the_national_id_is_refused(app: Flask) -> None:
    national_id = factories.national_id()
    response = _sign_up(app.test_client(), national_id, password=national_id, password_again=national_id)
    assert response.status_code == 400 and "too easy to guess" in response.get_data(as_text=True)


def test_a_second_sign_up_with_a_taken_id_looks_the_same_and_reveals_nothing(app: Flask) -> None:
    _browser, national_id = _signed_up_and_confirmed(app)
    messages_before = _count(app, OutboxMessage)
    intruder = app.test_client()
    first = _sign_up(intruder, factories.national_id())
    second = _sign_up(intruder, national_id, mobile="0561112223")
    assert (first.status_code, first.headers["Location"]) == (second.status_code, second.headers["Location"])
    assert intruder.get("/portal/confirm").get_data(as_text=True).count("6-digit code") == 1
    # Nothing went to the intruder's mobile, and the account kept its owner's mobile and password.
    with app.app_context():
        session = db_session()
        recipients = list(session.scalars(select(OutboxMessage.recipient).order_by(OutboxMessage.id)))
        assert "0561112223" not in recipients
        assert session.scalar(select(Citizen.mobile).where(Citizen.national_id == national_id)) == "0599876543"
    assert _count(app, OutboxMessage) == messages_before + 1  # the unknown ID's own code only
    assert _log_in(app, national_id)[1].status_code == 302
    # A wrong guess on the taken ID's confirm page is refused like any wrong code.
    assert intruder.post("/portal/confirm", data={"code": "123456", "lang": "en"}).status_code == 401


def test_unknown_ids_and_wrong_passwords_get_the_same_answer(app: Flask) -> None:
    _browser, national_id = _signed_up_and_confirmed(app)
    wrong = _log_in(app, national_id, "not-the-password")[1]
    unknown = _log_in(app, factories.national_id())[1]
    invalid = _log_in(app, "12")[1]
    for response in (wrong, unknown, invalid):
        assert response.status_code == 401
        assert "Wrong national ID or password" in response.get_data(as_text=True)


def test_a_wrong_code_is_refused_and_a_code_allows_only_a_few_guesses(app: Flask) -> None:
    national_id = factories.national_id()
    browser = app.test_client()
    _sign_up(browser, national_id)
    code = _latest_code(app, national_id)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        response = browser.post("/portal/confirm", data={"code": wrong, "lang": "en"})
        assert response.status_code == 401
        assert "wrong or has expired" in response.get_data(as_text=True)
    # Out of guesses: even the right code no longer works; a new code does.
    assert browser.post("/portal/confirm", data={"code": code, "lang": "en"}).status_code == 401


def test_an_expired_code_is_refused_and_a_new_one_works(app: Flask, clock: Clock) -> None:
    national_id = factories.national_id()
    browser = app.test_client()
    _sign_up(browser, national_id)
    old = _latest_code(app, national_id)
    clock.advance(minutes=16)
    assert browser.post("/portal/confirm", data={"code": old, "lang": "en"}).status_code == 401
    assert browser.post("/portal/confirm/resend", data={"lang": "en"}).status_code == 302
    new = _latest_code(app, national_id)
    assert browser.post("/portal/confirm", data={"code": new, "lang": "en"}).status_code == 302


def test_repeated_failed_logins_are_throttled_with_a_message_in_the_users_language(app: Flask) -> None:
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "10/hour"
    _browser, national_id = _signed_up_and_confirmed(app)
    browser = app.test_client()
    statuses = [browser.post("/portal/login", data={"national_id": national_id, "password": "guess-guess",
                                                    "lang": "ar"},
                             environ_base={"REMOTE_ADDR": "203.0.113.66"}).status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    response = browser.post("/portal/login", data={"national_id": national_id, "password": PASSWORD, "lang": "ar"},
                            environ_base={"REMOTE_ADDR": "203.0.113.66"})
    assert response.status_code == 429 and response.headers["Retry-After"]
    page = response.get_data(as_text=True)
    assert 'lang="ar" dir="rtl"' in page and 'data-testid="login-error"' in page
    # Elsewhere the citizen logs in freely: nobody can keep them out.
    assert _log_in(app, national_id, address="198.51.100.7")[1].status_code == 302


def test_code_guesses_are_throttled(app: Flask) -> None:
    app.config["PORTAL_CODE_GUESSES_PER_ACCOUNT"] = "3/hour"
    national_id = factories.national_id()
    browser = app.test_client()
    _sign_up(browser, national_id)
    statuses = [browser.post("/portal/confirm", data={"code": "999999", "lang": "en"}).status_code
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert "Too many attempts" in browser.post("/portal/confirm", data={"code": "1", "lang": "en"}) \
        .get_data(as_text=True)


def test_code_requests_are_throttled(app: Flask) -> None:
    app.config["PORTAL_CODE_REQUESTS_PER_ACCOUNT"] = "2/hour"
    national_id = factories.national_id()
    browser = app.test_client()
    assert [_sign_up(browser, national_id).status_code for _ in range(3)] == [302, 302, 429]


@BOTH_DATABASES
def test_forgotten_password_reset_by_code_ends_every_other_session(app: Flask, clock: Clock) -> None:
    first, national_id = _signed_up_and_confirmed(app)
    second = _log_in(app, national_id)[0]
    clock.advance(minutes=2)
    helper = app.test_client()
    response = helper.post("/portal/reset", data={"national_id": national_id, "lang": "en"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/reset/code")
    code = _latest_code(app, national_id)
    response = helper.post("/portal/reset/code", data={"code": code, "password": "new-password-9",
                                                       "password_again": "new-password-9", "lang": "en"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/login")
    for browser in (first, second):
        assert browser.get("/portal/").status_code == 302
    assert _log_in(app, national_id)[1].status_code == 401
    assert _log_in(app, national_id, "new-password-9")[1].status_code == 302


def test_a_reset_for_an_unknown_id_looks_the_same_and_sends_nothing(app: Flask) -> None:
    response = app.test_client().post("/portal/reset", data={"national_id": factories.national_id(), "lang": "en"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/reset/code")
    assert _count(app, OutboxMessage) == 0


def test_a_weak_new_password_costs_no_guess_and_changes_nothing(app: Flask) -> None:
    _browser, national_id = _signed_up_and_confirmed(app)
    helper = app.test_client()
    helper.post("/portal/reset", data={"national_id": national_id, "lang": "en"})
    code = _latest_code(app, national_id)
    response = helper.post("/portal/reset/code", data={"code": code, "password": "short", "password_again": "short",
                                                       "lang": "en"})
    assert response.status_code == 400 and "at least 8 characters" in response.get_data(as_text=True)
    response = helper.post("/portal/reset/code", data={"code": code, "password": "new-password-9",
                                                       "password_again": "new-password-9", "lang": "en"})
    assert response.status_code == 302


@pytest.fixture
def csrf_app(app: Flask) -> Flask:
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@pytest.mark.parametrize("path", ["/portal/signup", "/portal/login", "/portal/reset", "/portal/logout"])
def test_a_forged_post_without_the_token_is_refused(csrf_app: Flask, path: str) -> None:
    browser = csrf_app.test_client()
    with browser.session_transaction() as cookie:
        cookie["lang"] = "en"
    response = browser.post(path, data={"national_id": factories.national_id(), "mobile": MOBILE,
                                        "password": PASSWORD, "password_again": PASSWORD, "lang": "en"})
    assert response.status_code == 400
    assert "nothing was changed" in response.get_data(as_text=True)
    assert _count(csrf_app, Citizen) == 0 and _count(csrf_app, CitizenSession) == 0


def test_a_form_with_its_token_is_accepted(csrf_app: Flask) -> None:
    browser = csrf_app.test_client()
    page = browser.get("/portal/signup").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = _sign_up(browser, factories.national_id(), csrf_token=token.group(1))
    assert response.status_code == 302


def test_a_citizen_cannot_open_staff_pages(app: Flask) -> None:
    browser, _national_id = _signed_up_and_confirmed(app)
    for path in ("/", "/cases", "/registry/search", "/outbox"):
        response = browser.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), path


def test_a_staff_user_is_not_a_citizen(login_as: Callable[[str], FlaskClient]) -> None:
    staff = login_as("reception1")
    response = staff.get("/portal/")
    assert response.status_code == 302 and "/portal/login" in response.headers["Location"]


def test_the_staff_and_citizen_logins_link_to_each_other(client: FlaskClient) -> None:
    assert 'href="/portal/login"' in client.get("/login").get_data(as_text=True)
    assert 'href="/login"' in client.get("/portal/login").get_data(as_text=True)


def test_the_demo_citizen_sees_its_household_only_in_demo_mode(app: Flask) -> None:
    from registry.seed import DEMO_CITIZEN, seed_citizen

    with app.app_context():
        session = db_session()
        seed_citizen(session, now=app.config["CLOCK"]())
        session.commit()
    assert _log_in(app, DEMO_CITIZEN[0], "demo")[1].status_code == 302
    app.config["DEMO_MODE"] = False
    assert _log_in(app, DEMO_CITIZEN[0], "demo")[1].status_code == 401


def test_another_households_application_is_not_found(app: Flask) -> None:
    from registry.models import Case, Directorate

    browser, _national_id = _signed_up_and_confirmed(app)
    with app.app_context():
        session = db_session()
        directorate = session.scalar(select(Directorate).where(Directorate.code == "RBH"))
        assert directorate is not None
        session.add(Case(reference="RBH-2026-900010", directorate_id=directorate.id,
                         applicant_national_id=factories.national_id()))
        session.commit()
    response = browser.get("/portal/applications/RBH-2026-900010")
    assert response.status_code == 404
    assert 'data-testid="error-message">Not found.<' in response.get_data(as_text=True)
