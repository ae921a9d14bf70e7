"""The case process tells the household what happens: its application received, the documents asked for (in
words, with the date), and that a decision was made; by SMS to the account's mobile, else the household's phone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import TaskRecord, TaskState
from registry import cases
from registry.documents import FileSystemStorage
from registry.models import Case
from registry.notifications import OutboxMessage
from registry.seed import advance
from tests.factories import registration
from tests.registry.test_online_path import START, apply_online, make_citizen, to_document_request, user
from webui.db import db_session, library


@pytest.fixture
def storage(tmp_path: Path) -> FileSystemStorage:
    return FileSystemStorage(tmp_path / "documents")


def messages(session: Session, case: Case) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.business_key == case.reference)
                                .order_by(OutboxMessage.id)))


def review(session: Session, case: Case, decision: str) -> None:
    data = {"decision": decision, "rejection_reason": "Income above the line."} if decision == "reject" \
        else {"decision": decision}
    advance(session, library=library(), case_id=case.id, username="supervisor1", now=START, data=data)


def test_an_online_application_is_acknowledged_to_the_applicants_mobile(
        app: Flask, storage: FileSystemStorage) -> None:
    with app.app_context():
        session = db_session()
        citizen = make_citizen(session, mobile="0599000011")
        case = apply_online(session, citizen, storage)
        (sent,) = messages(session, case)
        assert (sent.template, sent.channel, sent.recipient, sent.citizen_id, sent.lang) == (
            "application_received", "sms", "0599000011", citizen.id, "en")
        assert f"We received your application {case.reference}" in sent.body


def test_a_document_request_names_the_documents_in_words_and_the_date_of_the_household_task(
        app: Flask, storage: FileSystemStorage) -> None:
    late = dt.datetime(2026, 12, 1, 22, 30, tzinfo=dt.UTC)  # already 2 December in Palestine
    with app.app_context():
        session = db_session()
        citizen = make_citizen(session)
        case = apply_online(session, citizen, storage)
        to_document_request(session, case, now=late)
        sent = messages(session, case)[-1]
        task = session.scalars(select(TaskRecord).where(TaskRecord.business_key == str(case.id),
                                                        TaskRecord.state == TaskState.READY.value)).one()
        assert task.spec_id == "upload_documents" and task.household_due_at is not None
        assert sent.template == "documents_requested"
        assert "Proof of income or unemployment, Medical report" in sent.body
        assert "income_proof" not in sent.body and "medical_report" not in sent.body
        assert "by 2026-12-16." in sent.body  # the day the household's task falls due, in Palestine


def to_review(session: Session, case: Case) -> None:
    data = registration()
    if case.applicant_national_id:  # online: the account's holder
        data["members"][0]["national_id"] = data["head_national_id"] = case.applicant_national_id
    advance(session, library=library(), case_id=case.id, username="reception1", now=START, data=data)
    advance(session, library=library(), case_id=case.id, username="reception1", now=START,
            data={"decision": "recommend_eligible", "recommendation_notes": "Deprived."})


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decision_is_announced_after_approval_and_after_rejection(
        app: Flask, storage: FileSystemStorage, decision: str) -> None:
    with app.app_context():
        session = db_session()
        citizen = make_citizen(session, mobile="0599000012")
        case = apply_online(session, citizen, storage)
        to_review(session, case)
        assert [m.template for m in messages(session, case)] == ["application_received"]
        review(session, case, decision)
        assert [m.template for m in messages(session, case)] == ["application_received", "decision_made"]
        decided = messages(session, case)[-1]
        assert (decided.recipient, decided.citizen_id) == ("0599000012", citizen.id)
        assert f"A decision was made on your application {case.reference}" in decided.body


def test_a_walk_in_household_with_only_a_phone_gets_its_messages_by_sms(app: Flask) -> None:
    with app.app_context():
        session = db_session()
        reception = user(session, "reception1")
        asked = cases.start_registration(session, actor=reception, library=library(), now=START)
        to_document_request(session, asked, now=START)
        assert [(m.template, m.channel, m.recipient, m.citizen_id, m.lang) for m in messages(session, asked)] == [
            ("documents_requested", "sms", "0599123456", None, "ar")]
        body = messages(session, asked)[0].body
        assert "إثبات الدخل أو البطالة، تقرير طبي" in body and "2026-12-15" in body

        decided = cases.start_registration(session, actor=reception, library=library(), now=START)
        to_review(session, decided)
        review(session, decided, "reject")
        assert [(m.template, m.recipient) for m in messages(session, decided)] == [("decision_made", "0599123456")]


def test_a_diagram_wording_codes_from_a_missing_field_or_with_a_bad_duration_fails_the_check(
        editable_library: Any) -> None:
    from tests.registry.test_outbox import _diagram_with_notify, _problems, _service_task

    def given(labels_from: str, due_in: str) -> str:
        return ('<spiffworkflow:parameter id="missing" type="any" value="missing_documents" />'
                f'<spiffworkflow:parameter id="labels_from" type="any" value="{labels_from}" />'
                f'<spiffworkflow:parameter id="due_in" type="any" value="{due_in}" />')

    good = given("{&quot;missing&quot;: &quot;eligibility_review.missing_documents&quot;}", "&quot;P14D&quot;")
    path = _diagram_with_notify(editable_library, _service_task("&quot;documents_requested&quot;", good))
    assert not [p for p in _problems(editable_library, path) if "notify" in p or "message" in p or "labels" in p]
    bad = given("{&quot;missing&quot;: &quot;eligibility_review.no_such_field&quot;}", "&quot;two weeks&quot;")
    path = _diagram_with_notify(editable_library, _service_task("&quot;documents_requested&quot;", bad))
    found = _problems(editable_library, path)
    assert any("'eligibility_review.no_such_field' is not a form field with choices" in p for p in found)
    assert any("due_in must be a quoted ISO duration" in p for p in found)
