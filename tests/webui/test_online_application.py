"""Applying online in the portal, and answering a document request there: what the household and staff see."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from engine.models import TaskRecord, TaskState
from registry.auth import hash_password
from registry.citizens.models import Citizen
from registry.documents import MAX_UPLOAD_BYTES
from registry.models import Case, Document
from registry.online.models import OnlineApplication
from tests.factories import JPEG_IMAGE, national_id, pdf_document, registration
from webui.db import db_session

PASSWORD = "olive-tree-2026"
PDF = pdf_document("income certificate")


def citizen_browser(app: Flask, *, lang: str = "en", mobile: str = "0599000001") -> tuple[FlaskClient, str]:
    """A browser logged in to the portal as a new confirmed citizen; and the citizen's national ID."""
    nid = national_id()
    with app.app_context():
        session = db_session()
        session.add(Citizen(national_id=nid, mobile=mobile, password_hash=hash_password(PASSWORD),
                            mobile_confirmed_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), lang=lang))
        session.commit()
    browser = app.test_client()
    response = browser.post("/portal/login", data={"national_id": nid, "password": PASSWORD, "lang": lang})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser, nid


def as_post(data: dict[str, Any]) -> MultiDict[str, str]:
    """A registration as the browser posts it: rows as ``members-0-name``, ticked boxes as "1"."""
    posted: MultiDict[str, str] = MultiDict()
    for name, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for index, row in enumerate(value):
                for sub, item in row.items():
                    if item is True:
                        posted.add(f"{name}-{index}-{sub}", "1")
                    elif item not in (None, False):
                        posted.add(f"{name}-{index}-{sub}", str(item))
        elif isinstance(value, list):
            for item in value:
                posted.add(name, str(item))
        elif value is True:
            posted.add(name, "1")
        elif value not in (None, False):
            posted.add(name, str(value))
    return posted


def answers_for(nid: str, **overrides: Any) -> dict[str, Any]:
    data = registration(**overrides)
    data["members"][0]["national_id"] = data["head_national_id"] = nid
    return data


def apply(browser: FlaskClient, nid: str, *, documents: list[tuple[bytes, str]] | None = None,
          **overrides: Any) -> Any:
    assert browser.post("/portal/apply/consent", data={"consent": "no"}).status_code == 302
    form = as_post(answers_for(nid, **overrides))
    form.add("action", "continue")
    response = browser.post("/portal/apply/form", data=form)
    assert response.status_code == 302 and response.location.endswith("/portal/apply/send"), \
        response.get_data(as_text=True)[:3000]
    # Encoded in memory: the test client's own encoder spools large bodies to a file it never closes.
    fields: MultiDict[str, Any] = MultiDict([("declaration", "1"), ("applicant_note", "We lost our income.")])
    for content, name in documents or [(PDF, "id-cards.pdf")]:
        fields.add("documents", FileStorage(io.BytesIO(content), filename=name, content_type="application/pdf"))
    boundary, body = encode_multipart(fields)
    return browser.post("/portal/apply/send", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        return db_session().scalar(select(func.count()).select_from(model)) or 0


def test_the_application_lands_in_reception_of_the_directorate_of_the_address_marked_online(
        app: Flask, login_as: Any) -> None:
    browser, nid = citizen_browser(app)
    assert "consent" in browser.get("/portal/apply").get_data(as_text=True)
    response = apply(browser, nid, governorate="PS-HBN", locality="دورا")
    assert response.status_code == 302 and "/portal/applications/HBN-" in response.location

    hebron = login_as("reception2")
    inbox = hebron.get("/").get_data(as_text=True)
    assert "Check the online application" in inbox
    assert "Check the online application" not in login_as("reception1").get("/").get_data(as_text=True)
    with app.app_context():
        task = db_session().scalars(select(TaskRecord).where(TaskRecord.state == TaskState.READY.value)).one()
    page = hebron.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "Application submitted online by the household" in page  # the banner
    assert "We lost our income." in page
    assert 'value="دورا"' in page  # the registration form, filled in with what the household declared


def test_answers_are_kept_between_visits_and_a_double_submit_starts_one_case(app: Flask) -> None:
    browser, nid = citizen_browser(app)
    browser.post("/portal/apply/consent", data={"consent": "no"})
    partial = as_post({"locality": "بيتونيا", "address": "near the school"})
    partial.add("action", "save")
    assert browser.post("/portal/apply/form", data=partial).status_code == 302

    again = app.test_client()  # another visit: a new login, the answers are still there
    again.post("/portal/login", data={"national_id": nid, "password": PASSWORD, "lang": "en"})
    assert again.get("/portal/apply").location.endswith("/portal/apply/form")
    assert "بيتونيا" in again.get("/portal/apply/form").get_data(as_text=True)

    first = apply(again, nid)
    second = again.post("/portal/apply/send", data={"declaration": "1"}, content_type="multipart/form-data")
    assert first.status_code == second.status_code == 302 and first.location == second.location
    assert count(app, Case) == 1


@pytest.mark.parametrize(("content", "name", "code"), [
    (b"MZ\x90\x00" + b"\x00" * 400, "income.pdf", "not a PDF, JPEG or PNG"),
    (b"", "empty.pdf", "empty"),
    (PDF + b"\x00" * (MAX_UPLOAD_BYTES + 1), "huge.pdf", "too large"),
])
def test_a_bad_upload_is_refused_and_nothing_is_sent(app: Flask, content: bytes, name: str, code: str) -> None:
    browser, nid = citizen_browser(app)
    response = apply(browser, nid, documents=[(content, name)])
    assert response.status_code == 422
    assert "error-summary" in response.get_data(as_text=True)
    assert (count(app, Case), count(app, Document)) == (0, 0)
    with app.app_context():
        assert db_session().scalars(select(OnlineApplication.status)).one() == "draft"


def document_request(app: Flask, login_as: Any) -> None:
    reception, supervisor = login_as("reception1"), login_as("supervisor1")
    with app.app_context():
        case = db_session().scalars(select(Case)).one()
        nid = case.applicant_national_id

    def task_id() -> str:
        with app.app_context():
            return db_session().scalars(select(TaskRecord.id).where(TaskRecord.state == TaskState.READY.value)).one()

    tid = task_id()
    reception.post(f"/tasks/{tid}/claim")
    response = reception.post(f"/tasks/{tid}", data=as_post(answers_for(nid)))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    tid = task_id()
    reception.post(f"/tasks/{tid}/claim")
    assert reception.post(f"/tasks/{tid}", data={"decision": "recommend_eligible",
                                                 "recommendation_notes": "Deprived."}).status_code == 302
    tid = task_id()
    supervisor.post(f"/tasks/{tid}/claim")
    response = supervisor.post(f"/tasks/{tid}", data=MultiDict([
        ("decision", "request_documents"), ("missing_documents", "income_proof"),
        ("missing_documents", "medical_report"), ("review_comments", "Internal: check the employer.")]))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]


def test_a_document_request_becomes_the_households_task_and_its_upload_returns_the_case_to_review(
        app: Flask, login_as: Any) -> None:
    browser, nid = citizen_browser(app)
    apply(browser, nid)
    document_request(app, login_as)

    home = browser.get("/portal/").get_data(as_text=True)
    assert "Upload the requested documents" in home
    assert "Upload the requested documents" not in login_as("reception1").get("/").get_data(as_text=True)
    with app.app_context():
        task = db_session().scalars(select(TaskRecord).where(TaskRecord.state == TaskState.READY.value)).one()
    page = browser.get(f"/portal/tasks/{task.id}").get_data(as_text=True)
    assert "Proof of income or unemployment" in page and "Medical report" in page
    assert "Please upload them by" in page and "Internal: check the employer." not in page

    response = browser.post(f"/portal/tasks/{task.id}", content_type="multipart/form-data", data={
        "documents__for__income_proof": [(io.BytesIO(PDF), "income.pdf")],
        "documents__for__medical_report": [(io.BytesIO(JPEG_IMAGE), "report.jpg")]})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with app.app_context():
        now_ready = db_session().scalars(select(TaskRecord).where(TaskRecord.state == TaskState.READY.value)).one()
    assert (now_ready.spec_id, now_ready.lane) == ("review_eligibility", "supervisor")
    assert "Upload the requested documents" not in browser.get("/portal/").get_data(as_text=True)


def test_an_empty_or_disguised_upload_to_the_task_changes_nothing(app: Flask, login_as: Any) -> None:
    browser, nid = citizen_browser(app)
    apply(browser, nid)
    document_request(app, login_as)
    with app.app_context():
        task = db_session().scalars(select(TaskRecord).where(TaskRecord.state == TaskState.READY.value)).one()
    documents = count(app, Document)
    for content, name in [(b"", "empty.pdf"), (b"<html><script>x</script></html>" * 5, "scan.png")]:
        response = browser.post(f"/portal/tasks/{task.id}", content_type="multipart/form-data",
                                data={"documents__for__income_proof": [(io.BytesIO(content), name)]})
        assert response.status_code == 422
    assert count(app, Document) == documents
    with app.app_context():
        assert db_session().get(TaskRecord, task.id).state == TaskState.READY.value  # type: ignore[union-attr]


def test_another_citizens_task_and_case_are_404(app: Flask, login_as: Any) -> None:
    browser, nid = citizen_browser(app)
    apply(browser, nid)
    document_request(app, login_as)
    with app.app_context():
        task = db_session().scalars(select(TaskRecord).where(TaskRecord.state == TaskState.READY.value)).one()
        reference = db_session().scalars(select(Case.reference)).one()
    stranger, _nid = citizen_browser(app, mobile="0599000002")
    assert stranger.get(f"/portal/tasks/{task.id}").status_code == 404
    assert stranger.post(f"/portal/tasks/{task.id}", content_type="multipart/form-data", data={
        "documents__for__income_proof": [(io.BytesIO(PDF), "income.pdf")]}).status_code == 404
    assert stranger.get(f"/portal/applications/{reference}").status_code == 404
    assert "Upload the requested documents" not in stranger.get("/portal/").get_data(as_text=True)
    assert count(app, Document) == 1  # the owner's application document only


def test_the_apply_pages_read_in_arabic(app: Flask) -> None:
    browser, _nid = citizen_browser(app, lang="ar")
    browser.post("/portal/apply/consent", data={"consent": "no"})
    page = browser.get("/portal/apply/form").get_data(as_text=True)
    assert 'dir="rtl"' in page and "رقم هوية مقدّم الطلب" in page
    assert "ملاحظات الاستقبال" not in page  # staff's own fields stay out of the household's form
