"""The timer worker: each due timer fires once, in one transaction with its case, whatever the number of workers."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.library import Library
from engine.models import TaskRecord, Timer, TimerState
from registry.models import AuditEvent, Case, Directorate
from registry.worker import WorkReport, run_once
from tests import timer_demo
from webui.db import make_engine

START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
OVERDUE = START + timer_demo.BOUNDARY_DELAY + dt.timedelta(minutes=1)
BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


def sessions(app: Flask) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = app.extensions["sessionmaker"]
    return factory


def open_cases(app: Flask, library: Library, count: int, *, answered: int = 0,
               failing: set[int] | None = None) -> list[Case]:
    """``count`` cases on the timer process; the first ``answered`` wait at the cool-off timer, the rest at the
    boundary timer; cases whose index is in ``failing`` fail in the step after the cool-off."""
    with sessions(app)() as session:
        version = timer_demo.deploy(session, library)
        directorate = session.scalars(select(Directorate).order_by(Directorate.id)).first()
        assert directorate is not None
        cases = []
        for index in range(count):
            case = Case(reference=f"T-{index}", directorate_id=directorate.id, created_at=START)
            session.add(case)
            session.flush()
            advance = timer_demo.start(session, library, version, key=str(case.id), now=START,
                                       fail_after_cool_off=index in (failing or set()))
            case.instance_id = advance.instance.id
            if index < answered:
                timer_demo.answer(session, library, advance, now=START)
            cases.append(case)
        session.commit()
    return cases


def count_events(app: Flask, action: str) -> int:
    with sessions(app)() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)) or 0


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return timer_demo.timer_library(tmp_path / "deployed")


@BOTH_DATABASES
def test_a_due_timer_fires_moves_the_case_on_and_says_so_in_its_history(app: Flask, library: Library) -> None:
    (case,) = open_cases(app, library, 1)

    assert run_once(sessions(app), now=OVERDUE - dt.timedelta(days=1), library=library).fired == []
    report = run_once(sessions(app), now=OVERDUE, library=library)

    assert [(f.case_id, f.element, f.name, f.next_tasks) for f in report.fired] == [
        (case.id, "answer_overdue", "Answer overdue", ["escalated_review"])]
    with sessions(app)() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "timer_fired")).one()
        assert (event.case_id, event.actor_id, event.at) == (case.id, None, OVERDUE)
        assert event.details["business_key"] == str(case.id)
        assert (event.details["element"], event.details["name"]) == ("answer_overdue", "Answer overdue")
        assert timer_demo.ready_specs(session, case.instance_id or 0) == ["escalated_review"]
    assert run_once(sessions(app), now=OVERDUE + dt.timedelta(days=1), library=library).fired == []
    assert count_events(app, "timer_fired") == 1


@BOTH_DATABASES
def test_a_failing_timer_is_recorded_and_retried_later_without_blocking_the_others(
        app: Flask, library: Library) -> None:
    failing, fine, waiting = open_cases(app, library, 3, answered=2, failing={0})
    at = START + timer_demo.COOL_OFF + dt.timedelta(minutes=1)

    report = run_once(sessions(app), now=at, library=library)

    assert [f.business_key for f in report.fired] == [str(fine.id)]
    assert [(f.business_key, f.element, f.attempts, f.retry_at) for f in report.failed] == [
        (str(failing.id), "cool_off", 1, at + dt.timedelta(minutes=1))]
    assert "fails on purpose" in report.failed[0].error
    with sessions(app)() as session:
        timer = session.scalars(select(Timer).where(Timer.instance_id == failing.instance_id,
                                                    Timer.spec_id == "cool_off")).one()
        assert (timer.state, timer.attempts, timer.retry_at) == (TimerState.PENDING.value, 1,
                                                                 at + dt.timedelta(minutes=1))
        assert "fails on purpose" in (timer.last_error or "")
        incident = session.scalars(select(AuditEvent).where(AuditEvent.action == "timer_failed")).one()
        assert (incident.case_id, incident.details["element"]) == (failing.id, "cool_off")
        assert timer_demo.ready_specs(session, failing.instance_id or 0) == []
        assert timer_demo.ready_specs(session, fine.instance_id or 0) == ["follow_up_call"]
        assert timer_demo.ready_specs(session, waiting.instance_id or 0) == ["wait_for_answer"]
    assert count_events(app, "timer_test_effect") == 1

    assert run_once(sessions(app), now=at + dt.timedelta(seconds=30), library=library) == WorkReport()
    again = run_once(sessions(app), now=at + dt.timedelta(minutes=2), library=library)
    assert [(f.attempts, f.retry_at) for f in again.failed] == [(2, at + dt.timedelta(minutes=4))]


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_two_workers_on_postgresql_fire_each_due_timer_exactly_once(app: Flask, library: Library) -> None:
    cases = open_cases(app, library, 12, answered=6)
    at = OVERDUE
    start = threading.Barrier(2)
    reports: list[WorkReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        # Each worker has its own engine and sessions, as two worker processes would.
        factory = sessionmaker(make_engine(app.config["DATABASE_URL"]), expire_on_commit=False)
        try:
            start.wait()
            reports.append(run_once(factory, now=at, library=library))
        except BaseException as err:  # reported below: a thread's exception would otherwise vanish
            errors.append(err)
        finally:
            factory.kw["bind"].dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    fired = [f.business_key for report in reports for f in report.fired]
    assert sorted(fired) == sorted(str(c.id) for c in cases)
    assert all(report.failed == [] for report in reports)
    assert count_events(app, "timer_fired") == 12
    assert count_events(app, "timer_test_effect") == 6  # the step after each cool-off ran once
    with sessions(app)() as session:
        ready = session.execute(select(TaskRecord.spec_id, func.count()).where(TaskRecord.state == "ready")
                                .group_by(TaskRecord.spec_id)).tuples().all()
        assert sorted(ready) == [("escalated_review", 6), ("follow_up_call", 6)]
        states = session.execute(select(Timer.spec_id, Timer.state, func.count()).group_by(Timer.spec_id, Timer.state)
                                 ).tuples().all()
        assert sorted(states) == [("answer_overdue", "cancelled", 6), ("answer_overdue", "fired", 6),
                                  ("cool_off", "fired", 6)]


def test_the_worker_command_fires_what_is_due_at_the_time_given(app: Flask, library: Library) -> None:
    app.config["VERSIONS_DIR"] = str(library.versions_dir)
    (case,) = open_cases(app, library, 1)
    runner = app.test_cli_runner()

    early = runner.invoke(args=["worker", "--once", "--now", "2026-12-02T09:00:00Z"])
    assert early.exit_code == 0, early.output
    assert "timer fired" not in early.output

    result = runner.invoke(args=["worker", "--once", "--now", "2026-12-04T09:01:00Z"])
    assert result.exit_code == 0, result.output
    assert (f"timer fired: Answer overdue (answer_overdue) of {case.id}; next: escalated_review"
            in result.output)
    assert count_events(app, "timer_fired") == 1

    refused = runner.invoke(args=["worker", "--once", "--now", "next tuesday"])
    assert refused.exit_code == 2 and "not an ISO 8601 time" in refused.output
    assert runner.invoke(args=["worker", "--now", "2026-12-04T09:01:00Z"]).exit_code == 2
