"""Attaching requested documents: one file input per document the supervisor asked for, each file stored with
the document it answers, and the case page's checklist showing under each document its file, who and when."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from registry.models import Document
from tests.conftest import Api, Clock
from tests.factories import pdf_document, png_image
from tests.webui.test_case_paths import complete, register_and_recommend, task_of
from webui.db import db_session

PDF = pdf_document("proof of income")
PNG = png_image(40, 30)
LABELS = {"income_proof": "Proof of income or unemployment", "medical_report": "Medical report"}


def _asked_for_two(api: Callable[[str], Api], clock: Clock) -> tuple[Api, int]:
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    clock.advance(hours=1)
    complete(supervisor, case_id, {"decision": "request_documents", "missing_documents": list(LABELS)},
             expect_form="eligibility_review")
    clock.advance(hours=2)
    return reception, case_id


def _stored(app: Flask) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(d.name, d.requested_document)
                for d in db_session().scalars(select(Document).order_by(Document.id))]


def _checklist_item(page: str, code: str) -> str:
    found = re.search(rf'<li data-requested="{code}">(.*?)</ul>', page, re.S)
    assert found, f"no checklist item {code}"
    return found.group(1)


def _assert_checklist_shows_each_file(browser: FlaskClient, case_id: int, clock: Clock) -> None:
    page = browser.get(f"/cases/{case_id}?tab=documents").get_data(as_text=True)
    for code, name in (("income_proof", "income.pdf"), ("medical_report", "report.png")):
        item = _checklist_item(page, code)
        assert LABELS[code] in item and "(received)" in item
        assert name in item and "Lina Haddad" in item and clock.now.strftime("%Y-%m-%d") in item
        other = "report.png" if name == "income.pdf" else "income.pdf"
        assert other not in item  # each file under the document it answers, not every file under every document
    assert 'data-testid="request-files"' not in page  # nothing left to match by time


def test_the_attach_task_shows_one_labelled_file_input_per_requested_document(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient], clock: Clock) -> None:
    reception, case_id = _asked_for_two(api, clock)
    page = login_as("reception1").get(f"/tasks/{task_of(reception, case_id)['id']}").get_data(as_text=True)
    inputs = re.findall(r'<input id="f-(documents[^"]*)" name="([^"]+)"[^>]*type="file"', page)
    assert inputs == [("documents__for__income_proof", "documents__for__income_proof"),
                      ("documents__for__medical_report", "documents__for__medical_report")]
    for code, words in LABELS.items():
        assert re.search(rf'<label for="f-documents__for__{code}">{words} \(PDF or image\)</label>', page)


def test_files_posted_from_the_page_are_stored_with_their_documents_and_listed_under_them(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient], clock: Clock) -> None:
    reception, case_id = _asked_for_two(api, clock)
    browser = login_as("reception1")
    response = browser.post(f"/tasks/{task_of(reception, case_id)['id']}", content_type="multipart/form-data", data={
        "documents__for__income_proof": (io.BytesIO(PDF), "income.pdf", "application/pdf"),
        "documents__for__medical_report": (io.BytesIO(PNG), "report.png", "image/png")})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _stored(app) == [("income.pdf", "income_proof"), ("report.png", "medical_report")]
    _assert_checklist_shows_each_file(login_as("supervisor1"), case_id, clock)


def test_files_sent_through_the_api_are_stored_with_their_documents(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient], clock: Clock) -> None:
    reception, case_id = _asked_for_two(api, clock)
    complete(reception, case_id, {"documents": [
        {"name": "income.pdf", "content_base64": base64.b64encode(PDF).decode(), "for": "income_proof"},
        {"name": "report.png", "content_base64": base64.b64encode(PNG).decode(), "for": "medical_report"}]},
        expect_form="attach_documents")
    assert _stored(app) == [("income.pdf", "income_proof"), ("report.png", "medical_report")]
    _assert_checklist_shows_each_file(login_as("supervisor1"), case_id, clock)


def test_a_file_for_a_document_not_requested_is_refused_through_the_api(
        app: Flask, api: Callable[[str], Api], clock: Clock) -> None:
    reception, case_id = _asked_for_two(api, clock)
    task = task_of(reception, case_id)
    for code in ("rent_contract", 7, "x" * 300):
        response = reception.post(f"/tasks/{task['id']}/complete", {"data": {"documents": [
            {"name": "income.pdf", "content_base64": base64.b64encode(PDF).decode(), "for": code}]}})
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["codes"] == {"documents": ["not_requested"]}
        assert "not requested" in response.get_json()["errors"]["documents"][0]
    assert _stored(app) == []
    assert task_of(reception, case_id)["form_key"] == "attach_documents"  # the task still waits


def test_a_file_for_a_document_not_requested_is_refused_on_the_page(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient], clock: Clock) -> None:
    reception, case_id = _asked_for_two(api, clock)
    browser = login_as("reception1", lang="ar")
    response = browser.post(f"/tasks/{task_of(reception, case_id)['id']}", content_type="multipart/form-data", data={
        "documents__for__rent_contract": (io.BytesIO(PDF), "rent.pdf", "application/pdf")})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="e-documents">.*أُرفق ملف لوثيقة لم تُطلب', page, re.S)
    assert _stored(app) == []
