"""The JSON API's contract: inbox rows, form descriptions, OpenAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from registry.models import AuditEvent, Case
from tests.conftest import Api
from tests.factories import registration
from tests.webui.test_case_paths import open_case, task_of
from webui.db import db_session

#: A household the Ministry of Interior knows (data/ministries/README.md): six members.
KNOWN_HEAD = "895160174"


def test_the_inbox_lists_the_documented_fields(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    assert set(task) >= {"id", "case_id", "title", "form_key", "lane", "assignee", "due_at"}
    assert (task["lane"], task["form_key"], task["title"]) == ("reception", "registration", "Register the household")


def test_a_task_describes_its_form_fields(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    body = reception.get(f"/tasks/{task_of(reception, case_id)['id']}").get_json()
    fields = {f["name"]: f for f in body["fields"]}
    assert fields["head_national_id"]["type"] == "national_id" and fields["head_national_id"]["required"] is True
    assert fields["rooms"]["type"] == "integer"
    assert fields["governorate"]["type"] == "choice" and len(fields["governorate"]["choices"]) == 16
    members = fields["members"]
    assert members["type"] == "group"
    assert {f["name"]: f["type"] for f in members["fields"]}["birth_date"] == "date"
    assert {f["type"] for f in body["fields"]} <= {"text", "textarea", "integer", "number", "date", "boolean", "choice",
                                                    "multichoice", "national_id", "phone", "file", "group"}


def test_labels_follow_the_callers_language(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    reception.headers["Accept-Language"] = "ar"
    case_id = open_case(reception)
    body = reception.get(f"/tasks/{task_of(reception, case_id)['id']}").get_json()
    assert body["form_title"] == "تسجيل الأسرة"


def test_claim_and_release(api: Callable[[str], Api]) -> None:
    from tests.webui.test_case_paths import register_and_recommend

    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    task = task_of(supervisor, case_id)
    assert task["assignee"] is None
    claimed = supervisor.post(f"/tasks/{task['id']}/claim").get_json()
    assert claimed["assignee"] is not None
    released = supervisor.post(f"/tasks/{task['id']}/release").get_json()
    assert released["assignee"] is None


def test_the_openapi_document_lists_every_endpoint(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {"/auth/token", "/auth/logout", "/tasks", "/tasks/{task_id}",
                                      "/tasks/{task_id}/claim",
                                      "/tasks/{task_id}/release", "/tasks/{task_id}/complete",
                                      "/tasks/{task_id}/household-wait", "/tasks/{task_id}/household-wait/end",
                                      "/cases",
                                      "/cases/{case_id}", "/scores/{score_id}/recompute",
                                      "/visits/today", "/visits/{visit_id}/submission"}


def test_a_revoked_token_stops_working(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    assert reception.get("/tasks").status_code == 200
    assert reception.post("/auth/logout").status_code == 200
    assert reception.get("/tasks").status_code == 401


def test_bodies_that_are_not_json_objects_are_refused(client: FlaskClient, api: Callable[[str], Api]) -> None:
    for body in ([1], "x", 123):
        assert client.post("/api/v1/auth/token", json=body).status_code == 422
        assert api("reception1").post("/cases", body).status_code == 422


def _cases(app: Flask) -> int:
    with app.app_context():
        return int(db_session().scalar(select(func.count()).select_from(Case)) or 0)


@pytest.mark.parametrize("consent", ["false", "true", 1, 0, None, "yes", [True]])
def test_consent_counts_only_as_a_json_boolean(app: Flask, api: Callable[[str], Api], consent: Any) -> None:
    reception = api("reception1")
    response = reception.post("/cases", {"national_id": KNOWN_HEAD, "consent_data_exchange": consent})
    assert response.status_code == 422
    assert response.get_json()["codes"] == {"consent_data_exchange": ["invalid_boolean"]}
    assert _cases(app) == 0  # nothing opened, so nothing was asked of the ministries


@pytest.mark.parametrize(("consent", "members"), [(False, None), (True, 6)])
def test_json_consent_decides_whether_the_ministries_are_asked(app: Flask, api: Callable[[str], Api], consent: bool,
                                                               members: int | None) -> None:
    reception = api("reception1")
    created = reception.post("/cases", {"national_id": KNOWN_HEAD, "consent_data_exchange": consent})
    assert created.status_code == 201, created.get_json()
    form = reception.get(f"/tasks/{created.get_json()['first_task']['id']}").get_json()
    values = {f["name"]: f["value"] for f in form["fields"]}
    assert (len(values["members"]) if values["members"] else None) == members
    with app.app_context():
        case = db_session().get(Case, created.get_json()["case_id"])
        assert case is not None and ("values" in case.prefill) is consent


@pytest.mark.parametrize(("body", "codes"), [
    ({"national_id": KNOWN_HEAD, "consent": True}, {"consent": ["unknown_field"]}),
    ({"national_id": 895160174}, {"national_id": ["invalid_text"]}),
    ({"national_id": "895160175"}, {"national_id": ["invalid_national_id"]}),
    ({"national_id": "8" * 33}, {"national_id": ["too_long"]}),
])
def test_case_opening_refuses_what_the_form_would(app: Flask, api: Callable[[str], Api], body: dict[str, Any],
                                                  codes: dict[str, list[str]]) -> None:
    response = api("reception1").post("/cases", body)
    assert response.status_code == 422
    assert response.get_json()["codes"] == codes
    assert _cases(app) == 0


@pytest.mark.parametrize(("body", "codes"), [
    ({"username": "reception1"}, {"password": ["required"]}),
    ({"username": 1, "password": "demo"}, {"username": ["invalid_text"]}),
    ({"username": "reception1", "password": "demo", "remember": True}, {"remember": ["unknown_field"]}),
    ({"username": "u" * 151, "password": "demo"}, {"username": ["too_long"]}),
])
def test_the_token_request_is_checked_field_by_field(client: FlaskClient, body: dict[str, Any],
                                                     codes: dict[str, list[str]]) -> None:
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 422
    assert response.get_json()["codes"] == codes


@pytest.mark.parametrize(("body", "codes"), [
    ({"data": {}, "version": True}, {"version": ["invalid_integer"]}),
    ({"data": {}, "version": 1.0}, {"version": ["invalid_integer"]}),
    ({"data": {}, "version": "1"}, {"version": ["invalid_integer"]}),
    ({"data": {}, "version": 2**63}, {"version": ["out_of_range"]}),
    ({"data": "x"}, {"data": ["invalid_type"]}),
    ({}, {"data": ["required"]}),
    ({"data": {}, "extra": 1}, {"extra": ["unknown_field"]}),
])
def test_a_completion_is_checked_field_by_field(api: Callable[[str], Api], body: dict[str, Any],
                                                codes: dict[str, list[str]]) -> None:
    reception = api("reception1")
    task = task_of(reception, open_case(reception))
    response = reception.post(f"/tasks/{task['id']}/complete", body)
    assert response.status_code == 422
    assert response.get_json()["codes"] == codes


def test_a_completion_answers_with_where_the_case_stands(app: Flask, api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    body = reception.post(f"/tasks/{task['id']}/complete", {"data": registration()}).get_json()
    assert set(body) == {"case_id", "stage", "status", "next_tasks", "case_url"}
    assert (body["case_id"], body["status"]) == (case_id, "open")
    assert [t["form_key"] for t in body["next_tasks"]] == ["eligibility_recommendation"]
    assert body["case_url"] == f"/api/v1/cases/{case_id}"
    assert body["stage"] == reception.get(f"/cases/{case_id}").get_json()["stage"]


#: JSON types of the OpenAPI document, by the Python types a parsed answer holds.
_JSON_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
               "array": (list,), "object": (dict,), "null": (type(None),)}


def _schema_mismatches(value: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Properties of ``value`` missing or of a type the schema does not allow (one level deep)."""
    wrong = [f"{name}: missing" for name in schema.get("required", []) if name not in value]
    for name, prop in schema["properties"].items():
        allowed = prop.get("type")
        if name not in value or allowed is None:
            continue
        kinds = [allowed] if isinstance(allowed, str) else allowed
        ok = any(isinstance(value[name], _JSON_TYPES[k]) and not (k in ("integer", "number")
                                                                   and isinstance(value[name], bool))
                 for k in kinds)
        if not ok:
            wrong.append(f"{name}: {value[name]!r} is not {allowed}")
    return wrong


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_the_tasks_a_completion_answers_with_match_the_documented_schema(client: FlaskClient,
                                                                       api: Callable[[str], Api]) -> None:
    task_schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Task"]
    reception = api("reception1")
    task = task_of(reception, open_case(reception))
    body = reception.post(f"/tasks/{task['id']}/complete", {"data": registration()}).get_json()
    assert body["next_tasks"]
    for next_task in body["next_tasks"]:
        assert _schema_mismatches(next_task, task_schema) == []
        assert next_task["paused_seconds"] == 0


def test_an_older_password_hash_is_replaced_when_its_owner_logs_in(app: Flask, client: FlaskClient) -> None:
    from argon2 import PasswordHasher

    from registry.models import User

    with app.app_context():
        user = db_session().scalar(select(User).where(User.username == "reception1"))
        assert user is not None
        user.password_hash = PasswordHasher(memory_cost=64 * 1024).hash("demo")  # argon2-cffi's default before
        db_session().commit()
    assert client.post("/api/v1/auth/token", json={"username": "reception1", "password": "demo"}).status_code == 200
    with app.app_context():
        rehashed = db_session().scalar(select(User.password_hash).where(User.username == "reception1"))
    assert rehashed is not None and "m=7168," in rehashed


def test_the_case_history_comes_a_page_at_a_time(app: Flask, api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    case = reception.get(f"/cases/{case_id}").get_json()
    with app.app_context():
        events = db_session().scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.case_id == case_id))
    assert (case["history_total"], case["history_page"], len(case["history"])) == (events, 1, events)
    assert reception.get(f"/cases/{case_id}?history_page=0").status_code == 422
    assert reception.get(f"/cases/{case_id}?history_page=x").status_code == 422
    assert reception.get(f"/cases/{case_id}?page=1").get_json()["codes"] == {"page": ["unknown_field"]}


def test_a_wrong_method_names_the_allowed_ones(client: FlaskClient) -> None:
    response = client.get("/api/v1/auth/token")
    assert response.status_code == 405
    assert response.headers["Allow"] == "OPTIONS, POST"
    assert client.delete("/api/v1/tasks").headers["Allow"] == "GET, HEAD, OPTIONS"


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, operation) for path, item in document["paths"].items()
            for method, operation in item.items()]


def test_the_openapi_document_states_every_answer(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    for method, path, operation in _operations(document):
        codes = set(operation["responses"])
        assert {"400", "503"} <= codes, (method, path)
        assert "security" not in operation or "401" in codes, (method, path)
        assert "{" not in path or "404" in codes, (method, path)
        assert method == "get" or path == "/auth/logout" or "422" in codes, (method, path)
        if method == "post" and path not in ("/auth/token", "/auth/logout"):
            assert "Idempotency-Key" in [p["name"] for p in operation["parameters"] if p["in"] == "header"], path
    token = document["paths"]["/auth/token"]["post"]
    assert {"401", "422", "429"} <= set(token["responses"])
    assert document["components"]["schemas"]["TokenRequest"]["required"] == ["password", "username"]
    release = document["paths"]["/tasks/{task_id}/release"]["post"]
    assert {"404", "409"} <= set(release["responses"])


def test_the_openapi_document_describes_file_uploads(client: FlaskClient) -> None:
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    upload = schemas["FileUpload"]
    assert upload["required"] == ["name", "content_base64"]
    assert upload["properties"]["content_base64"]["contentEncoding"] == "base64"
    refs = str(schemas["CompleteRequest"]["properties"]["data"])
    assert "#/components/schemas/FileUpload" in refs
    assert schemas["CreateCaseRequest"]["properties"]["consent_data_exchange"]["type"] == "boolean"
    assert schemas["CreateCaseRequest"]["additionalProperties"] is False


@pytest.mark.parametrize(("field", "value", "code"), [
    ("rooms", 2.5, "invalid_integer"), ("rooms", "2.5", "invalid_integer"), ("rooms", "1e3", "invalid_integer"),
    ("monthly_income", "nan", "invalid_number"), ("monthly_income", "Infinity", "invalid_number"),
    ("damp_or_leaking", "false", "invalid_boolean"), ("damp_or_leaking", 0, "invalid_boolean"),
    ("damp_or_leaking", "yes", "invalid_boolean"),
])
def test_numbers_are_never_cut_or_made_infinite_and_yes_is_a_json_boolean(
        api: Callable[[str], Api], field: str, value: Any, code: str) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    response = reception.post(f"/tasks/{task['id']}/complete", {"data": {**registration(), field: value}})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["codes"] == {field: [code]}
    assert task_of(reception, case_id)["id"] == task["id"]
