"""What a phone sent for a visit: kept whatever happens to it, so nothing typed in the field is lost."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base
from registry.campaigns.models import Visit
from registry.idempotency import MAX_KEY_LENGTH
from registry.models import User


class SubmissionState(enum.StrEnum):
    PENDING = "pending"      # received and kept; not applied yet
    APPLIED = "applied"      # the visit was completed with it
    CONFLICT = "conflict"    # the visit or its household changed since the download: a person decides
    RESOLVED = "resolved"    # a person applied it over the current values, or discarded it (see resolution)
    REFUSED = "refused"      # the values were not acceptable (the phone keeps them for correction)


class Resolution(enum.StrEnum):
    APPLIED = "applied"
    DISCARDED = "discarded"


class VisitSubmission(Base):
    """One completed visit as a phone sent it: the values, the files, and what became of it."""

    __tablename__ = "visit_submissions"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        Index("ix_visit_submissions_state_visit", "state", "visit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("campaign_visits.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    #: A digest of what was sent under the key: the same key with other values is refused, never merged.
    request_hash: Mapped[str] = mapped_column(String(64))
    #: The visit's lock_version when the phone downloaded it.
    base_version: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(16))
    #: The form values as typed.
    payload: Mapped[dict[str, Any]]
    #: The files sent with it, stored by content hash: [{field, name, content_type, size, sha256}].
    files: Mapped[list[Any]]
    received_at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(String(16), default=SubmissionState.PENDING.value)
    #: What changed on the server since the download (a conflict), or why the values were refused.
    differences: Mapped[dict[str, Any]]
    #: The answer the phone got (status and body): a second send under the same key gets it again.
    answer_status: Mapped[int | None]
    answer: Mapped[dict[str, Any] | None]
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[dt.datetime | None]

    visit: Mapped[Visit] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])
