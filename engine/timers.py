"""Firing due BPMN timer events, claimed from the ``timers`` table (engine.timer_index keeps it current).

SpiffWorkflow never fires a timer by itself: a timer task stays WAITING until someone calls
``refresh_timers()`` and then ``do_engine_steps()``, on the service's clock (engine_clock).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine import runtime
from engine.errors import EngineError
from engine.library import Library
from engine.models import ProcessInstance, Timer, TimerState
from engine.timer_index import engine_clock, sync_timers, waiting_timers

__all__ = ["Fired", "TimerFailed", "engine_clock", "fire_due", "sync_timers", "waiting_timers"]


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
