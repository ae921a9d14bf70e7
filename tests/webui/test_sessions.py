"""Sessions end for real: on logout, password change, deactivation, idle time and absolute lifetime."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import itsdangerous.timed
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from registry import auth as auth_service
from registry.administration.accounts import deactivate_user
from registry.models import StaffSession, User
from tests.conftest import Api, Clock
from webui.db import db_session

pytestmark = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


def _copy_of(browser: FlaskClient, app: Flask) -> FlaskClient:
    """Another client that carries the same session cookie, as a thief with a copy of it would."""
    cookie = browser.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def _signed_in(client: FlaskClient) -> bool:
    response = client.get("/")
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


def _user(app: Flask, username: str) -> User:
    with app.app_context():
        user = db_session().scalar(select(User).where(User.username == username))
        assert user is not None
        return user


def test_logout_ends_a_copied_session(login_as: Callable[..., FlaskClient], app: Flask) -> None:
    browser = login_as("reception1")
    thief = _copy_of(browser, app)
    assert _signed_in(thief)
    assert browser.post("/logout").status_code == 302
    assert not _signed_in(thief)
    assert not _signed_in(browser)


def test_a_password_change_ends_every_session_and_token(login_as: Callable[..., FlaskClient], app: Flask,
                                                        api: Callable[[str], Api], clock: Clock) -> None:
    browser, other_browser, token = login_as("supervisor1"), login_as("supervisor1"), api("supervisor1")
    with app.app_context():
        session = db_session()
        user = session.scalar(select(User).where(User.username == "supervisor1"))
        assert user is not None
        auth_service.change_password(session, user=user, new_password="a new long passphrase", now=clock())
    assert not _signed_in(browser) and not _signed_in(other_browser)
    assert token.get("/tasks").status_code == 401
    old = app.test_client().post("/login", data={"username": "supervisor1", "password": "demo"})
    assert old.status_code == 401
    new = app.test_client().post("/login", data={"username": "supervisor1", "password": "a new long passphrase"})
    assert new.status_code == 302


def test_deactivation_ends_every_session_and_token(login_as: Callable[..., FlaskClient], app: Flask,
                                                   api: Callable[[str], Api], clock: Clock) -> None:
    browser, token, colleague = login_as("casemanager1"), api("casemanager1"), login_as("reception1")
    with app.app_context():
        session = db_session()
        user = session.scalar(select(User).where(User.username == "casemanager1"))
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert user is not None
        assert admin is not None
        deactivate_user(session, actor=admin, user_id=user.id, now=clock())
    assert not _signed_in(browser)
    assert token.get("/tasks").status_code == 401
    assert app.test_client().post("/login", data={"username": "casemanager1", "password": "demo"}).status_code == 401
    assert _signed_in(colleague)


def test_a_session_ends_after_thirty_idle_minutes(login_as: Callable[..., FlaskClient], clock: Clock) -> None:
    browser = login_as("reception1")
    for _ in range(4):  # two hours of work, a request every 29 minutes: never idle long enough
        clock.advance(minutes=29)
        assert _signed_in(browser)
    clock.advance(minutes=31)
    assert not _signed_in(browser)


def test_a_busy_session_still_ends_after_twelve_hours(login_as: Callable[..., FlaskClient], clock: Clock) -> None:
    browser = login_as("reception1")
    for _ in range(47):  # 11 h 45 min of steady work
        clock.advance(minutes=15)
        assert _signed_in(browser)
    clock.advance(minutes=15)
    assert not _signed_in(browser)
    assert _signed_in(login_as("reception1"))  # a fresh login starts a fresh session


def test_last_seen_is_written_at_most_once_a_minute(login_as: Callable[..., FlaskClient], app: Flask,
                                                     clock: Clock) -> None:
    browser = login_as("reception1")
    user = _user(app, "reception1")

    def last_seen() -> object:
        with app.app_context():
            return db_session().scalar(select(StaffSession.last_seen_at).where(StaffSession.user_id == user.id))

    started = last_seen()
    for _ in range(5):
        clock.advance(seconds=10)
        assert _signed_in(browser)
    assert last_seen() == started
    clock.advance(seconds=20)
    assert _signed_in(browser)
    assert last_seen() == clock()


def test_a_session_cookie_holds_no_user_data_the_server_trusts(login_as: Callable[..., FlaskClient],
                                                               app: Flask) -> None:
    """A cookie signed with the app's key but naming no live session opens nothing."""
    browser = login_as("reception1")
    with browser.session_transaction() as cookie:
        cookie["sid"] = "made-up"
    assert not _signed_in(browser)


@pytest.fixture
def csrf_app(app: Flask) -> Flask:
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def test_a_form_token_expires_with_the_session_lifetime(csrf_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    def login_form_sent_after(hours: int) -> int:
        browser = csrf_app.test_client()
        page = browser.get("/login").get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match
        later = int(time.time()) + hours * 3600
        with monkeypatch.context() as patch:
            patch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda _self: later)
            response = browser.post("/login", data={"csrf_token": match.group(1), "username": "reception1",
                                                    "password": "demo", "lang": "en"})
        return response.status_code

    assert login_form_sent_after(11) == 302
    assert login_form_sent_after(13) == 400
