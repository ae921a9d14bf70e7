"""A case that loops hundreds of times keeps a small state and still routes correctly."""

from __future__ import annotations

import base64

from flask import Flask
from sqlalchemy import select

from engine.models import ProcessInstance, TaskRecord
from registry import cases
from registry.models import Case, User
from tests.conftest import Clock
from tests.factories import pdf_document, registration
from webui.db import db_session, document_storage, library

PDF = base64.b64encode(pdf_document("income")).decode()


def _user(name: str) -> User:
    user = db_session().scalar(select(User).where(User.username == name))
    assert user is not None
    return user


def _complete(username: str, case_id: int, data: dict, clock: Clock) -> list[TaskRecord]:
    actor = _user(username)
    box = cases.inbox(db_session(), actor=actor)
    row = next(r for r in box.mine + box.open_for_role if r.case.id == case_id)
    clock.advance(minutes=1)
    return cases.complete_task(db_session(), actor=actor, library=library(), task_id=row.task.id, data=data,
                               now=clock(), storage=document_storage()).next_tasks


def test_five_hundred_document_requests_then_approval_routes_to_needs_assessment(app: Flask, clock: Clock) -> None:
    with app.app_context():
        session = db_session()
        case = cases.start_registration(session, actor=_user("reception1"), library=library(), now=clock())
        _complete("reception1", case.id, registration(), clock)
        _complete("reception1", case.id, {"decision": "recommend_eligible", "recommendation_notes": "ok"}, clock)
        sizes = []
        for attempt in range(500):
            _complete("supervisor1", case.id, {"decision": "request_documents", "missing_documents": ["other"],
                                               "review_comments": f"pass {attempt}"}, clock)
            ready = _complete("reception1", case.id, {"documents": [{"name": f"d{attempt}.pdf",
                                                                      "content_base64": PDF}]}, clock)
            assert [r.spec_id for r in ready] == ["review_eligibility"]
            if attempt in (0, 499):
                instance = session.get(ProcessInstance, session.get(Case, case.id).instance_id)
                sizes.append(len(instance.state))
        ready = _complete("supervisor1", case.id, {"decision": "approve"}, clock)
        assert [r.spec_id for r in ready] == ["needs_assessment_visit"]
        assert session.get(Case, case.id).stage == "assessment"
        # Finished passes leave the live state: it does not grow with the case's age.
        assert sizes[1] <= sizes[0] * 1.1
        completed = session.scalars(select(TaskRecord).where(TaskRecord.business_key == str(case.id),
                                                             TaskRecord.state == "completed")).all()
        assert len(completed) == 2 + 500 * 2 + 1  # every pass is still in the history
        # The case page shows the latest requests, documents and submissions with their totals, not all of them.
        view = cases.case_view(session, actor=_user("supervisor1"), case_id=case.id)
        assert len(view.document_requests) == cases.REQUESTS_SHOWN and view.document_requests_total == 500
        assert view.document_requests[-1].note == "pass 499"
        assert len(view.documents) == cases.DOCUMENTS_SHOWN and view.documents_total == 500
        assert view.documents[-1].name == "d499.pdf"
        assert len(view.submissions["eligibility_review"]) == cases.SUBMISSIONS_SHOWN
        assert view.submission_totals["eligibility_review"] == 501
        assert view.submissions["eligibility_review"][0].data["decision"] == "approve"
        assert len(view.history) == cases.HISTORY_PER_PAGE
