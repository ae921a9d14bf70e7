"""The timer worker's unit of work: fire due BPMN timers one transaction each, then deliver due messages.

Any number of workers may run against PostgreSQL: each timer is claimed with its case's instance
(``FOR UPDATE SKIP LOCKED``) and its row, the workflow state, the task index, what service tasks on the
timer's path wrote and the audit event commit together, so each timer fires exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import timers
from engine.deployments import current_library
from engine.library import Library
from engine.models import Timer, TimerState
from registry.audit import record_event
from registry.eligibility import RuleFileInvalid
from registry.household_waits import sweep_household_waits
from registry.households import rank_waiting_lists
from registry.interop import delivery as interop_delivery
from registry.interop import services as interop_services
from registry.models import Case
from registry.notifications import NotifySettings, deliver_due
from registry.operations import local_date
from registry.process_catalogue import PROCESSES
from registry.vocabulary import case_fields_set, version_vocabulary

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]

#: A failing timer is tried again after 1, 2, 4, ... minutes, at most an hour apart.
_MAX_BACKOFF = dt.timedelta(hours=1)
_ERROR_LENGTH = 2000


@dataclass(frozen=True)
class FiredTimer:
    business_key: str
    case_id: int | None
    element: str
    name: str | None
    due_at: dt.datetime
    next_tasks: list[str]


@dataclass(frozen=True)
class FailedTimer:
    business_key: str
    element: str
    error: str
    attempts: int
    retry_at: dt.datetime


@dataclass
class WorkReport:
    """What one pass did: timers fired, timers that failed (to be tried again), messages delivered."""

    fired: list[FiredTimer] = field(default_factory=list)
    failed: list[FailedTimer] = field(default_factory=list)
    delivered: int = 0
    #: Households reminded that their date passed, and waits ended because the grace passed too.
    household_reminded: int = 0
    household_missed: int = 0
    #: Partner systems' callbacks and notifications posted (registry.interop.delivery), and those that failed.
    interop_delivered: int = 0
    interop_failed: int = 0
    #: Waiting-list sort keys worked out for today (the first pass of a day works out every directorate's).
    waiting_keys: int = 0


def backoff(attempts: int) -> dt.timedelta:
    return min(dt.timedelta(minutes=2 ** max(attempts - 1, 0)), _MAX_BACKOFF)


def run_once(session_factory: SessionFactory, *, now: dt.datetime, library: Library, limit: int = 100,
             notify_settings: NotifySettings | None = None,
             interop_settings: interop_services.Settings | None = None) -> WorkReport:
    """Fire the timers due at ``now`` (at most ``limit``), each in its own transaction, then deliver due messages.

    A timer that fails is rolled back, its failure recorded on it (attempts, error, when to retry) and on
    the case's history; the other timers fire all the same.
    """
    report = WorkReport()
    handled: set[int] = set()
    while len(handled) < limit:
        session = session_factory()
        try:
            if not _fire_next(session, now=now, library=library, handled=handled, report=report):
                break
        finally:
            session.close()
    session = session_factory()
    try:
        waits = sweep_household_waits(session, now=now)
    finally:
        session.close()
    report.household_reminded, report.household_missed = waits.reminded, waits.missed
    report.waiting_keys = _rank_waiting_lists(session_factory, now=now, library=library)
    report.delivered = _deliver_messages(session_factory, now=now, settings=notify_settings)
    interop = interop_delivery.run(session_factory, now=now, settings=interop_settings)
    report.interop_delivered, report.interop_failed = interop.delivered, interop.failed
    return report


def _fire_next(session: Session, *, now: dt.datetime, library: Library, handled: set[int],
               report: WorkReport) -> bool:
    """Fire one due timer and commit; False when none is left to try."""
    try:
        outcomes = timers.fire_due(session, library=library, now=now, limit=1, skip=handled)
        if not outcomes:
            session.rollback()
            return False
        outcome = outcomes[0]
        timer = outcome.timer
        handled.add(timer.id)
        fired = _record_fired(session, outcome, library=library, now=now) if outcome.fired else None
        session.commit()
    except timers.TimerFailed as failure:
        session.rollback()
        handled.add(failure.timer_id)
        report.failed.append(_record_failure(session, timer_id=failure.timer_id, reason=failure.reason, now=now))
        return True
    except StaleDataError:  # another worker (SQLite) or a user moved the case meanwhile: it is theirs now
        session.rollback()
        return True
    if fired is not None:
        report.fired.append(fired)
    return True


def _record_fired(session: Session, outcome: timers.Fired, *, library: Library, now: dt.datetime) -> FiredTimer:
    """The case follows its process (stage, case fields) and its history says which timer fired."""
    timer, advance = outcome.timer, outcome.advance
    case = session.scalar(select(Case).where(Case.instance_id == timer.instance_id))
    if case is not None:
        stages = [r.stage for r in advance.ready if r.stage]
        if stages and stages[0] != case.stage:
            case.stage = stages[0]
        vocabulary = version_vocabulary(advance.instance.process_version, library)
        if vocabulary.case_fields:
            fields = case_fields_set(vocabulary, advance.data, case.fields or {})
            if fields != case.fields:
                case.fields = fields
    next_tasks = [r.spec_id for r in advance.ready]
    record_event(session, actor_id=None, case_id=case.id if case else None, action="timer_fired", at=now,
                 details={"business_key": timer.business_key, "element": timer.spec_id, "name": timer.name,
                          "due_at": timer.due_at.isoformat(), "next": next_tasks})
    return FiredTimer(business_key=timer.business_key, case_id=case.id if case else None, element=timer.spec_id,
                      name=timer.name, due_at=timer.due_at, next_tasks=next_tasks)


def _record_failure(session: Session, *, timer_id: int, reason: str, now: dt.datetime) -> FailedTimer:
    """Keep the failure on the timer (it is tried again later) and as an incident in the case's history."""
    try:
        timer = session.get(Timer, timer_id, populate_existing=True)
        assert timer is not None
        attempts = timer.attempts + 1
        retry_at = now + backoff(attempts)
        session.execute(update(Timer).where(Timer.id == timer_id, Timer.state == TimerState.PENDING.value)
                        .values(attempts=attempts, last_error=reason[:_ERROR_LENGTH], retry_at=retry_at))
        case_id = session.scalar(select(Case.id).where(Case.instance_id == timer.instance_id))
        record_event(session, actor_id=None, case_id=case_id, action="timer_failed", at=now,
                     details={"business_key": timer.business_key, "element": timer.spec_id, "name": timer.name,
                              "error": reason[:_ERROR_LENGTH], "attempts": attempts,
                              "retry_at": retry_at.isoformat()})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return FailedTimer(business_key=timer.business_key, element=timer.spec_id, error=reason, attempts=attempts,
                       retry_at=retry_at)


def _rank_waiting_lists(session_factory: SessionFactory, *, now: dt.datetime, library: Library) -> int:
    """Today's waiting-list order, with the rules new cases run with (as the page ranks), once a day."""
    session = session_factory()
    try:
        rules_dir = current_library(session, library, PROCESSES[0]).rules_dir
        return rank_waiting_lists(session, rules_dir=str(rules_dir), today=local_date(now))
    except RuleFileInvalid as error:
        # Timers and messages go on without the ranking; the waiting list's page ranks what is missing itself.
        log.warning("waiting lists not ranked: %s", error)
        return 0
    finally:
        session.close()


def _deliver_messages(session_factory: SessionFactory, *, now: dt.datetime,
                      settings: NotifySettings | None) -> int:
    """Send the outbox's due messages through the configured sender (the log when none is configured)."""
    return deliver_due(session_factory, now=now, settings=settings)
