"""A complaint: who filed it and how, what it is about, and where it stands."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, utcnow
from registry.models import Directorate


class ComplaintKind(enum.StrEnum):
    DECISION = "decision"
    DELAY = "delay"
    STAFF = "staff"


class ComplaintStatus(enum.StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class ComplaintChannel(enum.StrEnum):
    PORTAL = "portal"
    ANONYMOUS = "anonymous"
    STAFF = "staff"


class Complaint(Base):
    """One complaint; its reference is the business key of its process instance."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_directorate_created", "directorate_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Random, human-readable (``CMP-7K4M-Q9XA``): the complainant reads it out on the phone.
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    #: For an anonymous complaint: the hash of the follow-up code shown once when it was filed.
    access_code_hash: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    directorate_id: Mapped[int] = mapped_column(ForeignKey("directorates.id"))
    kind: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    about_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    #: How to reach the complainant, when they gave one (an anonymous complaint may leave it empty).
    contact_mobile: Mapped[str | None] = mapped_column(String(20))
    lang: Mapped[str] = mapped_column(String(2), default="ar")
    status: Mapped[str] = mapped_column(String(16), default=ComplaintStatus.RECEIVED.value)
    outcome: Mapped[str | None] = mapped_column(String(20))
    acknowledgement_text: Mapped[str | None] = mapped_column(Text)
    resolution_text: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]

    directorate: Mapped[Directorate] = relationship(lazy="joined")

    @property
    def is_resolved(self) -> bool:
        return self.status == ComplaintStatus.RESOLVED.value
