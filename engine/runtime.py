"""Start instances, complete tasks, claim and release: one guarded path for every advance.

Functions here only flush; the caller's service operation owns the transaction, so workflow
state, task rows and the caller's audit event commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import expressions
from engine.catalog import CHOICE_PROVIDERS, FORM_CHECKS, OperationContext
from engine.errors import (
    NotFoundForActor,
    StaleState,
    TaskAlreadyCompleted,
    TaskNotClaimable,
)
from engine.forms import FormDef, load_form, static_choices, validate_submission
from engine.library import Library, parse_duration, user_task_properties
from engine.models import InstanceStatus, ProcessInstance, ProcessVersion, TaskRecord, TaskState
from engine.script_engine import SafeScriptEngine
from engine.state import SERIALIZER_VERSION, compact, load_spec, restore, save

MayAct = Callable[[TaskRecord], bool]


@dataclass
class Advance:
    """What one step did: the instance, the task completed (if any) and the tasks now ready."""

    instance: ProcessInstance
    completed: TaskRecord | None
    ready: list[TaskRecord]
    data: dict[str, Any]


def _engine(session: Session, instance: ProcessInstance, actor_id: int | None, now: dt.datetime,
            library: Library | None = None) -> SafeScriptEngine:
    context = OperationContext(session=session, business_key=instance.business_key, scope=instance.scope,
                               actor_id=actor_id, now=now,
                               rules_dir=str(library.rules_dir) if library is not None else None)
    return SafeScriptEngine(context)


def _workflow(instance: ProcessInstance, script_engine: SafeScriptEngine) -> BpmnWorkflow:
    version = instance.process_version
    spec, subs = load_spec(version.content_hash, version.spec_json)
    workflow = restore(instance.state, instance.serializer_version, spec, subs)
    workflow.script_engine = script_engine
    return workflow


def start_instance(
    session: Session,
    *,
    library: Library,
    version: ProcessVersion,
    business_key: str,
    scope: str,
    data: Mapping[str, Any],
    actor_id: int | None,
    now: dt.datetime,
) -> Advance:
    """Create an instance pinned to ``version`` and run it to its first user tasks."""
    instance = ProcessInstance(process_version=version, business_key=business_key, scope=scope, state="",
                               serializer_version=SERIALIZER_VERSION, created_at=now, updated_at=now)
    session.add(instance)
    session.flush()
    spec, subs = load_spec(version.content_hash, version.spec_json)
    workflow = BpmnWorkflow(spec, subs, script_engine=_engine(session, instance, actor_id, now, library))
    workflow.task_tree.data.update(data)
    workflow.do_engine_steps()
    return _persist(session, instance, workflow, now, completed=None)


@contextmanager
def _guarded(session: Session, task_id: str) -> Iterator[tuple[TaskRecord, ProcessInstance]]:
    """Load a task and lock its instance (row lock on PostgreSQL, version check everywhere).

    The task row is re-read after the lock, so a writer that waited sees what the first one did.
    """
    record = session.get(TaskRecord, task_id)
    if record is None:
        raise NotFoundForActor(task_id)
    instance = session.scalars(
        select(ProcessInstance).where(ProcessInstance.id == record.instance_id)
        .with_for_update(of=ProcessInstance).execution_options(populate_existing=True)
    ).one()
    session.refresh(record)
    try:
        yield record, instance
        session.flush()
    except StaleDataError:
        raise StaleState(task_id) from None


def _choices_for(session: Session, form: FormDef, scope: str) -> dict[str, list[str]]:
    choices = static_choices(form)
    for f in form.fields:
        if f.choices_from:
            choices[f.name] = [value for value, _label in CHOICE_PROVIDERS[f.choices_from](session, scope)]
    return choices


def _validate_for_task(session: Session, library: Library, record: TaskRecord, instance: ProcessInstance,
                      data: Mapping[str, Any], context: Mapping[str, Any], now: dt.datetime,
                      actor_id: int | None) -> dict[str, Any]:
    form = load_form(library.forms_dir, record.form_key)
    operation_context = OperationContext(session=session, business_key=instance.business_key,
                                         scope=instance.scope, actor_id=actor_id, now=now,
                                         data=dict(context))

    def run_checks(values: dict[str, Any]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for name in form.checks:
            for field_name, codes in FORM_CHECKS[name](session, values, operation_context).items():
                errors.setdefault(field_name, []).extend(codes)
        return errors

    return validate_submission(form, data, choices=_choices_for(session, form, instance.scope),
                               context=context, extra_checks=run_checks)


def complete_task(
    session: Session,
    *,
    library: Library,
    task_id: str,
    actor_id: int,
    data: Mapping[str, Any],
    may_act: MayAct,
    now: dt.datetime,
    expected_version: int | None = None,
) -> Advance:
    """Validate ``data`` against the task's form, complete the task and run the engine to the next wait.

    Raises NotFoundForActor, TaskAlreadyCompleted, StaleState, FormInvalid or OperationFailed;
    on any of them nothing has changed.
    """
    with _guarded(session, task_id) as (record, instance):
        if not may_act(record):
            raise NotFoundForActor(task_id)
        if record.state != TaskState.READY.value:
            raise TaskAlreadyCompleted(by=record.completed_by_id, at=record.completed_at)
        if not record.is_free_for(actor_id):
            raise TaskNotClaimable(by=record.assignee_id)
        if expected_version is not None and expected_version != instance.lock_version:
            raise StaleState(task_id)
        workflow = _workflow(instance, _engine(session, instance, actor_id, now, library))
        task = workflow.tasks.get(UUID(task_id))
        if task is None or task.state != SpiffState.READY:
            raise StaleState(task_id)
        cleaned = _validate_for_task(session, library, record, instance, data, task.data, now, actor_id)
        task.data.update(cleaned)
        task.run()
        workflow.do_engine_steps()
        record.state = TaskState.COMPLETED.value
        record.completed_at = now
        record.completed_by_id = actor_id
        record.assignee_id = record.assignee_id or actor_id
        record.data = cleaned
        return _persist(session, instance, workflow, now, completed=record)


def task_data(session: Session, record: TaskRecord) -> dict[str, Any]:
    """The data a ready task sees (for prefilling its form and showing context)."""
    instance = session.get(ProcessInstance, record.instance_id)
    assert instance is not None
    workflow = _workflow(instance, SafeScriptEngine())
    task = workflow.tasks.get(UUID(record.id))
    return dict(task.data) if task is not None else dict(workflow.data)


def claim_task(session: Session, *, task_id: str, actor_id: int, may_act: MayAct, now: dt.datetime) -> TaskRecord:
    with _guarded(session, task_id) as (record, _instance):
        if not may_act(record):
            raise NotFoundForActor(task_id)
        if record.state != TaskState.READY.value:
            raise TaskAlreadyCompleted(by=record.completed_by_id, at=record.completed_at)
        if not record.is_free_for(actor_id):
            raise TaskNotClaimable(by=record.assignee_id)
        record.assignee_id = actor_id
        record.claimed_at = now
        return record


def release_task(session: Session, *, task_id: str, actor_id: int, may_act: MayAct) -> TaskRecord:
    with _guarded(session, task_id) as (record, _instance):
        if not may_act(record):
            raise NotFoundForActor(task_id)
        if record.state != TaskState.READY.value:
            raise TaskAlreadyCompleted(by=record.completed_by_id, at=record.completed_at)
        if record.assignee_id != actor_id:
            raise TaskNotClaimable(by=record.assignee_id)
        record.assignee_id = None
        record.claimed_at = None
        return record


def _persist(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, now: dt.datetime,
             completed: TaskRecord | None) -> Advance:
    compact(workflow)
    instance.state = save(workflow)
    instance.serializer_version = SERIALIZER_VERSION
    instance.updated_at = now
    if workflow.is_completed():
        instance.status = InstanceStatus.COMPLETED.value
        instance.completed_at = now
    ready = _sync_task_index(session, instance, workflow, now, completed)
    session.flush()
    last = workflow.last_task
    data = dict(workflow.data) if workflow.is_completed() else dict(last.data if last else {})
    return Advance(instance=instance, completed=completed, ready=ready, data=data)


def _sync_task_index(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, now: dt.datetime,
                     completed: TaskRecord | None) -> list[TaskRecord]:
    live = {str(t.id): t for t in workflow.get_tasks(state=SpiffState.READY, manual=True)}
    rows = session.scalars(
        select(TaskRecord).where(TaskRecord.instance_id == instance.id, TaskRecord.state == TaskState.READY.value)
    ).all()
    known = {row.id for row in rows}
    for row in rows:
        if row.id not in live and row is not completed:
            row.state = TaskState.CANCELLED.value
            row.completed_at = now
    ready = [row for row in rows if row.id in live]
    for task_id, task in live.items():
        if task_id in known:
            continue
        props = user_task_properties(task.task_spec)
        record = TaskRecord(
            id=task_id, instance_id=instance.id, business_key=instance.business_key, scope=instance.scope,
            spec_id=task.task_spec.bpmn_id, title=task.task_spec.bpmn_name or task.task_spec.bpmn_id,
            lane=task.task_spec.lane or "", form_key=props.get("formKey", ""), stage=props.get("stage"),
            assignee_id=_assignee(props, task.data), due_at=_due_at(props, task.data, now),
            state=TaskState.READY.value, created_at=now,
        )
        session.add(record)
        ready.append(record)
    return ready


def _assignee(props: Mapping[str, str], data: Mapping[str, Any]) -> int | None:
    expression = props.get("assignee")
    if not expression:
        return None
    value = expressions.evaluate(expression, data)
    return int(value) if value not in (None, "") else None


def _due_at(props: Mapping[str, str], data: Mapping[str, Any], now: dt.datetime) -> dt.datetime | None:
    if props.get("dueDate"):
        value = expressions.evaluate(props["dueDate"], data)
        if value:
            day = dt.date.fromisoformat(str(value)[:10])
            return dt.datetime.combine(day, dt.time(23, 59), tzinfo=dt.UTC)
    if props.get("dueIn"):
        return now + parse_duration(props["dueIn"])
    return None
