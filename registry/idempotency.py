"""Idempotency keys: a retried request with the same key gets the first answer, and the work is done once.

The answer is stored in the same transaction as the work it describes (the service calls ``remember``
from inside its unit of work), so a crash after the commit can never make a retry do the work again
or answer differently.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.db import Base
from registry.errors import RegistryError

KEY_LIFETIME = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 200
#: Printable ASCII: what a client can put in a header and a reader can see in a log.
KEY_PATTERN = re.compile(r"[\x21-\x7e][\x20-\x7e]*")


class IdempotencyKey(Base):
    """The stored answer to one user's request made under one key."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(index=True)


class KeyReused(RegistryError):
    """The key was already used by this user for a different request."""


class KeyInProgress(RegistryError):
    """Another request with the same key is being worked on; its answer is not stored yet."""


@dataclass(frozen=True)
class IdempotentRequest:
    """Who asked, under which key, and a digest of what they asked (method, path and body)."""

    user_id: int
    key: str
    request_hash: str


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: dict[str, Any]


def key_is_valid(key: str) -> bool:
    return len(key) <= MAX_KEY_LENGTH and KEY_PATTERN.fullmatch(key) is not None


def request_digest(method: str, path: str, body: Any) -> str:
    """A digest of the request: the same JSON in another key order or spacing is the same request."""
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def stored_answer(session: Session, *, request: IdempotentRequest, now: dt.datetime) -> StoredAnswer | None:
    """The answer given to an earlier request under this key, if it is still kept; refuses a different request."""
    row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == request.user_id,
                                                      IdempotencyKey.key == request.key))
    if row is None or row.created_at <= now - KEY_LIFETIME:
        return None
    if row.request_hash != request.request_hash:
        raise KeyReused(request.key)
    return StoredAnswer(status=row.status, body=row.response)


def remember(session: Session, *, request: IdempotentRequest, status: int, body: dict[str, Any],
             now: dt.datetime) -> None:
    """Store the answer inside the caller's unit of work; a concurrent twin fails on the unique key."""
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.user_id == request.user_id,
                                                 IdempotencyKey.created_at <= now - KEY_LIFETIME),
                    execution_options={"synchronize_session": False})
    session.add(IdempotencyKey(user_id=request.user_id, key=request.key, request_hash=request.request_hash,
                               status=status, response=body, created_at=now))
    session.flush()
