"""Login throttling: nobody can lock another person out, and no answer tells who has an account."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from tests.conftest import Api, Clock

ATTACKER = "203.0.113.66"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True)
def _hourly_windows(app: Flask) -> None:
    """The default counts over an hour instead of a minute: the same answers however slowly the machine runs."""
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "10/hour"
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "60/hour"


def _from(address: str) -> dict[str, Any]:
    return {"environ_base": {"REMOTE_ADDR": address}}


def _token(client: FlaskClient, username: str, password: str, address: str) -> Any:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password}, **_from(address))


def _page(client: FlaskClient, username: str, password: str, address: str, lang: str = "en") -> Any:
    return client.post("/login", data={"username": username, "password": password, "lang": lang}, **_from(address))


def test_wrong_passwords_from_one_address_never_lock_the_user_out_elsewhere(client: FlaskClient) -> None:
    for _ in range(15):
        _token(client, "supervisor1", "guess", ATTACKER)
        _page(client, "supervisor1", "guess", ATTACKER)
    assert _token(client, "supervisor1", "demo", ATTACKER).status_code == 429
    assert _token(client, "supervisor1", "demo", "198.51.100.7").status_code == 200
    assert _page(client, "supervisor1", "demo", "198.51.100.8").status_code == 302


def test_wrong_passwords_never_stop_an_existing_token(client: FlaskClient, api: Callable[[str], Api]) -> None:
    supervisor = api("supervisor1")
    for _ in range(15):
        _token(client, "supervisor1", "guess", ATTACKER)
    assert supervisor.get("/tasks").status_code == 200


def test_unknown_and_real_usernames_get_identical_answers_in_every_phase(app: Flask) -> None:
    """Wrong password, then throttled: an unknown name goes through the same answers at the same attempts."""
    def answers(username: str, address: str) -> list[tuple[int, Any, str | None]]:
        client = app.test_client()
        seen = []
        for _ in range(12):
            api = _token(client, username, "guess", address)
            seen.append((api.status_code, api.get_json(), None))
            page = _page(client, username.upper(), "guess", address)
            error = page.get_data(as_text=True).split('data-testid="login-error">')[1].split("<")[0]
            seen.append((page.status_code, error, page.headers.get("Retry-After") and "retry"))
        return seen

    real, unknown = answers("reception1", "192.0.2.1"), answers("nobody-here", "192.0.2.2")
    assert real == unknown
    assert {status for status, _body, _retry in real} == {401, 429}


def test_the_limiter_throttles_each_address_over_many_usernames(client: FlaskClient, app: Flask) -> None:
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "20/hour"
    statuses = [_token(client, f"user{n}", "guess", ATTACKER).status_code for n in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429  # one guess per name: only the address limit
    assert _page(client, "reception1", "demo", ATTACKER).status_code == 429
    assert _page(client, "reception1", "demo", "198.51.100.9").status_code == 302


def test_successful_logins_from_one_office_address_are_never_throttled(client: FlaskClient, app: Flask) -> None:
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3/hour"
    for username in ("reception1", "supervisor1", "casemanager1") * 3:
        assert _token(client, username, "demo", ATTACKER).status_code == 200


def test_a_throttled_answer_is_json_on_the_api_and_a_page_in_the_users_language(client: FlaskClient) -> None:
    for _ in range(10):
        _page(client, "analyst", "guess", ATTACKER)
    api = client.post("/api/v1/auth/token", json={"username": "analyst", "password": "demo"},
                      headers={"Accept-Language": "en"}, **_from(ATTACKER))
    assert api.status_code == 429 and api.is_json
    assert api.get_json() == {"error": "Too many attempts. Wait a few minutes and try again."}
    assert int(api.headers["Retry-After"]) > 0
    page = _page(client, "analyst", "demo", ATTACKER, lang="ar")
    html = page.get_data(as_text=True)
    assert page.status_code == 429 and page.mimetype == "text/html"
    assert 'dir="rtl"' in html and "محاولات كثيرة. انتظر بضع دقائق ثم حاول مرة أخرى." in html


def test_the_login_page_and_the_token_endpoint_share_one_count(client: FlaskClient) -> None:
    for _ in range(5):
        _page(client, "admin", "guess", ATTACKER)
        _token(client, "admin", "guess", ATTACKER)
    assert _token(client, "admin", "demo", ATTACKER).status_code == 429


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis does not answer at {REDIS_URL}: {error}")


@pytest.fixture
def two_servers(database_url: str, clock: Clock, app: Flask) -> Iterator[tuple[FlaskClient, FlaskClient]]:
    """Two app instances on the same database and the same Redis, as two servers behind a load balancer."""
    _redis_or_skip()
    prefix = f"mosd-test-{uuid.uuid4().hex}"
    servers = [create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test", "DEMO_MODE": True,
                           "CLOCK": clock, "WTF_CSRF_ENABLED": False, "RATELIMIT_STORAGE_URI": REDIS_URL,
                           "RATELIMIT_KEY_PREFIX": prefix, "LOGIN_LIMIT_PER_ACCOUNT": "10/hour"})
               for _ in range(2)]
    yield servers[0].test_client(), servers[1].test_client()
    for server in servers:
        server.extensions["db_engine"].dispose()
    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(f"*{prefix}*"):
        connection.delete(key)


def test_servers_sharing_redis_share_the_count(two_servers: tuple[FlaskClient, FlaskClient]) -> None:
    first, second = two_servers
    for _ in range(10):
        assert _token(first, "reception2", "guess", ATTACKER).status_code == 401
    assert _token(second, "reception2", "guess", ATTACKER).status_code == 429
    assert _token(second, "reception2", "demo", "198.51.100.10").status_code == 200


def test_logins_keep_working_and_are_still_throttled_when_redis_is_down(database_url: str, clock: Clock,
                                                                       app: Flask) -> None:
    """Nothing listens on port 1: the counts fall back to the process's memory, never a server error."""
    server = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test", "DEMO_MODE": True,
                         "CLOCK": clock, "WTF_CSRF_ENABLED": False, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0",
                         "LOGIN_LIMIT_PER_ACCOUNT": "3/hour"})
    try:
        client = server.test_client()
        assert _token(client, "reception1", "demo", "198.51.100.7").status_code == 200
        assert [_token(client, "reception2", "guess", ATTACKER).status_code for _ in range(4)] == [401, 401, 401, 429]
    finally:
        server.extensions["db_engine"].dispose()
