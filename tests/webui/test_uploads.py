"""Uploads through the task page and the API, and downloads: only real documents, under safe names.

Document bytes are read only to download them.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.http import parse_options_header
from werkzeug.test import encode_multipart

from registry.documents import MAX_UPLOAD_BYTES, FileSystemStorage
from registry.models import Document
from tests.conftest import Api
from tests.factories import JPEG_IMAGE, pdf_document, png_image
from tests.registry.test_documents import HOSTILE, s3_server  # noqa: F401 - the S3 server fixture
from tests.webui.test_case_paths import complete, register_and_recommend, task_of
from webui.db import db_session

PDF = pdf_document("income certificate")
PNG = png_image(40, 30)
BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)

#: The uploads that were all stored before: each must now be refused with its error.
REFUSED = {
    "html page": (HOSTILE["html page"][0], "page.html", "text/html", "invalid_file_type"),
    "svg image": (HOSTILE["svg with script"][0], "logo.svg", "image/svg+xml", "invalid_file_type"),
    "program renamed .pdf": (HOSTILE["windows program renamed .pdf"][0], "income.pdf", "application/pdf",
                             "invalid_file_type"),
    "empty file": (b"", "empty.pdf", "application/pdf", "file_empty"),
    "near-empty file": (b"%PDF-1.4\n%%EOF\n", "tiny.pdf", "application/pdf", "file_empty"),
    "too large": (PDF[:-6] + b" " * MAX_UPLOAD_BYTES + PDF[-6:], "big.pdf", "application/pdf", "file_too_large"),
    "damaged pdf": (PDF[:-40], "cut.pdf", "application/pdf", "file_damaged"),
}
MESSAGES = {
    "invalid_file_type": "Only PDF documents and JPEG or PNG images can be attached.",
    "file_empty": "The file is empty or too small to be a document.",
    "file_too_large": "The file is larger than 10 MB.",
    "file_damaged": "The file is damaged or incomplete.",
}


def _waiting_for_documents(api: Callable[[str], Api]) -> tuple[Api, Api, int]:
    """A case whose supervisor asked for documents: reception's task is now to attach them."""
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    complete(supervisor, case_id, {"decision": "request_documents", "missing_documents": ["income_proof"]},
             expect_form="eligibility_review")
    return reception, supervisor, case_id


def _nothing_stored(app: Flask) -> bool:
    folder = Path(app.config["DOCUMENT_STORAGE_DIR"])
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    with app.app_context():
        rows = db_session().scalar(select(func.count()).select_from(Document))
    return rows == 0 and files == []


def _documents(app: Flask) -> list[Document]:
    with app.app_context():
        return list(db_session().scalars(select(Document).order_by(Document.id)))


def _post_files(browser: FlaskClient, url: str, files: list[tuple[bytes, str, str]]) -> Any:
    """Post files as the task page's form does, encoded in memory (the test client's own encoder
    spools large bodies to a temporary file it never closes)."""
    boundary, body = encode_multipart(MultiDict(
        [("documents", FileStorage(io.BytesIO(content), filename=name, content_type=declared))
         for content, name, declared in files]))
    return browser.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def _download(browser: FlaskClient, url: str) -> Any:
    """A download read whole and closed, as a WSGI server closes it (the file stays open until then)."""
    with browser.get(url) as response:
        response.get_data()
    return response


def _assert_safe_download(response: Any, *, name: str, content: bytes, content_type: str) -> None:
    assert response.status_code == 200
    assert response.data == content
    assert response.mimetype == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    kind, options = parse_options_header(response.headers["Content-Disposition"])
    assert kind == "attachment" and options["filename"] == name


# --- refused ---------------------------------------------------------------------------------

@pytest.mark.parametrize("label", list(REFUSED))
def test_a_hostile_upload_through_the_page_is_refused_and_stores_nothing(
        label: str, app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    content, name, declared, code = REFUSED[label]
    reception, _supervisor, case_id = _waiting_for_documents(api)
    task = task_of(reception, case_id)
    browser = login_as("reception1")
    response = _post_files(browser, f"/tasks/{task['id']}", [(content, name, declared)])
    assert response.status_code == 422
    assert MESSAGES[code] in response.get_data(as_text=True)
    assert _nothing_stored(app)
    assert task_of(reception, case_id)["form_key"] == "attach_documents"  # the task still waits


@pytest.mark.parametrize("label", list(REFUSED))
def test_a_hostile_upload_through_the_api_is_refused_with_its_code_and_stores_nothing(
        label: str, app: Flask, api: Callable[[str], Api]) -> None:
    content, name, declared, code = REFUSED[label]
    reception, _supervisor, case_id = _waiting_for_documents(api)
    task = task_of(reception, case_id)
    response = reception.post(f"/tasks/{task['id']}/complete", {"data": {"documents": [
        {"name": name, "content_type": declared, "content_base64": base64.b64encode(content).decode()}]}})
    assert response.status_code == 422
    assert response.get_json()["codes"] == {"documents": [code]}
    assert response.get_json()["errors"]["documents"][0].startswith(MESSAGES[code])
    assert _nothing_stored(app)


def test_the_refusal_is_worded_in_arabic_on_an_arabic_page(app: Flask, api: Callable[[str], Api],
                                                          login_as: Callable[..., FlaskClient]) -> None:
    reception, _supervisor, case_id = _waiting_for_documents(api)
    browser = login_as("reception1", lang="ar")
    response = browser.post(f"/tasks/{task_of(reception, case_id)['id']}", content_type="multipart/form-data",
                            data={"documents": (io.BytesIO(HOSTILE["html page"][0]), "page.pdf")})
    assert response.status_code == 422
    assert "يمكن إرفاق وثائق PDF وصور JPEG أو PNG فقط." in response.get_data(as_text=True)


# --- accepted, and downloaded as they were ---------------------------------------------------

@BOTH_DATABASES
def test_a_pdf_jpeg_and_png_from_the_page_download_byte_identical_under_safe_names(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    reception, _supervisor, case_id = _waiting_for_documents(api)
    browser = login_as("reception1")
    response = browser.post(f"/tasks/{task_of(reception, case_id)['id']}", content_type="multipart/form-data", data={
        "documents": [(io.BytesIO(PDF), "../../etc/passwd", "text/html"),
                      (io.BytesIO(JPEG_IMAGE), "صورة الهوية.jpeg", "image/jpeg"),
                      (io.BytesIO(PNG), "x" * 1000 + ".pdf", "application/pdf")]})
    assert response.status_code == 302, response.get_data(as_text=True)
    stored = _documents(app)
    assert [(d.name, d.content_type) for d in stored] == [
        ("passwd.pdf", "application/pdf"), ("صورة الهوية.jpeg", "image/jpeg"), ("x" * 116 + ".png", "image/png")]
    for document, content in zip(stored, [PDF, JPEG_IMAGE, PNG], strict=True):
        assert document.sha256 == hashlib.sha256(content).hexdigest()
        _assert_safe_download(_download(browser, f"/documents/{document.id}"), name=document.name, content=content,
                              content_type=document.content_type)


@BOTH_DATABASES
def test_documents_sent_as_base64_through_the_api_download_byte_identical(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    reception, _supervisor, case_id = _waiting_for_documents(api)
    complete(reception, case_id, {"documents": [
        {"name": "شهادة الدخل.pdf", "content_type": "application/pdf",
         "content_base64": base64.b64encode(PDF).decode()},
        {"name": "photo.pdf", "content_base64": base64.b64encode(JPEG_IMAGE).decode()}]},
        expect_form="attach_documents")
    stored = _documents(app)
    assert [(d.name, d.content_type) for d in stored] == [("شهادة الدخل.pdf", "application/pdf"),
                                                         ("photo.jpg", "image/jpeg")]
    browser = login_as("supervisor1")
    first = _download(browser, f"/documents/{stored[0].id}")
    _assert_safe_download(first, name="شهادة الدخل.pdf", content=PDF, content_type="application/pdf")
    assert first.headers["Content-Disposition"].startswith('attachment; filename="document.pdf"; filename*=')
    _assert_safe_download(_download(browser, f"/documents/{stored[1].id}"), name="photo.jpg", content=JPEG_IMAGE,
                          content_type="image/jpeg")
    assert _download(login_as("supervisor2"), f"/documents/{stored[0].id}").status_code == 404  # another directorate


def test_a_document_named_with_cr_lf_downloads(app: Flask, api: Callable[[str], Api],
                                               login_as: Callable[..., FlaskClient]) -> None:
    reception, _supervisor, case_id = _waiting_for_documents(api)
    complete(reception, case_id, {"documents": [{"name": "income\r\nSet-Cookie: stolen=1\r\n.pdf",
                                                 "content_base64": base64.b64encode(PDF).decode()}]})
    (document,) = _documents(app)
    response = _download(login_as("reception1"), f"/documents/{document.id}")
    _assert_safe_download(response, name="income Set-Cookie_ stolen=1.pdf", content=PDF,
                          content_type="application/pdf")
    assert "Set-Cookie" not in response.headers


def test_a_document_stored_before_the_checks_downloads_as_a_plain_attachment(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    _reception, _supervisor, case_id = _waiting_for_documents(api)
    page = b"<html><script>alert(document.cookie)</script></html>"
    key = hashlib.sha256(page).hexdigest()
    with app.app_context():
        FileSystemStorage(app.config["DOCUMENT_STORAGE_DIR"]).put(key, page)
        session = db_session()
        document = Document(case_id=case_id, name="page\r\n.html", content_type="text/html", size=len(page),
                            sha256=key, storage_key=key)
        session.add(document)
        session.commit()
        document_id = document.id
    response = _download(login_as("reception1"), f"/documents/{document_id}")
    _assert_safe_download(response, name="page.bin", content=page, content_type="application/octet-stream")


# --- bytes are read only to download ---------------------------------------------------------

class CountingStorage(FileSystemStorage):
    """The folder backend, counting every read of a document's bytes."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads = 0

    def open(self, key: str) -> IO[bytes]:
        self.reads += 1
        return super().open(key)


def test_the_case_page_task_page_and_completion_never_read_document_content(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient], tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path / "counted")
    app.extensions["document_storage"] = storage
    reception, supervisor, case_id = _waiting_for_documents(api)
    complete(reception, case_id, {"documents": [
        {"name": f"scan{i}.png", "content_base64": base64.b64encode(png_image(40 + i, 30)).decode()}
        for i in range(5)]})
    browser = login_as("supervisor1")
    case_page = browser.get(f"/cases/{case_id}?tab=documents").get_data(as_text=True)
    assert "scan0.png" in case_page and "scan4.png" in case_page
    review = task_of(supervisor, case_id)
    assert "scan4.png" in browser.get(f"/tasks/{review['id']}").get_data(as_text=True)  # the documents panel
    assert supervisor.get(f"/cases/{case_id}").status_code == 200
    complete(supervisor, case_id, {"decision": "approve", "review_comments": "complete"})
    assert storage.reads == 0
    (first, *_rest) = _documents(app)
    assert _download(browser, f"/documents/{first.id}").data == png_image(40, 30)
    assert storage.reads == 1


# --- S3-compatible storage -------------------------------------------------------------------

def test_documents_go_to_s3_compatible_storage_when_configured(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient],
        s3_server: dict[str, str]) -> None:  # noqa: F811 - the fixture imported above
    app.config.update(s3_server)
    app.extensions.pop("document_storage", None)
    reception, _supervisor, case_id = _waiting_for_documents(api)
    content = pdf_document(f"case {case_id} on s3")
    complete(reception, case_id, {"documents": [{"name": "s3.pdf",
                                                 "content_base64": base64.b64encode(content).decode()}]})
    (document,) = _documents(app)
    with app.app_context():
        from webui.db import document_storage

        storage: Any = document_storage()
        body = storage.client.get_object(Bucket=s3_server["S3_BUCKET"], Key=f"documents/{document.storage_key}")
        assert body["Body"].read() == content
    assert not Path(app.config["DOCUMENT_STORAGE_DIR"]).exists()  # nothing went to the folder
    response = _download(login_as("reception1"), f"/documents/{document.id}")
    _assert_safe_download(response, name="s3.pdf", content=content, content_type="application/pdf")
