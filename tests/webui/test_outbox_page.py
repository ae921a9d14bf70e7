"""The outbox page: who may read which messages, and codes hidden from all but a demo's administrator."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from registry.models import User
from registry.notifications import deliver_due, queue_message
from tests.conftest import Clock

Login = Callable[..., FlaskClient]


def _queue_for(app: Flask, clock: Clock, username: str, *, code: str, reference: str) -> None:
    """A one-time code message about a case of ``username``'s directorate."""
    with app.app_context():
        from webui.db import db_session

        session = db_session()
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        queue_message(session, template="complaint_follow_up_code", params={"reference": reference, "code": code},
                      lang="en", now=clock(), to_mobile="0599111222", business_key=reference,
                      directorate_id=user.directorate_id)
        session.commit()


def test_a_supervisor_reads_the_messages_of_their_directorate_only_with_codes_hidden(
        app: Flask, clock: Clock, login_as: Login) -> None:
    _queue_for(app, clock, "supervisor1", code="731905", reference="RAM-CMP-1")
    _queue_for(app, clock, "supervisor2", code="118822", reference="HEB-CMP-2")
    page = login_as("supervisor1").get("/outbox").get_data(as_text=True)
    assert "RAM-CMP-1" in page and "HEB-CMP-2" not in page
    assert "731905" not in page and "••••••" in page
    other = login_as("supervisor2").get("/outbox").get_data(as_text=True)
    assert "HEB-CMP-2" in other and "RAM-CMP-1" not in other and "118822" not in other


def test_an_administrator_reads_every_message_and_sees_codes_only_in_demo_mode(
        app: Flask, clock: Clock, login_as: Login) -> None:
    _queue_for(app, clock, "supervisor1", code="731905", reference="RAM-CMP-1")
    _queue_for(app, clock, "supervisor2", code="118822", reference="HEB-CMP-2")
    admin = login_as("admin")
    page = admin.get("/outbox").get_data(as_text=True)
    assert "RAM-CMP-1" in page and "HEB-CMP-2" in page and "731905" in page and "118822" in page
    app.config["DEMO_MODE"] = False
    page = admin.get("/outbox").get_data(as_text=True)
    assert "731905" not in page and "118822" not in page and "••••••" in page


def test_staff_of_other_roles_may_not_read_the_outbox(app: Flask, clock: Clock, login_as: Login) -> None:
    _queue_for(app, clock, "supervisor1", code="731905", reference="RAM-CMP-1")
    for username in ("reception1", "casemanager1", "analyst"):
        response = login_as(username).get("/outbox")
        assert response.status_code == 403, username
        assert "RAM-CMP-1" not in response.get_data(as_text=True)
    assert 'href="/outbox"' not in login_as("reception1").get("/").get_data(as_text=True)
    assert 'href="/outbox"' in login_as("supervisor1").get("/").get_data(as_text=True)


def test_the_outbox_filters_by_state_and_pages_newest_first(app: Flask, clock: Clock, login_as: Login) -> None:
    _queue_for(app, clock, "supervisor1", code="100001", reference="RAM-OLD")
    deliver_due(app.extensions["sessionmaker"], now=clock())
    for number in range(55):
        _queue_for(app, clock, "supervisor1", code="200000", reference=f"RAM-NEW-{number:02d}")
    supervisor = login_as("supervisor1")
    first = supervisor.get("/outbox").get_data(as_text=True)
    assert first.index("RAM-NEW-54") < first.index("RAM-NEW-10") and "RAM-OLD" not in first
    assert "RAM-OLD" in supervisor.get("/outbox?page=2").get_data(as_text=True)
    sent = supervisor.get("/outbox?state=sent").get_data(as_text=True)
    assert "RAM-OLD" in sent and "RAM-NEW" not in sent
    pending = supervisor.get("/outbox?state=pending&page=2").get_data(as_text=True)
    assert "RAM-NEW-00" in pending and "RAM-OLD" not in pending
    assert supervisor.get("/outbox?state=nonsense&page=x").status_code == 200


def test_the_outbox_reads_in_arabic(app: Flask, clock: Clock, login_as: Login) -> None:
    _queue_for(app, clock, "supervisor1", code="731905", reference="RAM-CMP-1")
    page = login_as("supervisor1", "ar").get("/outbox").get_data(as_text=True)
    assert 'dir="rtl"' in page and "RAM-CMP-1" in page and "731905" not in page
