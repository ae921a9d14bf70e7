"""Supervision sessions and notes: between a directorate's supervisors and one case manager, about their work."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, utcnow
from registry.models import User


class SupervisionSession(Base):
    """A supervision meeting planned with one case manager: when, and what it will go through."""

    __tablename__ = "supervision_sessions"
    __table_args__ = (
        Index("ix_supervision_sessions_directorate", "directorate_id", "scheduled_at"),
        Index("ix_supervision_sessions_manager", "case_manager_id", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    directorate_id: Mapped[int] = mapped_column(ForeignKey("directorates.id"))
    case_manager_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    scheduled_at: Mapped[dt.datetime]
    agenda: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    case_manager: Mapped[User] = relationship(foreign_keys=[case_manager_id], lazy="joined")
    supervisor: Mapped[User] = relationship(foreign_keys=[supervisor_id], lazy="joined")


class SupervisionNote(Base):
    """A supervisor's note on a case manager's work, on one of their cases or from a session; its text never
    changes. Only the directorate's supervisors and that case manager ever read it."""

    __tablename__ = "supervision_notes"
    __table_args__ = (
        Index("ix_supervision_notes_manager", "case_manager_id", "created_at"),
        Index("ix_supervision_notes_case", "case_id", "created_at"),
        Index("ix_supervision_notes_session", "session_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    directorate_id: Mapped[int] = mapped_column(ForeignKey("directorates.id"))
    #: The case manager whose work the note is about (for a note on a case: the case's manager when written).
    case_manager_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("supervision_sessions.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: The note form's one-time token: the same form sent twice adds one note.
    form_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined")
    case_manager: Mapped[User] = relationship(foreign_keys=[case_manager_id], lazy="joined")
