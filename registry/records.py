"""What earlier tasks recorded, for everyone who may see the case: who, when, every answer, what changed.

Scoped like the case itself (staff of the case's directorate), bounded like the case page (the latest few
submissions per form, one completed task at a time), and process-agnostic: what a banner shows is named by
the form file (``banner_from``), never by Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import runtime
from engine.errors import NotFoundForActor
from engine.forms import FieldDef, FormDef
from engine.library import Library
from engine.models import TaskRecord, TaskState
from registry.models import User

#: How many completed tasks the case page lists (newest first); the rest stay reachable by paging.
RECORDS_SHOWN = 50


@dataclass(frozen=True)
class Change:
    """One difference between two submissions of a form.

    ``kind`` is ``added``, ``removed`` or ``changed``. For a row of a group (an intervention of a plan),
    ``group`` is the group's field and ``row`` its number from 1; a whole row added or removed has
    ``field`` = ``group`` and the row's values in ``after`` or ``before``.
    """

    field: FieldDef
    kind: str
    before: Any = None
    after: Any = None
    group: FieldDef | None = None
    row: int | None = None


@dataclass
class Recorded:
    """One completed task as it was recorded, with the submission of the same form before it."""

    task: TaskRecord
    form: FormDef
    number: int
    total: int
    previous: TaskRecord | None = None
    changes: list[Change] = field(default_factory=list)
    names: dict[int, dict[str, str]] = field(default_factory=dict)
    case_reference: str = ""


@dataclass(frozen=True)
class Banner:
    """A value an earlier task recorded that the form asks to show on top of the task (a plan's return reason)."""

    form: FormDef
    field: FieldDef
    value: Any
    by: dict[str, str] | None
    at: dt.datetime | None


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def task_for_reader(session: Session, *, actor: User, task_id: str) -> TaskRecord:
    """A task the actor may read: a ready one only in their role's lane (it is work to do); a completed one
    for any staff of the case's directorate (it is part of the case they may see)."""
    record = session.get(TaskRecord, task_id)
    if record is None or actor.scope is None or record.scope != actor.scope:
        raise NotFoundForActor(task_id)
    if record.state == TaskState.COMPLETED.value or record.visible_to(role=actor.role, scope=actor.scope):
        return record
    raise NotFoundForActor(task_id)


def _completed(case_id: int) -> list[Any]:
    return [TaskRecord.business_key == str(case_id), TaskRecord.state == TaskState.COMPLETED.value]


@dataclass
class RecordedList:
    """The case's latest completed tasks (newest first), how many there are, and who completed them."""

    items: list[TaskRecord]
    total: int
    names: dict[int, dict[str, str]] = field(default_factory=dict)


def recorded_tasks(session: Session, *, actor: User, case_id: int, limit: int = RECORDS_SHOWN) -> RecordedList:
    """The case's latest completed tasks, newest first, for staff of its directorate."""
    from registry.cases import case_for_actor, user_names

    case = case_for_actor(session, actor=actor, case_id=case_id)
    done = _completed(case.id)
    rows = list(session.scalars(select(TaskRecord).where(*done)
                                .order_by(TaskRecord.completed_at.desc(), TaskRecord.id.desc()).limit(limit)))
    total = len(rows) if len(rows) < limit else int(session.scalar(
        select(func.count()).select_from(TaskRecord).where(*done)) or 0)
    return RecordedList(items=rows, total=total,
                        names=user_names(session, {t.completed_by_id for t in rows if t.completed_by_id}))


def _previous(session: Session, record: TaskRecord) -> TaskRecord | None:
    """The submission of the same form on the same case just before this one."""
    if record.completed_at is None:
        return None
    return session.scalars(select(TaskRecord).where(
        *_completed(int(record.business_key)), TaskRecord.form_key == record.form_key,
        TaskRecord.completed_at < record.completed_at)
        .order_by(TaskRecord.completed_at.desc(), TaskRecord.id.desc()).limit(1)).first()


def _position(session: Session, record: TaskRecord) -> tuple[int, int]:
    """Which submission of its form on the case this is (from 1), and how many there are."""
    same_form = [*_completed(int(record.business_key)), TaskRecord.form_key == record.form_key]
    total = int(session.scalar(select(func.count()).select_from(TaskRecord).where(*same_form)) or 0)
    earlier = int(session.scalar(select(func.count()).select_from(TaskRecord).where(
        *same_form, TaskRecord.completed_at < record.completed_at)) or 0) if record.completed_at else 0
    return earlier + 1, max(total, 1)


def record_of(session: Session, *, library: Library, record: TaskRecord) -> Recorded:
    """A completed task with its form (as deployed with the case's version) and what changed since the last time."""
    from registry.cases import user_names

    form = runtime.form_for(session, library, record)
    previous = _previous(session, record)
    changes = changes_between(form, previous.data or {}, record.data or {}) if previous is not None else []
    number, total = _position(session, record)
    people = {p.completed_by_id for p in (record, previous) if p is not None and p.completed_by_id}
    return Recorded(task=record, form=form, number=number, total=total, previous=previous, changes=changes,
                    names=user_names(session, people))


def task_record(session: Session, *, actor: User, library: Library, case_id: int, task_id: str) -> Recorded:
    """What one completed task of a case recorded, for staff of the case's directorate."""
    from registry.cases import case_for_actor

    case = case_for_actor(session, actor=actor, case_id=case_id)
    record = session.get(TaskRecord, task_id)
    if record is None or record.business_key != str(case.id) or record.state != TaskState.COMPLETED.value:
        raise NotFoundForActor(task_id)
    found = record_of(session, library=library, record=record)
    found.case_reference = case.reference
    return found


def changes_between(form: FormDef, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """What differs from one submission of ``form`` to the next, field by field in the form's order."""
    found: list[Change] = []
    for f in form.fields:
        old, new = before.get(f.name), after.get(f.name)
        if f.type == "group":
            found.extend(_group_changes(f, old or [], new or []))
        elif _empty(old) and _empty(new) or old == new:
            continue
        elif _empty(old):
            found.append(Change(field=f, kind="added", after=new))
        elif _empty(new):
            found.append(Change(field=f, kind="removed", before=old))
        else:
            found.append(Change(field=f, kind="changed", before=old, after=new))
    return found


def _group_changes(group: FieldDef, before: list[Any], after: list[Any]) -> list[Change]:
    """Rows compared by position: a row added or removed whole, else each of its fields that changed."""
    found: list[Change] = []
    for index in range(max(len(before), len(after))):
        old = before[index] if index < len(before) and isinstance(before[index], Mapping) else None
        new = after[index] if index < len(after) and isinstance(after[index], Mapping) else None
        if old is None and new is not None:
            found.append(Change(field=group, kind="added", after=new, group=group, row=index + 1))
        elif new is None and old is not None:
            found.append(Change(field=group, kind="removed", before=old, group=group, row=index + 1))
        elif old is not None and new is not None:
            for change in changes_between(FormDef(key=group.name, title=group.label, description=None, context=(),
                                                  fields=group.fields), old, new):
                found.append(Change(field=change.field, kind=change.kind, before=change.before, after=change.after,
                                    group=group, row=index + 1))
    return found


def latest_records(session: Session, *, library: Library, case_id: int, form_keys: list[str]
                   ) -> dict[str, Recorded]:
    """The latest submission of each named form on the case (for ``record:<form>`` context panels)."""
    found: dict[str, Recorded] = {}
    for form_key in form_keys:
        latest = session.scalars(select(TaskRecord).where(*_completed(case_id), TaskRecord.form_key == form_key)
                                 .order_by(TaskRecord.completed_at.desc(), TaskRecord.id.desc()).limit(1)).first()
        if latest is not None:
            found[form_key] = record_of(session, library=library, record=latest)
    return found


def banners_for(session: Session, *, library: Library, record: TaskRecord, form: FormDef) -> list[Banner]:
    """The values a ready task's form names in ``banner_from`` (``<form>.<field>``), each from the latest
    submission of that form when it came after this form's own latest submission: it is what this pass of
    the task answers (the supervisor's comments on a returned plan), not an old remark."""
    if not record.is_ready or not form.banner_from:
        return []
    case_id = int(record.business_key)
    own_latest = session.scalar(select(func.max(TaskRecord.completed_at)).where(
        *_completed(case_id), TaskRecord.form_key == record.form_key))
    found: list[Banner] = []
    for source in form.banner_from:
        form_key, _, field_name = source.partition(".")
        latest = session.scalars(select(TaskRecord).where(*_completed(case_id), TaskRecord.form_key == form_key)
                                 .order_by(TaskRecord.completed_at.desc(), TaskRecord.id.desc()).limit(1)).first()
        if latest is None or (own_latest is not None and latest.completed_at is not None
                              and latest.completed_at < own_latest):
            continue
        value = (latest.data or {}).get(field_name)
        source_form = runtime.form_for(session, library, latest)
        source_field = next((f for f in source_form.fields if f.name == field_name), None)
        if _empty(value) or source_field is None:
            continue
        from registry.cases import user_names

        names = user_names(session, {latest.completed_by_id} if latest.completed_by_id else set())
        found.append(Banner(form=source_form, field=source_field, value=value,
                            by=names.get(latest.completed_by_id) if latest.completed_by_id else None,
                            at=latest.completed_at))
    return found
