"""Moving running cases to a newer version: what SpiffWorkflow's diff and migrate do with our state and task index.

Version 2 is made the way an analyst would: by editing the process and form files only. It inserts a
supervisor's quality check between the assistance plan and its review, and drops the "attach documents"
step (a document request now goes straight back to the supervisor).
"""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.library import Library, deploy
from engine.migration import Blocked, MigrationRefused, MigrationTargetInvalid, migrate_instances, plan_migration
from engine.models import ProcessInstance, ProcessVersion, TaskRecord, TaskState
from engine.versions_diff import version_differences
from registry import cases
from registry.models import Case, User
from registry.seed import advance
from tests.conftest import Clock
from tests.factories import PLAN, pdf_document, registration
from webui.db import db_session, document_storage

DATA = Path(__file__).resolve().parent.parent / "data" / "migration"
ROOT = Path(__file__).resolve().parents[2]

RECOMMEND = {"decision": "recommend_eligible", "recommendation_notes": "Deprived."}
#: What a case waiting for documents waits at, which version two removes: the task and its deadline timers.
STUCK_AT = ["attach_documents", "attach_documents_missed", "attach_documents_reminder"]
REQUEST_DOCUMENTS = {"decision": "request_documents", "missing_documents": ["income_proof"],
                     "review_comments": "Proof of income, please."}
VISIT = {"visit_date": "2026-11-03", "needs_areas": ["health"], "needs_description": "Treatment.",
         "household_resources": "The mother sews.", "risk_level": "medium", "another_visit_needed": False}
FOLLOW = {"visit_date": "2026-12-01", "progress": "on_track", "follow_up_notes": "Paid.", "more_follow_up": False}
CLOSE = {"goals_achieved": "fully", "decision": "close", "evaluation_notes": "Goals met."}

QUALITY_CHECK = """    <bpmn:userTask id="quality_check" name="Check the quality of the plan">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formKey" value="quality_check" />
          <spiffworkflow:property name="stage" value="planning" />
          <spiffworkflow:property name="dueIn" value="P1D" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f_plan</bpmn:incoming>
      <bpmn:outgoing>f_quality</bpmn:outgoing>
    </bpmn:userTask>
"""


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def edit_to_version_two(library: Library) -> None:
    """Insert ``quality_check`` (supervisor, own form, with layout) and remove ``attach_documents``."""
    bpmn = library.processes_dir / "case_management.bpmn"
    text = bpmn.read_text(encoding="utf-8")
    text = _replace(text, "<bpmn:flowNodeRef>extend_period</bpmn:flowNodeRef>",
                    "<bpmn:flowNodeRef>extend_period</bpmn:flowNodeRef>\n"
                    "        <bpmn:flowNodeRef>quality_check</bpmn:flowNodeRef>")
    text = _replace(text, '    <bpmn:userTask id="review_plan"', QUALITY_CHECK + '    <bpmn:userTask id="review_plan"')
    text = _replace(text, "<bpmn:incoming>f_plan</bpmn:incoming>\n      <bpmn:outgoing>f_plan_review",
                    "<bpmn:incoming>f_quality</bpmn:incoming>\n      <bpmn:outgoing>f_plan_review")
    text = _replace(text, 'id="f_plan" sourceRef="assistance_plan" targetRef="review_plan" />',
                    'id="f_plan" sourceRef="assistance_plan" targetRef="quality_check" />\n'
                    '    <bpmn:sequenceFlow id="f_quality" sourceRef="quality_check" targetRef="review_plan" />')
    text = _replace(text, '<bpmndi:BPMNShape id="review_plan_di"',
                    '<bpmndi:BPMNShape id="quality_check_di" bpmnElement="quality_check">'
                    '<dc:Bounds x="2270" y="290" width="120" height="80" /></bpmndi:BPMNShape>\n'
                    '      <bpmndi:BPMNShape id="review_plan_di"')
    text = re.sub(r'<bpmndi:BPMNEdge id="f_plan_di".*?</bpmndi:BPMNEdge>',
                  '<bpmndi:BPMNEdge id="f_plan_di" bpmnElement="f_plan"><di:waypoint x="2330" y="610" />'
                  '<di:waypoint x="2330" y="370" /></bpmndi:BPMNEdge>\n'
                  '      <bpmndi:BPMNEdge id="f_quality_di" bpmnElement="f_quality"><di:waypoint x="2390" y="330" />'
                  '<di:waypoint x="2405" y="330" /><di:waypoint x="2405" y="390" /><di:waypoint x="2420" y="390" />'
                  '</bpmndi:BPMNEdge>', text)
    # A walk-in's document request goes straight back to the supervisor (with its deadline timers).
    for element in ("attach_documents", "attach_documents_reminder", "attach_documents_missed"):
        text = _replace(text, f"        <bpmn:flowNodeRef>{element}</bpmn:flowNodeRef>\n", "")
    text = re.sub(r'    <bpmn:userTask id="attach_documents".*?</bpmn:userTask>\n', "", text, flags=re.S)
    text = re.sub(r'    <bpmn:boundaryEvent id="attach_documents_.*?</bpmn:boundaryEvent>\n', "", text, flags=re.S)
    text = _replace(text, "<bpmn:incoming>f_docs_back</bpmn:incoming>",
                    "<bpmn:incoming>f_docs_walk_in</bpmn:incoming>")
    text = _replace(text, 'sourceRef="gw_documents_channel" targetRef="attach_documents"',
                    'sourceRef="gw_documents_channel" targetRef="merge_review"')
    for flow in ("f_attach_remind", "f_attach_missed"):
        text = _replace(text, f"      <bpmn:incoming>{flow}</bpmn:incoming>\n", "")
    for flow in ("f_docs_back", "f_attach_remind", "f_attach_missed"):
        text = re.sub(rf'    <bpmn:sequenceFlow id="{flow}" [^\n]*\n', "", text)
        text = re.sub(rf'      <bpmndi:BPMNEdge id="{flow}_di"[^\n]*\n', "", text)
    text = re.sub(r'      <bpmndi:BPMNShape id="attach_documents[a-z_]*_di"[^\n]*\n', "", text)
    assert "attach_documents" not in text
    bpmn.write_text(text, encoding="utf-8")
    vocabulary = library.processes_dir / "vocabulary.yaml"
    words = vocabulary.read_text(encoding="utf-8")
    vocabulary.write_text(re.sub(r"\n  attach_documents: [^\n]*", "", words), encoding="utf-8")
    shutil.copy(DATA / "quality_check.yaml", library.forms_dir / "quality_check.yaml")


def user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def open_case(session: Session, library: Library, clock: Clock) -> Case:
    return cases.start_registration(session, actor=user(session, "reception1"), library=library, now=clock())


def step(session: Session, library: Library, clock: Clock, case: Case, username: str, data: dict[str, Any]) -> None:
    advance(session, library=library, case_id=case.id, username=username, data=data, now=clock())


def waiting_at(session: Session, case: Case) -> list[str]:
    return sorted(session.scalars(select(TaskRecord.spec_id).where(
        TaskRecord.business_key == str(case.id), TaskRecord.state == TaskState.READY.value)))


def to_needs_assessment(session: Session, library: Library, clock: Clock, case: Case) -> None:
    step(session, library, clock, case, "reception1", registration())
    step(session, library, clock, case, "reception1", RECOMMEND)
    step(session, library, clock, case, "supervisor1", {"decision": "approve"})


def to_attach_documents(session: Session, library: Library, clock: Clock, case: Case) -> None:
    step(session, library, clock, case, "reception1", registration())
    step(session, library, clock, case, "reception1", RECOMMEND)
    step(session, library, clock, case, "supervisor1", REQUEST_DOCUMENTS)


def finish_from_needs_assessment(session: Session, library: Library, clock: Clock, case: Case) -> list[str]:
    """Complete the case on version 2's path; returns the steps it went through."""
    seen = []
    for username, data in (("casemanager1", VISIT), ("casemanager1", PLAN),
                           ("supervisor1", {"quality": "meets_standard"}), ("supervisor1", {"decision": "approve"}),
                           ("casemanager1", FOLLOW), ("casemanager1", CLOSE)):
        seen += waiting_at(session, case)
        step(session, library, clock, case, username, data)
    return seen


def versions(session: Session, library: Library) -> tuple[ProcessVersion, ProcessVersion]:
    first = session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == "case_management")
                            .order_by(ProcessVersion.version)).first()
    assert first is not None
    edit_to_version_two(library)
    second = deploy(session, library, "case_management")
    session.commit()
    assert second.version == first.version + 1
    return first, second


def test_a_dry_run_says_which_cases_would_move_and_why_others_cannot_and_changes_nothing(
        app: Flask, clock: Clock, editable_library: Library) -> None:
    library = editable_library
    with app.app_context():
        session = db_session()
        deploy(session, library, "case_management")
        session.commit()
        at_assessment, at_documents, rejected = (open_case(session, library, clock) for _ in range(3))
        to_needs_assessment(session, library, clock, at_assessment)
        to_attach_documents(session, library, clock, at_documents)
        step(session, library, clock, rejected, "reception1", registration(monthly_income=9000))
        step(session, library, clock, rejected, "reception1", RECOMMEND)
        step(session, library, clock, rejected, "supervisor1", {"decision": "reject", "rejection_reason": "Income."})
        first, second = versions(session, library)
        ids = [c.instance_id for c in (at_assessment, at_documents, rejected)]
        assert all(i is not None for i in ids)
        before = {i: (p.state, p.process_version_id, p.lock_version)
                  for i in ids for p in [session.get(ProcessInstance, i)] if p is not None}

        plan = plan_migration(session, target=second, instance_ids=[i for i in ids if i is not None])

        by_key = {p.business_key: p for p in plan.instances}
        movable = by_key[str(at_assessment.id)]
        assert movable.movable and (movable.from_version, movable.to_version) == (first.version, second.version)
        assert [w.spec_id for w in movable.waiting_before] == ["needs_assessment_visit"]
        assert [w.id for w in movable.waiting_after] == [w.id for w in movable.waiting_before]
        stuck = by_key[str(at_documents.id)]
        assert (stuck.blocked, stuck.elements) == (Blocked.WAITING_TASK_REMOVED, STUCK_AT)
        assert by_key[str(rejected.id)].blocked == Blocked.COMPLETED
        assert not session.new and not session.dirty
        session.commit()
        session.expire_all()
        after = {i: (p.state, p.process_version_id, p.lock_version)
                 for i in ids for p in [session.get(ProcessInstance, i)] if p is not None}
        assert after == before


def test_a_migrated_case_reaches_the_new_step_and_finishes_while_an_unmoved_one_keeps_its_path(
        app: Flask, clock: Clock, editable_library: Library) -> None:
    library = editable_library
    with app.app_context():
        session = db_session()
        deploy(session, library, "case_management")
        session.commit()
        moved, kept = open_case(session, library, clock), open_case(session, library, clock)
        for case in (moved, kept):
            to_needs_assessment(session, library, clock, case)
        waiting_row = session.scalars(select(TaskRecord).where(TaskRecord.business_key == str(moved.id),
                                                               TaskRecord.state == TaskState.READY.value)).one()
        row_before = (waiting_row.id, waiting_row.assignee_id, waiting_row.due_at)
        _first, second = versions(session, library)
        assert moved.instance_id is not None

        plan = migrate_instances(session, target=second, instance_ids=[moved.instance_id], now=clock())
        session.commit()

        assert [p.business_key for p in plan.movable] == [str(moved.id)]
        instance = session.get(ProcessInstance, moved.instance_id)
        assert instance is not None and instance.process_version_id == second.id
        session.refresh(waiting_row)
        assert (waiting_row.id, waiting_row.assignee_id, waiting_row.due_at) == row_before  # same task, same row
        assert waiting_row.state == TaskState.READY.value

        path = finish_from_needs_assessment(session, library, clock, moved)
        assert path == ["needs_assessment_visit", "assistance_plan", "quality_check", "review_plan",
                        "follow_up_visit", "outcome_evaluation"]
        session.refresh(instance)
        assert instance.status == "completed"
        # The case left on version 1 goes from its plan straight to the review, as before.
        step(session, library, clock, kept, "casemanager1", VISIT)
        step(session, library, clock, kept, "casemanager1", PLAN)
        assert waiting_at(session, kept) == ["review_plan"]


def test_the_quality_check_waits_in_the_supervisors_inbox_after_the_move(
        app: Flask, clock: Clock, editable_library: Library) -> None:
    library = editable_library
    with app.app_context():
        session = db_session()
        deploy(session, library, "case_management")
        session.commit()
        case = open_case(session, library, clock)
        to_needs_assessment(session, library, clock, case)
        _first, second = versions(session, library)
        assert case.instance_id is not None
        migrate_instances(session, target=second, instance_ids=[case.instance_id], now=clock())
        session.commit()
        step(session, library, clock, case, "casemanager1", VISIT)
        step(session, library, clock, case, "casemanager1", PLAN)

        inbox = cases.inbox(session, actor=user(session, "supervisor1"))
        rows = [r.task for r in inbox.open_for_role if r.case.id == case.id]
        assert [(r.spec_id, r.title, r.form_key, r.lane) for r in rows] == \
            [("quality_check", "Check the quality of the plan", "quality_check", "supervisor")]


def test_one_case_that_cannot_move_stops_the_whole_migration(
        app: Flask, clock: Clock, editable_library: Library) -> None:
    library = editable_library
    with app.app_context():
        session = db_session()
        deploy(session, library, "case_management")
        session.commit()
        movable, stuck = open_case(session, library, clock), open_case(session, library, clock)
        to_needs_assessment(session, library, clock, movable)
        to_attach_documents(session, library, clock, stuck)
        first, second = versions(session, library)
        ids = [c.instance_id for c in (movable, stuck) if c.instance_id is not None]

        with pytest.raises(MigrationRefused) as refused:
            migrate_instances(session, target=second, instance_ids=ids, now=clock())
        session.rollback()

        assert [(p.business_key, p.blocked, p.elements) for p in refused.value.plan.blocked] == \
            [(str(stuck.id), Blocked.WAITING_TASK_REMOVED, STUCK_AT)]
        assert {session.get(ProcessInstance, i).process_version_id for i in ids} == {first.id}  # type: ignore[union-attr]


def test_a_waiting_task_whose_definition_changed_gets_its_new_title_lane_form_and_due_date(
        app: Flask, clock: Clock, editable_library: Library) -> None:
    library = editable_library
    with app.app_context():
        session = db_session()
        deploy(session, library, "case_management")
        session.commit()
        case = open_case(session, library, clock)
        to_needs_assessment(session, library, clock, case)
        row = session.scalars(select(TaskRecord).where(TaskRecord.business_key == str(case.id),
                                                       TaskRecord.state == TaskState.READY.value)).one()
        created = row.created_at
        bpmn = library.processes_dir / "case_management.bpmn"
        text = bpmn.read_text(encoding="utf-8")
        text = _replace(text, 'name="Needs assessment field visit"', 'name="First home visit"')
        text = text.replace('<spiffworkflow:property name="formKey" value="needs_assessment" />\n'
                            '          <spiffworkflow:property name="stage" value="assessment" />\n'
                            '          <spiffworkflow:property name="dueIn" value="P7D" />',
                            '<spiffworkflow:property name="formKey" value="needs_assessment" />\n'
                            '          <spiffworkflow:property name="stage" value="assessment" />\n'
                            '          <spiffworkflow:property name="dueIn" value="P3D" />')
        bpmn.write_text(text, encoding="utf-8")
        second = deploy(session, library, "case_management")
        session.commit()
        assert case.instance_id is not None

        plan = plan_migration(session, target=second, instance_ids=[case.instance_id])
        assert plan.instances[0].changes == {"needs_assessment_visit": ["name", "property:dueIn"]}
        migrate_instances(session, target=second, instance_ids=[case.instance_id], now=clock())
        session.commit()

        session.refresh(row)
        assert (row.title, row.state, row.lane) == ("First home visit", TaskState.READY.value, "case_manager")
        assert row.due_at is not None and (row.due_at - created).days == 3


def test_a_target_that_is_not_newer_is_refused(app: Flask, clock: Clock, editable_library: Library) -> None:
    library = editable_library
    with app.app_context():
        session = db_session()
        deploy(session, library, "case_management")
        session.commit()
        case = open_case(session, library, clock)
        first, second = versions(session, library)
        with pytest.raises(MigrationTargetInvalid):
            plan_migration(session, target=first, from_version=second)
        assert case.instance_id is not None
        plan = plan_migration(session, target=first, instance_ids=[case.instance_id])
        assert plan.instances[0].blocked == Blocked.ALREADY_ON_TARGET


def test_the_deployment_diff_names_the_added_removed_and_changed_elements_and_forms(
        app: Flask, editable_library: Library) -> None:
    library = editable_library
    with app.app_context():
        session = db_session()
        deploy(session, library, "case_management")
        form = library.forms_dir / "plan_review.yaml"
        form.write_text(form.read_text(encoding="utf-8").replace("required_if", "show_if"), encoding="utf-8")
        first, second = versions(session, library)

        diff = version_differences(first, second)

        assert (diff["from_version"], diff["to_version"]) == (first.version, second.version)
        assert [(e["id"], e["type"], e["lane"]) for e in diff["elements"]["added"]] == \
            [("quality_check", "userTask", "supervisor")]
        assert {(e["id"], e["name"]) for e in diff["elements"]["removed"]} == {
            ("attach_documents", "Attach the requested documents"),
            ("attach_documents_reminder", "Household's deadline"),
            ("attach_documents_missed", "Deadline and grace period passed")}
        changed = {e["id"]: {c["what"]: (c["before"], c["after"]) for c in e["changes"]}
                   for e in diff["elements"]["changed"]}
        assert changed["assistance_plan"] == {"outgoing": (["review_plan"], ["quality_check"])}
        assert changed["review_plan"] == {"incoming": (["assistance_plan"], ["quality_check"])}
        assert changed["gw_documents_channel"]["outgoing"][0] == ["attach_documents", "upload_documents"]
        assert changed["gw_documents_channel"]["outgoing"][1] == ["merge_review", "upload_documents"]
        assert diff["forms"]["added"] == ["quality_check"]
        assert diff["forms"]["changed"] == [{"form": "plan_review", "settings": [], "fields": {
            "added": [], "removed": [], "changed": [{"name": "plan_comments", "what": ["required_if", "show_if"]}]}}]
        assert diff["rules"] == {"added": [], "removed": [], "changed": []}
        # Every entry of the vocabulary that named the removed task (its name, and the household's words for it).
        named = sum(1 for line in (ROOT / "processes" / "vocabulary.yaml").read_text(encoding="utf-8").splitlines()
                    if line.startswith("  attach_documents:"))
        assert diff["other"]["changed"] == [{"file": "processes/vocabulary.yaml", "lines_added": 0,
                                             "lines_removed": named}]
        initial = version_differences(None, first)  # the first version: everything is new
        assert initial["from_version"] is None and initial["counts"]["elements_removed"] == 0
        assert {"register_household", "attach_documents"} <= {e["id"] for e in initial["elements"]["added"]}


def test_a_case_that_went_through_the_removed_step_earlier_can_still_move(
        app: Flask, clock: Clock, editable_library: Library) -> None:
    library = editable_library
    with app.app_context():
        session = db_session()
        deploy(session, library, "case_management")
        session.commit()
        case = open_case(session, library, clock)
        to_attach_documents(session, library, clock, case)
        reception = user(session, "reception1")
        task = next(r.task for r in cases.inbox(session, actor=reception).open_for_role if r.case.id == case.id)
        assert task.spec_id == "attach_documents"
        pdf = base64.b64encode(pdf_document("proof of income")).decode()
        cases.complete_task(session, actor=reception, library=library, task_id=task.id, now=clock(),
                            data={"documents": [{"name": "income.pdf", "content_base64": pdf}]},
                            storage=document_storage())
        assert waiting_at(session, case) == ["review_eligibility"]
        _first, second = versions(session, library)
        assert case.instance_id is not None

        plan = migrate_instances(session, target=second, instance_ids=[case.instance_id], now=clock())
        session.commit()

        assert plan.instances[0].movable
        step(session, library, clock, case, "supervisor1", REQUEST_DOCUMENTS)
        assert waiting_at(session, case) == ["review_eligibility"]  # version 2 asks without the attach step
