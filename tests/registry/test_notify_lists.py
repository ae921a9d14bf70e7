"""The ``notify`` operation writes a list parameter (the documents asked for, ...) as one line in the message's
language, and tells an online applicant about a case whose household is not recorded yet."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.catalog import OperationContext
from registry.citizens.models import Citizen
from registry.models import Case, Directorate, Household
from registry.notifications import OutboxMessage
from registry.notifications.operations import notify
from tests.conftest import Clock
from tests.factories import national_id
from webui.db import db_session


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context():
        yield db_session()


def _case(session: Session, clock: Clock, **fields: object) -> Case:
    directorate = session.scalar(select(Directorate).where(Directorate.code == "RBH"))
    assert directorate is not None
    case = Case(reference=f"RBH-2026-{len(fields)}{national_id()[:5]}", directorate_id=directorate.id,
                created_at=clock(), **fields)
    session.add(case)
    session.flush()
    return case


def _send(session: Session, case: Case, clock: Clock, **params: object) -> OutboxMessage | None:
    result = notify(OperationContext(session=session, business_key=str(case.id), scope="RBH", actor_id=None,
                                     now=clock()), **params)
    session.commit()
    return session.get(OutboxMessage, result["message_id"]) if result["queued"] else None


@pytest.mark.parametrize(("lang", "line"), [("ar", "شهادة دخل، تقرير طبي"), ("en", "income proof, medical report")])
def test_a_list_is_joined_with_the_languages_separator(session: Session, clock: Clock, lang: str, line: str) -> None:
    directorate = session.scalar(select(Directorate).where(Directorate.code == "RBH"))
    assert directorate is not None
    household = Household(directorate_id=directorate.id, governorate_code="PS-RBH", locality="البيرة",
                          phone="0599123456")
    session.add(household)
    session.flush()
    session.add(Citizen(national_id=national_id(), mobile="0599123456", password_hash="x", lang=lang,
                        household_id=household.id, mobile_confirmed_at=clock(), created_at=clock()))
    case = _case(session, clock, household_id=household.id)
    missing = ["شهادة دخل", "تقرير طبي"] if lang == "ar" else ["income proof", "medical report"]
    message = _send(session, case, clock, template="documents_requested", missing=missing, due="2026-11-20")
    assert message is not None and line in message.body and "2026-11-20" in message.body
    assert "[" not in message.body


def test_an_online_case_not_yet_recorded_tells_its_applicants_account_only(session: Session, clock: Clock) -> None:
    applicant = national_id()
    session.add(Citizen(national_id=applicant, mobile="0591112223", password_hash="x", lang="en",
                        mobile_confirmed_at=clock(), created_at=clock()))
    online = _case(session, clock, channel="online", applicant_national_id=applicant)
    message = _send(session, online, clock, template="application_received")
    assert message is not None and message.recipient == "0591112223" and online.reference in message.body
    online.status = "closed"
    walk_in = _case(session, clock, applicant_national_id=applicant)  # reception's: nobody proved it is theirs
    assert _send(session, walk_in, clock, template="application_received") is None
