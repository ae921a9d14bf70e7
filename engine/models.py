"""Engine tables: deployed process versions, instances (state only), and the task index."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, utcnow


class ProcessVersion(Base):
    """One deployed version of a process: its parsed spec stored once, keyed by content hash."""

    __tablename__ = "process_versions"
    __table_args__ = (UniqueConstraint("process_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int]
    # Not unique: deploying an earlier content again (a rollback) makes a new version with its hash.
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    # Large and needed only once per process (the spec) or for auditing (the sources): loaded on demand.
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)
    sources: Mapped[dict[str, Any]] = mapped_column(deferred=True)
    deployed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: The user who deployed it (none for the shipped files deployed by a command), and how: file, browser, upload.
    deployed_by_id: Mapped[int | None]
    origin: Mapped[str] = mapped_column(String(16), default="file")
    note: Mapped[str | None] = mapped_column(Text)
    #: What changed from the version before (elements, forms, rule files), worked out when deployed.
    changes: Mapped[dict[str, Any] | None] = mapped_column(deferred=True)


class InstanceStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"


class ProcessInstance(Base):
    """A running case's workflow state (without the spec) and a version for optimistic locking."""

    __tablename__ = "process_instances"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    business_key: Mapped[str] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(16))
    lock_version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default=InstanceStatus.RUNNING.value)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]

    # Loaded only on a spec-cache miss: the hot path finds the spec by version id in memory.
    process_version: Mapped[ProcessVersion] = relationship(lazy="select")

    # SQLAlchemy checks and bumps this on every UPDATE: a stale writer gets StaleDataError.
    __mapper_args__ = {"version_id_col": lock_version}


class TaskState(enum.StrEnum):
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TaskRecord(Base):
    """The task index: every user task that became ready, so inboxes never deserialize a workflow."""

    __tablename__ = "task_records"
    __table_args__ = (
        Index("ix_task_records_inbox", "scope", "lane", "state", "due_at"),
        Index("ix_task_records_assignee", "assignee_id", "state"),
        Index("ix_task_records_instance", "instance_id", "state"),
        Index("ix_task_records_case_form", "business_key", "form_key", "state", "completed_at"),
        # A directorate's ready tasks of every lane (a supervisor's team inbox), soonest due first; it holds
        # what the inbox's counts group by, so they are read from the index alone (PostgreSQL).
        Index("ix_task_records_ready_scope", "scope", "due_at",
              sqlite_where=text("state = 'ready'"), postgresql_where=text("state = 'ready'"),
              postgresql_include=["lane", "assignee_id", "instance_id", "stage", "spec_id", "title", "created_at"]),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    business_key: Mapped[str] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(String(32))
    spec_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str] = mapped_column(String(50))
    form_key: Mapped[str] = mapped_column(String(100))
    stage: Mapped[str | None] = mapped_column(String(50))
    assignee_id: Mapped[int | None]
    due_at: Mapped[dt.datetime | None]
    state: Mapped[str] = mapped_column(String(16), default=TaskState.READY.value)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    completed_by_id: Mapped[int | None]
    data: Mapped[dict[str, Any] | None]

    @property
    def is_ready(self) -> bool:
        return self.state == TaskState.READY.value

    def is_overdue(self, now: dt.datetime) -> bool:
        return self.is_ready and self.due_at is not None and self.due_at < now

    def visible_to(self, *, role: str, scope: str | None) -> bool:
        """Tasks go to the users of the lane's role in the case's directorate."""
        return self.lane == role and self.scope == scope

    def is_free_for(self, actor_id: int) -> bool:
        """Unclaimed, or claimed by (or assigned to) this user."""
        return self.assignee_id is None or self.assignee_id == actor_id
