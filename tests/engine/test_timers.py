"""BPMN timers: rows follow the workflow as it is saved, and due ones fire when the clock passes them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine import timers
from engine.library import Library
from engine.models import ProcessVersion, TaskRecord, Timer, TimerState
from registry.models import AuditEvent
from tests import timer_demo
from webui.db import make_engine

START = dt.datetime(2030, 3, 4, 9, 0, tzinfo=dt.UTC)  # far from the machine's clock: timers run on ours


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    with sessionmaker(engine, expire_on_commit=False)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return timer_demo.timer_library(tmp_path / "deployed")


@pytest.fixture
def version(session: Session, library: Library) -> ProcessVersion:
    deployed = timer_demo.deploy(session, library)
    session.commit()
    return deployed


def timer_rows(session: Session, instance_id: int) -> list[tuple[str, str, dt.datetime]]:
    return [(t.spec_id, t.state, t.due_at) for t in session.scalars(
        select(Timer).where(Timer.instance_id == instance_id).order_by(Timer.id))]


def test_a_waiting_timer_is_stored_with_its_due_time_on_the_services_clock(
        session: Session, library: Library, version: ProcessVersion) -> None:
    advance = timer_demo.start(session, library, version, key="k1", now=START)
    session.commit()

    assert timer_rows(session, advance.instance.id) == [
        ("answer_overdue", TimerState.PENDING.value, START + timer_demo.BOUNDARY_DELAY)]
    row = session.scalars(select(Timer)).one()
    assert (row.name, row.business_key, row.attempts) == ("Answer overdue", "k1", 0)


def test_a_boundary_timer_fires_once_the_clock_passes_its_due_time_and_not_before(
        session: Session, library: Library, version: ProcessVersion) -> None:
    advance = timer_demo.start(session, library, version, key="k1", now=START)
    session.commit()
    due = START + timer_demo.BOUNDARY_DELAY

    assert timers.fire_due(session, library=library, now=due - dt.timedelta(seconds=1)) == []
    assert timer_demo.ready_specs(session, advance.instance.id) == ["wait_for_answer"]

    fired = timers.fire_due(session, library=library, now=due + dt.timedelta(seconds=1))
    session.commit()

    assert [(f.timer.spec_id, f.fired) for f in fired] == [("answer_overdue", True)]
    assert [r.spec_id for r in fired[0].advance.ready] == ["escalated_review"]
    assert timer_demo.ready_specs(session, advance.instance.id) == ["escalated_review"]
    assert session.scalar(select(TaskRecord.state).where(TaskRecord.spec_id == "wait_for_answer")) == "cancelled"
    assert timer_rows(session, advance.instance.id) == [("answer_overdue", TimerState.FIRED.value, due)]
    assert session.scalar(select(Timer.fired_at)) == due + dt.timedelta(seconds=1)
    assert timers.fire_due(session, library=library, now=due + dt.timedelta(days=30)) == []


def test_completing_the_task_cancels_its_timer_and_the_next_timer_runs_its_path(
        session: Session, library: Library, version: ProcessVersion) -> None:
    advance = timer_demo.start(session, library, version, key="k1", now=START)
    answered_at = START + dt.timedelta(hours=5)
    timer_demo.answer(session, library, advance, now=answered_at)
    session.commit()
    cool_off_due = answered_at + timer_demo.COOL_OFF

    assert timer_rows(session, advance.instance.id) == [
        ("answer_overdue", TimerState.CANCELLED.value, START + timer_demo.BOUNDARY_DELAY),
        ("cool_off", TimerState.PENDING.value, cool_off_due)]
    assert timer_demo.ready_specs(session, advance.instance.id) == []

    assert timers.fire_due(session, library=library, now=cool_off_due) == []
    fired = timers.fire_due(session, library=library, now=cool_off_due + dt.timedelta(seconds=1))
    session.commit()

    assert [f.timer.spec_id for f in fired if f.fired] == ["cool_off"]
    assert timer_demo.ready_specs(session, advance.instance.id) == ["follow_up_call"]
    effects = session.scalars(select(AuditEvent).where(AuditEvent.action == "timer_test_effect")).all()
    assert [(e.details["business_key"], e.at) for e in effects] == [("k1", cool_off_due + dt.timedelta(seconds=1))]
    assert timers.fire_due(session, library=library, now=cool_off_due + dt.timedelta(days=10)) == []


def test_a_failing_step_after_a_timer_names_the_timer_and_keeps_nothing(
        session: Session, library: Library, version: ProcessVersion) -> None:
    advance = timer_demo.start(session, library, version, key="k1", now=START, fail_after_cool_off=True)
    timer_demo.answer(session, library, advance, now=START)
    session.commit()
    cool_off = session.scalars(select(Timer).where(Timer.spec_id == "cool_off")).one()

    with pytest.raises(timers.TimerFailed) as failure:
        timers.fire_due(session, library=library, now=START + timer_demo.COOL_OFF + dt.timedelta(minutes=1))
    session.rollback()

    assert failure.value.timer_id == cool_off.id
    assert "fails on purpose" in failure.value.reason
    assert timer_rows(session, advance.instance.id)[-1] == (
        "cool_off", TimerState.PENDING.value, START + timer_demo.COOL_OFF)
    assert timer_demo.ready_specs(session, advance.instance.id) == []
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "timer_test_effect")) == 0
