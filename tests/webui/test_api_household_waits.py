"""Household waits through the API: the task list and detail say who a task waits on, the household's date, the
time paused and a missed date; a wait is started and ended with the pages' checks, a double send changes nothing,
bad requests are clear JSON errors; a task completed while waiting no longer waits on anyone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from engine.models import TaskRecord
from registry.household_waits import sweep_household_waits
from registry.models import AuditEvent
from tests.conftest import Api, Clock
from tests.factories import registration
from tests.webui.test_case_paths import open_case, task_of
from webui.db import db_session

Apis = Callable[[str], Api]
WAIT = {"reason": "Bring the proof of income", "respond_by": "2026-11-09"}


def _delete(user: Api, path: str) -> Any:
    return user.client.delete(f"/api/v1{path}", headers=user.headers)


def _events(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db_session().scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_wait_started_and_ended_shows_in_the_task_list_and_detail(api: Apis, clock: Clock) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    assert (task["waiting_on"], task["household_due_at"], task["paused_seconds"], task["household_missed"]) == (
        None, None, 0, False)

    started = reception.post(f"/tasks/{task['id']}/household-wait", WAIT)
    assert started.status_code == 200, started.get_json()
    body = started.get_json()
    assert (body["waiting_on"], body["wait_reason"]) == ("household", "Bring the proof of income")
    assert body["household_due_at"].startswith("2026-11-09") and body["paused_at"] is not None
    listed = task_of(reception, case_id)
    assert listed["waiting_on"] == "household" and listed["household_due_at"] == body["household_due_at"]
    detail = reception.get(f"/tasks/{task['id']}").get_json()
    assert detail["waiting_on"] == "household" and detail["wait_reason"] == "Bring the proof of income"

    clock.advance(hours=6)
    ended = _delete(reception, f"/tasks/{task['id']}/household-wait")
    assert ended.status_code == 200, ended.get_json()
    body = ended.get_json()
    assert (body["waiting_on"], body["paused_at"], body["paused_seconds"]) == (None, None, 6 * 3600)
    assert dt.datetime.fromisoformat(body["due_at"]) == dt.datetime.fromisoformat(task["due_at"]) + dt.timedelta(
        hours=6)


def test_a_double_send_changes_nothing_and_answers_the_same(app: Flask, api: Apis, clock: Clock) -> None:
    reception = api("reception1")
    task = task_of(reception, open_case(reception))
    first = reception.post(f"/tasks/{task['id']}/household-wait", WAIT)
    again = reception.post(f"/tasks/{task['id']}/household-wait", WAIT)
    assert (first.status_code, again.status_code) == (200, 200) and first.get_json() == again.get_json()
    assert len(_events(app, "household_wait_started")) == 1

    clock.advance(hours=5)
    ended = reception.post(f"/tasks/{task['id']}/household-wait/end")
    clock.advance(hours=5)
    twice = _delete(reception, f"/tasks/{task['id']}/household-wait")
    assert (ended.status_code, twice.status_code) == (200, 200)
    assert twice.get_json()["due_at"] == ended.get_json()["due_at"] and twice.get_json()["paused_seconds"] == 5 * 3600
    assert len(_events(app, "household_responded")) == 1

    # Under an Idempotency-Key a retry gets the first answer, even after the state moved on.
    headers = {**reception.headers, "Idempotency-Key": "wait-1"}
    keyed = reception.client.post(f"/api/v1/tasks/{task['id']}/household-wait", json=WAIT, headers=headers)
    _delete(reception, f"/tasks/{task['id']}/household-wait")
    replay = reception.client.post(f"/api/v1/tasks/{task['id']}/household-wait", json=WAIT, headers=headers)
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.get_json() == keyed.get_json()
    assert len(_events(app, "household_wait_started")) == 2


def test_bad_requests_are_clear_json_errors_and_change_nothing(app: Flask, api: Apis) -> None:
    reception = api("reception1")
    task = task_of(reception, open_case(reception))
    path = f"/tasks/{task['id']}/household-wait"
    for body, field, code in (({"respond_by": "2026-11-09"}, "reason", "required"),
                              ({**WAIT, "reason": "   "}, "reason", "required"),
                              ({**WAIT, "reason": "x" * 501}, "reason", "too_long"),
                              ({**WAIT, "respond_by": "next week"}, "respond_by", "invalid_date"),
                              ({**WAIT, "respond_by": "2026-10-01"}, "respond_by", "date_in_past"),
                              ({**WAIT, "respond_by": 20261109}, "respond_by", "invalid_text"),
                              ({**WAIT, "extra": 1}, "extra", "unknown_field")):
        response = reception.post(path, body)
        assert response.status_code == 422, (body, response.get_json())
        assert response.get_json()["codes"][field] == [code], response.get_json()
        assert response.get_json()["errors"][field]
    assert reception.client.post(f"/api/v1{path}", data="not json", headers=reception.headers,
                                 content_type="application/json").status_code == 422
    assert reception.post(path, {**WAIT, "reason": "a\x00b"}).status_code == 400

    assert reception.post(path, WAIT).status_code == 200
    other = reception.post(path, {**WAIT, "reason": "Something else"})
    assert other.status_code == 409 and other.get_json()["code"] == "already_waiting"
    assert "already waiting on the household" in other.get_json()["error"]
    for stranger in ("reception2", "casemanager1"):
        assert api(stranger).post(path, WAIT).status_code == 404
        assert _delete(api(stranger), path).status_code == 404
    assert reception.post("/tasks/no-such-task/household-wait", WAIT).status_code == 404
    assert len(_events(app, "household_wait_started")) == 1
    assert task_of(reception, task["case_id"])["wait_reason"] == "Bring the proof of income"


def test_the_missed_flag_shows_in_the_list(app: Flask, api: Apis, clock: Clock) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    assert reception.post(f"/tasks/{task['id']}/household-wait", {**WAIT, "respond_by": "2026-11-03"}
                          ).status_code == 200
    with app.app_context():
        clock.advance(days=3)
        assert sweep_household_waits(db_session(), now=clock()).reminded == 1
        clock.advance(days=8)
        assert sweep_household_waits(db_session(), now=clock()).missed == 1
    listed = task_of(api("reception1"), case_id)  # days later: a new token
    assert listed["household_missed"] is True and listed["household_missed_at"] is not None
    assert listed["waiting_on"] is None and listed["paused_seconds"] > 0


def test_a_task_completed_while_waiting_no_longer_waits_on_the_household(app: Flask, api: Apis,
                                                                         clock: Clock) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    task = task_of(reception, case_id)
    assert reception.post(f"/tasks/{task['id']}/household-wait", WAIT).status_code == 200
    clock.advance(hours=3)
    done = reception.post(f"/tasks/{task['id']}/complete", {"data": registration()})
    assert done.status_code == 200, done.get_json()
    with app.app_context():
        row = db_session().get(TaskRecord, task["id"])
        assert row is not None and row.state == "completed"
        assert (row.waiting_on, row.paused_at, row.paused_seconds) == (None, None, 3 * 3600)
        assert row.wait_reason == "Bring the proof of income"  # what it waited for stays, as does the history
        waiting = db_session().scalars(select(TaskRecord.id).where(TaskRecord.waiting_on == "household",
                                                                   TaskRecord.state != "ready")).all()
        assert waiting == []
    assert len(_events(app, "household_wait_started")) == 1
    after = _delete(reception, f"/tasks/{task['id']}/household-wait")
    assert after.status_code == 409
