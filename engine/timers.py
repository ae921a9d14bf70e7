"""BPMN timer events: due times kept in the ``timers`` table whenever an instance is saved, and firing due ones.

SpiffWorkflow never fires a timer by itself: a timer task stays WAITING until someone calls
``refresh_timers()`` and then ``do_engine_steps()``. It also reads the wall clock, so every engine step
runs inside ``engine_clock(now)``: due times are computed from, and compared with, the service's clock
(the one tests and demos move), never the machine's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState as SpiffState
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine import runtime
from engine.errors import EngineError
from engine.library import Library
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


def sync_timers(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, now: dt.datetime) -> None:
    """Timer rows follow the workflow: new waiting timers are added, vanished ones cancelled (only flushes)."""
    waiting = waiting_timers(workflow)
    pending = session.scalars(select(Timer).where(Timer.instance_id == instance.id,
                                                  Timer.state == TimerState.PENDING.value)).all()
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
    for task_id, timer in waiting.items():
        if task_id not in known:
            session.add(Timer(instance_id=instance.id, business_key=instance.business_key, spec_id=timer.spec_id,
                              name=timer.name, task_id=task_id, due_at=timer.due_at,
                              state=TimerState.PENDING.value, created_at=now))


class TimerFailed(EngineError):
    """Firing a timer failed (an operation after it raised, the state would not restore); nothing was kept."""

    def __init__(self, timer_id: int, reason: str) -> None:
        super().__init__(f"timer {timer_id} failed: {reason}")
        self.timer_id = timer_id
        self.reason = reason


@dataclass
class Fired:
    """A due timer a worker handled, and what the step did (the tasks now ready).

    ``fired`` is False when the timer no longer waited (its row is cancelled now) or its due time had
    moved on (its row now says when).
    """

    timer: Timer
    advance: runtime.Advance

    @property
    def fired(self) -> bool:
        return self.timer.state == TimerState.FIRED.value


def _due_query(now: dt.datetime, skip: Collection[int]) -> Any:
    # Strictly before: SpiffWorkflow fires a timer once the clock has passed its time, not at it.
    query = (select(Timer, ProcessInstance).join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
             .where(Timer.state == TimerState.PENDING.value, Timer.due_at < now,
                    or_(Timer.retry_at.is_(None), Timer.retry_at <= now))
             .order_by(Timer.due_at, Timer.id))
    if skip:
        query = query.where(Timer.id.not_in(list(skip)))
    return query


#: Engine passes per firing: a timer's path may reach another timer that is already due.
_MAX_PASSES = 20


def fire_due(session: Session, *, library: Library, now: dt.datetime, limit: int = 100,
             skip: Collection[int] = ()) -> list[Fired]:
    """Fire up to ``limit`` pending timers due at ``now``; only flushes, the caller commits.

    On PostgreSQL each timer is claimed with its instance (``FOR UPDATE SKIP LOCKED``): a timer another
    worker holds, or whose case someone is changing, is left for later, so any number of workers can
    run and each timer fires once. SQLite has no row locks; the instance's version check refuses the
    second writer there (StaleDataError at flush or commit). Raises TimerFailed naming the timer.
    """
    query = _due_query(now, skip).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=(Timer, ProcessInstance))
    rows = session.execute(query.execution_options(populate_existing=True)).tuples().all()
    return [_fire(session, timer, instance, library=library, now=now) for timer, instance in rows]


def _fire(session: Session, timer: Timer, instance: ProcessInstance, *, library: Library, now: dt.datetime) -> Fired:
    try:
        workflow = runtime._workflow(session, instance, runtime._engine(session, instance, None, now, library))
        task_id = UUID(timer.task_id)
        was_waiting = task_id in workflow.event_manager.tasks
        ready_before = runtime._ready_ids(workflow)
        with engine_clock(now):
            for _ in range(_MAX_PASSES):
                before = {t.id: t.state for t in workflow.get_tasks()}
                # do_engine_steps refreshes timers only at its end: refresh first, or an overdue one waits a turn.
                workflow.refresh_timers()
                workflow.do_engine_steps()
                if {t.id: t.state for t in workflow.get_tasks()} == before:
                    break
        if was_waiting and task_id not in workflow.event_manager.tasks:
            timer.state = TimerState.FIRED.value
            timer.fired_at = now
            timer.retry_at = None
        advance = runtime._persist(session, instance, workflow, now, completed=None, ready_before=ready_before,
                                   timezone=library.timezone)
        session.flush()
    except EngineError as err:
        raise TimerFailed(timer.id, str(err)) from err
    except (SpiffWorkflowException, ValueError, TypeError, LookupError, AttributeError) as err:
        raise TimerFailed(timer.id, f"{type(err).__name__}: {err}") from err
    return Fired(timer=timer, advance=advance)
