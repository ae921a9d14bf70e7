"""Move running instances to a newer deployed version of their process (SpiffWorkflow's diff and migrate).

An instance can move when every task it waits at, every finished step still in its live tree and
every subprocess it is inside exist in the target version. Planning restores each workflow and
migrates it in memory, so what the plan promises is what applying does. Applying locks the
instances, refuses all of them if any cannot move, and only flushes: the caller's unit of work
commits the new state, the task index and its audit events together, or none of them.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.errors import EngineError, StaleState
from engine.library import user_task_properties
from engine.models import InstanceStatus, ProcessInstance, ProcessVersion, TaskRecord
from engine.runtime import sync_task_index, task_assignee, task_due_at
from engine.script_engine import SafeScriptEngine
from engine.state import SERIALIZER_VERSION, STANDARD, compact, load_spec, restore, save
from engine.timer_index import sync_timers

#: Tasks that are the instance's present: reset onto the new spec by SpiffWorkflow and kept by id.
_WAITING = SpiffState.READY | SpiffState.WAITING


class Blocked(enum.StrEnum):
    """Why an instance cannot move to the target version."""

    NOT_FOUND = "not_found"
    OTHER_PROCESS = "other_process"
    ALREADY_ON_TARGET = "already_on_target"
    NEWER_THAN_TARGET = "newer_than_target"
    COMPLETED = "completed"
    #: A task it waits at is not in the target.
    WAITING_TASK_REMOVED = "waiting_task_removed"
    #: A task it waits at is of another kind in the target (a user task became a service task).
    WAITING_TASK_CHANGED_KIND = "waiting_task_changed_kind"
    #: A finished step still in its live tree is not in the target, so its state could not be read back.
    PASSED_ELEMENT_REMOVED = "passed_element_removed"
    #: It is inside a subprocess (call activity) that the target no longer has.
    INSIDE_REMOVED_ELEMENT = "inside_removed_element"
    #: SpiffWorkflow could not migrate it; ``detail`` says what it raised.
    FAILED = "failed"


class MigrationTargetInvalid(EngineError):
    """The target is not a newer version of the same process."""


class MigrationRefused(EngineError):
    """Some chosen instances cannot move; nothing moved."""

    def __init__(self, plan: MigrationPlan) -> None:
        blocked = ", ".join(f"{p.instance_id}: {p.blocked}" for p in plan.blocked)
        super().__init__(f"cannot move to version {plan.to_version}: {blocked}")
        self.plan = plan


@dataclass(frozen=True)
class WaitingTask:
    """A user task an instance waits at, as the inbox shows it."""

    id: str
    spec_id: str
    title: str
    lane: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "task": self.spec_id, "title": self.title, "lane": self.lane}


@dataclass
class InstancePlan:
    """Whether one instance can move, why not, and what changes for it."""

    instance_id: int
    business_key: str
    from_version: int | None
    to_version: int
    lock_version: int | None = None
    blocked: Blocked | None = None
    #: The diagram's ids of the elements the refusal is about (or SpiffWorkflow's message for FAILED).
    elements: list[str] = field(default_factory=list)
    detail: str = ""
    waiting_before: list[WaitingTask] = field(default_factory=list)
    waiting_after: list[WaitingTask] = field(default_factory=list)
    #: Per waiting task whose definition changed: what changed (name, lane, property:formKey, ...).
    changes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def movable(self) -> bool:
        return self.blocked is None


@dataclass
class MigrationPlan:
    process_id: str
    to_version: int
    instances: list[InstancePlan]

    @property
    def movable(self) -> list[InstancePlan]:
        return [p for p in self.instances if p.movable]

    @property
    def blocked(self) -> list[InstancePlan]:
        return [p for p in self.instances if not p.movable]


def running_instances(session: Session, version: ProcessVersion) -> list[int]:
    """Ids of the running instances pinned to ``version``, oldest first."""
    return list(session.scalars(select(ProcessInstance.id).where(
        ProcessInstance.process_version_id == version.id,
        ProcessInstance.status == InstanceStatus.RUNNING.value).order_by(ProcessInstance.id)))


def check_target(target: ProcessVersion, from_version: ProcessVersion | None) -> None:
    if from_version is None:
        return
    if from_version.process_id != target.process_id:
        raise MigrationTargetInvalid(f"version {target.version} is of {target.process_id}, "
                                     f"not of {from_version.process_id}")
    if from_version.version >= target.version:
        raise MigrationTargetInvalid(f"version {target.version} is not newer than version {from_version.version}")


def plan_migration(session: Session, *, target: ProcessVersion, instance_ids: Sequence[int] | None = None,
                   from_version: ProcessVersion | None = None) -> MigrationPlan:
    """A dry run: for each instance (the given ones, or every running one of ``from_version``), whether it can
    move to ``target`` and what would change. Changes nothing."""
    check_target(target, from_version)
    ids = list(instance_ids) if instance_ids is not None else running_instances(session, from_version) \
        if from_version is not None else []
    instances = {i.id: i for i in session.scalars(select(ProcessInstance).where(ProcessInstance.id.in_(ids)))}
    return MigrationPlan(process_id=target.process_id, to_version=target.version,
                         instances=[_simulate(session, instances.get(i), i, target)[0] for i in _unique(ids)])


def migrate_instances(session: Session, *, target: ProcessVersion, instance_ids: Collection[int], now: dt.datetime,
                      timezone: str = "UTC", expected_versions: Mapping[int, int] | None = None) -> MigrationPlan:
    """Move every given instance to ``target`` under a row lock, or none: raises MigrationRefused if any cannot.

    ``expected_versions`` (instance id -> lock version seen in the plan) refuses instances that changed since.
    Only flushes; ``timezone`` is the organisation's, for due dates given as days.
    """
    ids = sorted(set(instance_ids))
    # Locked in id order, so two migrations of overlapping sets cannot deadlock.
    locked = {i.id: i for i in session.scalars(
        select(ProcessInstance).where(ProcessInstance.id.in_(ids)).order_by(ProcessInstance.id)
        .with_for_update().execution_options(populate_existing=True))}
    for instance_id, seen in (expected_versions or {}).items():
        instance = locked.get(instance_id)
        if instance is not None and instance.lock_version != seen:
            raise StaleState(f"instance {instance_id} changed since the plan")
    simulated = [_simulate(session, locked.get(i), i, target) for i in ids]
    plan = MigrationPlan(process_id=target.process_id, to_version=target.version,
                         instances=[p for p, _w in simulated])
    if plan.blocked:
        raise MigrationRefused(plan)
    try:
        for (instance_plan, workflow), instance_id in zip(simulated, ids, strict=True):
            assert workflow is not None
            _apply(session, locked[instance_id], workflow, instance_plan, target, now, timezone)
        session.flush()
    except StaleDataError:  # a writer without the row lock (SQLite) changed it meanwhile
        raise StaleState("an instance changed while it was being moved") from None
    return plan


def _unique(ids: Sequence[int]) -> list[int]:
    return list(dict.fromkeys(ids))


def _waiting(workflow: BpmnWorkflow) -> list[WaitingTask]:
    return sorted((WaitingTask(id=str(t.id), spec_id=t.task_spec.bpmn_id or t.task_spec.name,
                               title=t.task_spec.bpmn_name or t.task_spec.bpmn_id or t.task_spec.name,
                               lane=t.task_spec.lane or "")
                   for t in workflow.get_tasks(state=SpiffState.READY, manual=True)),
                  key=lambda w: (w.spec_id, w.id))


def _element(task: Any) -> str:
    return str(task.task_spec.bpmn_id or task.task_spec.name)


def _elements(tasks: Any) -> list[str]:
    """The diagram's ids of these tasks; SpiffWorkflow's own helpers (a boundary event's join) only when alone."""
    named = sorted({_element(t) for t in tasks if t.task_spec.bpmn_id})
    return named or sorted({_element(t) for t in tasks})


def _definition(task_spec: Any) -> dict[str, Any]:
    props = user_task_properties(task_spec)
    return {"name": task_spec.bpmn_name, "lane": task_spec.lane,
            **{f"property:{key}": props.get(key) for key in sorted(set(props))}}


def _simulate(session: Session, instance: ProcessInstance | None, instance_id: int,
              target: ProcessVersion) -> tuple[InstancePlan, BpmnWorkflow | None]:
    """Restore the instance and migrate it in memory: the plan for it, and the migrated workflow if it can move."""
    if instance is None:
        return InstancePlan(instance_id=instance_id, business_key="", from_version=None,
                            to_version=target.version, blocked=Blocked.NOT_FOUND), None
    current = instance.process_version
    plan = InstancePlan(instance_id=instance.id, business_key=instance.business_key, from_version=current.version,
                        to_version=target.version, lock_version=instance.lock_version)
    if current.process_id != target.process_id:
        plan.blocked = Blocked.OTHER_PROCESS
        return plan, None
    if instance.status != InstanceStatus.RUNNING.value:
        plan.blocked = Blocked.COMPLETED
        return plan, None
    if current.id == target.id:
        plan.blocked = Blocked.ALREADY_ON_TARGET
        return plan, None
    if current.version > target.version:
        plan.blocked = Blocked.NEWER_THAN_TARGET
        return plan, None
    spec, subs = load_spec(current.content_hash, lambda: current.spec_json)
    new_spec, new_subs = load_spec(target.content_hash, lambda: target.spec_json)
    workflow = restore(instance.state, instance.serializer_version, spec, subs)
    workflow.script_engine = SafeScriptEngine()
    plan.waiting_before = _waiting(workflow)
    try:
        top, sub_diffs = diff_workflow(STANDARD.registry, workflow, new_spec, new_subs)
        if _refused(plan, workflow, top, sub_diffs):
            return plan, None
        _migrate(workflow, top, sub_diffs, new_spec, new_subs)
    except Exception as err:  # SpiffWorkflow's own refusals come in many types; name it and move nothing
        plan.blocked, plan.detail = Blocked.FAILED, f"{type(err).__name__}: {err}"
        return plan, None
    leftover = sorted({_element(t) for t in workflow.get_tasks() if not _belongs(t, new_spec, new_subs)})
    if leftover:
        plan.blocked, plan.elements = Blocked.PASSED_ELEMENT_REMOVED, leftover
        return plan, None
    plan.waiting_after = _waiting(workflow)
    by_id = {t.id: t for t in plan.waiting_after}
    for before in plan.waiting_before:
        after = by_id.get(before.id)
        old_spec = spec.task_specs.get(before.spec_id)
        new_task_spec = new_spec.task_specs.get(before.spec_id)
        if after is None or old_spec is None or new_task_spec is None:
            continue
        old, new = _definition(old_spec), _definition(new_task_spec)
        what = [key for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]
        if what:
            plan.changes[before.spec_id] = what
    return plan, workflow


def _refused(plan: InstancePlan, workflow: BpmnWorkflow, top: Any, sub_diffs: dict[Any, Any]) -> bool:
    """Set the reason the instance cannot move, if there is one, from SpiffWorkflow's diff."""
    gone_subprocesses = sorted(_element(workflow.get_task_from_id(sp_id)) for sp_id, diff in sub_diffs.items()
                               if diff is None and workflow.get_task_from_id(sp_id) is not None)
    if gone_subprocesses:
        plan.blocked, plan.elements = Blocked.INSIDE_REMOVED_ELEMENT, gone_subprocesses
        return True
    removed = list(top.removed) + [t for diff in sub_diffs.values() if diff is not None for t in diff.removed]
    waiting = _elements(t for t in removed if t.has_state(SpiffState.DEFINITE_MASK))
    if waiting:
        plan.blocked, plan.elements = Blocked.WAITING_TASK_REMOVED, waiting
        return True
    passed = _elements(t for t in removed if t.has_state(SpiffState.FINISHED_MASK))
    if passed:
        plan.blocked, plan.elements = Blocked.PASSED_ELEMENT_REMOVED, passed
        return True
    changed = list(top.changed) + [t for diff in sub_diffs.values() if diff is not None for t in diff.changed]
    alignment = {**top.alignment, **{k: v for d in sub_diffs.values() if d is not None for k, v in d.alignment.items()}}
    other_kind = sorted({_element(t) for t in changed if t.has_state(_WAITING) and (
        type(alignment.get(t)) is not type(t.task_spec)
        or getattr(alignment.get(t), "manual", False) != getattr(t.task_spec, "manual", False))})
    if other_kind:
        plan.blocked, plan.elements = Blocked.WAITING_TASK_CHANGED_KIND, other_kind
        return True
    return False


def _migrate(workflow: BpmnWorkflow, top: Any, sub_diffs: dict[Any, Any], new_spec: Any,
             new_subs: dict[str, Any]) -> None:
    """SpiffWorkflow's migration, keeping what the waiting tasks hold and their ids.

    It resets every ready or waiting task onto its new spec, which copies its data from its parent
    again; data set on a waiting task since it became ready (e.g. a reassigned case manager) is put back.
    """
    kept = {t.id: t.data for t in workflow.get_tasks(state=_WAITING)}
    migrate_workflow(top, workflow, new_spec)
    for sp_id, diff in sub_diffs.items():
        subprocess = workflow.subprocesses[sp_id]
        migrate_workflow(diff, subprocess, new_subs[subprocess.spec.name])
    workflow.subprocess_specs = new_subs
    for task_id, data in kept.items():
        task = workflow.get_task_from_id(task_id)
        if task is not None:
            task.data = data


def _belongs(task: Any, new_spec: Any, new_subs: dict[str, Any]) -> bool:
    """The task's spec is one of the target's (a leftover from the old spec could not be restored later)."""
    specs = [new_spec, *new_subs.values()]
    return any(s.task_specs.get(task.task_spec.name) is task.task_spec for s in specs)


def _apply(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, plan: InstancePlan,
           target: ProcessVersion, now: dt.datetime, timezone: str) -> None:
    """Save the migrated workflow on ``target`` and bring the task index in line with the new spec."""
    ready_before = {w.id for w in plan.waiting_before}
    compact(workflow)
    instance.state = save(workflow)
    instance.serializer_version = SERIALIZER_VERSION
    instance.process_version = target
    instance.updated_at = now
    rows = sync_task_index(session, instance, workflow, now, None, ready_before, timezone)
    sync_timers(session, instance, workflow, now)
    for row in rows:
        if row.id not in ready_before:
            continue  # a row created just now is already of the new spec
        task = workflow.get_task_from_id(UUID(row.id))
        assert task is not None
        _refresh_row(row, task, plan.changes.get(row.spec_id, []), now, timezone)


def _refresh_row(row: TaskRecord, task: Any, changed: list[str], now: dt.datetime, timezone: str) -> None:
    """A waiting task's index row after its spec changed: the same id, the new title, lane, form, stage, due."""
    props = user_task_properties(task.task_spec)
    old_lane = row.lane
    row.spec_id = task.task_spec.bpmn_id
    row.title = task.task_spec.bpmn_name or task.task_spec.bpmn_id
    row.lane = task.task_spec.lane or ""
    row.form_key = props.get("formKey", "")
    row.stage = props.get("stage")
    # Due from when the task became ready, as if it had been of the new version from the start.
    row.due_at = task_due_at(props, task.data, row.created_at or now, timezone)
    if row.lane != old_lane:  # someone of the old role may hold it; the new role's users take it from the inbox
        row.assignee_id = task_assignee(props, task.data)
        row.claimed_at = None
    elif "property:assignee" in changed:
        row.assignee_id = task_assignee(props, task.data)
        row.claimed_at = None
