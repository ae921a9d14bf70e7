"""Claiming a task: a second claim by the same user changes nothing, even when both arrive at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import Api, Clock
from tests.webui.test_case_paths import register_and_recommend, task_of


def _claim_events(app: Flask, case_id: int) -> int:
    from registry.models import AuditEvent
    from webui.db import db_session

    with app.app_context():
        return int(db_session().scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.case_id == case_id, AuditEvent.action == "task_claimed")) or 0)


def test_claiming_a_task_twice_writes_one_claim_event(api: Callable[[str], Api], app: Flask) -> None:
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    task = task_of(supervisor, case_id)
    first = supervisor.post(f"/tasks/{task['id']}/claim")
    second = supervisor.post(f"/tasks/{task['id']}/claim")
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.get_json()["assignee"] == second.get_json()["assignee"] is not None
    assert _claim_events(app, case_id) == 1


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_two_claims_by_the_same_user_at_once_write_one_claim_event(api: Callable[[str], Api], app: Flask,
                                                                    clock: Clock) -> None:
    from registry import cases
    from registry.models import User

    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    task_id = task_of(supervisor, case_id)["id"]
    start = threading.Barrier(2)
    outcomes: list[Any] = []

    def claim() -> None:
        session = app.extensions["sessionmaker"]()  # each request has its own session and connection
        try:
            actor = session.scalar(select(User).where(User.username == "supervisor1"))
            start.wait()
            outcomes.append(cases.claim_task(session, actor=actor, task_id=task_id, now=clock()).assignee_id)
        except Exception as err:  # noqa: BLE001 - reported below
            outcomes.append(err)
        finally:
            session.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 2 and not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert outcomes[0] == outcomes[1]
    assert _claim_events(app, case_id) == 1
