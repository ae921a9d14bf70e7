"""What a process analyst changes by editing files under processes/, forms/ and rules/ only, then deploying.

Each test edits a copy of the shipped files (no Python changes), deploys it with `processes deploy`, and
checks what staff see: new cases take the change, running cases stay on their version, a broken file is
refused with its element named while intake goes on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.library import Library
from engine.models import ProcessVersion, TaskRecord
from tests.conftest import Api
from tests.engine.test_migration import edit_to_version_two
from tests.factories import PLAN
from tests.webui.test_case_paths import complete, open_case, register_and_recommend, task_of
from webui.db import db_session

VISIT = {"visit_date": "2026-11-03", "needs_areas": ["health"], "needs_description": "Treatment.",
         "household_resources": "The mother sews.", "risk_level": "high", "another_visit_needed": False}


@pytest.fixture
def workspace(app: Flask, editable_library: Library) -> Library:
    """The app reads its process, form and rule files from a copy the test edits."""
    app.config.update(PROCESSES_DIR=str(editable_library.processes_dir), FORMS_DIR=str(editable_library.forms_dir),
                      RULES_DIR=str(editable_library.rules_dir))
    return editable_library


def edit(path: Any, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def deploy(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["processes", "deploy"])
    return result.exit_code, result.output


def versions(app: Flask) -> int:
    with app.app_context():
        return int(db_session().scalar(select(func.count(ProcessVersion.id))
                                       .where(ProcessVersion.process_id == "case_management")) or 0)


def approve(supervisor: Api, case_id: int) -> None:
    fields = supervisor.get(f"/tasks/{task_of(supervisor, case_id)['id']}").get_json()["fields"]
    manager = next(f for f in fields if f["name"] == "case_manager")["choices"][0]["value"]
    complete(supervisor, case_id, {"decision": "approve", "case_manager": manager}, expect_form="eligibility_review")


def test_a_changed_condition_routes_new_cases_differently(app: Flask, workspace: Library,
                                                          api: Callable[[str], Api]) -> None:
    reception, supervisor, manager = api("reception1"), api("supervisor1"), api("casemanager1")
    old_case = register_and_recommend(reception)
    edit(workspace.processes_dir / "case_management.bpmn", ">another_visit_needed == True<",
         '>another_visit_needed == True or risk_level == "high"<')
    assert deploy(app)[0] == 0
    new_case = register_and_recommend(reception)
    for case_id in (old_case, new_case):
        approve(supervisor, case_id)
        complete(manager, case_id, VISIT, expect_form="needs_assessment")
    # A high risk now calls for another visit; the case opened before the change goes on to the plan.
    assert task_of(manager, old_case)["form_key"] == "assistance_plan"
    assert task_of(manager, new_case)["form_key"] == "needs_assessment"


def test_a_new_form_field_is_rendered_validated_and_stored(app: Flask, workspace: Library,
                                                           api: Callable[[str], Api],
                                                           login_as: Callable[..., FlaskClient]) -> None:
    edit(workspace.forms_dir / "eligibility_recommendation.yaml", "fields:\n", """fields:
  - name: interview_place
    type: choice
    required: true
    label: {en: "Where the household was interviewed", ar: "مكان مقابلة الأسرة"}
    choices:
      - {value: home, label: {en: "At home", ar: "في المنزل"}}
      - {value: office, label: {en: "At the directorate", ar: "في المديرية"}}
""")
    assert deploy(app)[0] == 0
    reception = api("reception1")
    case_id = open_case(reception)
    from tests.factories import registration

    complete(reception, case_id, registration(), expect_form="registration")
    task = task_of(reception, case_id)
    page = login_as("reception1", "ar").get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "مكان مقابلة الأسرة" in page and "في المديرية" in page
    decision = {"decision": "recommend_eligible", "recommendation_notes": "Deprived."}
    refused = reception.post(f"/tasks/{task['id']}/complete", {"data": decision})
    assert refused.status_code == 422 and "interview_place" in refused.get_json()["errors"]
    wrong = reception.post(f"/tasks/{task['id']}/complete", {"data": {**decision, "interview_place": "street"}})
    assert wrong.status_code == 422
    done = reception.post(f"/tasks/{task['id']}/complete", {"data": {**decision, "interview_place": "home"}})
    assert done.status_code == 200, done.get_json()
    with app.app_context():
        record = db_session().get(TaskRecord, task["id"])
        assert record is not None and record.data is not None and record.data["interview_place"] == "home"


def test_a_new_step_reaches_the_supervisors_for_new_cases_only(app: Flask, workspace: Library,
                                                               api: Callable[[str], Api]) -> None:
    reception, supervisor, manager = api("reception1"), api("supervisor1"), api("casemanager1")
    old_case = register_and_recommend(reception)
    edit_to_version_two(workspace)
    code, output = deploy(app)
    assert code == 0 and "deployed version 2" in output
    new_case = register_and_recommend(reception)
    for case_id in (old_case, new_case):
        approve(supervisor, case_id)
        complete(manager, case_id, {**VISIT, "risk_level": "medium"}, expect_form="needs_assessment")
        complete(manager, case_id, PLAN, expect_form="assistance_plan")
    assert task_of(supervisor, old_case)["form_key"] == "plan_review"
    assert task_of(supervisor, new_case)["form_key"] == "quality_check"


BREAKAGES = {
    "unknown form": ('name="formKey" value="plan_review"', 'name="formKey" value="plan_reveiw"', "review_plan"),
    "unsafe expression": ('>decision == "reject"<', '>__import__("os").system("id") == 0<', "gw_review"),
    "dangling flow": ('targetRef="close_rejected"', 'targetRef="close_rejectd"', "f_reject"),
    "flow from a missing element": ('sourceRef="gw_plan" targetRef="merge_plan"', 'sourceRef="gw_plna" '
                                    'targetRef="merge_plan"', "f_plan_revise"),
    "missing layout": ('<bpmndi:BPMNShape id="review_plan_di"', '<bpmndi:BPMNShape id="review_plan_di" '
                       'bpmnElement="nothing_here" data-x="', "review_plan"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_diagram_is_refused_and_cases_go_on(app: Flask, workspace: Library, api: Callable[[str], Api],
                                                      login_as: Callable[..., FlaskClient], breakage: str) -> None:
    old, new, element = BREAKAGES[breakage]
    reception = api("reception1")
    running = open_case(reception)
    path = workspace.processes_dir / "case_management.bpmn"
    text = path.read_text(encoding="utf-8")
    if breakage == "missing layout":  # the task's shape now draws nothing: the task has no layout
        text = re.sub(r'<bpmndi:BPMNShape id="review_plan_di" bpmnElement="review_plan"',
                      '<bpmndi:BPMNShape id="review_plan_di" bpmnElement="nothing_here"', text)
    else:
        assert text.count(old) == 1
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")

    code, output = deploy(app)
    assert code == 1 and "not deployed" in output
    assert re.search(rf"\b{element}\b", output), output  # the element is named
    assert versions(app) == 1
    catalogue = login_as("analyst").get("/processes/").get_data(as_text=True)
    assert 'data-testid="disk-problems"' in catalogue and element in catalogue
    # Intake and running cases go on with the last good version.
    from tests.factories import registration

    complete(reception, running, registration(), expect_form="registration")
    assert task_of(reception, open_case(reception))["form_key"] == "registration"


def test_the_case_page_lists_what_each_form_recorded_unless_the_form_says_not_to(
        app: Flask, workspace: Library, api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    reception = api("reception1")
    shown = register_and_recommend(reception)
    assert "Deprived." in login_as("reception1").get(f"/cases/{shown}?tab=records").get_data(as_text=True)  # the notes
    edit(workspace.forms_dir / "eligibility_recommendation.yaml", "fields:\n", "case_page: false\nfields:\n")
    assert deploy(app)[0] == 0
    assert "Deprived." not in login_as("reception1").get(f"/cases/{shown}?tab=records").get_data(as_text=True)


def test_the_server_starts_with_broken_files_and_says_so(editable_library: Library, database_url: str,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    from app import create_app

    edit(editable_library.processes_dir / "case_management.bpmn", 'targetRef="close_rejected"',
         'targetRef="close_rejectd"')
    with caplog.at_level("WARNING"):
        server = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "DEMO_MODE": True,
                             "PROCESSES_DIR": str(editable_library.processes_dir),
                             "FORMS_DIR": str(editable_library.forms_dir),
                             "RULES_DIR": str(editable_library.rules_dir)})
    assert server.url_map is not None  # it started
    assert "cannot be deployed" in caplog.text and "close_rejectd" in caplog.text
