"""The vocabulary file: read, checked against the diagrams and forms, and its words picked per language."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from engine.errors import ProcessInvalid
from engine.library import Library, check_library, deploy
from engine.vocabulary import Vocabulary, VocabularyInvalid, load_vocabulary, parse_vocabulary
from registry.checks import check_all
from webui.db import db_session

BPMN = "case_management.bpmn"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_vocabulary_names_every_stage_in_both_languages() -> None:
    words = load_vocabulary(Path(__file__).resolve().parents[2] / "processes")
    assert words.label("stage", "planning", "ar") == "تخطيط المساعدة"
    assert words.label("stage", "planning", "en") == "Assistance planning"
    assert words.label("action", "case_migrated", "en") == "Moved to a newer process version"
    assert words.lane_roles == {"reception", "supervisor", "case_manager", "citizen", "complaints_handler",
                                "complaints_unit", "partner"}
    assert [f.name for f in words.case_fields] == ["plan_end_date", "documents_deadline_missed"]


def test_a_word_falls_back_to_english_then_to_its_key() -> None:
    words = Vocabulary(labels={"stages": {"intake": {"en": "Intake"}}})
    assert words.label("stage", "intake", "ar") == "Intake"
    assert words.label("stage", "unheard_of", "ar") == "unheard_of"


@pytest.mark.parametrize(("text", "problem"), [
    (b"stages:\n  intake: {en: Intake}\n", "stages.intake: needs ar text"),
    (b"stage:\n  intake: {en: Intake, ar: x}\n", "unknown key 'stage'"),
    (b"stages:\n  intake: {en: Intake, ar: x, fr: y}\n", "stages.intake: unknown key 'fr'"),
    (b"case_fields:\n  review_by: {type: when, label: {en: A, ar: B}}\n", "type must be one of date, text, number"),
    (b"case_fields:\n  review_by: {type: date, label: {en: A}}\n", "case_fields.review_by.label: needs ar text"),
    (b"roles:\n  clerk: {en: Clerk, ar: x, lane: maybe}\n", "lane must be true or false"),
    (b"- a list\n", "named sections"),
])
def test_a_malformed_vocabulary_is_refused_saying_where(text: bytes, problem: str) -> None:
    with pytest.raises(VocabularyInvalid) as refused:
        parse_vocabulary(text)
    assert any(problem in p for p in refused.value.problems), refused.value.problems


def test_a_task_stage_missing_from_the_vocabulary_is_refused_naming_the_element(editable_library: Library) -> None:
    edit(editable_library.processes_dir / BPMN, '<spiffworkflow:property name="stage" value="planning" />',
         '<spiffworkflow:property name="stage" value="plannning" />')
    problems = check_library(editable_library)[str(editable_library.processes_dir / BPMN)]
    assert any("assistance_plan (Build the assistance plan): stage 'plannning' is not declared" in p
               for p in problems), problems


def test_a_lane_role_no_account_can_have_is_refused(editable_library: Library) -> None:
    edit(editable_library.processes_dir / BPMN, '<bpmn:lane id="lane_supervisor" name="supervisor">',
         '<bpmn:lane id="lane_supervisor" name="auditor">')
    edit(editable_library.processes_dir / "vocabulary.yaml", "roles:\n",
         'roles:\n  auditor: {en: "Auditor", ar: "المدقق"}\n')
    found = check_all(editable_library)
    assert not any("lane 'auditor'" in p for p in found[str(editable_library.processes_dir / BPMN)])
    assert any(p.startswith("roles.auditor: no staff account can have this role")
               for p in found[str(editable_library.processes_dir / "vocabulary.yaml")])


def test_task_names_and_case_fields_must_match_the_diagrams_and_forms(editable_library: Library) -> None:
    edit(editable_library.processes_dir / "vocabulary.yaml", "tasks:\n",
         'tasks:\n  sign_off: {ar: "الاعتماد"}\n')
    edit(editable_library.processes_dir / "vocabulary.yaml", "case_fields:\n",
         'case_fields:\n  review_by: {type: date, label: {en: "Next review", ar: "المراجعة القادمة"}}\n'
         '  goals: {type: number, label: {en: "Goals", ar: "الأهداف"}}\n')
    problems = check_library(editable_library)[str(editable_library.processes_dir / "vocabulary.yaml")]
    assert "tasks.sign_off: no user task of any diagram has this element id" in problems
    assert "case_fields.review_by: no form field or service task result of that name sets it" in problems
    assert "case_fields.goals: a number is set by a form field of type textarea" in problems


def test_a_member_field_the_registry_reads_is_missing_from_the_form(editable_library: Library) -> None:
    edit(editable_library.forms_dir / "registration.yaml", "- name: birth_date", "- name: date_of_birth")
    problems = check_all(editable_library)[str(editable_library.forms_dir / "registration.yaml")]
    assert any(p.startswith("members.birth_date: the registry reads this member field") for p in problems), problems


def test_deploying_a_broken_vocabulary_is_refused_and_the_last_good_version_stays(
        app: Flask, editable_library: Library) -> None:
    with app.app_context():
        session = db_session()
        good = deploy(session, editable_library, "case_management")
        edit(editable_library.processes_dir / "vocabulary.yaml", "  closed: {en: \"Closed\", ar: \"مغلقة\"}\n", "")
        edit(editable_library.processes_dir / BPMN, '<spiffworkflow:property name="stage" value="evaluation" />',
             '<spiffworkflow:property name="stage" value="closed" />')
        with pytest.raises(ProcessInvalid) as refused:
            deploy(session, editable_library, "case_management")
        assert any("outcome_evaluation" in p and "stage 'closed'" in p for p in refused.value.problems)
        from engine.deployments import latest_version

        latest = latest_version(session, "case_management")
        assert latest is not None and latest.id == good.id
