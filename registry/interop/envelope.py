"""The standard's message envelope: header checks, acknowledgements, error codes, signatures.

An envelope is ``{"signature": ..., "header": {...}, "message": {...}}``. A request that cannot be taken
(unparsable, wrong version or action, another sender's id, a bad signature) is answered with an ``ERR``
acknowledgement naming one of the standard's error codes; nothing is recorded as a transaction then.

Signatures (when the client registered a public key): the ``signature`` string carries ``key="value"``
pairs as the standard's example shows (``keyId``/``kidId``, ``algorithm``, ``created``, ``expires``,
``signature``). The signed text is, one per line, ``(created): <created>``, ``(expires): <expires>`` and
``digest: BLAKE-512=<base64 of the BLAKE2b-512 digest of the canonical JSON of {"header", "message"}>``;
canonical JSON has sorted keys, no spaces and UTF-8 text. Ed25519 keys sign it as is, RSA keys with
PKCS#1 v1.5 and SHA-256. The registry signs what it sends (answers, callbacks, notifications) the same way
when it has a signing key; partners check it with the public key it publishes.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

VERSION = "1.0.0"
#: How far a sender's clock may be ahead of ours when it dates a signature.
CLOCK_SKEW = dt.timedelta(minutes=5)
_MAX_ID_LENGTH = 99


class ErrorCode(enum.StrEnum):
    """The standard's communication-layer error codes (``Error.code``)."""

    BAD_REQUEST = "err.request.bad"
    UNAUTHORIZED = "err.request.unauthorized"
    FORBIDDEN = "err.request.forbidden"
    NOT_FOUND = "err.request.not_found"
    TOO_MANY_REQUESTS = "err.request.too_many_requests"
    VERSION_NOT_SUPPORTED = "err.version.not_supported"
    SENDER_ID_INVALID = "err.sender_id.invalid"
    SENDER_URI_INVALID = "err.sender_uri.invalid"
    RECEIVER_ID_INVALID = "err.receiver_id.invalid"
    SIGNATURE_MISSING = "err.signature.missing"
    SIGNATURE_INVALID = "err.signature.invalid"
    ENCRYPTION_INVALID = "err.encryption.invalid"
    SERVICE_UNAVAILABLE = "err.service.unavailable"


#: The HTTP status each refusal is answered with.
HTTP_STATUS = {
    ErrorCode.UNAUTHORIZED: 401, ErrorCode.SIGNATURE_MISSING: 401, ErrorCode.SIGNATURE_INVALID: 401,
    ErrorCode.FORBIDDEN: 403, ErrorCode.NOT_FOUND: 404, ErrorCode.TOO_MANY_REQUESTS: 429,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}


class EnvelopeRefused(Exception):  # noqa: N818  # a refusal with its code, as the standard names them
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)


@dataclass(frozen=True)
class Header:
    message_id: str
    message_ts: dt.datetime
    action: str
    sender_id: str
    sender_uri: str | None
    receiver_id: str | None
    total_count: int


def timestamp(moment: dt.datetime) -> str:
    """ISO 8601 with the zone, as every date in the standard."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An ISO 8601 date-time with its zone, or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def new_id() -> str:
    return uuid.uuid4().hex


def ack(status: str, *, now: dt.datetime, correlation_id: str, error: EnvelopeRefused | None = None) -> dict[str, Any]:
    """The standard's acknowledgement: ACK (a callback follows), NACK (nothing follows) or ERR."""
    message: dict[str, Any] = {"ack_status": status, "timestamp": timestamp(now), "correlation_id": correlation_id}
    if error is not None:
        message["error"] = {"code": str(error.code), "message": error.message[:999]}
    return {"message": message}


def http_error(code: ErrorCode, message: str) -> dict[str, Any]:
    """The standard's HTTP-layer error body (a missing token, a forbidden action)."""
    return {"errors": [{"code": str(code), "message": message[:999]}]}


def split(document: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(signature, header, message) of a posted envelope, or refused as a bad request."""
    if not isinstance(document, dict):
        raise EnvelopeRefused(ErrorCode.BAD_REQUEST, "the body must be a JSON object with header and message")
    header, message = document.get("header"), document.get("message")
    if not isinstance(header, dict):
        raise EnvelopeRefused(ErrorCode.BAD_REQUEST, "header is missing or not an object")
    if not isinstance(message, dict):
        raise EnvelopeRefused(ErrorCode.BAD_REQUEST, "message is missing or not an object")
    return document.get("signature"), header, message


def check_header(header: dict[str, Any], *, action: str, sender_id: str, registry_id: str) -> Header:
    """The header of a request to this registry, checked against the standard and the authenticated client."""
    version = header.get("version", VERSION)
    if version != VERSION:
        raise EnvelopeRefused(ErrorCode.VERSION_NOT_SUPPORTED, f"version {version!r} is not supported; use {VERSION}")
    for name in ("message_id", "action", "sender_id"):
        value = header.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_ID_LENGTH:
            raise EnvelopeRefused(ErrorCode.BAD_REQUEST, f"header.{name} is missing or invalid")
    if header["action"] != action:
        raise EnvelopeRefused(ErrorCode.BAD_REQUEST, f"header.action must be {action!r} on this endpoint")
    message_ts = parse_timestamp(header.get("message_ts"))
    if message_ts is None:
        raise EnvelopeRefused(ErrorCode.BAD_REQUEST, "header.message_ts must be an ISO 8601 time with its zone")
    if header["sender_id"] != sender_id:
        raise EnvelopeRefused(ErrorCode.SENDER_ID_INVALID, "header.sender_id is not the client the token belongs to")
    receiver_id = header.get("receiver_id")
    if receiver_id not in (None, "", registry_id):
        raise EnvelopeRefused(ErrorCode.RECEIVER_ID_INVALID, f"this registry's id is {registry_id!r}")
    total_count = header.get("total_count")
    if isinstance(total_count, bool) or not isinstance(total_count, int) or total_count < 0:
        raise EnvelopeRefused(ErrorCode.BAD_REQUEST, "header.total_count must be a whole number")
    if header.get("is_msg_encrypted") is True:
        raise EnvelopeRefused(ErrorCode.ENCRYPTION_INVALID, "encrypted messages are not accepted by this registry")
    sender_uri = header.get("sender_uri")
    if sender_uri is not None and (not isinstance(sender_uri, str) or not _is_http_url(sender_uri)):
        raise EnvelopeRefused(ErrorCode.SENDER_URI_INVALID, "header.sender_uri must be an http(s) URL")
    return Header(message_id=header["message_id"], message_ts=message_ts, action=action, sender_id=sender_id,
                  sender_uri=sender_uri or None, receiver_id=receiver_id or None, total_count=total_count)


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def callback_header(*, action: str, status: str, now: dt.datetime, registry_id: str, receiver_id: str,
                    total_count: int, completed_count: int, reason_message: str | None = None) -> dict[str, Any]:
    """The header of an answer or a callback from this registry (``MsgCallbackHeader``)."""
    header: dict[str, Any] = {
        "version": VERSION, "message_id": new_id(), "message_ts": timestamp(now), "action": action,
        "status": status, "total_count": total_count, "completed_count": completed_count,
        "sender_id": registry_id, "receiver_id": receiver_id, "is_msg_encrypted": False,
    }
    if reason_message:
        header["status_reason_message"] = reason_message[:999]
    return header


# --- signatures ---------------------------------------------------------------------------------

_PAIR = re.compile(r'([A-Za-z_]+)="([^"]*)"')


def digest(header: dict[str, Any], message: dict[str, Any]) -> str:
    canonical = json.dumps({"header": header, "message": message}, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False).encode()
    return base64.b64encode(hashlib.blake2b(canonical, digest_size=64).digest()).decode()


def signing_text(*, created: str, expires: str, header: dict[str, Any], message: dict[str, Any]) -> bytes:
    return f"(created): {created}\n(expires): {expires}\ndigest: BLAKE-512={digest(header, message)}".encode()


def sign(private_key_pem: str, *, key_id: str, header: dict[str, Any], message: dict[str, Any],
         now: dt.datetime, lifetime: dt.timedelta = dt.timedelta(minutes=10)) -> str:
    """The ``signature`` of an envelope, as a sender with ``private_key_pem`` (Ed25519 or RSA) writes it."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    created, expires = str(int(now.timestamp())), str(int((now + lifetime).timestamp()))
    text = signing_text(created=created, expires=expires, header=header, message=message)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm, raw = "ed25519", key.sign(text)
    elif isinstance(key, rsa.RSAPrivateKey):
        algorithm, raw = "rsa-sha256", key.sign(text, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise ValueError("only Ed25519 and RSA keys sign envelopes")
    return (f'Signature: namespace="spdci", keyId="{key_id}|{algorithm}", algorithm="{algorithm}", '
            f'created="{created}", expires="{expires}", headers="(created) (expires) digest", '
            f'signature="{base64.b64encode(raw).decode()}"')


def signed(envelope: dict[str, Any], *, private_key_pem: str | None, key_id: str,
           now: dt.datetime) -> dict[str, Any]:
    """``envelope`` with this registry's ``signature`` (a new dict), or as it is when there is no key."""
    if not private_key_pem:
        return envelope
    return {**envelope, "signature": sign(private_key_pem, key_id=key_id, header=envelope["header"],
                                          message=envelope["message"], now=now)}


def public_key_of(private_key_pem: str) -> str:
    """The PEM public key (SubjectPublicKeyInfo) that checks signatures made with ``private_key_pem``."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def verify(signature: Any, *, public_key_pem: str, header: dict[str, Any], message: dict[str, Any],
           now: dt.datetime) -> None:
    """Refuse an envelope whose signature is missing, expired, or not made by the client's key."""
    if not isinstance(signature, str) or not signature.strip():
        raise EnvelopeRefused(ErrorCode.SIGNATURE_MISSING, "this client must sign its envelopes")
    fields = dict(_PAIR.findall(signature))
    created, expires, value = fields.get("created", ""), fields.get("expires", ""), fields.get("signature", "")
    if not (created.isdigit() and expires.isdigit() and value):
        raise EnvelopeRefused(ErrorCode.SIGNATURE_INVALID, "the signature needs created, expires and signature")
    moment = now.timestamp()
    if int(created) > moment + CLOCK_SKEW.total_seconds() or int(expires) < moment:
        raise EnvelopeRefused(ErrorCode.SIGNATURE_INVALID, "the signature is not valid at this time")
    try:
        raw = base64.b64decode(value, validate=True)
        _check(public_key_pem, raw, signing_text(created=created, expires=expires, header=header, message=message))
    except EnvelopeRefused:
        raise
    except Exception:  # noqa: BLE001 - a bad key, bad base64 or a wrong signature: all the same answer
        raise EnvelopeRefused(ErrorCode.SIGNATURE_INVALID, "the signature does not match the message") from None


def _check(public_key_pem: str, raw: bytes, text: bytes) -> None:
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
    except ImportError:  # the package is needed only for clients that sign
        raise EnvelopeRefused(ErrorCode.SERVICE_UNAVAILABLE, "signature checking is not installed") from None
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(raw, text)
    elif isinstance(key, rsa.RSAPublicKey):
        key.verify(raw, text, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise ValueError("unsupported key type")


def valid_public_key(pem: str) -> bool:
    """True for a PEM Ed25519 or RSA public key (checked when a client is registered)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        return False
    return isinstance(key, ed25519.Ed25519PublicKey | rsa.RSAPublicKey)
