"""A timer whose path fails shows on the case page to the directorate's supervisor: what failed, the attempts and
the next try, with a button that makes it due now (audited) for the worker's next pass; another directorate gets
404 and a citizen never sees it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.library import Library
from engine.models import Timer
from registry.auth import hash_password
from registry.citizens.models import Citizen
from registry.models import AuditEvent, Case, Directorate, User
from registry.timer_incidents import RetryRefused, retry_now
from registry.worker import run_once
from tests import timer_demo
from tests.conftest import Clock
from tests.factories import national_id
from tests.registry.test_worker import START, sessions

Login = Callable[..., FlaskClient]
PASSWORD = "olive-tree-2026"


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return timer_demo.timer_library(tmp_path / "deployed")


def _open_case(app: Flask, library: Library, *, fail: bool) -> Case:
    """A case of Ramallah (supervisor1's directorate) on the timer process, waiting at its cool-off timer."""
    with sessions(app)() as session:
        version = timer_demo.deploy(session, library)
        rbh = session.scalars(select(Directorate).where(Directorate.code == "RBH")).one()
        case = Case(reference=f"T-{national_id()}", directorate_id=rbh.id, created_at=START)
        session.add(case)
        session.flush()
        advance = timer_demo.start(session, library, version, key=str(case.id), now=START, fail_after_cool_off=fail)
        case.instance_id = advance.instance.id
        timer_demo.answer(session, library, advance, now=START)
        session.commit()
        return case


def _failing_case(app: Flask, library: Library, clock: Clock) -> tuple[Case, dt.datetime]:
    """A case whose timer's path failed once; the clock stands just after."""
    case = _open_case(app, library, fail=True)
    at = START + timer_demo.COOL_OFF + dt.timedelta(minutes=1)
    assert [f.attempts for f in run_once(sessions(app), now=at, library=library).failed] == [1]
    clock.now = at + dt.timedelta(seconds=10)
    return case, at


def _timer(app: Flask, case: Case) -> Timer:
    with sessions(app)() as session:
        return session.scalars(select(Timer).where(Timer.instance_id == case.instance_id,
                                                   Timer.spec_id == "cool_off")).one()


def test_the_supervisor_sees_the_failing_timer_and_retry_makes_it_due_now(
        app: Flask, library: Library, clock: Clock, login_as: Login) -> None:
    case, at = _failing_case(app, library, clock)
    supervisor = login_as("supervisor1")
    page = supervisor.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'data-testid="failing-timers"' in page and "A scheduled step is failing" in page
    assert "fails on purpose" in page and 'data-testid="timer-attempts">1<' in page
    assert 'data-testid="timer-retry"' in page
    timer = _timer(app, case)
    assert timer.retry_at == at + dt.timedelta(minutes=1)
    # Before its backoff ends the worker leaves it alone.
    assert run_once(sessions(app), now=clock(), library=library).failed == []

    answer = supervisor.post(f"/cases/{case.id}/timers/{timer.id}/retry", follow_redirects=True)
    assert answer.status_code == 200
    assert "tried again on the worker&#39;s next pass" in answer.get_data(as_text=True)
    assert _timer(app, case).retry_at == clock()
    with sessions(app)() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "timer_retry_requested")).one()
        user = session.scalars(select(User).where(User.username == "supervisor1")).one()
        assert (event.case_id, event.actor_id, event.details["element"]) == (case.id, user.id, "cool_off")
    # The worker's next pass, at the same moment, tries it again.
    again = run_once(sessions(app), now=clock(), library=library)
    assert [f.attempts for f in again.failed] == [2]

    # Others of the directorate see nothing to act on.
    assert 'data-testid="failing-timers"' not in login_as("reception1").get(f"/cases/{case.id}").get_data(
        as_text=True)
    assert login_as("reception1").post(f"/cases/{case.id}/timers/{timer.id}/retry").status_code == 404


def test_another_directorate_gets_404_and_nothing_changes(
        app: Flask, library: Library, clock: Clock, login_as: Login) -> None:
    case, _at = _failing_case(app, library, clock)
    timer = _timer(app, case)
    elsewhere = login_as("supervisor2")
    assert elsewhere.get(f"/cases/{case.id}").status_code == 404
    assert elsewhere.post(f"/cases/{case.id}/timers/{timer.id}/retry").status_code == 404
    # A timer id under another case's address is not found either.
    other = _open_case(app, library, fail=False)
    assert login_as("supervisor1").post(f"/cases/{other.id}/timers/{timer.id}/retry").status_code == 404
    assert _timer(app, case).retry_at == timer.retry_at
    with sessions(app)() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "timer_retry_requested")).all() == []


def test_an_administrator_may_retry_and_a_fired_timer_is_refused(app: Flask, library: Library,
                                                                 clock: Clock) -> None:
    case, _at = _failing_case(app, library, clock)
    timer = _timer(app, case)
    with sessions(app)() as session:
        admin = session.scalars(select(User).where(User.username == "admin")).one()
        assert retry_now(session, actor=admin, case_id=case.id, timer_id=timer.id, now=clock()).retry_at == clock()
        timer_row = session.get(Timer, timer.id)
        assert timer_row is not None
        timer_row.state = "fired"
        session.commit()
        with pytest.raises(RetryRefused):
            retry_now(session, actor=admin, case_id=case.id, timer_id=timer.id, now=clock())


def test_a_citizen_never_sees_a_failing_timer(app: Flask, library: Library, clock: Clock) -> None:
    case, _at = _failing_case(app, library, clock)
    timer = _timer(app, case)
    applicant = national_id()
    with sessions(app)() as session:
        row = session.get(Case, case.id)
        assert row is not None
        row.channel, row.applicant_national_id = "online", applicant
        session.add(Citizen(national_id=applicant, mobile="0591234567", password_hash=hash_password(PASSWORD),
                            lang="en", mobile_confirmed_at=clock()))
        session.commit()
    citizen = app.test_client()
    assert citizen.post("/portal/login", data={"national_id": applicant, "password": PASSWORD,
                                               "lang": "en"}).status_code == 302
    for path in ("/portal/", "/portal/applications", f"/portal/applications/{case.reference}"):
        response = citizen.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert "fails on purpose" not in html and "failing-timers" not in html and "Retry now" not in html
    assert citizen.get(f"/cases/{case.id}").status_code in (302, 401, 404)
    assert citizen.post(f"/cases/{case.id}/timers/{timer.id}/retry").status_code in (302, 401, 404)
    assert _timer(app, case).retry_at == timer.retry_at
