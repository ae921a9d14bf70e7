"""Idempotency-Key: a retry gets the first answer, and the work is done once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from registry.models import AuditEvent, Case
from tests.conftest import Api, Clock
from tests.factories import registration
from tests.webui.test_case_paths import open_case, task_of
from webui.db import db_session

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


def post(user: Api, path: str, body: Any = None, *, key: str) -> Any:
    return user.client.post(f"/api/v1{path}", json=body if body is not None else {},
                            headers={**user.headers, "Idempotency-Key": key})


def count(app: Flask, query: Any) -> int:
    with app.app_context():
        return int(db_session().scalar(query) or 0)


def completions(app: Flask, case_id: int) -> int:
    return count(app, select(func.count()).select_from(AuditEvent).where(
        AuditEvent.case_id == case_id, AuditEvent.action == "task_completed"))


@BOTH_DATABASES
def test_a_retried_completion_gets_the_first_answer_and_completes_once(app: Flask, api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    body = {"data": registration()}
    first = post(reception, f"/tasks/{task['id']}/complete", body, key="register-1")
    assert first.status_code == 200, first.get_json()
    # The answer was lost on the way back; the client sends the same request again.
    again = post(reception, f"/tasks/{task['id']}/complete", body, key="register-1")
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert completions(app, case_id) == 1


def test_without_a_key_a_second_completion_is_refused(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    assert reception.post(f"/tasks/{task['id']}/complete", {"data": registration()}).status_code == 200
    assert reception.post(f"/tasks/{task['id']}/complete", {"data": registration()}).status_code == 409


def test_a_retried_case_opening_opens_one_case(app: Flask, api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    body = {"national_id": "123456782", "consent_data_exchange": False}
    first = post(reception, "/cases", body, key="open-123456782")
    again = post(reception, "/cases", body, key="open-123456782")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert count(app, select(func.count()).select_from(Case)) == 1


def test_the_same_key_for_another_request_is_refused(app: Flask, api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    assert post(reception, "/cases", {}, key="k-1").status_code == 201
    refused = post(reception, "/cases", {"national_id": "123456782", "consent_data_exchange": False}, key="k-1")
    assert refused.status_code == 422
    assert refused.get_json()["codes"] == {"Idempotency-Key": ["key_reused"]}
    task = task_of(reception, post(reception, "/cases", {}, key="k-1").get_json()["case_id"])
    assert post(reception, f"/tasks/{task['id']}/claim", key="k-1").status_code == 422  # another path too
    assert count(app, select(func.count()).select_from(Case)) == 1


def test_a_key_is_the_users_own(app: Flask, api: Callable[[str], Api]) -> None:
    first, second = api("reception1"), api("reception1")  # two clients of one user share the key
    other = api("reception2")
    a = post(first, "/cases", {}, key="shared")
    assert post(second, "/cases", {}, key="shared").get_json() == a.get_json()
    b = post(other, "/cases", {}, key="shared")
    assert b.status_code == 201 and b.get_json()["case_id"] != a.get_json()["case_id"]
    assert count(app, select(func.count()).select_from(Case)) == 2


def test_a_key_is_kept_for_a_day(app: Flask, api: Callable[[str], Api], clock: Clock) -> None:
    reception = api("reception1")
    a = post(reception, "/cases", {}, key="daily")
    clock.advance(hours=23)
    reception = api("reception1")  # tokens last 12 hours, keys 24
    assert post(reception, "/cases", {}, key="daily").get_json() == a.get_json()
    clock.advance(hours=2)
    b = post(reception, "/cases", {}, key="daily")
    assert b.status_code == 201 and b.get_json()["case_id"] != a.get_json()["case_id"]


def test_a_refused_request_leaves_its_key_unused(app: Flask, api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    refused = post(reception, f"/tasks/{task['id']}/complete", {"data": {"rooms": "many"}}, key="try")
    assert refused.status_code == 422
    # Nothing was done, so nothing was stored: the corrected request may use the same key.
    assert post(reception, f"/tasks/{task['id']}/complete", {"data": registration()}, key="try").status_code == 200
    assert completions(app, case_id) == 1


@pytest.mark.parametrize("key", ["", " x", "x" * 201, "clé"])
def test_a_malformed_key_is_refused(api: Callable[[str], Api], key: str) -> None:
    response = post(api("reception1"), "/cases", {}, key=key)
    assert response.status_code == 422
    assert response.get_json()["codes"] == {"Idempotency-Key": ["invalid"]}


@BOTH_DATABASES
def test_twin_requests_at_once_open_one_case(app: Flask, api: Callable[[str], Api]) -> None:
    clients = [api("reception1"), api("reception1")]
    start = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def send(index: int) -> None:
        start.wait()
        response = post(clients[index], "/cases", {"national_id": "123456782", "consent_data_exchange": False},
                        key="twin")
        answers[index] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count(app, select(func.count()).select_from(Case)) == 1
    created = [body for status, body in answers if status == 201]
    assert created and all(body == created[0] for body in created)
    assert all(status in (201, 409) for status, _body in answers)
