"""Security headers: nothing personal is cached, cookies are Secure outside demo mode, HSTS over https."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from tests.conftest import Api, Clock


def test_pages_api_answers_and_exports_are_never_stored_by_caches(login_as: Callable[..., FlaskClient],
                                                                  api: Callable[[str], Api],
                                                                  client: FlaskClient) -> None:
    supervisor = login_as("supervisor1")
    responses = [client.get("/login"), supervisor.get("/"), supervisor.get("/registry/waiting-list.csv"),
                 api("supervisor1").get("/tasks"), client.get("/api/v1/tasks"), client.get("/no-such-page")]
    for response in responses:
        assert response.headers["Cache-Control"] == "no-store", response.request.path
        response.close()  # the export is streamed: close it here, not when the garbage collector gets to it


def test_static_files_may_be_cached(client: FlaskClient) -> None:
    response = client.get("/static/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    response.close()


@pytest.fixture
def production_app(database_url: str, clock: Clock, app: Flask) -> Iterator[Flask]:
    """The app as deployed: demo mode off, nothing said about cookies."""
    application = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                              "CLOCK": clock, "WTF_CSRF_ENABLED": False})
    yield application
    application.extensions["db_engine"].dispose()


def _session_cookie(response: Any) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    assert cookies, "the response should set the session cookie"
    return str(cookies[0])


def test_session_cookies_are_secure_outside_demo_mode(production_app: Flask) -> None:
    response = production_app.test_client().post("/language/en", base_url="https://localhost")
    assert "; Secure" in _session_cookie(response)


def test_demo_mode_over_plain_http_keeps_cookies_usable(client: FlaskClient) -> None:
    assert "; Secure" not in _session_cookie(client.post("/language/en"))


def test_hsts_is_sent_over_https_only(client: FlaskClient) -> None:
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_behind_a_trusted_proxy_its_forwarded_scheme_counts(database_url: str, clock: Clock, app: Flask) -> None:
    proxied = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test", "DEMO_MODE": True,
                          "CLOCK": clock, "TRUSTED_PROXIES": 1})
    try:
        response = proxied.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "Strict-Transport-Security" in response.headers
        direct = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "Strict-Transport-Security" not in direct.headers  # nobody trusted: the header is ignored
        # Login throttling counts the client's address that the proxy forwarded, not the proxy's own.
        proxied.config["LOGIN_LIMIT_PER_ACCOUNT"] = "1/hour"
        client = proxied.test_client()

        def attempt(address: str) -> int:
            return client.post("/api/v1/auth/token", json={"username": "admin", "password": "guess"},
                               headers={"X-Forwarded-For": address}).status_code

        assert [attempt("192.0.2.10"), attempt("192.0.2.10"), attempt("192.0.2.11")] == [401, 429, 401]
    finally:
        proxied.extensions["db_engine"].dispose()
