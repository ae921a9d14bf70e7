"""While a task waits on the household its staff due date stands still: it moves later by exactly the time
paused, a paused task is never overdue, the worker reminds the household once and, after the grace, hands the
task back to the supervisor flagged, never closing the case; bad requests change nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from engine.errors import FormInvalid, NotFoundForActor
from engine.models import TaskRecord
from registry import household_waits
from registry.cases import start_registration
from registry.citizens.models import Citizen
from registry.household_waits import WaitRefused, end_wait, start_wait, sweep_household_waits
from registry.inbox import InboxQuery, search_inbox
from registry.models import AuditEvent, Case, CaseStatus, User
from registry.notifications import OutboxMessage
from tests.conftest import Clock
from tests.factories import national_id
from webui.db import db_session, library


def _user(name: str) -> User:
    user = db_session().scalar(select(User).where(User.username == name))
    assert user is not None
    return user


def _open_case(clock: Clock, *, with_account: bool = True) -> TaskRecord:
    """A new case whose registration task waits for reception; its applicant has a portal account."""
    session = db_session()
    applicant = national_id()
    case = start_registration(session, actor=_user("reception1"), library=library(), now=clock(),
                              applicant_national_id=applicant)
    if with_account:
        # The applicant's own online application: before its household is recorded, the account that sent it
        # is the one told (a walk-in applicant's ID typed at sign-up proves nothing: registry.citizens.access).
        case.channel = "online"
        session.add(Citizen(national_id=applicant, mobile="0591234567", password_hash="x", lang="en",
                            mobile_confirmed_at=clock()))
        session.commit()
    task = session.scalar(select(TaskRecord).where(TaskRecord.business_key == str(case.id),
                                                   TaskRecord.state == "ready"))
    assert task is not None and task.due_at is not None and task.lane == "reception"
    return task


def _day(clock: Clock, days: int) -> str:
    return (clock().date() + dt.timedelta(days=days)).isoformat()


def _events(case_id: str, action: str) -> list[AuditEvent]:
    return list(db_session().scalars(select(AuditEvent).where(AuditEvent.case_id == int(case_id),
                                                              AuditEvent.action == action)))


def _messages(template: str) -> list[OutboxMessage]:
    return list(db_session().scalars(select(OutboxMessage).where(OutboxMessage.template == template)))


def _ids(result: Any) -> list[str]:
    return [row.task.id for name in ("mine", "open") for row in result.lists[name].items]


def _reload(task_id: str) -> TaskRecord:
    task = db_session().get(TaskRecord, task_id, populate_existing=True)
    assert task is not None
    return task


def test_the_due_date_moves_later_by_exactly_the_time_paused(app: Flask, clock: Clock) -> None:
    with app.app_context():
        task = _open_case(clock)
        due, task_id = task.due_at, task.id
        assert due is not None
        start_wait(db_session(), actor=_user("reception1"), library=library(), task_id=task_id,
                   reason="Bring the proof of income", respond_by=_day(clock, 5), now=clock())
        paused = _reload(task_id)
        assert paused.waiting_on == "household" and paused.due_at == due
        assert paused.wait_reason == "Bring the proof of income"
        clock.advance(days=3, hours=5, minutes=7)
        end_wait(db_session(), actor=_user("reception1"), task_id=task_id, now=clock())
        resumed = _reload(task_id)
        assert resumed.due_at == due + dt.timedelta(days=3, hours=5, minutes=7)
        assert resumed.paused_seconds == int(dt.timedelta(days=3, hours=5, minutes=7).total_seconds())
        assert resumed.waiting_on is None and resumed.paused_at is None
        assert len(_events(task.business_key, "household_wait_started")) == 1
        assert len(_events(task.business_key, "household_responded")) == 1
        # The household was told what is needed and by when.
        [told] = _messages("household_wait_started")
        assert "Bring the proof of income" in told.body and _day(clock, 2) in told.body  # five days from the start
        assert told.recipient == "0591234567"


def test_a_paused_task_is_never_overdue_and_the_inbox_shows_it_waiting(app: Flask, clock: Clock) -> None:
    with app.app_context():
        task = _open_case(clock)
        other = _open_case(clock)
        task_id, due = task.id, task.due_at
        assert due is not None
        start_wait(db_session(), actor=_user("reception1"), library=library(), task_id=task_id,
                   reason="Arrange the home visit", respond_by=_day(clock, 10), now=clock())
        clock.now = due + dt.timedelta(days=2)  # both staff due dates passed
        assert not _reload(task_id).is_overdue(clock())
        reception = _user("reception1")
        everything = search_inbox(db_session(), actor=reception, query=InboxQuery(), now=clock())
        assert everything.counts.overdue == 1 and everything.counts.waiting == 1
        overdue = search_inbox(db_session(), actor=reception, query=InboxQuery(overdue=True), now=clock())
        assert _ids(overdue) == [other.id]
        waiting = search_inbox(db_session(), actor=reception, query=InboxQuery(household="waiting"), now=clock())
        assert _ids(waiting) == [task_id]
        # Sorted by the date that counts: the household's (ten days on) comes after the other task's due date.
        by_due = search_inbox(db_session(), actor=reception, query=InboxQuery(sort="due"), now=clock())
        assert _ids(by_due) == [other.id, task_id]
        end_wait(db_session(), actor=reception, task_id=task_id, now=clock())
        assert not _reload(task_id).is_overdue(clock())  # the paused days were added back
        clock.advance(days=3)
        assert _reload(task_id).is_overdue(clock())


def test_the_sweep_reminds_once_then_hands_the_task_to_the_supervisor_after_the_grace(
        app: Flask, clock: Clock) -> None:
    with app.app_context():
        task = _open_case(clock)
        task_id, key, due = task.id, task.business_key, task.due_at
        assert due is not None
        start_wait(db_session(), actor=_user("reception1"), library=library(), task_id=task_id,
                   reason="Bring the ID cards", respond_by=_day(clock, 2), now=clock())
        grace = household_waits.grace_period(db_session(), library=library(), instance_id=task.instance_id)
        assert grace == dt.timedelta(days=7)  # processes/household_waits.yaml
        assert sweep_household_waits(db_session(), now=clock()).reminded == 0
        clock.advance(days=3)  # the household's date passed
        assert sweep_household_waits(db_session(), now=clock()) == household_waits.SweepReport(reminded=1)
        assert sweep_household_waits(db_session(), now=clock()) == household_waits.SweepReport()
        clock.advance(days=1)
        assert sweep_household_waits(db_session(), now=clock()) == household_waits.SweepReport()
        assert len(_messages("household_wait_reminder")) == 1
        assert len(_events(key, "household_reminded")) == 1
        assert _reload(task_id).waiting_on == "household"
        clock.advance(days=7)  # and the grace after it
        assert sweep_household_waits(db_session(), now=clock()) == household_waits.SweepReport(missed=1)
        assert sweep_household_waits(db_session(), now=clock()) == household_waits.SweepReport()
        flagged = _reload(task_id)
        assert flagged.household_missed_at == clock() and flagged.waiting_on is None
        assert flagged.due_at == due + dt.timedelta(days=11)  # the staff clock ran again from now
        assert len(_messages("household_wait_reminder")) == 1
        [missed] = _events(key, "household_missed_deadline")
        assert missed.details["respond_by"]
        case = db_session().get(Case, int(key))
        assert case is not None and case.status == CaseStatus.OPEN.value
        supervisor = _user("supervisor1")
        team = search_inbox(db_session(), actor=supervisor, query=InboxQuery(view="team", household="missed"),
                            now=clock())
        assert [row.task.id for row in team.lists["team"].items] == [task_id]
        work = search_inbox(db_session(), actor=supervisor, query=InboxQuery(), now=clock())
        assert work.team_missed == 1


def _nothing_changed(task_id: str, due: Any) -> None:
    task = _reload(task_id)
    assert task.waiting_on is None and task.paused_at is None and task.due_at == due
    assert db_session().scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert _events(task.business_key, "household_wait_started") == []


@pytest.mark.parametrize(("reason", "days", "field", "code"), [
    ("", 3, "reason", "required"),
    ("   ", 3, "reason", "required"),
    ("Bring the lease", -1, "respond_by", "date_in_past"),
    ("Bring the lease", 400, "respond_by", "date_too_far"),
    ("Bring the lease", None, "respond_by", "required"),
])
def test_a_wait_without_a_reason_or_with_a_bad_date_is_refused(app: Flask, clock: Clock, reason: str,
                                                               days: int | None, field: str, code: str) -> None:
    with app.app_context():
        task = _open_case(clock)
        with pytest.raises(FormInvalid) as refused:
            start_wait(db_session(), actor=_user("reception1"), library=library(), task_id=task.id, reason=reason,
                       respond_by=_day(clock, days) if days is not None else "", now=clock())
        assert refused.value.errors[field] == [code]
        _nothing_changed(task.id, task.due_at)


def test_another_directorates_task_is_not_found(app: Flask, clock: Clock) -> None:
    with app.app_context():
        task = _open_case(clock)
        for name in ("reception2", "supervisor2", "casemanager1"):
            with pytest.raises(NotFoundForActor):
                start_wait(db_session(), actor=_user(name), library=library(), task_id=task.id,
                           reason="Bring the lease", respond_by=_day(clock, 3), now=clock())
        _nothing_changed(task.id, task.due_at)


def test_a_second_wait_and_a_second_response_are_refused(app: Flask, clock: Clock) -> None:
    with app.app_context():
        task = _open_case(clock)
        reception = _user("reception1")
        start_wait(db_session(), actor=reception, library=library(), task_id=task.id, reason="Bring the lease",
                   respond_by=_day(clock, 3), now=clock())
        clock.advance(hours=1)
        with pytest.raises(WaitRefused) as again:
            start_wait(db_session(), actor=reception, library=library(), task_id=task.id, reason="Other",
                       respond_by=_day(clock, 4), now=clock())
        assert again.value.reason == "already_waiting"
        assert _reload(task.id).wait_reason == "Bring the lease"
        end_wait(db_session(), actor=reception, task_id=task.id, now=clock())
        moved = _reload(task.id).due_at
        with pytest.raises(WaitRefused) as twice:
            end_wait(db_session(), actor=reception, task_id=task.id, now=clock() + dt.timedelta(hours=5))
        assert twice.value.reason == "not_waiting"
        assert _reload(task.id).due_at == moved
        assert len(_events(task.business_key, "household_wait_started")) == 1
        assert len(_events(task.business_key, "household_responded")) == 1


def test_a_task_of_the_households_own_lane_cannot_be_paused_by_staff(app: Flask, clock: Clock) -> None:
    with app.app_context():
        task = _open_case(clock)
        session = db_session()
        # The portal's lane: no staff account holds its role.
        portal = TaskRecord(id="00000000-0000-0000-0000-0000000000c1", instance_id=task.instance_id,
                            business_key=task.business_key, scope=task.scope, spec_id="upload_documents",
                            title="Upload documents", lane="citizen", form_key="attach_documents",
                            stage=task.stage, due_at=task.due_at, created_at=clock())
        session.add(portal)
        session.commit()
        with pytest.raises(WaitRefused) as refused:
            start_wait(db_session(), actor=_user("supervisor1"), library=library(), task_id=portal.id,
                       reason="Bring the lease", respond_by=_day(clock, 3), now=clock())
        assert refused.value.reason == "household_task"
        _nothing_changed(portal.id, task.due_at)


def test_a_task_the_diagram_says_waits_on_the_household_runs_only_the_households_clock(
        app: Flask, clock: Clock, api: Any) -> None:
    from tests.webui.test_case_paths import complete, register_and_recommend

    case_id = register_and_recommend(api("reception1"))
    complete(api("supervisor1"), case_id, {"decision": "request_documents", "missing_documents": ["income_proof"]},
             expect_form="eligibility_review")
    with app.app_context():
        task = db_session().scalar(select(TaskRecord).where(TaskRecord.business_key == str(case_id),
                                                            TaskRecord.state == "ready"))
        assert task is not None and task.form_key == "attach_documents"
        assert task.waiting_on == "household" and task.due_at is None and task.household_due_at is not None
        assert task.paused_at is None and not task.is_overdue(clock() + dt.timedelta(days=365))
        # Its wait is the diagram's (its own timers), not a staff pause: the sweep leaves it alone.
        clock.advance(days=60)
        assert sweep_household_waits(db_session(), now=clock()) == household_waits.SweepReport()
