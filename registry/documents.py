"""Documents attached to cases: what an upload must be, how its name is cleaned, where its bytes live.

The database keeps a document's metadata and hash; the bytes live in a storage backend (a folder
for a single server, S3-compatible object storage when several servers share the files), passed in
by the caller. Nothing here reads document bytes except ``open_document``, which serves a download.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
import re
import struct
import tempfile
import unicodedata
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote

import puremagic
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor
from engine.forms import FormDef
from registry.errors import StorageUnavailable
from registry.models import Document, User

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Below this nothing is a usable scan or photo; it also covers every accepted type's full header.
MIN_UPLOAD_BYTES = 64
MAX_FILES_PER_FIELD = 20
MAX_NAME_CHARS = 120

#: Accepted types by content, each with its extension and the other spellings that mean the same.
ACCEPTED_TYPES: dict[str, tuple[str, ...]] = {
    "application/pdf": ("pdf",),
    "image/jpeg": ("jpg", "jpeg", "jpe", "jfif"),
    "image/png": ("png",),
}
#: Types a browser shows by itself without running anything of the file's: a preview may show them inline.
PREVIEWABLE_TYPES = frozenset(ACCEPTED_TYPES)
_BY_EXTENSION = {f".{ext}": mime for mime, exts in ACCEPTED_TYPES.items() for ext in exts}


# --- storage ---------------------------------------------------------------------------------

class DocumentStorage(Protocol):
    """Where document bytes live, by key. ``put`` overwrites; ``open`` raises FileNotFoundError for a missing key."""

    def put(self, key: str, content: bytes) -> None: ...

    def open(self, key: str) -> IO[bytes]: ...

    def delete(self, key: str) -> None: ...


_KEY = re.compile(r"[A-Za-z0-9_-]{8,128}")


def _checked_key(key: str) -> str:
    # Keys become file names and object names: nothing that could climb out of the folder.
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class FileSystemStorage:
    """A folder: ``<root>/<first two characters>/<key>``; writes land whole or not at all."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        key = _checked_key(key)
        return self.root / key[:2] / key

    def put(self, key: str, content: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)  # a reader sees the old file or the new one, never half of one
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> IO[bytes]:
        return self.path(key).open("rb")

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


class S3Storage:
    """A bucket of an S3-compatible object store (AWS, MinIO, Ceph...), objects under ``prefix``."""

    def __init__(self, *, client: Any, bucket: str, prefix: str = "documents/") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return self.prefix + _checked_key(key)

    def put(self, key: str, content: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=content,
                               ContentType="application/octet-stream")

    def open(self, key: str) -> IO[bytes]:
        try:
            body: IO[bytes] = self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(self._name(key)) from None  # as the folder backend says it
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))


def storage_from_config(config: Mapping[str, Any]) -> DocumentStorage:
    """The configured backend; ValueError names a bad or missing key.

    ``DOCUMENT_STORAGE``: "filesystem" (default) with ``DOCUMENT_STORAGE_DIR``, or "s3" with
    ``S3_BUCKET`` and optionally ``S3_ENDPOINT_URL``, ``S3_REGION``, ``S3_ACCESS_KEY_ID``,
    ``S3_SECRET_ACCESS_KEY`` (else boto3's usual credential chain) and ``S3_PREFIX``.
    """
    kind = str(config.get("DOCUMENT_STORAGE") or "filesystem").strip().lower()
    if kind == "filesystem":
        folder = config.get("DOCUMENT_STORAGE_DIR")
        if not folder:
            raise ValueError("DOCUMENT_STORAGE=filesystem needs DOCUMENT_STORAGE_DIR")
        return FileSystemStorage(Path(str(folder)))
    if kind == "s3":
        if not config.get("S3_BUCKET"):
            raise ValueError("DOCUMENT_STORAGE=s3 needs S3_BUCKET")
        import boto3

        client = boto3.client("s3", endpoint_url=config.get("S3_ENDPOINT_URL") or None,
                              region_name=config.get("S3_REGION") or None,
                              aws_access_key_id=config.get("S3_ACCESS_KEY_ID") or None,
                              aws_secret_access_key=config.get("S3_SECRET_ACCESS_KEY") or None)
        return S3Storage(client=client, bucket=str(config["S3_BUCKET"]),
                         prefix=str(config.get("S3_PREFIX") or "documents/"))
    raise ValueError(f"DOCUMENT_STORAGE must be 'filesystem' or 's3', not {kind!r}")


# --- what an upload must be ------------------------------------------------------------------

class UploadRefused(Exception):
    """One file is not acceptable; ``code`` is the form error code the user sees."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def detect_type(content: bytes) -> str:
    """The accepted MIME type of ``content`` judged by its bytes alone, or UploadRefused.

    The detector names the type; our own checks then require the whole structure a reader
    relies on, so a header glued to anything else (a renamed program, a page) is refused.
    """
    if len(content) < MIN_UPLOAD_BYTES:
        raise UploadRefused("file_empty")
    if len(content) > MAX_UPLOAD_BYTES:
        raise UploadRefused("file_too_large")
    try:
        matches = puremagic.magic_string(content)
    except (puremagic.PureError, ValueError):
        raise UploadRefused("invalid_file_type") from None
    # The strongest matches decide: they must name one accepted type, read from the start of the
    # file, and nothing else unless by the very same bytes (FDF shares PDF's "%PDF"). A file that
    # is more surely something else (an SVG footer after a PDF header) is not taken for a PDF.
    best = max((m.confidence for m in matches), default=0)
    top = [m for m in matches if m.confidence == best]
    accepted = {m.byte_match: _BY_EXTENSION[m.extension.lower()] for m in top
                if m.offset == 0 and m.extension.lower() in _BY_EXTENSION}
    if len(set(accepted.values())) != 1 or any(m.byte_match not in accepted for m in top):
        raise UploadRefused("invalid_file_type")
    mime = next(iter(accepted.values()))
    if not _STRUCTURE_CHECKS[mime](content):
        raise UploadRefused("file_damaged")
    return mime


def _pdf_is_whole(content: bytes) -> bool:
    # A PDF starts with its version and ends with %%EOF (readers allow a little trailing junk).
    return re.match(rb"%PDF-\d\.\d", content) is not None and b"%%EOF" in content[-1024:]


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _png_is_whole(content: bytes) -> bool:
    # Signature, then an IHDR chunk of 13 bytes with a correct CRC and a non-empty size; IEND last.
    if not content.startswith(_PNG_SIGNATURE) or content[8:16] != b"\x00\x00\x00\x0dIHDR":
        return False
    width, height = struct.unpack(">II", content[16:24])
    (crc,) = struct.unpack(">I", content[29:33])
    return width > 0 and height > 0 and zlib.crc32(content[12:29]) == crc and content.endswith(_PNG_END)


_JPEG_FRAMES = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def _jpeg_is_whole(content: bytes) -> bool:
    # Walk the marker segments from SOI: a frame header with a size must come before the scan, and
    # the image must end (EOI) after the scan. Cameras may append data after EOI, so that is allowed.
    if not content.startswith(b"\xff\xd8\xff"):
        return False
    position, frame = 2, False
    while position + 4 <= len(content):
        if content[position] != 0xFF:
            return False
        marker = content[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        if marker in (0xD8, 0xD9):
            return False
        (length,) = struct.unpack(">H", content[position + 2:position + 4])
        if length < 2:
            return False
        if marker in _JPEG_FRAMES:
            if position + 9 > len(content):
                return False
            height, width = struct.unpack(">HH", content[position + 5:position + 9])
            frame = width > 0 and height > 0
        if marker == 0xDA:
            return frame and content.rfind(b"\xff\xd9") > position
        position += 2 + length
    return False


_STRUCTURE_CHECKS = {"application/pdf": _pdf_is_whole, "image/jpeg": _jpeg_is_whole, "image/png": _png_is_whole}


# --- names -----------------------------------------------------------------------------------

_BREAKS = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")
_UNSAFE = re.compile(r'[<>:"|?*]')
_LOOKS_LIKE_EXTENSION = re.compile(r"[A-Za-z0-9]{0,4}[A-Za-z][A-Za-z0-9]{0,4}")


def _printable(text: str) -> str:
    # Line breaks become spaces; every other control or format character (NUL, bidi overrides
    # that make "fdp.exe" read as "exe.pdf", zero-width marks) and every unassigned one goes.
    out = []
    for char in text:
        if char in _BREAKS:
            out.append(" ")
        elif unicodedata.category(char)[0] != "C" and unicodedata.category(char) not in ("Zl", "Zp"):
            out.append(char)
    return "".join(out)


def safe_name(raw: object, *, content_type: str) -> str:
    """A file name to store and offer for download: readable (Arabic stays Arabic), one path part,
    no control characters, at most MAX_NAME_CHARS, ending in the extension of ``content_type``."""
    text = _printable(unicodedata.normalize("NFC", str(raw or "")))
    text = re.split(r"[/\\]", text)[-1]  # a path keeps only its last part: no "../", no folders
    text = re.sub(r"\s+", " ", _UNSAFE.sub("_", text)).strip(" .")
    aliases = ACCEPTED_TYPES.get(content_type, ("bin",))
    stem, dot, ext = text.rpartition(".")
    if not dot:
        stem, ext = text, ""
    if ext.lower() in aliases:
        ext = ext.lower()
    else:
        if not _LOOKS_LIKE_EXTENSION.fullmatch(ext):  # "report 2024.final v2" keeps its words
            stem = text
        ext = aliases[0]  # the name must not promise another type than the content is
    stem, room = stem.strip(" ."), MAX_NAME_CHARS - len(ext) - 1
    if len(stem) > room:
        stem = stem[:room]
        space = stem.rfind(" ")
        if space > room - 20:  # end on a whole word when one ends near the limit
            stem = stem[:space]
    stem = stem.rstrip(" .") or "document"
    return f"{stem}.{ext}"


def content_disposition(name: str) -> str:
    """An attachment header for ``name``: a plain ASCII fallback, and the exact name as RFC 5987 ``filename*``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = re.sub(r"[^A-Za-z0-9 ._()-]", "_", ascii_name)
    stem, _dot, ext = fallback.rpartition(".")
    if not stem.strip(" ._"):
        fallback = f"document.{ext or 'bin'}"
    value = f'attachment; filename="{fallback}"'
    if fallback != name:
        value += "; filename*=UTF-8''" + quote(name, safe="!#$&+-.^_`|~")
    return value


# --- services --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Upload:
    field: str
    name: str
    content_type: str
    content: bytes
    sha256: str
    #: The requested document this file answers (a code of the request), when the form asks per document.
    requested: str | None = None


_MAX_BASE64_CHARS = (MAX_UPLOAD_BYTES + 2) // 3 * 4 + 4


def _content_of(item: Mapping[str, Any]) -> bytes:
    content = item.get("content")
    if content is None and "content_base64" in item:
        text = item["content_base64"]
        if not isinstance(text, str):
            raise UploadRefused("invalid_file")
        if len(text) > _MAX_BASE64_CHARS:  # refused before decoding: no 25 MB of work for nothing
            raise UploadRefused("file_too_large")
        try:
            content = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise UploadRefused("invalid_file") from None
    if not isinstance(content, bytes):
        raise UploadRefused("invalid_file")
    return content


def _accepted(field: str, item: Any) -> _Upload:
    if not isinstance(item, Mapping):
        raise UploadRefused("invalid_file")
    requested = item.get("for")
    if requested is not None and not (isinstance(requested, str) and _REQUESTED_CODE.fullmatch(requested)):
        raise UploadRefused("not_requested")  # whether it was requested is the form's check; this is its shape
    content = _content_of(item)
    mime = detect_type(content)
    return _Upload(field=field, name=safe_name(item.get("name"), content_type=mime), content_type=mime,
                   content=content, sha256=hashlib.sha256(content).hexdigest(), requested=requested)


_REQUESTED_CODE = re.compile(r"[a-z][a-z0-9_.]{0,99}")


def store_uploads(session: Session, *, storage: DocumentStorage | None, actor: User | None, case_id: int,
                  form: FormDef, data: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    """Replace the files in ``data``'s file fields by references to stored documents.

    ``actor`` is the staff user uploading; None for the household's own uploads from the portal.

    A file arrives as {"name", "content_type", "content": bytes} from the browser, or with
    "content_base64" through the API, either with an optional "for" (the requested document it answers);
    what the task keeps is {"document_id", "name", "size"} and its "for".
    The declared type and the name's extension are ignored: the content decides. Every file is
    checked before any is stored, so a refusal stores nothing. Bytes are written before the row
    is flushed: a rollback may leave an unreferenced file (harmless, its key is its hash and a
    retry reuses it), never a row without its file.
    """
    if not isinstance(data, Mapping):
        raise FormInvalid({"_form": ["invalid_type"]})
    out = dict(data)
    uploads: list[_Upload] = []
    errors: dict[str, list[str]] = {}
    for f in form.fields:
        if f.type != "file" or out.get(f.name) in (None, "", []):
            continue
        items = out[f.name] if isinstance(out[f.name], list) else [out[f.name]]
        if len(items) > MAX_FILES_PER_FIELD:
            errors[f.name] = ["too_many_items"]
            continue
        for item in items:
            try:
                uploads.append(_accepted(f.name, item))
            except UploadRefused as refused:
                errors.setdefault(f.name, []).append(refused.code)
    if errors:
        raise FormInvalid({name: list(dict.fromkeys(codes)) for name, codes in errors.items()})
    if uploads and storage is None:
        raise RuntimeError("a file was uploaded but no document storage was given")
    refs: dict[str, list[dict[str, Any]]] = {}
    for upload in uploads:
        assert storage is not None
        try:
            storage.put(upload.sha256, upload.content)
        except Exception as err:  # a full disk, S3 down: the whole completion is refused, nothing is kept
            raise StorageUnavailable(str(err)) from err
        document = Document(case_id=case_id, name=upload.name, content_type=upload.content_type,
                            size=len(upload.content), sha256=upload.sha256, storage_key=upload.sha256,
                            uploaded_by_id=actor.id if actor is not None else None, uploaded_at=now,
                            requested_document=upload.requested)
        session.add(document)
        session.flush()
        ref: dict[str, Any] = {"document_id": document.id, "name": document.name, "size": document.size}
        if upload.requested:
            ref["for"] = upload.requested
        refs.setdefault(upload.field, []).append(ref)
    out.update(refs)
    return out


def document_for_actor(session: Session, *, actor: User, document_id: int) -> Document:
    """A document of a case the actor may see; anything else does not exist for them."""
    from registry.cases import case_for_actor  # cases calls this module to store uploads

    document = session.get(Document, document_id)
    if document is None:
        raise NotFoundForActor(str(document_id))
    case_for_actor(session, actor=actor, case_id=document.case_id)
    return document


@dataclass
class Download:
    name: str
    content_type: str
    size: int
    stream: IO[bytes]

    @property
    def content_disposition(self) -> str:
        return content_disposition(self.name)


def open_document(session: Session, *, storage: DocumentStorage, actor: User, document_id: int) -> Download:
    """The document's bytes as a stream, with a name and type safe to send whatever the row holds.

    Rows written before uploads were checked may carry any name or type: both are cleaned here too.
    """
    document = document_for_actor(session, actor=actor, document_id=document_id)
    content_type = document.content_type if document.content_type in ACCEPTED_TYPES else "application/octet-stream"
    try:
        stream = storage.open(document.storage_key)
    except Exception as err:
        raise StorageUnavailable(str(err)) from err
    return Download(name=safe_name(document.name, content_type=content_type), content_type=content_type,
                    size=document.size, stream=stream)
