"""Referrals as the registry keeps them: sent from an approved plan, accepted and delivered, declined and
sent on, escalated by timers, and seen by each partner only for its own referrals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor
from engine.models import TaskRecord, TaskState
from registry.models import AuditEvent, Case, User
from registry.referrals import services
from registry.referrals.models import Referral
from tests.conftest import Clock

BOTH_DATABASES = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@contextmanager
def database(app: Flask) -> Iterator[Session]:
    with app.app_context():
        from webui.db import db_session

        yield db_session()


def user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def case_with_approved_plan(app: Flask, clock: Clock) -> str:
    """A demo household walked to an approved plan whose health intervention names the Ministry of Health."""
    from registry import cases
    from registry.referrals.seed import seed_partners
    from registry.seed import _walk
    from webui.db import library, ministry_sources

    with database(app) as session:
        seed_partners(session)
        session.commit()
        reception = user(session, "reception1")
        case = cases.begin_registration(session, actor=reception, library=library(), national_id="895160174",
                                        consent=True, now=clock.now, sources=ministry_sources())
        _walk(session, library=library(), case=case, reception="reception1", stage="follow_up",
              sources=ministry_sources(), now=clock.now)
        referral = session.scalar(select(Referral).where(Referral.case_id == case.id))
        assert referral is not None
        return referral.reference


def ready(app: Flask, reference: str) -> list[TaskRecord]:
    with database(app) as session:
        return list(session.scalars(select(TaskRecord).where(TaskRecord.business_key == reference,
                                                             TaskRecord.state == TaskState.READY.value)
                                    .order_by(TaskRecord.created_at)))


def do(app: Flask, clock: Clock, username: str, reference: str, data: dict[str, Any],
       spec_id: str | None = None) -> Referral:
    from webui.db import library

    task = next(t for t in ready(app, reference) if spec_id is None or t.spec_id == spec_id)
    with database(app) as session:
        return services.complete_task(session, actor=user(session, username), library=library(),
                                      reference=reference, task_id=task.id, data=data, now=clock.now)


def referral(app: Flask, reference: str) -> Referral:
    with database(app) as session:
        found = session.scalar(select(Referral).where(Referral.reference == reference))
        assert found is not None
        session.expunge(found)
        return found


@BOTH_DATABASES
def test_an_approved_plan_refers_its_partner_intervention_which_is_accepted_and_delivered(
        app: Flask, clock: Clock) -> None:
    reference = case_with_approved_plan(app, clock)
    sent = referral(app, reference)
    assert sent.status == "sent" and sent.service == "health" and sent.intervention == "Referral for treatment"
    assert sent.acknowledge_due_at == clock.now + dt.timedelta(days=5)
    tasks = ready(app, reference)
    assert [(t.spec_id, t.lane, t.scope) for t in tasks] == [("acknowledge_referral", "partner", "referrals:MOH")]
    do(app, clock, "partner_moh", reference, {"partner_decision": "accept", "partner_contact": "Clinic nurse"})
    assert referral(app, reference).status == "accepted"
    assert [t.spec_id for t in ready(app, reference)] == ["deliver_service"]
    clock.advance(days=3)
    done = do(app, clock, "partner_moh", reference, {
        "service_delivered": "Three consultations and medicine for the head.",
        "delivered_on": clock.now.date().isoformat(), "delivery_outcome": "completed"})
    assert done.status == "delivered" and ready(app, reference) == []
    with database(app) as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.case_id == sent.case_id)))
    assert {"referral_sent", "referral_accepted", "referral_delivered"} <= set(actions)


def test_a_declined_referral_needs_a_reason_and_returns_to_the_case_manager_who_sends_it_on(
        app: Flask, clock: Clock) -> None:
    reference = case_with_approved_plan(app, clock)
    with pytest.raises(FormInvalid) as refused:
        do(app, clock, "partner_moh", reference, {"partner_decision": "decline"})
    assert "decline_reason" in refused.value.errors
    declined = do(app, clock, "partner_moh", reference,
                  {"partner_decision": "decline", "decline_reason": "Our clinic is full until March."})
    assert declined.status == "declined" and declined.decline_reason == "Our clinic is full until March."
    assert [(t.spec_id, t.lane) for t in ready(app, reference)] == [("review_declined_referral", "case_manager")]
    with database(app) as session:  # the case manager reads the reason on the case's referrals
        manager = user(session, "casemanager1")
        case = session.get(Case, declined.case_id)
        assert case is not None
        shown = services.case_referrals(session, actor=manager, case=case)
        assert shown[0].referral.decline_reason == "Our clinic is full until March." and shown[0].actionable
    do(app, clock, "casemanager1", reference, {"next_step": "re_refer", "next_partner": "NGO-EMP",
                                               "case_manager_note": "Please see the mother first."})
    assert referral(app, reference).status == "referred_on" and ready(app, reference) == []
    with database(app) as session:
        new = session.scalar(select(Referral).where(Referral.previous_id == declined.id))
        assert new is not None and new.partner.code == "NGO-EMP" and new.status == "sent"
        assert new.note == "Please see the mother first."
        new_reference = new.reference
    assert [(t.lane, t.scope) for t in ready(app, new_reference)] == [("partner", "referrals:NGO-EMP")]


def test_a_declined_referral_can_be_closed(app: Flask, clock: Clock) -> None:
    reference = case_with_approved_plan(app, clock)
    do(app, clock, "partner_moh", reference, {"partner_decision": "decline", "decline_reason": "Not our area."})
    closed = do(app, clock, "casemanager1", reference, {"next_step": "close"})
    assert closed.status == "closed" and ready(app, reference) == []


def test_an_unacknowledged_referral_escalates_to_the_case_manager_then_the_supervisor(
        app: Flask, clock: Clock) -> None:
    from registry.worker import run_once
    from webui.db import library

    reference = case_with_approved_plan(app, clock)
    sessions = app.extensions["sessionmaker"]
    with app.app_context():
        run_once(sessions, now=clock.now + dt.timedelta(days=4), library=library())
    assert [t.spec_id for t in ready(app, reference)] == ["acknowledge_referral"]  # not yet due
    clock.advance(days=5, minutes=1)
    with app.app_context():
        run_once(sessions, now=clock.now, library=library())
    assert sorted(t.spec_id for t in ready(app, reference)) == ["acknowledge_referral", "follow_up_overdue_referral"]
    with database(app) as session:
        assert [r.reference for _t, r, _c in services.inbox_tasks(session, actor=user(session, "casemanager1"))] \
            == [reference]
        assert services.inbox_tasks(session, actor=user(session, "supervisor1")) == []
        assert services.inbox_tasks(session, actor=user(session, "casemanager2")) == []  # another directorate
        assert services.partner_referral(session, actor=user(session, "partner_moh"),
                                         reference=reference).status == "overdue"
    clock.advance(days=5)
    with app.app_context():
        run_once(sessions, now=clock.now, library=library())
    assert sorted(t.spec_id for t in ready(app, reference)) == [
        "acknowledge_referral", "follow_up_overdue_referral", "review_escalated_referral"]
    with database(app) as session:
        assert [r.reference for _t, r, _c in services.inbox_tasks(session, actor=user(session, "supervisor1"))] \
            == [reference]
    do(app, clock, "supervisor1", reference, {"follow_up_note": "Called the clinic's director."},
       spec_id="review_escalated_referral")
    do(app, clock, "partner_moh", reference, {"partner_decision": "accept"})
    do(app, clock, "partner_moh", reference, {"service_delivered": "Consultation.", "delivery_outcome": "partial",
                                              "delivered_on": clock.now.date().isoformat()},
       spec_id="deliver_service")
    assert ready(app, reference) == []  # the case manager's follow-up ended with the referral


def test_a_partner_sees_only_its_own_referrals_and_never_the_households_eligibility(
        app: Flask, clock: Clock) -> None:
    from webui.db import library

    reference = case_with_approved_plan(app, clock)
    with database(app) as session:
        moh, ngo = user(session, "partner_moh"), user(session, "partner_ngo")
        assert [r.reference for r in services.partner_inbox(session, actor=moh)] == [reference]
        assert services.partner_inbox(session, actor=ngo) == []
        with pytest.raises(NotFoundForActor):
            services.partner_referral(session, actor=ngo, reference=reference)
        task = ready(app, reference)[0]
        with pytest.raises(NotFoundForActor):
            services.task_form(session, actor=ngo, library=library(), reference=reference, task_id=task.id)
        shown = services.partner_referral(session, actor=moh, reference=reference)
        exposed = set(vars(shown))
        assert not exposed & {"eligibility", "score", "category", "indicators", "documents", "case", "household"}
        assert shown.head_name and shown.locality
        with pytest.raises(NotFoundForActor):  # staff of another directorate
            services.staff_referral(session, actor=user(session, "casemanager2"), reference=reference)
