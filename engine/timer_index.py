"""Which timer events an instance waits at, kept in the ``timers`` table, and the clock their due times read.

SpiffWorkflow reads the wall clock for timers, so every engine step runs inside ``engine_clock(now)``: due
times are computed from, and compared with, the service's clock (the one tests and demos move), never the
machine's. ``sync_timers`` runs whenever an instance is saved (engine.runtime), so the table always matches
the state; firing due timers is engine.timers' job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from engine.models import ProcessInstance, Timer, TimerState

_CLOCK: ContextVar[dt.datetime | None] = ContextVar("engine_clock", default=None)


class _ClockedDatetime(dt.datetime):
    """``datetime`` for SpiffWorkflow's timer module: ``now()`` is the engine clock when one is set."""

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> _ClockedDatetime:
        fixed = _CLOCK.get()
        if fixed is None:
            return super().now(tz)
        return cls.fromtimestamp(fixed.timestamp(), tz)


@contextmanager
def engine_clock(now: dt.datetime) -> Iterator[None]:
    """Run SpiffWorkflow's timers on ``now`` (per thread and task: a context variable, not a global)."""
    if spiff_timer.datetime is not _ClockedDatetime:
        spiff_timer.datetime = _ClockedDatetime
    token = _CLOCK.set(now)
    try:
        yield
    finally:
        _CLOCK.reset(token)


@dataclass(frozen=True)
class WaitingTimer:
    task_id: str
    spec_id: str
    name: str | None
    due_at: dt.datetime


def _due_at(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if not isinstance(value, str):  # a cycle timer that has run all its cycles
        return None
    try:
        moment = TimerEventDefinition.get_datetime(value)
    except ValueError:
        return None
    return dt.datetime.fromtimestamp(moment.timestamp(), dt.UTC)


def waiting_timers(workflow: BpmnWorkflow) -> dict[str, WaitingTimer]:
    """The timer events the workflow waits at, by SpiffWorkflow task id.

    This is what ``workflow.waiting_events()`` lists (the event manager's waiting tasks), with the
    task each event belongs to, which that list leaves out.
    """
    found: dict[str, WaitingTimer] = {}
    for task in list(workflow.event_manager.tasks.values()):
        definition = getattr(task.task_spec, "event_definition", None)
        if not isinstance(definition, TimerEventDefinition) or task.state != SpiffState.WAITING:
            continue
        due = _due_at(definition.details(task).value)
        if due is None:
            continue
        name = task.task_spec.bpmn_name
        found[str(task.id)] = WaitingTimer(task_id=str(task.id), spec_id=task.task_spec.bpmn_id or task.task_spec.name,
                                           name=name if isinstance(name, str) else None, due_at=due)
    return found


#: Built once: SQLAlchemy then need not rebuild this statement, nor key it for its cache, on every save.
_PENDING_OF_INSTANCE = select(Timer).where(Timer.instance_id == bindparam("instance_id"),
                                           Timer.state == TimerState.PENDING.value)
#: Plain rows: nothing reads them back as objects in the unit of work that adds them.
_ADD_TIMERS = insert(cast(Table, Timer.__table__))


def sync_timers(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, now: dt.datetime,
                waited_before: Collection[str] | None = None) -> None:
    """Timer rows follow the workflow: new waiting timers are added, vanished ones cancelled (only flushes).

    ``waited_before`` names the timers the state waited at when it was loaded (None: unknown). Saves always
    sync, so a state that waited at none has no pending rows and the table need not be read.
    """
    waiting = waiting_timers(workflow)
    pending: Sequence[Timer] = ()
    if waited_before is None or waited_before:
        pending = session.scalars(_PENDING_OF_INSTANCE, {"instance_id": instance.id}).all()
    known: set[str] = set()
    for row in pending:
        current = waiting.get(row.task_id)
        if current is None:
            row.state = TimerState.CANCELLED.value
            row.cancelled_at = now
            continue
        known.add(row.task_id)
        if row.due_at != current.due_at:  # a cycle timer moved on to its next time
            row.due_at = current.due_at
    new = [{"instance_id": instance.id, "business_key": instance.business_key, "spec_id": timer.spec_id,
            "name": timer.name, "task_id": task_id, "due_at": timer.due_at, "state": TimerState.PENDING.value,
            "created_at": now, "attempts": 0}
           for task_id, timer in waiting.items() if task_id not in known]
    if new:  # one statement for all of them; nothing pending needs writing first (the instance row exists)
        session.execute(_ADD_TIMERS, new)
