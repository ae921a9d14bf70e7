"""The online path through the case process: its own start, the household's document task, and its deadline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import FormInvalid, NotFoundForActor
from engine.models import TaskRecord, TaskState
from registry import cases
from registry.citizens.models import Citizen
from registry.documents import FileSystemStorage
from registry.models import Case, Document, User
from registry.notifications import OutboxMessage
from registry.online import services as online
from registry.seed import advance
from registry.worker import run_once
from tests.conftest import Clock
from tests.factories import national_id, pdf_document, registration
from webui.db import db_session, library

START = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
PDF = pdf_document("income certificate")


def make_citizen(session: Session, *, nid: str | None = None, mobile: str = "0599000001") -> Citizen:
    citizen = Citizen(national_id=nid or national_id(), mobile=mobile, password_hash="x", mobile_confirmed_at=START,
                      lang="en", active=True, session_generation=0, created_at=START)
    session.add(citizen)
    session.commit()
    return citizen


def user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def ready(session: Session, case: Case) -> list[TaskRecord]:
    return list(session.scalars(select(TaskRecord).where(TaskRecord.business_key == str(case.id),
                                                         TaskRecord.state == TaskState.READY.value)))


def apply_online(session: Session, citizen: Citizen, storage: FileSystemStorage, **overrides: Any) -> Case:
    answers = registration(**overrides)
    answers["members"][0]["national_id"] = citizen.national_id
    answers["head_national_id"] = citizen.national_id
    online.begin_application(session, citizen=citizen, consent=False, sources=None, today=START.date(), now=START)
    online.check_answers(session, citizen=citizen, library=library(), values=answers, now=START)
    return online.submit_application(
        session, citizen=citizen, library=library(), now=START, storage=storage,
        data={"declaration": True, "applicant_note": "We lost our income in March.",
              "documents": [{"name": "id.pdf", "content_type": "application/pdf", "content": PDF}]})


@pytest.fixture
def storage(tmp_path: Path) -> FileSystemStorage:
    return FileSystemStorage(tmp_path / "documents")


def test_an_online_application_waits_for_reception_of_the_directorate_of_its_address(
        app: Flask, storage: FileSystemStorage) -> None:
    with app.app_context():
        session = db_session()
        citizen = make_citizen(session)
        case = apply_online(session, citizen, storage, governorate="PS-HBN", locality="دورا")

        assert (case.channel, case.directorate.code, case.stage) == ("online", "HBN", "registration")
        (task,) = ready(session, case)
        assert (task.spec_id, task.lane, task.scope, task.assignee_id) == (
            "check_online_application", "reception", "HBN", None)
        hebron = user(session, "reception2")
        assert [r.task.id for r in cases.inbox(session, actor=hebron).open_for_role] == [task.id]
        assert cases.inbox(session, actor=user(session, "reception1")).open_for_role == []
        # What the household declared fills reception's form, and its submission shows on top.
        view = cases.task_view_for_page(session, actor=hebron, library=library(), task_id=task.id)
        assert view.values["locality"] == "دورا" and view.values["head_national_id"] == citizen.national_id
        assert {b.field.name: b.value for b in view.banners} == {
            "declaration": True, "applicant_note": "We lost our income in March."}
        assert session.scalar(select(func.count()).select_from(Document).where(Document.case_id == case.id)) == 1


def test_a_second_submit_of_the_same_application_starts_no_second_case(app: Flask, storage: FileSystemStorage) -> None:
    with app.app_context():
        session = db_session()
        citizen = make_citizen(session)
        first = apply_online(session, citizen, storage)
        again = online.submit_application(session, citizen=citizen, library=library(), now=START, storage=storage,
                                          data={"declaration": True})
        assert again.id == first.id
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_an_incomplete_application_is_refused_and_stays_a_draft(app: Flask, storage: FileSystemStorage) -> None:
    with app.app_context():
        session = db_session()
        citizen = make_citizen(session)
        online.begin_application(session, citizen=citizen, consent=False, sources=None, today=START.date(),
                                 now=START)
        online.save_answers(session, citizen=citizen, library=library(), values={"locality": "البيرة"}, now=START)
        with pytest.raises(FormInvalid) as refused:
            online.submit_application(session, citizen=citizen, library=library(), now=START, storage=storage,
                                      data={"declaration": True})
        assert "members" in refused.value.errors
        assert session.scalar(select(func.count()).select_from(Case)) == 0
        draft = online.application_for(session, citizen=citizen)
        assert draft is not None and draft.status == "draft" and draft.values["locality"] == "البيرة"


def to_document_request(session: Session, case: Case, *, now: dt.datetime) -> None:
    data = registration()
    if case.applicant_national_id:  # online: the account's holder
        data["members"][0]["national_id"] = data["head_national_id"] = case.applicant_national_id
    advance(session, library=library(), case_id=case.id, username="reception1", now=now, data=data)
    advance(session, library=library(), case_id=case.id, username="reception1", now=now,
            data={"decision": "recommend_eligible", "recommendation_notes": "Deprived."})
    advance(session, library=library(), case_id=case.id, username="supervisor1", now=now,
            data={"decision": "request_documents", "missing_documents": ["income_proof", "medical_report"],
                  "review_comments": "Please bring proof of income."})


def test_documents_asked_of_an_online_household_are_its_own_task_and_return_the_case_to_review(
        app: Flask, storage: FileSystemStorage) -> None:
    with app.app_context():
        session = db_session()
        citizen = make_citizen(session)
        case = apply_online(session, citizen, storage)
        to_document_request(session, case, now=START)
        session.refresh(citizen)
        assert citizen.household_id == case.household_id is not None

        (task,) = ready(session, case)
        assert (task.spec_id, task.lane, task.waiting_on) == ("upload_documents", "citizen", "household")
        assert task.household_due_at == START + dt.timedelta(days=14)
        assert cases.inbox(session, actor=user(session, "reception1")).open_for_role == []
        assert [t.id for t, _c in online.tasks_for_citizen(session, citizen=citizen)] == [task.id]
        page = online.citizen_task(session, citizen=citizen, library=library(), task_id=task.id)
        assert page.missing == ["income_proof", "medical_report"] and page.due_at == task.household_due_at

        online.complete_citizen_task(session, citizen=citizen, library=library(), task_id=task.id, storage=storage,
                                     now=START, data={"documents": [
                                         {"name": "income.pdf", "content_type": "application/pdf", "content": PDF,
                                          "for": "income_proof"}], "documents_note": "Here it is."})
        assert [t.spec_id for t in ready(session, case)] == ["review_eligibility"]
        assert online.tasks_for_citizen(session, citizen=citizen) == []


def test_another_citizens_task_does_not_exist_for_them(app: Flask, storage: FileSystemStorage) -> None:
    with app.app_context():
        session = db_session()
        owner = make_citizen(session)
        case = apply_online(session, owner, storage)
        to_document_request(session, case, now=START)
        (task,) = ready(session, case)
        stranger = make_citizen(session, mobile="0599000002")
        with pytest.raises(NotFoundForActor):
            online.citizen_task(session, citizen=stranger, library=library(), task_id=task.id)
        with pytest.raises(NotFoundForActor):
            online.complete_citizen_task(session, citizen=stranger, library=library(), task_id=task.id,
                                         storage=storage, now=START, data={"documents": [
                                             {"name": "x.pdf", "content_type": "application/pdf", "content": PDF}]})
        assert [t.id for t in ready(session, case)] == [task.id]


def test_a_walk_in_case_keeps_its_document_task_with_reception(app: Flask) -> None:
    with app.app_context():
        session = db_session()
        reception = user(session, "reception1")
        case = cases.start_registration(session, actor=reception, library=library(), now=START)
        assert case.channel == "reception"
        to_document_request(session, case, now=START)
        (task,) = ready(session, case)
        assert (task.spec_id, task.lane, task.waiting_on) == ("attach_documents", "reception", "household")


@pytest.mark.parametrize("channel", ["online", "reception"])
def test_a_missed_household_deadline_reminds_once_then_returns_the_case_to_the_supervisor(
        app: Flask, clock: Clock, storage: FileSystemStorage, channel: str) -> None:
    factory: sessionmaker[Session] = app.extensions["sessionmaker"]
    with app.app_context():
        session = db_session()
        citizen = make_citizen(session)
        if channel == "online":
            case = apply_online(session, citizen, storage)
        else:
            case = cases.start_registration(session, actor=user(session, "reception1"), library=library(), now=START)
        to_document_request(session, case, now=START)
        case_id = case.id
        files = library()
        session.close()

    def reminders() -> int:
        with factory() as s:
            return s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.template == "documents_deadline_reached")) or 0

    run_once(factory, now=START + dt.timedelta(days=13), library=files)
    assert reminders() == 0
    deadline = START + dt.timedelta(days=14, minutes=1)
    run_once(factory, now=deadline, library=files)
    run_once(factory, now=deadline + dt.timedelta(hours=1), library=files)
    assert reminders() == 1
    with factory() as s:
        (task,) = ready(s, s.get(Case, case_id))  # type: ignore[arg-type]
        assert task.spec_id in ("upload_documents", "attach_documents")

    run_once(factory, now=START + dt.timedelta(days=21, minutes=1), library=files)
    with factory() as s:
        found = s.get(Case, case_id)
        assert found is not None
        assert [t.spec_id for t in ready(s, found)] == ["review_eligibility"]
        assert found.status == "open"
        assert found.fields["documents_deadline_missed"] == "2026-12-22"
    assert reminders() == 1
