"""A household's online application while it is written, and the case it became."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class ApplicationStatus(enum.StrEnum):
    DRAFT = "draft"
    #: Being turned into a case: a second submit at the same moment finds this and starts nothing.
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"


class OnlineApplication(Base):
    """One citizen's application: consent, what the ministries hold, the answers typed so far; then its case."""

    __tablename__ = "online_applications"
    __table_args__ = (
        # One application being written per citizen; submitted ones stay as the record of what was sent.
        Index("uq_online_applications_open", "citizen_id", unique=True,
              sqlite_where=text("status != 'submitted'"), postgresql_where=text("status != 'submitted'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ApplicationStatus.DRAFT.value)
    #: The household agreed that the ministry asks other ministries about it.
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: What the ministries returned (values, where each came from, who did not answer), as reception's prefill.
    prefill: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The registration form's answers so far (files are never drafted).
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[dt.datetime | None]
