"""The process catalogue as analysts use it: versions, checking and deploying from the browser, uploads."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.models import ProcessInstance, ProcessVersion
from registry.models import AuditEvent
from tests.conftest import Api
from tests.webui.test_case_paths import open_case
from webui.db import db_session

ROOT = Path(__file__).resolve().parents[2]
DIAGRAM = "processes/case_management.bpmn"
PROCESS = "/processes/case_management"


def shipped_diagram() -> str:
    return (ROOT / DIAGRAM).read_text(encoding="utf-8")


def version_count(app: Flask) -> int:
    with app.app_context():
        return int(db_session().scalar(select(func.count(ProcessVersion.id))
                                       .where(ProcessVersion.process_id == "case_management")) or 0)


def test_the_catalogue_lists_versions_with_their_cases(login_as: Callable[..., FlaskClient],
                                                       api: Callable[[str], Api]) -> None:
    open_case(api("reception1"))
    analyst = login_as("analyst")
    html = analyst.get("/processes/").get_data(as_text=True)
    row = re.search(r'<tr data-testid="version-row">(.*?)</tr>', html, re.S)
    assert row and "Version 1" in row.group(1) and "Latest" in row.group(1)
    assert re.findall(r"<td>(\d+)</td>", row.group(1)) == ["1", "0"]  # one running case, none finished
    page = analyst.get(f"{PROCESS}/versions/1").get_data(as_text=True)
    assert 'data-counts="{&#34;register_household&#34;: 1}"' in page  # the case waits at registration
    xml = analyst.get(f"{PROCESS}/versions/1/files/{DIAGRAM}")
    assert xml.mimetype == "application/xml" and xml.get_data(as_text=True) == shipped_diagram()


@pytest.mark.parametrize("path", ["/processes/", f"{PROCESS}/versions/1", f"{PROCESS}/edit",
                                  f"{PROCESS}/versions/1/files/{DIAGRAM}"])
def test_only_analysts_see_processes(login_as: Callable[..., FlaskClient], path: str) -> None:
    for username in ("reception1", "supervisor1", "casemanager1", "admin"):  # administrators manage people
        assert login_as(username).get(path).status_code == 404
    assert login_as("analyst").get(path).status_code == 200


def test_checking_names_the_element_and_stores_nothing(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    broken = shipped_diagram().replace('name="formKey" value="eligibility_review"', 'name="formKey" value="nope"')
    answer = login_as("analyst").post(f"{PROCESS}/check", json={"file": DIAGRAM, "text": broken})
    assert answer.status_code == 422
    problems = answer.get_json()["problems"]
    assert any(p["element"] == "review_eligibility" and "nope" in p["message"] and p["file"] == DIAGRAM
               for p in problems), problems
    assert version_count(app) == 1


def test_a_broken_diagram_is_not_deployed_and_intake_goes_on(app: Flask, login_as: Callable[..., FlaskClient],
                                                             api: Callable[[str], Api]) -> None:
    broken = shipped_diagram().replace("<bpmn:outgoing>f_reg</bpmn:outgoing>",
                                       "<bpmn:outgoing>f_nowhere</bpmn:outgoing>")
    answer = login_as("analyst").post(f"{PROCESS}/deploy", json={"file": DIAGRAM, "text": broken})
    assert answer.status_code == 422 and answer.get_json()["ok"] is False
    assert version_count(app) == 1
    assert api("reception1").post("/cases", {"national_id": "123456782"}).status_code == 201


def test_a_deployment_from_the_browser_is_audited_and_new_cases_start_on_it(
        app: Flask, login_as: Callable[..., FlaskClient], api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    old_case = open_case(reception)
    renamed = shipped_diagram().replace('name="Register the household"', 'name="Record the household\'s request"')
    answer = login_as("analyst").post(f"{PROCESS}/deploy", json={"file": DIAGRAM, "text": renamed})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["version"] == {"version": 2, "url": f"{PROCESS}/versions/2"}
    new_case = open_case(reception)
    with app.app_context():
        session = db_session()
        versions = {case_id: session.scalar(select(ProcessVersion.version).join(
            ProcessInstance, ProcessInstance.process_version_id == ProcessVersion.id)
            .where(ProcessInstance.business_key == str(case_id))) for case_id in (old_case, new_case)}
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "process_deployed"))
        latest = session.scalar(select(ProcessVersion).where(ProcessVersion.version == 2))
        assert latest is not None and latest.origin == "browser" and latest.deployed_by_id == event.actor_id
    assert versions == {old_case: 1, new_case: 2}
    assert event is not None and event.details["version"] == 2
    html = login_as("analyst").get("/processes/").get_data(as_text=True)
    assert "The browser&#39;s editors" in html or "The browser's editors" in html
    # Deploying the same text again makes no third version.
    again = login_as("analyst").post(f"{PROCESS}/deploy", json={"file": DIAGRAM, "text": renamed})
    assert again.get_json()["created"] is False and version_count(app) == 2


def test_an_uploaded_diagram_is_checked_and_deployed(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    analyst = login_as("analyst")
    changed = shipped_diagram().replace('name="dueIn" value="P2D"', 'name="dueIn" value="P3D"').encode()
    answer = analyst.post(f"{PROCESS}/deploy", data={"upload": (io.BytesIO(changed), "case_management.bpmn")},
                          content_type="multipart/form-data")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"{PROCESS}/versions/2")
    hostile = analyst.post(f"{PROCESS}/deploy", data={"upload": (io.BytesIO(b"MZ\x90\x00"), "../../app.py")},
                           content_type="multipart/form-data")
    assert hostile.status_code == 302  # refused with a message, back to the editors
    assert "not a diagram" in analyst.get(hostile.headers["Location"]).get_data(as_text=True)
    assert version_count(app) == 2


def test_the_form_editor_previews_a_form_in_both_languages(login_as: Callable[..., FlaskClient]) -> None:
    analyst = login_as("analyst")
    text = (ROOT / "forms" / "plan_review.yaml").read_text(encoding="utf-8")
    english = analyst.post("/processes/forms/preview?lang=en", json={"text": text}).get_data(as_text=True)
    arabic = analyst.post("/processes/forms/preview?lang=ar", json={"text": text}).get_data(as_text=True)
    assert 'dir="ltr"' in english and 'dir="rtl"' in arabic
    assert "<h3>" in english and english != arabic
    broken = analyst.post("/processes/forms/preview?lang=en", json={"text": "fields: [ {"})
    assert broken.status_code == 200 and 'role="alert"' in broken.get_data(as_text=True)


def test_the_case_page_draws_the_case_path(login_as: Callable[..., FlaskClient], api: Callable[[str], Api]) -> None:
    case_id = open_case(api("reception1"))
    reception = login_as("reception1")
    html = reception.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="case-diagram"' in html
    assert 'data-current="[&#34;register_household&#34;]"' in html
    assert reception.get(f"/cases/{case_id}/diagram").get_data(as_text=True) == shipped_diagram()
    assert login_as("reception2").get(f"/cases/{case_id}/diagram").status_code == 404


def test_running_cases_move_to_a_newer_version_after_a_dry_run(app: Flask, login_as: Callable[..., FlaskClient],
                                                               api: Callable[[str], Api]) -> None:
    case_id = open_case(api("reception1"))
    analyst = login_as("analyst")
    renamed = shipped_diagram().replace('name="Register the household"', 'name="Record the household\'s request"')
    assert analyst.post(f"{PROCESS}/deploy", json={"file": DIAGRAM, "text": renamed}).status_code == 200
    version_2 = analyst.get(f"{PROCESS}/versions/2").get_data(as_text=True)
    assert "register_household" in version_2 and "Elements changed" in version_2  # the comparison with version 1

    dry_run = analyst.post(f"{PROCESS}/versions/1/migrate", data={"to": "2", "action": "plan"})
    assert "Dry run: 1 can move, 0 cannot; nothing has changed." in dry_run.get_data(as_text=True)
    with app.app_context():
        assert db_session().scalar(select(ProcessVersion.version).join(
            ProcessInstance, ProcessInstance.process_version_id == ProcessVersion.id)
            .where(ProcessInstance.business_key == str(case_id))) == 1

    moved = analyst.post(f"{PROCESS}/versions/1/migrate", data={"to": "2", "action": "apply"})
    assert "1 moved, 0 could not move." in moved.get_data(as_text=True)
    history = login_as("reception1").get(f"/cases/{case_id}?tab=history").get_data(as_text=True)
    assert "Moved to a newer process version" in history
    wrong = analyst.post(f"{PROCESS}/versions/2/migrate", data={"to": "1", "action": "plan"})
    assert wrong.status_code == 200 and "This is the latest version." in wrong.get_data(as_text=True)
