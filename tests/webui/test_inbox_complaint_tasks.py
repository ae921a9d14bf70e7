"""The complaint tasks waiting on a staff member, shown above their case inbox: a handler's open ones, and the
supervisor's once an overdue complaint escalates; never another directorate's, never to the staff member it is about."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from registry.models import User
from tests.conftest import Clock
from tests.registry.test_complaints import database, file, ready


def _panel(client: FlaskClient) -> list[str]:
    """The links of the inbox's complaint panel ([] when the panel is not shown)."""
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    panel = re.search(r'data-testid="inbox-complaint-tasks">(.*?)</section>', html, re.S)
    return re.findall(r'href="(/complaints/[^"]+)"', panel.group(1)) if panel else []


def _escalate(app: Flask, clock: Clock) -> None:
    """The worker, with the clock moved past the acknowledgement deadline."""
    from registry.worker import run_once
    from webui.db import library

    clock.advance(days=2, minutes=1)
    with app.app_context():
        run_once(app.extensions["sessionmaker"], now=clock.now, library=library())


def test_a_handler_sees_the_new_complaint_and_the_supervisor_sees_it_once_it_escalates(
        app: Flask, clock: Clock, login_as: Callable[..., FlaskClient]) -> None:
    reference = file(app, clock, kind="delay", text="Nobody answers.", directorate_code="RBH").complaint.reference
    [task] = ready(app, reference)
    assert _panel(login_as("complaints1")) == [f"/complaints/{reference}/tasks/{task.id}"]
    assert _panel(login_as("supervisor1")) == []  # not theirs before it is overdue
    _escalate(app, clock)
    [escalated] = ready(app, reference)
    # Sessions end when idle: everybody signs in again after the clock moved.
    handler, supervisor, other = login_as("complaints1"), login_as("supervisor1"), login_as("supervisor2")
    assert _panel(supervisor) == [f"/complaints/{reference}/tasks/{escalated.id}"]
    count = re.search(r'data-testid="complaint-task-count">(.*?)</span>', supervisor.get("/").get_data(as_text=True))
    assert count and re.sub(r"<[^>]+>", "", count.group(1)).strip() == "1"
    assert _panel(handler) == [] and _panel(other) == []  # another directorate's supervisor
    assert supervisor.get(f"/complaints/{reference}/tasks/{escalated.id}").status_code == 200


def test_an_escalated_complaint_about_the_supervisor_never_reaches_them(
        app: Flask, clock: Clock, login_as: Callable[..., FlaskClient]) -> None:
    with database(app) as session:
        subject = session.scalar(select(User.id).where(User.username == "supervisor1"))
    reference = file(app, clock, kind="staff", text="The supervisor shouted at me.", staff="complaints1",
                     about_user_id=subject).complaint.reference
    _escalate(app, clock)
    [escalated] = ready(app, reference)
    assert escalated.lane == "supervisor"
    assert _panel(login_as("supervisor2")) == []  # another directorate's
    supervisor = login_as("supervisor1")
    assert _panel(supervisor) == []
    assert reference not in supervisor.get("/").get_data(as_text=True)
