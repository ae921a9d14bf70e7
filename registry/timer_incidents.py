"""Timers whose path fails: shown to the staff who can act on them, and tried again on request.

The worker keeps a failing timer pending with its attempts, last error and when to try again
(``registry.worker``). A supervisor of the case's directorate, or an administrator, sees it on the case
page and may ask for a retry now: the timer becomes due at once (audited), and the next worker pass
fires it in its own transaction as usual.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.errors import NotFoundForActor
from engine.models import Timer, TimerState
from registry.audit import record_event
from registry.cases import case_for_actor
from registry.errors import RegistryError
from registry.models import Case, Role, User

#: Who may see failing timers and retry them (administrators have no directorate: every case is theirs here).
OVERSEERS = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})


class RetryRefused(RegistryError):
    """The timer is not failing (it fired, was cancelled, or never failed): nothing to retry."""


def _may_oversee(actor: User, case: Case) -> bool:
    if actor.role == Role.ADMIN.value:
        return True
    return actor.role == Role.SUPERVISOR.value and actor.scope is not None and case.directorate.code == actor.scope


def failing_timers(session: Session, *, actor: User, case_id: int) -> list[Timer]:
    """The case's pending timers that failed at least once, for those who oversee it (else nothing)."""
    if actor.role not in OVERSEERS:
        return []
    case = session.get(Case, case_id) if actor.role == Role.ADMIN.value else case_for_actor(
        session, actor=actor, case_id=case_id)
    if case is None or case.instance_id is None or not _may_oversee(actor, case):
        return []
    return list(session.scalars(select(Timer).where(
        Timer.instance_id == case.instance_id, Timer.state == TimerState.PENDING.value, Timer.attempts > 0)
        .order_by(Timer.due_at, Timer.id)))


def retry_now(session: Session, *, actor: User, case_id: int, timer_id: int, now: dt.datetime) -> Timer:
    """Make a failing timer of the case due now, so the worker's next pass tries it; audited.

    Raises NotFoundForActor (another directorate's case, a role that does not oversee it, a timer of
    another case) or RetryRefused (the timer is not failing); on either nothing has changed.
    """
    try:
        case = session.get(Case, case_id)
        timer = session.get(Timer, timer_id, populate_existing=True)
        if (case is None or timer is None or actor.role not in OVERSEERS or not _may_oversee(actor, case)
                or case.instance_id is None or timer.instance_id != case.instance_id):
            raise NotFoundForActor(str(timer_id))
        if timer.state != TimerState.PENDING.value or timer.attempts < 1:
            raise RetryRefused(f"timer {timer_id} is not failing")
        before = timer.retry_at
        if before is None or before > now:
            session.execute(update(Timer).where(Timer.id == timer.id, Timer.state == TimerState.PENDING.value)
                            .values(retry_at=now).execution_options(synchronize_session=False))
            session.refresh(timer)
            record_event(session, actor_id=actor.id, case_id=case.id, action="timer_retry_requested", at=now,
                         details={"business_key": timer.business_key, "element": timer.spec_id,
                                  "name": timer.name, "attempts": timer.attempts,
                                  "retry_at_before": before.isoformat() if before else None})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return timer
