"""The JSON API's contract: inbox rows, form descriptions, OpenAPI."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from tests.conftest import Api
from tests.webui.test_case_paths import open_case, task_of


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
                                      "/tasks/{task_id}/release", "/tasks/{task_id}/complete", "/cases",
                                      "/cases/{case_id}"}


def test_a_revoked_token_stops_working(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    assert reception.get("/tasks").status_code == 200
    assert reception.post("/auth/logout").status_code == 200
    assert reception.get("/tasks").status_code == 401


def test_bodies_that_are_not_json_objects_are_refused(client: FlaskClient, api: Callable[[str], Api]) -> None:
    for body in ([1], "x", 123):
        assert client.post("/api/v1/auth/token", json=body).status_code == 422
        assert api("reception1").post("/cases", body).status_code == 422
