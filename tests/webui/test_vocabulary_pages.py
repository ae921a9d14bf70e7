"""The process's words come from its files: a new stage or case field needs no Python, in either language."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from engine.library import Library, deploy
from tests.conftest import Api
from tests.factories import PLAN
from tests.webui.test_case_paths import complete, register_and_recommend, task_of
from webui.db import db_session


def use_files(app: Flask, library: Library) -> None:
    """Serve the library's files and deploy them, as an analyst's deployment would."""
    app.config.update(PROCESSES_DIR=str(library.processes_dir), FORMS_DIR=str(library.forms_dir),
                      RULES_DIR=str(library.rules_dir))
    with app.app_context():
        session = db_session()
        deploy(session, library, "case_management")
        session.commit()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_new_stage_shows_with_its_names_on_the_inbox_and_the_case_page(
        app: Flask, editable_library: Library, api: Callable[[str], Api],
        login_as: Callable[..., FlaskClient]) -> None:
    library = editable_library
    # The reception's registration task (the online start's tasks keep their stage).
    edit(library.processes_dir / "case_management.bpmn",
         '<spiffworkflow:property name="formKey" value="registration" />\n'
         '          <spiffworkflow:property name="stage" value="registration" />\n'
         '          <spiffworkflow:property name="dueIn" value="P2D" />\n'
         '          <spiffworkflow:property name="assignee" value="initiator" />',
         '<spiffworkflow:property name="formKey" value="registration" />\n'
         '          <spiffworkflow:property name="stage" value="intake" />\n'
         '          <spiffworkflow:property name="dueIn" value="P2D" />\n'
         '          <spiffworkflow:property name="assignee" value="initiator" />')
    edit(library.processes_dir / "vocabulary.yaml", "stages:\n",
         'stages:\n  intake: {en: "Intake interview", ar: "مقابلة الاستقبال"}\n')
    use_files(app, library)

    reception = api("reception1")
    case_id = int(reception.post("/cases", {}).get_json()["case_id"])
    assert task_of(reception, case_id)["stage"] == "intake"
    for lang, name in (("en", "Intake interview"), ("ar", "مقابلة الاستقبال")):
        browser = login_as("reception1", lang)
        assert name in browser.get("/").get_data(as_text=True)
        case_page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
        assert f'data-testid="case-stage">{name}<' in case_page


def test_a_new_case_date_set_by_a_task_shows_on_the_case_page(
        app: Flask, editable_library: Library, api: Callable[[str], Api],
        login_as: Callable[..., FlaskClient]) -> None:
    library = editable_library
    edit(library.forms_dir / "plan_review.yaml", "  - name: plan_comments\n",
         '  - name: review_by\n    type: date\n    label: {en: "Review again by", ar: "المراجعة التالية قبل"}\n'
         "  - name: plan_comments\n")
    edit(library.processes_dir / "vocabulary.yaml", "case_fields:\n",
         'case_fields:\n  review_by:\n    type: date\n    label: {en: "Next review", ar: "المراجعة القادمة"}\n')
    use_files(app, library)

    reception, supervisor, manager = api("reception1"), api("supervisor1"), api("casemanager1")
    case_id = register_and_recommend(reception)
    complete(supervisor, case_id, {"decision": "approve"}, expect_form="eligibility_review")
    complete(manager, case_id, {"visit_date": "2026-11-03", "needs_areas": ["health"], "needs_description": "Care.",
                                "household_resources": "None.", "risk_level": "medium",
                                "another_visit_needed": False}, expect_form="needs_assessment")
    complete(manager, case_id, PLAN, expect_form="assistance_plan")
    before = login_as("supervisor1", "en").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Next review" not in before  # a case field shows once a task sets it
    complete(supervisor, case_id, {"decision": "approve", "review_by": "2027-01-15"}, expect_form="plan_review")

    assert reception.get(f"/cases/{case_id}").get_json()["case_fields"]["review_by"] == "2027-01-15"
    for lang, name in (("en", "Next review"), ("ar", "المراجعة القادمة")):
        page = login_as("supervisor1", lang).get(f"/cases/{case_id}").get_data(as_text=True)
        assert f"<dt>{name}</dt>" in page
        assert "2027-01-15" in page.split('data-testid="case-field-review_by"', 1)[1][:80]
        # The plan's end date, declared the same way, shows beside it.
        assert 'data-testid="case-field-plan_end_date"' in page


def test_pages_name_a_stage_as_the_latest_deployment_does_from_the_next_request_on(
        app: Flask, editable_library: Library, api: Callable[[str], Api],
        login_as: Callable[..., FlaskClient]) -> None:
    """Labels are kept per deployed version: a new deployment is seen at once, never an older version's words."""
    library = editable_library
    use_files(app, library)
    reception = api("reception1")
    case_id = int(reception.post("/cases", {}).get_json()["case_id"])
    browser = login_as("reception1")
    assert 'data-testid="case-stage">Registration<' in browser.get(f"/cases/{case_id}").get_data(as_text=True)
    edit(library.processes_dir / "vocabulary.yaml", 'registration: {en: "Registration"',
         'registration: {en: "Intake registration"')
    use_files(app, library)
    assert 'data-testid="case-stage">Intake registration<' in browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Intake registration" in browser.get("/").get_data(as_text=True)
