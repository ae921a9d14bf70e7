"""Start instances, complete tasks, claim and release: one guarded path for every advance.

Functions here only flush; the caller's service operation owns the transaction, so workflow
state, task rows and the caller's audit event commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import expressions, timer_index
from engine.catalog import CHOICE_PROVIDERS, FORM_CHECKS, OperationContext
from engine.deployments import library_for_hash
from engine.errors import (
    NotDeployed,
    NotFoundForActor,
    StaleState,
    TaskAlreadyCompleted,
    TaskNotClaimable,
)
from engine.forms import FormDef, load_form, parse_form, static_choices, validate_submission
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
    # Operations read rule data from the case's own version, never from the working files.
    rules_dir = None
    if library is not None:
        deployed = library_for_hash(library, _content_hash(session, instance), lambda: instance.process_version)
        rules_dir = str(deployed.rules_dir)
    context = OperationContext(session=session, business_key=instance.business_key, scope=instance.scope,
                               actor_id=actor_id, now=now, rules_dir=rules_dir)
    return SafeScriptEngine(context)


#: Content hash of each deployed version, by database and version id: versions never change, and
#: remembering the hash saves loading the version row on every completion.
_HASH_OF_VERSION: dict[tuple[str, int], str] = {}


def forget_cached_versions() -> None:
    """Forget the cached hashes, for a database emptied and refilled under the same address (its ids restart)."""
    _HASH_OF_VERSION.clear()


def _content_hash(session: Session, instance: ProcessInstance) -> str:
    bind = session.get_bind()
    key = (str(bind.engine.url), instance.process_version_id)
    content_hash = _HASH_OF_VERSION.get(key)
    if content_hash is None:
        content_hash = _HASH_OF_VERSION.setdefault(key, instance.process_version.content_hash)
    return content_hash


def version_hash(session: Session, instance: ProcessInstance) -> str:
    """The content hash of the instance's deployed version, without loading the version row."""
    return _content_hash(session, instance)


def _spec_of(session: Session, instance: ProcessInstance) -> tuple[Any, dict[str, Any]]:
    """The instance's deployed spec, cached by content hash."""
    return load_spec(_content_hash(session, instance), lambda: instance.process_version.spec_json)


#: Form texts of each deployed version, by content hash: deployed versions never change.
_FORMS_OF_VERSION: dict[str, dict[str, str]] = {}


def form_for(session: Session, library: Library, record: TaskRecord) -> FormDef:
    """The task's form as deployed with its case's process version (the files on disk for older versions)."""
    instance = session.get(ProcessInstance, record.instance_id)
    assert instance is not None
    content_hash = _content_hash(session, instance)
    texts = _FORMS_OF_VERSION.get(content_hash)
    if texts is None:
        sources = instance.process_version.sources or {}
        texts = _FORMS_OF_VERSION.setdefault(content_hash, {
            name.removeprefix("forms/").removesuffix(".yaml"): text
            for name, text in sources.items() if name.startswith("forms/")})
    text = texts.get(record.form_key)
    if text is None:
        return load_form(library.forms_dir, record.form_key)
    return parse_form(record.form_key, text, f"forms/{record.form_key}.yaml")


def _workflow(session: Session, instance: ProcessInstance, script_engine: SafeScriptEngine) -> BpmnWorkflow:
    spec, subs = _spec_of(session, instance)
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
    start_message: str | None = None,
) -> Advance:
    """Create an instance pinned to ``version`` and run it to its first user tasks.

    A diagram with several ways in draws each as a message start event; ``start_message`` names the one
    this instance takes (the others are then cancelled). A diagram with one plain start ignores it.
    """
    instance = ProcessInstance(process_version=version, business_key=business_key, scope=scope, state="",
                               serializer_version=SERIALIZER_VERSION, created_at=now, updated_at=now)
    session.add(instance)
    session.flush()
    spec, subs = load_spec(version.content_hash, lambda: version.spec_json)
    workflow = BpmnWorkflow(spec, subs, script_engine=_engine(session, instance, actor_id, now, library))
    workflow.task_tree.data.update(data)
    with timer_index.engine_clock(now):
        workflow.do_engine_steps()
        _take_start(workflow, start_message, version.process_id)
    advance = _persist(session, instance, workflow, now, completed=None, ready_before=set(),
                       timezone=library.timezone, waited_before=())  # a new instance has no timer rows yet
    session.flush()
    return advance


def _take_start(workflow: BpmnWorkflow, message: str | None, process_id: str) -> None:
    """Fire the message start event named ``message`` when the diagram waits at its starts."""
    waiting = [t for t in workflow.get_tasks(state=SpiffState.WAITING) if isinstance(t.task_spec, StartEvent)]
    if not waiting:
        return  # one plain start: it has already run
    chosen = next((t for t in waiting if getattr(t.task_spec.event_definition, "name", None) == message), None)
    if message is None or chosen is None:
        raise NotDeployed(f"{process_id} (start {message!r})")
    workflow.send_event(BpmnEvent(chosen.task_spec.event_definition, payload={}))
    workflow.do_engine_steps()


#: Built once, with a parameter: SQLAlchemy then neither rebuilds this statement nor computes its cache key
#: again on every advance (that costs more than running it).
_TASK_WITH_LOCKED_INSTANCE = (
    select(TaskRecord, ProcessInstance).join(ProcessInstance, ProcessInstance.id == TaskRecord.instance_id)
    .where(TaskRecord.id == bindparam("task_id"))
    .with_for_update(of=(TaskRecord, ProcessInstance)).execution_options(populate_existing=True)
)


@contextmanager
def _guarded(session: Session, task_id: str) -> Iterator[tuple[TaskRecord, ProcessInstance]]:
    """Load a task and lock its instance (row lock on PostgreSQL, version check everywhere).

    The task row is re-read after the lock, so a writer that waited sees what the first one did.
    """
    row = session.execute(_TASK_WITH_LOCKED_INSTANCE, {"task_id": task_id}).first()
    if row is None:
        raise NotFoundForActor(task_id)
    record, instance = row[0], row[1]
    try:
        yield record, instance
    except StaleDataError:  # an autoflush met a newer version written by someone else
        raise StaleState(task_id) from None


def _check_open_to(record: TaskRecord, actor_id: int | None, may_act: MayAct) -> None:
    """The actor may see the task, it is still to do, and nobody else has it."""
    if not may_act(record):
        raise NotFoundForActor(record.id)
    if record.state != TaskState.READY.value:
        raise TaskAlreadyCompleted(by=record.completed_by_id, at=record.completed_at)
    if not record.is_free_for(actor_id):
        raise TaskNotClaimable(by=record.assignee_id)


def _refused(session: Session, record: TaskRecord, task_id: str) -> Exception:
    """Why a task that looked ready is not: someone completed it meanwhile, or the case moved on."""
    session.refresh(record)
    if record.state == TaskState.COMPLETED.value:
        return TaskAlreadyCompleted(by=record.completed_by_id, at=record.completed_at)
    return StaleState(task_id)


def _choices_for(session: Session, form: FormDef, scope: str, data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Allowed values per choice field; a provider is asked only when its field has a value to check."""
    choices = static_choices(form)
    for f in form.fields:
        if f.choices_from and data.get(f.name) not in (None, "", []):
            choices[f.name] = [value for value, _label in CHOICE_PROVIDERS[f.choices_from](session, scope)]
        rows = [row for row in data.get(f.name) or [] if isinstance(row, dict)] if f.fields else []
        for sub in f.fields:  # a group's own choice fields (a plan's intervention names its partner)
            if sub.choices_from and any(row.get(sub.name) not in (None, "") for row in rows):
                choices[f"{f.name}.{sub.name}"] = [value for value, _label
                                                   in CHOICE_PROVIDERS[sub.choices_from](session, scope)]
    return choices


def _validate_for_task(session: Session, library: Library, record: TaskRecord, instance: ProcessInstance,
                      data: Mapping[str, Any], context: Mapping[str, Any], now: dt.datetime,
                      actor_id: int | None) -> dict[str, Any]:
    form = form_for(session, library, record)
    operation_context = OperationContext(session=session, business_key=instance.business_key,
                                         scope=instance.scope, actor_id=actor_id, now=now,
                                         data=dict(context))

    def run_checks(values: dict[str, Any]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for name in form.checks:
            for field_name, codes in FORM_CHECKS[name](session, values, operation_context).items():
                errors.setdefault(field_name, []).extend(codes)
        return errors

    return validate_submission(form, data, choices=_choices_for(session, form, instance.scope, data),
                               context=context, extra_checks=run_checks)


def complete_task(
    session: Session,
    *,
    library: Library,
    task_id: str,
    actor_id: int | None,
    data: Mapping[str, Any],
    may_act: MayAct,
    now: dt.datetime,
    expected_version: int | None = None,
    prepare: Callable[[TaskRecord], Mapping[str, Any]] | None = None,
) -> Advance:
    """Validate ``data`` against the task's form, complete the task and run the engine to the next wait.

    ``prepare`` turns the submission into form data once the task is loaded and authorized (the
    domain stores uploaded files there). Raises NotFoundForActor, TaskAlreadyCompleted, StaleState,
    FormInvalid or OperationFailed; on any of them nothing has changed.
    """
    with _guarded(session, task_id) as (record, instance):
        _check_open_to(record, actor_id, may_act)
        if expected_version is not None and expected_version != instance.lock_version:
            raise StaleState(task_id)
        workflow = _workflow(session, instance, _engine(session, instance, actor_id, now, library))
        task = workflow.tasks.get(UUID(task_id))
        if task is None or task.state != SpiffState.READY:
            raise _refused(session, record, task_id)
        if prepare is not None:
            data = prepare(record)
        cleaned = _validate_for_task(session, library, record, instance, data, task.data, now, actor_id)
        ready_before = _ready_ids(workflow)
        waited_before = set(timer_index.waiting_timers(workflow))
        task.data.update(cleaned)
        with timer_index.engine_clock(now):
            task.run()
            workflow.do_engine_steps()
        record.state = TaskState.COMPLETED.value
        record.completed_at = now
        record.completed_by_id = actor_id
        stop_waiting(record, now)
        record.assignee_id = record.assignee_id or actor_id
        record.data = cleaned
        return _persist(session, instance, workflow, now, completed=record, ready_before=ready_before,
                        timezone=library.timezone, waited_before=waited_before)


def set_case_data(session: Session, *, instance_id: int, changes: Mapping[str, Any], now: dt.datetime) -> None:
    """Change values the waiting tasks read (e.g. who the case's manager is), under the instance lock.

    Tasks that become ready later inherit the data of the tasks before them, so setting it on the
    ready tasks reaches every later step.
    """
    instance = session.scalars(select(ProcessInstance).where(ProcessInstance.id == instance_id)
                               .with_for_update().execution_options(populate_existing=True)).one()
    workflow = _workflow(session, instance, SafeScriptEngine())
    for task in workflow.get_tasks(state=SpiffState.READY):
        task.data.update(changes)
    instance.state = save(workflow)
    instance.updated_at = now


def task_data(session: Session, record: TaskRecord) -> dict[str, Any]:
    """The data a ready task sees (for prefilling its form and showing context)."""
    instance = session.get(ProcessInstance, record.instance_id)
    assert instance is not None
    workflow = _workflow(session, instance, SafeScriptEngine())
    task = workflow.tasks.get(UUID(record.id))
    return dict(task.data) if task is not None else dict(workflow.data)


@dataclass
class Claim:
    """A claimed task, and whether this call claimed it (False: the actor already had it)."""

    record: TaskRecord
    changed: bool


def claim_task(session: Session, *, task_id: str, actor_id: int, may_act: MayAct, now: dt.datetime) -> Claim:
    """Give a ready task to the actor; claiming a task the actor already holds changes nothing."""
    with _guarded(session, task_id) as (record, _instance):
        session.refresh(record)  # a claim made while we waited for the lock must be seen
        _check_open_to(record, actor_id, may_act)
        if record.assignee_id == actor_id:
            return Claim(record=record, changed=False)
        # Conditional, so two claims at once (SQLite has no row locks) cannot both win, nor the same
        # user's two requests both count as a claim.
        claimed = session.execute(
            update(TaskRecord).where(TaskRecord.id == record.id, TaskRecord.state == TaskState.READY.value,
                                     TaskRecord.assignee_id.is_(None))
            .values(assignee_id=actor_id, claimed_at=now).execution_options(synchronize_session=False))
        session.refresh(record)
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            _check_open_to(record, actor_id, may_act)  # completed, or someone else has it
            return Claim(record=record, changed=False)  # the actor's own claim won meanwhile
        return Claim(record=record, changed=True)


def release_task(session: Session, *, task_id: str, actor_id: int, may_act: MayAct) -> TaskRecord:
    with _guarded(session, task_id) as (record, _instance):
        session.refresh(record)  # a claim made while we waited for the lock must be seen
        if not may_act(record):
            raise NotFoundForActor(task_id)
        if record.state != TaskState.READY.value:
            raise TaskAlreadyCompleted(by=record.completed_by_id, at=record.completed_at)
        if record.assignee_id != actor_id:
            raise TaskNotClaimable(by=record.assignee_id)
        record.assignee_id = None
        record.claimed_at = None
        return record


def _ready_ids(workflow: BpmnWorkflow) -> set[str]:
    return {str(t.id) for t in workflow.get_tasks(state=SpiffState.READY, manual=True)}


def _persist(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, now: dt.datetime,
             completed: TaskRecord | None, ready_before: set[str], timezone: str,
             waited_before: Collection[str] | None = None) -> Advance:
    compact(workflow)
    instance.state = save(workflow)
    instance.serializer_version = SERIALIZER_VERSION
    instance.updated_at = now
    if workflow.is_completed():
        instance.status = InstanceStatus.COMPLETED.value
        instance.completed_at = now
    ready = sync_task_index(session, instance, workflow, now, completed, ready_before, timezone)
    timer_index.sync_timers(session, instance, workflow, now, waited_before)
    last = workflow.last_task
    data = dict(workflow.data) if workflow.is_completed() else dict(last.data if last else {})
    return Advance(instance=instance, completed=completed, ready=ready, data=data)


def sync_task_index(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, now: dt.datetime,
                     completed: TaskRecord | None, ready_before: set[str], timezone: str) -> list[TaskRecord]:
    """Index rows follow the workflow: new ready tasks are added, vanished ones cancelled.

    Rows are ready exactly when their workflow task was ready before this step, so comparing the
    ready ids before and after needs no query of the index.
    """
    live = {str(t.id): t for t in workflow.get_tasks(state=SpiffState.READY, manual=True)}
    ready: list[TaskRecord] = []
    for task_id in ready_before:
        if completed is not None and task_id == completed.id:
            continue
        row = session.get(TaskRecord, task_id)
        if row is None:
            continue
        if task_id in live:
            ready.append(row)
        else:
            row.state = TaskState.CANCELLED.value
            row.completed_at = now
            stop_waiting(row, now)
    for task_id, task in live.items():
        if task_id in ready_before:
            continue
        props = user_task_properties(task.task_spec)
        due_at = task_due_at(props, task.data, now, timezone)
        # A task the household does (or brings what it needs) runs the household's clock, not staff's.
        waits_on = props.get("waitsOn") or None
        record = TaskRecord(
            id=task_id, instance_id=instance.id, business_key=instance.business_key, scope=instance.scope,
            spec_id=task.task_spec.bpmn_id, title=task.task_spec.bpmn_name or task.task_spec.bpmn_id,
            lane=task.task_spec.lane or "", form_key=props.get("formKey", ""), stage=props.get("stage"),
            assignee_id=task_assignee(props, task.data), due_at=None if waits_on else due_at,
            waiting_on=waits_on, household_due_at=due_at if waits_on else None,
            # Set here, not left to the column defaults: the completion's answer reads these rows before
            # they are flushed (an unflushed default reads as None).
            state=TaskState.READY.value, created_at=now, paused_seconds=0,
        )
        session.add(record)
        ready.append(record)
    return ready


def stop_waiting(row: TaskRecord, now: dt.datetime) -> None:
    """A task that is no longer ready waits on nobody; a pause still running counts as time paused.

    What it waited for (reason, the household's date) stays on the row, and the history keeps the wait.
    """
    if row.paused_at is not None:
        paused = max(now - row.paused_at, dt.timedelta(0))
        row.paused_seconds = (row.paused_seconds or 0) + int(paused.total_seconds())
        if row.due_at is not None:
            row.due_at = row.due_at + paused
    row.waiting_on = None
    row.paused_at = None


def task_assignee(props: Mapping[str, str], data: Mapping[str, Any]) -> int | None:
    expression = props.get("assignee")
    if not expression:
        return None
    value = expressions.evaluate(expression, data)
    return int(value) if value not in (None, "") else None


def task_due_at(props: Mapping[str, str], data: Mapping[str, Any], now: dt.datetime,
            timezone: str) -> dt.datetime | None:
    if props.get("dueDate"):
        value = expressions.evaluate(props["dueDate"], data)
        if value:
            day = dt.date.fromisoformat(str(value)[:10])
            return dt.datetime.combine(day, dt.time(23, 59), tzinfo=ZoneInfo(timezone)).astimezone(dt.UTC)
    if props.get("dueIn"):
        return now + parse_duration(props["dueIn"])
    return None


def visited_elements(session: Session, instance: ProcessInstance) -> tuple[list[str], list[str]]:
    """The diagram elements a case has passed through, oldest first, and those it waits at now.

    User tasks come from the task index (which keeps them all); service tasks, gateways and events from
    the live state, which forgets the finished parts of long loops (engine.state.compact).
    """
    done_tasks = session.scalars(select(TaskRecord.spec_id).where(
        TaskRecord.instance_id == instance.id, TaskRecord.state == TaskState.COMPLETED.value)
        .order_by(TaskRecord.completed_at, TaskRecord.id)).all()
    workflow = _workflow(session, instance, SafeScriptEngine())
    finished = sorted((t for t in workflow.get_tasks(state=SpiffState.COMPLETED) if t.task_spec.bpmn_id),
                      key=lambda t: t.last_state_change)
    path: list[str] = []
    for element in [*done_tasks, *(t.task_spec.bpmn_id for t in finished)]:
        if element not in path:
            path.append(element)
    waiting = [t.task_spec.bpmn_id for t in workflow.get_tasks(state=SpiffState.READY | SpiffState.WAITING)
               if t.task_spec.bpmn_id]
    return path, waiting
