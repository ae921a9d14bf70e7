"""Documents: accepted by their bytes, named safely, stored behind one interface (folder or S3)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.http import parse_options_header

from engine.errors import FormInvalid
from engine.forms import load_form
from registry import cases
from registry.documents import (
    MAX_NAME_CHARS,
    MAX_UPLOAD_BYTES,
    FileSystemStorage,
    S3Storage,
    UploadRefused,
    content_disposition,
    detect_type,
    safe_name,
    storage_from_config,
    store_uploads,
)
from registry.models import Document, User
from tests.conftest import own_postgres_database
from tests.factories import JPEG_IMAGE, pdf_document, png_image
from webui.db import db_session, library

ROOT = Path(__file__).resolve().parents[2]
PDF = pdf_document("income certificate")
PNG = png_image(40, 30)

#: Files that must never be stored, each with the error the user sees.
HOSTILE: dict[str, tuple[bytes, str]] = {
    "html page": (b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
                  "invalid_file_type"),
    "svg with script": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="1"/></svg>',
                        "invalid_file_type"),
    "windows program renamed .pdf": (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200,
                                     "invalid_file_type"),
    "linux program renamed .pdf": (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200, "invalid_file_type"),
    "zip archive": (b"PK\x03\x04\x14\x00\x00\x00" + b"\x00" * 200, "invalid_file_type"),
    "gif image": (b"GIF89a\x01\x00\x01\x00" + b"\x00" * 200, "invalid_file_type"),
    "plain text": (b"This is not a document, only words in a file. " * 4, "invalid_file_type"),
    "empty file": (b"", "file_empty"),
    "near-empty pdf": (b"%PDF-1.4\n%%EOF\n", "file_empty"),
    "pdf header then an svg": (PDF + b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "invalid_file_type"),
    "pdf cut short (no %%EOF)": (PDF[:-40], "file_damaged"),
    "pdf header then anything": (b"%PDF-1.7\n" + b"x" * 300, "file_damaged"),
    "png cut short": (PNG[:-12], "file_damaged"),
    "png with a broken header": (PNG[:20] + b"\xff" + PNG[21:], "file_damaged"),
    "jpeg cut short": (JPEG_IMAGE[:300], "file_damaged"),
    "jpeg header then zeros": (b"\xff\xd8\xff\xe0" + b"\x00" * 300, "file_damaged"),
}


# --- what an upload must be ------------------------------------------------------------------

def test_a_real_pdf_jpeg_and_png_are_recognised_by_their_bytes() -> None:
    assert detect_type(PDF) == "application/pdf"
    assert detect_type(JPEG_IMAGE) == "image/jpeg"
    assert detect_type(PNG) == "image/png"
    assert detect_type(png_image(300, 200)) == "image/png"


@pytest.mark.parametrize("label", list(HOSTILE))
def test_hostile_and_broken_files_are_refused_by_their_content(label: str) -> None:
    content, code = HOSTILE[label]
    with pytest.raises(UploadRefused) as refused:
        detect_type(content)
    assert refused.value.code == code


def test_a_file_over_the_limit_is_refused_as_too_large() -> None:
    padded = PDF[:-6] + b" " * (MAX_UPLOAD_BYTES - len(PDF) + 1) + PDF[-6:]
    assert len(padded) == MAX_UPLOAD_BYTES + 1
    with pytest.raises(UploadRefused) as refused:
        detect_type(padded)
    assert refused.value.code == "file_too_large"


# --- names -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "content_type", "expected"), [
    ("../../etc/passwd", "application/pdf", "passwd.pdf"),
    ("..\\..\\windows\\win.ini", "image/png", "win.png"),
    ("income\r\nSet-Cookie: x=1.pdf", "application/pdf", "income Set-Cookie_ x=1.pdf"),
    ("a\x00b.pdf", "application/pdf", "ab.pdf"),
    ("invoice\u202egpj.exe", "application/pdf", "invoicegpj.pdf"),  # a right-to-left override is dropped
    ("page.html", "image/png", "page.png"),  # the name never promises another type than the content
    ("scan.JPEG", "image/jpeg", "scan.jpeg"),
    ("scan", "image/jpeg", "scan.jpg"),
    ("", "application/pdf", "document.pdf"),
    ("..", "application/pdf", "document.pdf"),
    ("  .hidden  ", "image/png", "hidden.png"),
    ("شهادة الدخل.pdf", "application/pdf", "شهادة الدخل.pdf"),
    ("report 2024.final v2", "application/pdf", "report 2024.final v2.pdf"),
])
def test_names_are_cleaned_to_one_readable_part_with_the_detected_extension(raw: str, content_type: str,
                                                                              expected: str) -> None:
    assert safe_name(raw, content_type=content_type) == expected


def test_a_name_is_in_composed_unicode_form() -> None:
    decomposed = "re\u0301sume\u0301.pdf"
    assert safe_name(decomposed, content_type="application/pdf") == "r\u00e9sum\u00e9.pdf"


def test_a_thousand_character_name_is_bounded_and_keeps_its_extension() -> None:
    name = safe_name("x" * 1000 + ".pdf", content_type="application/pdf")
    assert len(name) == MAX_NAME_CHARS and name.endswith("x.pdf")
    arabic = safe_name("وثيقة " * 200 + ".png", content_type="image/png")
    assert len(arabic) <= MAX_NAME_CHARS and arabic.endswith("وثيقة.png")


@pytest.mark.parametrize("name", ["income.pdf", "شهادة الدخل.pdf", 'a"b;c.pdf', "r\u00e9sum\u00e9.png"])
def test_the_download_header_names_the_file_exactly_and_safely(name: str) -> None:
    header = content_disposition(name)
    assert header.isascii() and "\r" not in header and "\n" not in header
    kind, options = parse_options_header(header)
    assert kind == "attachment"
    assert options["filename"] == name  # werkzeug prefers filename* (RFC 5987) when present
    assert options.get("filename", "").isprintable()


def test_an_arabic_name_gets_a_plain_ascii_fallback() -> None:
    assert content_disposition("شهادة الدخل.pdf").startswith('attachment; filename="document.pdf"; filename*=UTF-8\'\'')


# --- storage backends ------------------------------------------------------------------------

def test_the_folder_storage_writes_whole_files_and_reads_them_back(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path / "documents")
    key = hashlib.sha256(PDF).hexdigest()
    storage.put(key, PDF)
    storage.put(key, PDF)  # the same content twice: still one file
    with storage.open(key) as stream:
        assert stream.read() == PDF
    files = [p for p in (tmp_path / "documents").rglob("*") if p.is_file()]
    assert files == [tmp_path / "documents" / key[:2] / key]  # no temporary file left behind
    storage.delete(key)
    with pytest.raises(FileNotFoundError):
        storage.open(key)


@pytest.mark.parametrize("key", ["../../etc/passwd", "..", "a/b/c/d/e/f", "", "abc\x00defgh", "x" * 200])
def test_a_storage_key_cannot_leave_the_folder(tmp_path: Path, key: str) -> None:
    storage = FileSystemStorage(tmp_path)
    with pytest.raises(ValueError, match="storage key"):
        storage.put(key, b"data")
    assert not any(tmp_path.iterdir())


def test_the_storage_configuration_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DOCUMENT_STORAGE_DIR"):
        storage_from_config({"DOCUMENT_STORAGE": "filesystem"})
    with pytest.raises(ValueError, match="S3_BUCKET"):
        storage_from_config({"DOCUMENT_STORAGE": "s3"})
    with pytest.raises(ValueError, match="DOCUMENT_STORAGE must be"):
        storage_from_config({"DOCUMENT_STORAGE": "ftp"})
    assert isinstance(storage_from_config({"DOCUMENT_STORAGE_DIR": str(tmp_path)}), FileSystemStorage)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[dict[str, str]]:
    """A real S3-compatible HTTP server (moto's), with an empty bucket; the config that points at it.

    moto keeps its buckets per process, so each instance of this fixture makes a bucket of its own.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    config = {"DOCUMENT_STORAGE": "s3", "S3_ENDPOINT_URL": f"http://{host}:{port}",
              "S3_BUCKET": f"mosd-documents-{uuid.uuid4().hex[:8]}",
              "S3_ACCESS_KEY_ID": "test-key", "S3_SECRET_ACCESS_KEY": "test-secret", "S3_REGION": "eu-central-1"}
    storage = storage_from_config(config)
    assert isinstance(storage, S3Storage)
    storage.client.create_bucket(Bucket=config["S3_BUCKET"],
                                 CreateBucketConfiguration={"LocationConstraint": config["S3_REGION"]})
    yield config
    server.stop()


def test_the_s3_storage_keeps_documents_in_the_bucket(s3_server: dict[str, str]) -> None:
    storage = storage_from_config(s3_server)
    assert isinstance(storage, S3Storage)
    key = hashlib.sha256(JPEG_IMAGE).hexdigest()
    storage.put(key, JPEG_IMAGE)
    listed = storage.client.list_objects_v2(Bucket=s3_server["S3_BUCKET"], Prefix="documents/")
    assert [o["Key"] for o in listed["Contents"]] == [f"documents/{key}"]
    stream = storage.open(key)
    assert stream.read() == JPEG_IMAGE
    stream.close()
    storage.delete(key)
    with pytest.raises(FileNotFoundError):
        storage.open(key)


# --- the service: a refusal stores nothing ---------------------------------------------------

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


def _store(app: Flask, storage: FileSystemStorage, files: list[dict[str, Any]]) -> dict[str, Any]:
    with app.app_context():
        session = db_session()
        actor = session.scalar(select(User).where(User.username == "reception1"))
        assert actor is not None
        now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
        case = cases.start_registration(session, actor=actor, library=library(), now=now)
        form = load_form(ROOT / "forms", "attach_documents")
        try:
            out = store_uploads(session, storage=storage, actor=actor, case_id=case.id, form=form,
                                data={"documents": files, "documents_note": "n"}, now=now)
            session.commit()
            return out
        finally:
            session.rollback()


def _stored(app: Flask, storage: FileSystemStorage) -> tuple[int, list[Path]]:
    with app.app_context():
        rows = db_session().scalar(select(func.count()).select_from(Document))
    files = sorted(p for p in storage.root.rglob("*") if p.is_file()) if storage.root.exists() else []
    return int(rows or 0), files


@BOTH_DATABASES
@pytest.mark.parametrize("label", ["html page", "svg with script", "windows program renamed .pdf", "empty file",
                                   "near-empty pdf", "pdf cut short (no %%EOF)"])
def test_a_refused_upload_stores_no_row_and_no_file(app: Flask, tmp_path: Path, label: str) -> None:
    storage = FileSystemStorage(tmp_path / "store")
    content, code = HOSTILE[label]
    good = {"name": "good.pdf", "content_base64": base64.b64encode(PDF).decode()}
    bad = {"name": "bad.pdf", "content_type": "application/pdf", "content_base64": base64.b64encode(content).decode()}
    with pytest.raises(FormInvalid) as refused:
        _store(app, storage, [good, bad])  # one bad file refuses the submission, the good one included
    assert refused.value.errors == {"documents": [code]}
    assert _stored(app, storage) == (0, [])


@BOTH_DATABASES
def test_a_valid_upload_keeps_metadata_and_hash_in_the_row_and_bytes_in_storage(app: Flask, tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path / "store")
    out = _store(app, storage, [{"name": "../scan.pdf", "content_type": "text/html", "content": PNG},
                                {"name": "certificate.pdf", "content_base64": base64.b64encode(PDF).decode()}])
    assert [ref["name"] for ref in out["documents"]] == ["scan.png", "certificate.pdf"]
    with app.app_context():
        rows = db_session().scalars(select(Document).order_by(Document.id)).all()
        assert [(d.name, d.content_type, d.size) for d in rows] == [
            ("scan.png", "image/png", len(PNG)), ("certificate.pdf", "application/pdf", len(PDF))]
        assert [d.storage_key for d in rows] == [d.sha256 for d in rows] == [
            hashlib.sha256(PNG).hexdigest(), hashlib.sha256(PDF).hexdigest()]
        assert not hasattr(Document, "content")
    for document in rows:
        with storage.open(document.storage_key) as stream:
            assert stream.read() == (PNG if document.content_type == "image/png" else PDF)


def test_too_many_files_in_one_field_are_refused(app: Flask, tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path / "store")
    files = [{"name": f"p{i}.png", "content": png_image(i + 1, 1)} for i in range(21)]
    with pytest.raises(FormInvalid) as refused:
        _store(app, storage, files)
    assert refused.value.errors == {"documents": ["too_many_items"]}
    assert _stored(app, storage) == (0, [])


# --- the migration: bytes leave the database ---------------------------------------------------

@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_migration_moves_stored_bytes_to_the_folder_and_back(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    from alembic import command
    from sqlalchemy import create_engine, inspect, text

    from webui.cli import alembic_config, upgrade_database

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}" if database_url == "sqlite" else _fresh_postgres(request)
    monkeypatch.setenv("DOCUMENT_STORAGE_DIR", str(tmp_path / "moved"))
    upgrade_database(url, "0001")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO directorates (id, code, name_en, name_ar, governorate_code) "
                "VALUES (1, 'RBH', 'R', 'ر', 'RBH')"))
            connection.execute(text(
                "INSERT INTO cases (id, reference, directorate_id, channel, status, stage, prefill, created_at) "
                "VALUES (1, 'RBH-1', 1, 'reception', 'open', 'registration', '{}', :now)"),
                {"now": dt.datetime(2026, 11, 1, tzinfo=dt.UTC)})
            connection.execute(text(
                "INSERT INTO documents (id, case_id, name, content_type, size, sha256, content, uploaded_at) "
                "VALUES (1, 1, 'old.pdf', 'application/pdf', :size, 'not checked', :content, :now)"),
                {"size": len(PDF), "content": PDF, "now": dt.datetime(2026, 11, 1, tzinfo=dt.UTC)})
        upgrade_database(url, "0002")
        key = hashlib.sha256(PDF).hexdigest()
        assert "content" not in {c["name"] for c in inspect(engine).get_columns("documents")}
        with engine.connect() as connection:
            assert connection.execute(text("SELECT storage_key FROM documents")).scalar_one() == key
        with FileSystemStorage(tmp_path / "moved").open(key) as stream:
            assert stream.read() == PDF
        command.downgrade(alembic_config(url), "0001")
        with engine.connect() as connection:
            assert bytes(connection.execute(text("SELECT content FROM documents")).scalar_one()) == PDF
    finally:
        engine.dispose()


def _fresh_postgres(request: pytest.FixtureRequest) -> str:
    """An empty database of this test's own on the PostgreSQL server, dropped afterwards."""
    database = own_postgres_database("mosd_documents")
    url = database.__enter__()
    request.addfinalizer(lambda: database.__exit__(None, None, None))
    return url
