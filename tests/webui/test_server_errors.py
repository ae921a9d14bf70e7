"""Hostile or unlucky requests get a clear answer in the user's language, never a server error."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import create_app
from tests.conftest import Api
from tests.factories import member, national_id, registration
from tests.webui.test_case_paths import open_case, task_of

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
TOO_BIG = "99999999999999999999999"
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"


def count_cases(app: Flask) -> int:
    from registry.models import Case
    from webui.db import db_session

    with app.app_context():
        return int(db_session().scalar(select(func.count()).select_from(Case)) or 0)


def raw_json(client: FlaskClient, path: str, body: str, headers: dict[str, str] | None = None) -> Any:
    return client.post(path, data=body, content_type="application/json", headers=headers or {})


# --- deeply nested JSON ----------------------------------------------------------------------------


def test_deeply_nested_json_on_the_token_endpoint_is_refused_as_a_bad_request(client: FlaskClient) -> None:
    response = raw_json(client, "/api/v1/auth/token", "[" * 100_000, {"Accept-Language": "en"})
    assert response.status_code == 400
    assert response.is_json
    assert "nested too deeply" in response.get_json()["error"]


def test_deeply_nested_json_on_case_and_task_endpoints_is_refused_and_changes_nothing(
        app: Flask, api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    before = count_cases(app)
    for path in ("/api/v1/cases", f"/api/v1/tasks/{task['id']}/complete"):
        for body in ("[" * 100_000, '{"data": ' * 50_000, '{"data": {"members": ' + "[" * 40 + "]" * 40 + "}}"):
            response = raw_json(reception.client, path, body, reception.headers)
            assert response.status_code == 400, (path, body[:20], response.get_data(as_text=True)[:200])
            assert "nested too deeply" in response.get_json()["error"]
    assert count_cases(app) == before
    assert task_of(reception, case_id)["id"] == task["id"]
    # Within the bound, and with tab, CR and LF in free text, the same submission goes through.
    data = registration(reasons_details="line one\nline two\ttabbed\r\n")
    deep_but_allowed: Any = "x"
    for _ in range(28):
        deep_but_allowed = [deep_but_allowed]
    data["unknown_field"] = deep_but_allowed
    response = reception.post(f"/tasks/{task['id']}/complete", {"data": data})
    assert response.status_code == 200, response.get_json()


# --- ids beyond the id columns' range -------------------------------------------------------------


@BOTH_DATABASES
def test_ids_too_big_for_the_database_and_odd_task_ids_are_not_found(login_as: Callable[[str], FlaskClient],
                                                                     api: Callable[[str], Api]) -> None:
    supervisor = login_as("supervisor1")
    for path in (f"/cases/{TOO_BIG}", f"/documents/{TOO_BIG}", f"/cases/{2**63}", "/cases/0", f"/cases/{2**31}",
                 f"/cases/{2**31 - 1}", f"/documents/{2**31}", f"/cases/{2**63 - 1}", "/cases/" + "9" * 5000):
        assert supervisor.get(path).status_code == 404, path
    assert supervisor.post(f"/cases/{TOO_BIG}/reassign", data={"case_manager": "1"}).status_code == 404
    reception = api("reception1")
    for path in (f"/cases/{TOO_BIG}", f"/cases/{2**63}", f"/cases/{2**63 - 1}", f"/cases/{2**31}"):
        response = reception.get(path)
        assert response.status_code == 404 and response.is_json, path
    page = login_as("reception1")
    for task_id in ("x" * 10_000, TOO_BIG, "%25", "..%2F..", "\u0627" * 300):
        assert reception.get(f"/tasks/{task_id}").status_code == 404, task_id
        assert reception.post(f"/tasks/{task_id}/complete", {"data": {}}).status_code == 404, task_id
        assert reception.post(f"/tasks/{task_id}/claim").status_code == 404, task_id
        assert page.get(f"/tasks/{task_id}").status_code == 404, task_id
        assert page.post(f"/tasks/{task_id}", data={"locality": "x"}).status_code == 404, task_id


@BOTH_DATABASES
def test_a_huge_id_in_a_form_field_is_a_form_error(login_as: Callable[[str], FlaskClient],
                                                   api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    supervisor = login_as("supervisor1")
    for value in (TOO_BIG, str(2**63), str(2**31), "-1", "0"):
        response = supervisor.post(f"/cases/{case_id}/reassign", data={"case_manager": value, "reason": "x"})
        assert response.status_code == 302, value
        assert "flash error" in supervisor.get(f"/cases/{case_id}").get_data(as_text=True)


# --- a registration whose applicant has another open registration ------------------------------------


@BOTH_DATABASES
def test_registering_an_applicant_whose_other_registration_is_still_open_is_a_form_error(
        app: Flask, api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    first_applicant = national_id()
    first = reception.post("/cases", {"national_id": first_applicant})
    assert first.status_code == 201
    second_id = reception.post("/cases", {"national_id": national_id()}).get_json()["case_id"]
    data = registration(members=[member(national_id=first_applicant)])
    response = reception.post(f"/tasks/{task_of(reception, second_id)['id']}/complete", {"data": data})
    assert response.status_code == 422, response.get_json()
    reference = first.get_json()["reference"]
    assert response.get_json()["codes"] == {"head_national_id": [f"open_case_exists:{reference}"]}
    assert reference in response.get_json()["errors"]["head_national_id"][0]


def test_a_clash_the_form_checks_did_not_foresee_is_a_conflict(app: Flask, api: Callable[[str], Api],
                                                               tmp_path: Path) -> None:
    """A form file without the duplicate check: the database's unique rule answers 409, not 503."""
    root = Path(__file__).resolve().parents[2]
    for name in ("processes", "forms", "rules"):
        shutil.copytree(root / name, tmp_path / name)
    form = tmp_path / "forms" / "registration.yaml"
    form.write_text(form.read_text().replace("no_duplicate_registration, ", ""))
    app.config.update(PROCESSES_DIR=str(tmp_path / "processes"), FORMS_DIR=str(tmp_path / "forms"),
                      RULES_DIR=str(tmp_path / "rules"))
    assert app.test_cli_runner().invoke(args=["processes", "deploy"]).exit_code == 0  # the edited form, deployed

    reception = api("reception1")
    first_applicant = national_id()
    assert reception.post("/cases", {"national_id": first_applicant}).status_code == 201
    second_id = reception.post("/cases", {"national_id": national_id()}).get_json()["case_id"]
    task = task_of(reception, second_id)
    data = registration(members=[member(national_id=first_applicant)])
    response = reception.post(f"/tasks/{task['id']}/complete", {"data": data})
    assert response.status_code == 409, response.get_json()
    assert "nothing was saved" in response.get_json()["error"]
    assert task_of(reception, second_id)["id"] == task["id"]


# --- control characters --------------------------------------------------------------------------------


@BOTH_DATABASES
def test_a_nul_byte_on_the_token_endpoint_is_refused_in_the_users_language(client: FlaskClient) -> None:
    for body in ({"username": "reception1\x00", "password": "demo"}, {"username": "a", "password": "\x00"},
                 {"user\x00name": "reception1", "password": "demo"}):
        response = client.post("/api/v1/auth/token", json=body, headers={"Accept-Language": "en"})
        assert response.status_code == 400, response.get_data(as_text=True)
        assert "control character" in response.get_json()["error"]
    response = client.post("/api/v1/auth/token", json={"username": "reception1\x01", "password": "demo"},
                           headers={"Accept-Language": "ar"})
    assert response.status_code == 400
    assert response.get_json()["error"] == \
        "يحتوي الطلب على محرف تحكّم غير مسموح به (مثل البايت الصفري)؛ لم يتغيّر شيء."


@BOTH_DATABASES
def test_a_nul_byte_in_a_page_form_or_query_is_refused(app: Flask, client: FlaskClient,
                                                       login_as: Callable[[str], FlaskClient],
                                                       api: Callable[[str], Api]) -> None:
    response = client.post("/login", data={"username": "reception1\x00", "password": "demo", "lang": "en"})
    assert response.status_code == 400
    assert "text/html" in response.content_type
    page = login_as("reception1")
    assert page.get("/registry/search?q=%00").status_code == 400
    assert page.get("/registry/search?q=ab%1Bc").status_code == 400
    assert page.get("/cases?status=open%00").status_code == 400
    assert "control character" in page.get("/registry/search?q=a%00").get_data(as_text=True)
    before = count_cases(app)
    assert page.post("/cases/new", data={"national_id": "\x00123"}).status_code == 400
    assert count_cases(app) == before
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    response = page.post(f"/tasks/{task['id']}", data={"locality": "Al-Bireh\x00", "phone": "0599123456"})
    assert response.status_code == 400
    assert task_of(reception, case_id)["id"] == task["id"]
    assert page.get("/tasks/%00").status_code == 400
    assert page.get("/registry/search?q=line%09tab").status_code == 200


@BOTH_DATABASES
def test_a_nul_byte_in_api_input_changes_nothing(app: Flask, api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    before = count_cases(app)
    response = reception.post("/cases", {"national_id": "12345678\x00"})
    assert response.status_code == 400
    assert count_cases(app) == before
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    data = registration(locality="\x00")
    response = reception.post(f"/tasks/{task['id']}/complete", {"data": data})
    assert response.status_code == 400
    data = registration()
    data["members"][0]["name_ar"] = "أحمد\x00"
    assert reception.post(f"/tasks/{task['id']}/complete", {"data": data}).status_code == 400
    assert reception.get("/tasks/%00").status_code == 400
    assert reception.get(f"/cases/{case_id}?x=%00").status_code == 400
    response = reception.client.post("/api/v1/cases", json={},
                                     headers={**reception.headers, "Idempotency-Key": "k\x00"})
    assert response.status_code == 400
    assert count_cases(app) == before + 1
    assert task_of(reception, case_id)["id"] == task["id"]


# --- the database unreachable ------------------------------------------------------------------------


@pytest.fixture
def unreachable_app() -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": UNREACHABLE, "SECRET_KEY": "test",
                       "WTF_CSRF_ENABLED": False})


def test_the_api_answers_503_json_when_the_database_is_unreachable(unreachable_app: Flask) -> None:
    client = unreachable_app.test_client()
    response = client.post("/api/v1/auth/token", json={"username": "reception1", "password": "demo"},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 503
    assert response.is_json
    assert int(response.headers["Retry-After"]) > 0
    assert "database" in response.get_json()["error"]
    response = client.get("/api/v1/tasks", headers={"Authorization": "Bearer abc", "Accept-Language": "ar"})
    assert response.status_code == 503 and response.is_json and "Retry-After" in response.headers


def test_pages_answer_a_503_page_when_the_database_is_unreachable(unreachable_app: Flask) -> None:
    client = unreachable_app.test_client()
    response = client.post("/login", data={"username": "reception1", "password": "demo", "lang": "en"})
    assert response.status_code == 503
    assert "text/html" in response.content_type
    assert int(response.headers["Retry-After"]) > 0
    assert "database" in response.get_data(as_text=True)
    response = client.post("/login", data={"username": "reception1", "password": "demo", "lang": "ar"})
    assert "قاعدة البيانات" in response.get_data(as_text=True)


# --- anything else that escapes ------------------------------------------------------------------------


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    """The app as in production (exceptions not propagated), with one view that fails as a bug would."""

    def broken() -> Any:
        raise KeyError("a bug")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.add_url_rule("/api/v1/broken", "api_broken", broken)
    app.add_url_rule("/broken", "page_broken", broken)
    return app


def test_an_unexpected_error_is_json_on_the_api_and_a_translated_page_otherwise(
        failing_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    client = failing_app.test_client()
    response = client.get("/api/v1/broken", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    assert response.get_json() == {"error": "Unexpected error."}
    assert "KeyError" in caplog.text
    response = client.get("/broken")
    assert response.status_code == 500
    assert "text/html" in response.content_type
    assert "خطأ غير متوقع." in response.get_data(as_text=True)


def test_other_http_refusals_are_json_on_the_api(app: Flask, client: FlaskClient) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = raw_json(client, "/api/v1/auth/token", '{"username": "' + "x" * 2000 + '"}')
    assert response.status_code == 413
    assert response.is_json and response.get_json()["error"]


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_lone_surrogate_in_json_is_refused_and_the_case_stays_readable(app: Flask, client: FlaskClient,
                                                                         api: Callable[[str], Api]) -> None:
    """JSON may escape half a UTF-16 pair; no text can hold it, and stored it would break every later read."""
    token = raw_json(client, "/api/v1/auth/token", '{"username": "\\ud800", "password": "demo"}')
    assert token.status_code == 400
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    body = '{"data": {"notes": "\\ud800abc"}}'
    response = raw_json(reception.client, f"/api/v1/tasks/{task['id']}/complete", body, reception.headers)
    assert response.status_code == 400
    assert task_of(reception, case_id)["id"] == task["id"]  # still waiting: nothing was completed
    assert reception.get(f"/cases/{case_id}").status_code == 200
    assert reception.get(f"/tasks/{task['id']}").status_code == 200


def test_a_page_form_with_a_malformed_version_is_refused_as_stale(app: Flask, api: Callable[[str], Api],
                                                                   login_as: Callable[..., FlaskClient]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    browser = login_as("reception1")
    form = {"_version": "abc", "governorate": "RBH"}
    response = browser.post(f"/tasks/{task['id']}", data=form)
    assert response.status_code == 409
    assert task_of(reception, case_id)["id"] == task["id"]
