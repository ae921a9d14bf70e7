"""Drafts of task forms, saved on the server as staff type, so an ended session or a closed tab loses nothing.

A draft belongs to one user and one ready task that user may act on; only the user sees it. It holds the
form's values (files are never drafted) and goes away when the task is completed (in the completion's own
transaction, see registry.cases.complete_task) or when its user discards it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import ForeignKey, String, Table, bindparam, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import runtime
from engine.db import Base
from engine.errors import NotFoundForActor, TaskAlreadyCompleted, TaskNotClaimable
from engine.forms import FieldDef, FormDef
from engine.library import Library
from engine.models import TaskRecord, TaskState
from registry.errors import RegistryError
from registry.models import User

#: A whole registration with a large household is a few kilobytes; this leaves room without storing anything.
MAX_DRAFT_BYTES = 64 * 1024


class TaskDraft(Base):
    """One user's unsaved values of one task's form."""

    __tablename__ = "task_drafts"

    task_id: Mapped[str] = mapped_column(String(36), ForeignKey("task_records.id", ondelete="CASCADE"),
                                         primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    values: Mapped[dict[str, Any]]
    updated_at: Mapped[dt.datetime]


class DraftRefused(RegistryError):
    """A draft that cannot be kept: ``reason`` is ``too_large``, ``unknown_fields`` or ``bad_values``."""

    def __init__(self, reason: str, fields: list[str] | None = None) -> None:
        super().__init__(f"draft refused: {reason} {fields or ''}".strip())
        self.reason = reason
        self.fields = fields or []
        self.limit = MAX_DRAFT_BYTES


def _task_to_act_on(session: Session, *, actor: User, task_id: str) -> TaskRecord:
    """The ready task the actor may complete; the same refusals as completing it would give."""
    record = session.get(TaskRecord, task_id)
    if record is None or not record.visible_to(role=actor.role, scope=actor.scope):
        raise NotFoundForActor(task_id)
    if not record.is_ready:
        by = session.get(User, record.completed_by_id) if record.completed_by_id is not None else None
        raise TaskAlreadyCompleted(by=by.full_name if by else None, at=record.completed_at)
    if not record.is_free_for(actor.id):
        holder = session.get(User, record.assignee_id) if record.assignee_id is not None else None
        raise TaskNotClaimable(by=holder.full_name if holder else None)
    return record


def _is_scalar(value: Any) -> bool:
    if isinstance(value, list):  # a multichoice: the ticked values
        return all(isinstance(item, str) for item in value)
    return value is None or isinstance(value, str | bool | int | float)


def _check_values(form: FormDef, values: Mapping[str, Any]) -> None:
    """Only the form's own fields (no files), each holding what a form can post; refuse anything else by name."""
    fields = {f.name: f for f in form.fields if f.type != "file"}
    unknown = sorted(name for name in values if name not in fields)
    if unknown:
        raise DraftRefused("unknown_fields", unknown)
    bad: list[str] = []
    for name, value in values.items():
        field: FieldDef = fields[name]
        if field.type != "group":
            if not _is_scalar(value):
                bad.append(name)
            continue
        columns = {sub.name for sub in field.fields if sub.type != "file"}
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            bad.append(name)
            continue
        for index, row in enumerate(value):
            unknown_columns = sorted(f"{name}.{index}.{key}" for key in row if key not in columns)
            if unknown_columns:
                raise DraftRefused("unknown_fields", unknown_columns)
            bad.extend(f"{name}.{index}.{key}" for key, item in row.items() if not _is_scalar(item))
    if bad:
        raise DraftRefused("bad_values", bad)


def save_draft(session: Session, *, actor: User, library: Library, task_id: str, values: Mapping[str, Any],
               now: dt.datetime) -> TaskDraft:
    """Keep what the actor has typed in a task's form so far, replacing their previous draft of it."""
    try:
        size = len(json.dumps(values, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        raise DraftRefused("bad_values") from None
    if size > MAX_DRAFT_BYTES:
        raise DraftRefused("too_large")
    try:
        record = _task_to_act_on(session, actor=actor, task_id=task_id)
        _check_values(runtime.form_for(session, library, record), values)
        draft = session.get(TaskDraft, (task_id, actor.id))
        if draft is None:
            draft = TaskDraft(task_id=task_id, user_id=actor.id, values=dict(values), updated_at=now)
            session.add(draft)
        else:
            draft.values = dict(values)
            draft.updated_at = now
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return draft


def draft_for(session: Session, *, actor: User, task_id: str) -> TaskDraft | None:
    """The actor's own draft of a task that is still ready, if they have one."""
    return session.scalar(select(TaskDraft).join(TaskRecord, TaskRecord.id == TaskDraft.task_id)
                          .where(TaskDraft.task_id == task_id, TaskDraft.user_id == actor.id,
                                 TaskRecord.state == TaskState.READY.value))


def discard_draft(session: Session, *, actor: User, task_id: str) -> None:
    """Forget the actor's draft of a task they can see (nothing else: another user's draft is never touched)."""
    record = session.get(TaskRecord, task_id)
    if record is None or not record.visible_to(role=actor.role, scope=actor.scope):
        raise NotFoundForActor(task_id)
    try:
        session.execute(delete(TaskDraft).where(TaskDraft.task_id == task_id, TaskDraft.user_id == actor.id))
        session.commit()
    except BaseException:
        session.rollback()
        raise


def discard_task_drafts(session: Session, *, task_id: str) -> None:
    """Every user's draft of a task that was just completed; the caller's unit of work commits it.

    A plain DELETE, built once: a completion reads no draft as an object, so nothing in the session needs
    to follow it, and nothing pending needs writing first.
    """
    session.execute(_DISCARD_OF_TASK, {"task_id": task_id})


_DRAFTS = cast(Table, TaskDraft.__table__)
_DISCARD_OF_TASK = delete(_DRAFTS).where(_DRAFTS.c.task_id == bindparam("task_id"))
