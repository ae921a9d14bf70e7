"""One run of the legacy import: who ran it, on which file, how far it got and what it counted."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base


class BatchStatus(enum.StrEnum):
    #: Committing chunks of households; a batch left so was interrupted (re-running the file finishes it).
    RUNNING = "running"
    DONE = "done"


class ImportBatch(Base):
    """A real (not dry) run of ``registry import``; its counts grow with each committed chunk."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(250))
    #: SHA-256 of the file's bytes: the same export run twice is recognisable in the audit.
    file_hash: Mapped[str] = mapped_column(String(64), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.RUNNING.value)
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    #: households_imported, people_imported, households_already_imported, households_rejected, rows_rejected
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
