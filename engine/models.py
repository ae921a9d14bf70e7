"""Engine tables: deployed process versions, instances (state only), the task index and waiting timers."""

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
              postgresql_include=["lane", "assignee_id", "instance_id", "stage", "spec_id", "title", "created_at",
                                  "waiting_on", "household_due_at", "household_missed_at", "id"]),
        # The worker's sweep of tasks whose household has a date to meet.
        Index("ix_task_records_waiting", "waiting_on", "state", "household_due_at"),
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
    #: Who the task waits on ("household") while staff cannot go on; its staff due date stands still meanwhile.
    waiting_on: Mapped[str | None] = mapped_column(String(16))
    wait_reason: Mapped[str | None] = mapped_column(Text)
    #: When staff paused the task (none for a task that waits on the household by its nature).
    paused_at: Mapped[dt.datetime | None]
    #: Time paused so far, in seconds: the staff due date has moved later by this much.
    paused_seconds: Mapped[int] = mapped_column(default=0)
    #: The date the household should respond by, and when the wait ends without an answer.
    household_due_at: Mapped[dt.datetime | None]
    household_grace_until: Mapped[dt.datetime | None]
    household_reminded_at: Mapped[dt.datetime | None]
    #: When a wait ended because the household missed its date (the supervisor is shown it).
    household_missed_at: Mapped[dt.datetime | None]

    @property
    def is_ready(self) -> bool:
        return self.state == TaskState.READY.value

    @property
    def is_waiting(self) -> bool:
        return self.waiting_on is not None

    @property
    def shown_due_at(self) -> dt.datetime | None:
        """The date that counts now: the household's while the task waits on it, else the staff's."""
        return self.household_due_at if self.is_waiting else self.due_at

    def is_overdue(self, now: dt.datetime) -> bool:
        """Past the staff due date; a task waiting on the household is not late for staff."""
        return self.is_ready and not self.is_waiting and self.due_at is not None and self.due_at < now

    def visible_to(self, *, role: str, scope: str | None) -> bool:
        """Tasks go to the users of the lane's role in the case's directorate."""
        return self.lane == role and self.scope == scope

    def is_free_for(self, actor_id: int | None) -> bool:
        """Unclaimed, or claimed by (or assigned to) this user."""
        return self.assignee_id is None or self.assignee_id == actor_id


class TimerState(enum.StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"


class Timer(Base):
    """A timer event an instance waits at, with its due time: workers find due ones without deserializing.

    Rows follow the workflow whenever an instance is saved (engine.timer_index.sync_timers): a new waiting
    timer is added, one that no longer waits (its task was completed, its path cancelled) is cancelled.
    """

    __tablename__ = "timers"
    __table_args__ = (
        # What a worker asks for: pending timers, soonest due first.
        Index("ix_timers_due", "due_at", sqlite_where=text("state = 'pending'"),
              postgresql_where=text("state = 'pending'")),
        Index("ix_timers_instance", "instance_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    business_key: Mapped[str] = mapped_column(String(64))
    #: The timer event's id and name in the diagram, and the SpiffWorkflow task waiting at it.
    spec_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    task_id: Mapped[str] = mapped_column(String(36))
    due_at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(String(16), default=TimerState.PENDING.value)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    fired_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    #: Failed attempts to fire it, the last failure, and when a worker may try again.
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    retry_at: Mapped[dt.datetime | None]
