"""Staff pause a task for the household from its page or the case page, in Arabic and English; inboxes show
which tasks wait on the household and which households missed their deadline; bad posts change nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.models import TaskRecord
from registry.cases import start_registration
from registry.household_waits import sweep_household_waits
from registry.models import AuditEvent, User
from tests.conftest import Clock
from tests.factories import national_id
from webui.db import db_session, library

Login = Callable[..., FlaskClient]


def _open_case(app: Flask, clock: Clock) -> tuple[str, int]:
    with app.app_context():
        session = db_session()
        reception = session.scalar(select(User).where(User.username == "reception1"))
        assert reception is not None
        case = start_registration(session, actor=reception, library=library(), now=clock(),
                                  applicant_national_id=national_id())
        task_id = session.scalar(select(TaskRecord.id).where(TaskRecord.business_key == str(case.id)))
        assert task_id is not None
        return task_id, case.id


def _task(app: Flask, task_id: str) -> TaskRecord:
    with app.app_context():
        task = db_session().get(TaskRecord, task_id)
        assert task is not None
        db_session().expunge(task)
        return task


def _wait(browser: FlaskClient, task_id: str, *, reason: str = "Bring the proof of income",
          respond_by: str = "2026-11-09", back: str = "task") -> str:
    response = browser.post(f"/tasks/{task_id}/household-wait", data={"reason": reason, "respond_by": respond_by,
                                                                       "back": back}, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_reception_pauses_a_task_and_the_household_responds(app: Flask, clock: Clock, login_as: Login) -> None:
    task_id, _case_id = _open_case(app, clock)
    browser = login_as("reception1")
    page = browser.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'data-testid="household-wait-form"' in page and "Waiting for the household" in page
    due = _task(app, task_id).due_at
    page = _wait(browser, task_id)
    assert "The task waits on the household" in page
    assert 'data-testid="waiting-badge"' in page and "Bring the proof of income" in page
    assert "Household&#39;s date" in page or "Household's date" in page
    inbox = browser.get("/").get_data(as_text=True)
    assert 'data-testid="waiting-badge"' in inbox and ">1</bdi> waiting on the household" in inbox
    waiting = browser.get("/?household=waiting").get_data(as_text=True)
    assert task_id in waiting
    clock.advance(days=2)
    browser = login_as("reception1")  # a new working day, a new session
    page = browser.post(f"/tasks/{task_id}/household-wait/end", data={}, follow_redirects=True).get_data(as_text=True)
    assert "The household responded; the task&#39;s due date runs again" in page
    assert due is not None and _task(app, task_id).due_at == due + dt.timedelta(days=2)
    assert task_id not in browser.get("/?household=waiting").get_data(as_text=True)


def test_the_wait_reads_in_arabic_and_shows_on_the_case_page(app: Flask, clock: Clock, login_as: Login) -> None:
    task_id, case_id = _open_case(app, clock)
    browser = login_as("reception1", "ar")
    page = browser.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "بانتظار الأسرة" in page  # the action's name from processes/vocabulary.yaml
    _wait(browser, task_id, back="case")
    case_page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="household-wait"' in case_page and "Bring the proof of income" in case_page
    assert "استجابت الأسرة" in case_page  # the button that ends the wait


def test_bad_posts_are_refused_with_a_message_and_change_nothing(app: Flask, clock: Clock, login_as: Login) -> None:
    task_id, _case_id = _open_case(app, clock)
    browser = login_as("reception1")
    page = _wait(browser, task_id, reason="")
    assert "The task was not paused" in page and "This field is required." in page
    page = _wait(browser, task_id, respond_by="2026-10-01")
    assert "Choose a date from today on." in page
    page = _wait(browser, task_id, respond_by="not a date")
    assert "Enter a valid date" in page
    assert _task(app, task_id).waiting_on is None
    elsewhere = login_as("reception2")
    assert elsewhere.post(f"/tasks/{task_id}/household-wait", data={"reason": "x", "respond_by": "2026-11-09"}
                          ).status_code == 404
    assert elsewhere.post(f"/tasks/{task_id}/household-wait/end").status_code == 404
    page = browser.post(f"/tasks/{task_id}/household-wait/end", follow_redirects=True).get_data(as_text=True)
    assert "not paused waiting on the household; nothing was changed" in page
    _wait(browser, task_id)
    page = _wait(browser, task_id, reason="Something else")
    assert "already waiting on the household; nothing was changed" in page
    with app.app_context():
        events = db_session().scalars(select(AuditEvent.action).where(AuditEvent.action.like("household_%"))).all()
    assert events == ["household_wait_started"]
    assert _task(app, task_id).wait_reason == "Bring the proof of income"


def test_the_supervisor_sees_a_household_that_missed_its_deadline(app: Flask, clock: Clock, login_as: Login) -> None:
    task_id, case_id = _open_case(app, clock)
    _wait(login_as("reception1"), task_id, respond_by="2026-11-03")
    with app.app_context():
        clock.advance(days=3)
        assert sweep_household_waits(db_session(), now=clock()).reminded == 1
        clock.advance(days=8)
        assert sweep_household_waits(db_session(), now=clock()).missed == 1
    for lang, words in (("en", "household missed its deadline"), ("ar", "فات الأسرةَ موعدُها")):
        supervisor = login_as("supervisor1", lang)
        inbox = supervisor.get("/").get_data(as_text=True)
        assert 'data-testid="team-missed"' in inbox
        team = supervisor.get("/?view=team&household=missed").get_data(as_text=True)
        assert task_id in team and 'data-testid="missed-badge"' in team
        case_page = supervisor.get(f"/cases/{case_id}").get_data(as_text=True)
        assert 'data-testid="missed-badge"' in case_page
        history = supervisor.get(f"/cases/{case_id}?tab=history").get_data(as_text=True)
        assert words in history.lower() or words in history
