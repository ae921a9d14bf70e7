"""Someone who knows a household member's national ID signs up with it and their own mobile: the portal shows
them nothing of that household (its case, letter and document task are 404) and sends them none of its messages.
Only the household's own account (its application recorded it) or a member whose confirmed mobile is the
household's phone on record sees it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import or_, select

from engine.catalog import OperationContext
from engine.models import TaskRecord, TaskState
from registry.citizens import accounts
from registry.citizens.models import Citizen
from registry.models import Case
from registry.notifications import OutboxMessage
from tests.conftest import Api
from tests.registry.test_citizen_status import PASSWORD, Household, database
from tests.webui.test_online_application import apply, citizen_browser, document_request
from tests.webui.test_portal_status import portal

NOW = dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)
STRANGER_MOBILE = "0561234567"


def signed_up(app: Flask, national_id: str, mobile: str = STRANGER_MOBILE) -> tuple[FlaskClient, int]:
    """An account signed up and confirmed through the real services, logged in to the portal."""
    with database(app) as session:
        accounts.sign_up(session, national_id=national_id, mobile=mobile, password=PASSWORD, now=NOW)
        citizen = session.scalar(select(Citizen).where(Citizen.national_id == national_id))
        assert citizen is not None
        body = session.scalar(select(OutboxMessage.body).where(OutboxMessage.citizen_id == citizen.id))
        code = re.search(r"\d{6}", body or "")
        assert code is not None
        accounts.confirm_mobile(session, national_id=national_id, code=code.group(0), now=NOW)
        citizen_id = citizen.id
    browser = app.test_client()
    response = browser.post("/portal/login", data={"national_id": national_id, "password": PASSWORD, "lang": "en"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser, citizen_id


def notify_household(app: Flask, case_id: int, **params: Any) -> None:
    """The process's ``notify`` operation for the case, as a diagram's service task runs it."""
    from registry.notifications.operations import notify

    with database(app) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert notify(OperationContext(session=session, business_key=str(case_id), scope=case.directorate.code,
                                       actor_id=None, now=NOW), **params)["queued"]
        session.commit()


def messages_to(app: Flask, citizen_id: int, mobile: str) -> list[str]:
    """The bodies of the messages queued for this account or its mobile, sign-up codes left out."""
    with database(app) as session:
        return [m.template for m in session.scalars(select(OutboxMessage).where(
            or_(OutboxMessage.citizen_id == citizen_id, OutboxMessage.recipient == mobile)))
            if m.template != "signup_code"]


def test_a_member_id_with_another_mobile_reaches_no_case_letter_or_message(
        app: Flask, api: Callable[[str], Api]) -> None:
    household = Household(app, api).register().recommend().approve()
    spouse_id = household.data["members"][1]["national_id"]
    stranger, stranger_id = signed_up(app, spouse_id)
    notify_household(app, household.case_id, template="decision_made")
    for path in (f"/portal/applications/{household.reference}", f"/portal/applications/{household.reference}/letter"):
        assert stranger.get(path).status_code == 404, path
    assert household.reference not in stranger.get("/portal/").get_data(as_text=True)
    assert household.reference not in stranger.get("/portal/applications").get_data(as_text=True)
    assert messages_to(app, stranger_id, STRANGER_MOBILE) == []
    # The household's own account (the head, with the household's phone) still sees it all and is told.
    head = portal(app, household, "en")
    assert head.get(f"/portal/applications/{household.reference}").status_code == 200
    assert head.get(f"/portal/applications/{household.reference}/letter").status_code == 200
    assert "decision_made" in messages_to(app, household.citizen_id, "0599123456")


def test_a_member_id_with_another_mobile_cannot_open_the_households_document_task(
        app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    applicant, nid = citizen_browser(app)
    apply(applicant, nid)
    document_request(app, login_as)
    with database(app) as session:
        case = session.scalars(select(Case)).one()
        task = session.scalars(select(TaskRecord).where(TaskRecord.state == TaskState.READY.value)).one()
        reference, task_id, case_id = case.reference, task.id, case.id
        assert case.household is not None  # recorded by reception before the supervisor's request
        member = next(p.national_id for p in case.household.members if p.national_id != nid)
    stranger, stranger_id = signed_up(app, member)
    assert applicant.get(f"/portal/tasks/{task_id}").status_code == 200
    for path in (f"/portal/tasks/{task_id}", f"/portal/applications/{reference}"):
        assert stranger.get(path).status_code == 404, path
    assert "Upload the requested documents" not in stranger.get("/portal/").get_data(as_text=True)
    notify_household(app, case_id, template="decision_made")
    assert messages_to(app, stranger_id, STRANGER_MOBILE) == []


def test_the_households_messages_go_to_its_phone_not_to_an_account_that_only_knows_a_members_id(
        app: Flask, api: Callable[[str], Api]) -> None:
    household = Household(app, api).register()
    with database(app) as session:  # the head never signed up: only the stranger's account names a member
        session.delete(session.get(Citizen, household.citizen_id))
        session.commit()
    _stranger, stranger_id = signed_up(app, household.data["members"][1]["national_id"])
    notify_household(app, household.case_id, template="decision_made")
    assert messages_to(app, stranger_id, STRANGER_MOBILE) == []
    with database(app) as session:
        sent = session.scalars(select(OutboxMessage).where(OutboxMessage.template == "decision_made")).one()
        assert (sent.recipient, sent.citizen_id) == ("0599123456", None)  # the household's phone on record
    # A member whose confirmed mobile is the household's phone is the household's account, and is told.
    _member, member_id = signed_up(app, household.data["members"][2]["national_id"], mobile="+970 599 123 456")
    notify_household(app, household.case_id, template="decision_made")
    assert messages_to(app, member_id, "0599123456") == ["decision_made", "decision_made"]
    with database(app) as session:
        latest = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        assert latest is not None and latest.citizen_id == member_id
