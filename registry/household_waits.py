"""Waits on the household: a staff task's due date stands still while the household has something to do.

Staff mark a ready task as waiting for the household (a visit to arrange, a document to bring) with a
reason and a date; the household is told through the outbox. When the household responds, the staff due
date moves later by exactly the time paused. The worker's sweep reminds a household once when its date
passes and, after the grace period in ``processes/household_waits.yaml``, ends the wait: the staff clock
runs again and the task is flagged for the supervisor. A case is never closed by a missed date.

Each public function is one unit of work. Changes to a task are conditional UPDATEs on the state that
was read, so a double submit, or two workers sweeping at once, change a task once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor, TaskAlreadyCompleted
from engine.library import Library, load_yaml_mapping, parse_duration
from engine.models import ProcessInstance, TaskRecord, TaskState
from registry.audit import record_event
from registry.citizens.access import account_of_case
from registry.errors import RegistryError
from registry.models import Case, Household, Role, User
from registry.notifications import queue_message
from registry.operations import MINISTRY_TIMEZONE, local_date
from registry.transactions import unit_of_work

#: The value of a task's ``waiting_on`` (and of the diagrams' ``waitsOn`` property) for the household.
HOUSEHOLD = "household"
#: The analyst's settings for waits, beside the diagrams and deployed with them.
SETTINGS_FILE = "household_waits.yaml"
#: Outbox templates (texts in processes/notifications.yaml).
STARTED_TEMPLATE = "household_wait_started"
REMINDER_TEMPLATE = "household_wait_reminder"
MAX_REASON = 500
#: How far ahead a household's date may be set.
MAX_DAYS_AHEAD = 366
SWEEP_BATCH = 200


class WaitRefused(RegistryError):
    """The task cannot start or end a wait: ``reason`` is household_task, already_waiting or not_waiting."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"wait refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did: households reminded, and waits ended because the date and the grace passed."""

    reminded: int = 0
    missed: int = 0




# --- settings and contact --------------------------------------------------------------------

def _settings_text(session: Session, library: Library | None, instance_id: int) -> bytes | None:
    """The settings deployed with the case's version, else the working file."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is not None:
        text = (instance.process_version.sources or {}).get(f"processes/{SETTINGS_FILE}")
        if text is not None:
            return text.encode("utf-8")
    if library is not None:
        path = Path(library.processes_dir) / SETTINGS_FILE
        if path.exists():
            return path.read_bytes()
    return None


def grace_period(session: Session, *, library: Library | None, instance_id: int) -> dt.timedelta:
    """How long after its date a household still has before the wait ends (none when nothing says)."""
    text = _settings_text(session, library, instance_id)
    if text is None:
        return dt.timedelta(0)
    value = load_yaml_mapping(text).get("grace_period")
    return parse_duration(str(value)) if value else dt.timedelta(0)


def settings_problems(path: Path) -> list[str]:
    """Why the settings file cannot be used, or nothing (for the processes check)."""
    try:
        raw = load_yaml_mapping(path.read_bytes())
        if "grace_period" in raw:
            parse_duration(str(raw["grace_period"]))
    except ValueError as err:
        return [str(err)]
    return []


def _contact(session: Session, case: Case) -> dict[str, Any] | None:
    """Where the household is told: its portal account's mobile, else the household's phone."""
    citizen = account_of_case(session, case)  # registry.citizens.access: never an unverified account
    if citizen is not None:
        return {"to_mobile": citizen.mobile, "citizen_id": citizen.id, "lang": citizen.lang or "ar"}
    household = session.get(Household, case.household_id) if case.household_id is not None else None
    if household is not None and household.phone:
        return {"to_mobile": household.phone, "lang": "ar"}
    return None


def _tell(session: Session, *, case: Case, template: str, record: TaskRecord, now: dt.datetime) -> bool:
    """Queue a message to the household about the wait; False when there is no way to reach it."""
    contact = _contact(session, case)
    if contact is None:
        return False
    due = record.household_due_at.astimezone(MINISTRY_TIMEZONE).date() if record.household_due_at else None
    queue_message(session, template=template, lang=contact.pop("lang"), now=now, business_key=case.reference,
                  params={"reference": case.reference, "needed": record.wait_reason or "",
                          "due": due.isoformat() if due else ""}, **contact)
    return True


# --- staff actions ---------------------------------------------------------------------------

def _task_for(session: Session, *, actor: User, task_id: str) -> TaskRecord:
    """A ready task of the actor's directorate that the actor may act on, or one a supervisor oversees."""
    record = session.get(TaskRecord, task_id, populate_existing=True)
    if record is None or actor.scope is None or record.scope != actor.scope:
        raise NotFoundForActor(task_id)
    supervises = actor.role == Role.SUPERVISOR.value
    if record.lane != actor.role and not supervises:
        raise NotFoundForActor(task_id)
    if record.state != TaskState.READY.value:
        raise TaskAlreadyCompleted(by=record.completed_by_id, at=record.completed_at)
    # A lane no staff member holds is the household's own (the portal): staff cannot pause it.
    if not session.scalar(select(exists().where(User.role == record.lane))):
        raise WaitRefused("household_task")
    return record


def case_of_task(session: Session, *, actor: User, task_id: str) -> int | None:
    """The case a task of the actor's directorate belongs to (None for any other task)."""
    record = session.get(TaskRecord, task_id)
    if record is None or actor.scope is None or record.scope != actor.scope:
        return None
    return int(record.business_key)


def _respond_by(value: Any, now: dt.datetime) -> tuple[dt.date | None, str | None]:
    if value in (None, ""):
        return None, "required"
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            return None, "invalid_date"
    today = local_date(now)
    if day < today:
        return None, "date_in_past"
    if day > today + dt.timedelta(days=MAX_DAYS_AHEAD):
        return None, "date_too_far"
    return day, None


def _due_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59), MINISTRY_TIMEZONE).astimezone(dt.UTC)


def start_wait(session: Session, *, actor: User, library: Library | None, task_id: str, reason: str,
               respond_by: Any, now: dt.datetime,
               before_commit: Callable[[TaskRecord], None] | None = None) -> TaskRecord:
    """Mark a ready staff task as waiting for the household until ``respond_by`` (a day, ministry time).

    The same request again (same reason and date) while its wait holds changes nothing and is no error.
    Raises FormInvalid (no reason, a bad or past date), NotFoundForActor, TaskAlreadyCompleted or
    WaitRefused; on any of them nothing has changed. ``before_commit`` is called with the task inside
    the unit of work (an idempotent answer commits with the change).
    """
    reason = " ".join((reason or "").split())
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = ["required"]
    elif len(reason) > MAX_REASON:
        errors["reason"] = ["too_long"]
    day, problem = _respond_by(respond_by, now)
    if problem:
        errors["respond_by"] = [problem]
    with unit_of_work(session):
        record = _task_for(session, actor=actor, task_id=task_id)
        if errors:
            raise FormInvalid(errors)
        assert day is not None
        due = _due_of(day)
        if record.waiting_on is not None:
            if record.paused_at is not None and record.wait_reason == reason and record.household_due_at == due:
                if before_commit is not None:  # a double send: the wait it asks for already holds
                    before_commit(record)
                return record
            raise WaitRefused("already_waiting")
        grace = grace_period(session, library=library, instance_id=record.instance_id)
        changed = session.execute(
            update(TaskRecord).where(TaskRecord.id == record.id, TaskRecord.state == TaskState.READY.value,
                                     TaskRecord.waiting_on.is_(None))
            .values(waiting_on=HOUSEHOLD, wait_reason=reason, paused_at=now, household_due_at=due,
                    household_grace_until=due + grace, household_reminded_at=None, household_missed_at=None)
            .execution_options(synchronize_session=False))
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            raise WaitRefused("already_waiting")
        session.refresh(record)
        case = session.get(Case, int(record.business_key))
        assert case is not None
        told = _tell(session, case=case, template=STARTED_TEMPLATE, record=record, now=now)
        record_event(session, actor_id=actor.id, case_id=case.id, action="household_wait_started", at=now,
                     details={"task": record.spec_id, "title": record.title, "form": record.form_key,
                              "reason": reason, "respond_by": day.isoformat(), "household_told": told})
        if before_commit is not None:
            before_commit(record)
    return record


def _resume(session: Session, record: TaskRecord, now: dt.datetime, **extra: Any) -> dt.timedelta | None:
    """End the wait the row had when read: the staff due date moves later by the time paused.

    None when someone else ended it meanwhile (the row no longer holds the pause that was read).
    """
    if record.paused_at is None or record.waiting_on is None:
        return None
    paused = max(now - record.paused_at, dt.timedelta(0))
    changed = session.execute(
        update(TaskRecord).where(TaskRecord.id == record.id, TaskRecord.state == TaskState.READY.value,
                                 TaskRecord.waiting_on == record.waiting_on,
                                 TaskRecord.paused_at == record.paused_at)
        .values(waiting_on=None, paused_at=None,
                due_at=record.due_at + paused if record.due_at is not None else None,
                paused_seconds=record.paused_seconds + int(paused.total_seconds()), **extra)
        .execution_options(synchronize_session=False))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(record)
    return paused


def end_wait(session: Session, *, actor: User, task_id: str, now: dt.datetime, not_waiting_ok: bool = False,
             before_commit: Callable[[TaskRecord], None] | None = None) -> TaskRecord:
    """The household responded: the staff clock runs again, its due date later by the time paused.

    A task that is not (or no longer) paused raises WaitRefused("not_waiting"), or with ``not_waiting_ok``
    is returned as it stands, unchanged (the API's DELETE: a double send is no error).
    """
    with unit_of_work(session):
        record = _task_for(session, actor=actor, task_id=task_id)
        before = record.due_at
        paused = _resume(session, record, now) if record.paused_at is not None else None
        if paused is None:
            if not not_waiting_ok:
                raise WaitRefused("not_waiting")
            session.refresh(record)
            if before_commit is not None:
                before_commit(record)
            return record
        record_event(session, actor_id=actor.id, case_id=int(record.business_key), action="household_responded",
                     at=now, details={"task": record.spec_id, "title": record.title, "form": record.form_key,
                                      "paused_seconds": int(paused.total_seconds()),
                                      "due_before": before.isoformat() if before else None,
                                      "due_after": record.due_at.isoformat() if record.due_at else None})
        if before_commit is not None:
            before_commit(record)
    return record


# --- the worker's sweep ----------------------------------------------------------------------

def _waiting() -> list[Any]:
    return [TaskRecord.waiting_on == HOUSEHOLD, TaskRecord.state == TaskState.READY.value,
            TaskRecord.paused_at.is_not(None)]


def sweep_household_waits(session: Session, *, now: dt.datetime, limit: int = SWEEP_BATCH) -> SweepReport:
    """Remind each household whose date passed, once; end the waits whose grace passed too.

    Each task is its own transaction; a task another worker changed meanwhile is left to it.
    """
    reminded = missed = 0
    due_ids = list(session.scalars(select(TaskRecord.id).where(
        *_waiting(), TaskRecord.household_due_at < now, TaskRecord.household_reminded_at.is_(None))
        .order_by(TaskRecord.household_due_at).limit(limit)))
    session.rollback()
    for task_id in due_ids:
        with unit_of_work(session):
            changed = session.execute(
                update(TaskRecord).where(TaskRecord.id == task_id, *_waiting(),
                                         TaskRecord.household_reminded_at.is_(None))
                .values(household_reminded_at=now).execution_options(synchronize_session=False))
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                continue
            record = session.get(TaskRecord, task_id, populate_existing=True)
            assert record is not None
            case = session.get(Case, int(record.business_key))
            assert case is not None
            told = _tell(session, case=case, template=REMINDER_TEMPLATE, record=record, now=now)
            record_event(session, actor_id=None, case_id=case.id, action="household_reminded", at=now,
                         details={"task": record.spec_id, "title": record.title, "form": record.form_key,
                                  "household_told": told})
            reminded += 1
    # Only a household reminded in an earlier sweep loses its wait: one reminder always comes first.
    late_ids = list(session.scalars(select(TaskRecord.id).where(
        *_waiting(), TaskRecord.household_reminded_at.is_not(None), TaskRecord.household_reminded_at < now,
        TaskRecord.household_grace_until < now).order_by(TaskRecord.household_grace_until).limit(limit)))
    session.rollback()
    for task_id in late_ids:
        with unit_of_work(session):
            record = session.get(TaskRecord, task_id, populate_existing=True)
            if record is None or not record.is_ready or record.waiting_on != HOUSEHOLD:
                continue
            due = record.household_due_at
            paused = _resume(session, record, now, household_missed_at=now)
            if paused is None:
                continue
            record_event(session, actor_id=None, case_id=int(record.business_key),
                         action="household_missed_deadline", at=now,
                         details={"task": record.spec_id, "title": record.title, "form": record.form_key,
                                  "reason": record.wait_reason, "respond_by": due.isoformat() if due else None,
                                  "paused_seconds": int(paused.total_seconds())})
            missed += 1
    return SweepReport(reminded=reminded, missed=missed)
