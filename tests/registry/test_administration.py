"""Administration services: every change audited, guard rails hold, a refused change leaves nothing behind."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import FormInvalid
from registry.administration import accounts, directorates
from registry.administration.errors import AdministrationRefused
from registry.auth import authenticate, issue_token, start_session, user_for_session, user_for_token
from registry.errors import NotPermitted
from registry.models import AuditEvent, Directorate, Role, User
from tests.conftest import Clock
from webui.db import db_session

pytestmark = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)

LIMITS = {"idle_timeout": dt.timedelta(minutes=30), "lifetime": dt.timedelta(hours=12)}


def user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def directorate(session: Session, code: str) -> Directorate:
    found = session.scalar(select(Directorate).where(Directorate.code == code))
    assert found is not None
    return found


def events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_an_account_is_created_audited_and_must_choose_its_password(app: Flask, clock: Clock) -> None:
    with app.app_context():
        session = db_session()
        admin = user(session, "admin")
        created, generated = accounts.create_user(
            session, actor=admin, username=" New.Worker ", full_name="Dana Odeh", full_name_ar="دانا عودة",
            role="case_manager", directorate_id=str(directorate(session, "HBN").id), password="", now=clock())
        assert generated is not None and len(generated) >= 15
        assert created.username == "new.worker" and created.must_change_password and created.created_at == clock()
        assert authenticate(session, username="new.worker", password=generated, demo_mode=False).id == created.id
        [event] = events(session, "user_created")
        assert event.actor_id == admin.id and event.at == clock()
        assert event.details["before"] is None
        assert event.details["after"]["role"] == "case_manager" and event.details["after"]["directorate"] == "HBN"


def test_a_username_is_unique_and_bad_input_changes_nothing(app: Flask, clock: Clock) -> None:
    with app.app_context():
        session = db_session()
        admin = user(session, "admin")
        count = session.scalar(select(func.count(User.id)))
        with pytest.raises(FormInvalid) as taken:
            accounts.create_user(session, actor=admin, username="Reception1", full_name="X", full_name_ar="س",
                                 role="reception", directorate_id=str(directorate(session, "RBH").id), password="",
                                 now=clock())
        assert taken.value.errors == {"username": ["username_taken"]}
        with pytest.raises(FormInvalid) as bad:
            accounts.create_user(session, actor=admin, username="1 bad", full_name="", full_name_ar="x" * 151,
                                 role="citizen", directorate_id="999", password="short", now=clock())
        assert bad.value.errors == {"username": ["username_format"], "full_name": ["required"],
                                    "full_name_ar": ["too_long"], "role": ["unknown_choice"],
                                    "directorate": ["unknown_choice"], "password": ["password_too_short"]}
        with pytest.raises(FormInvalid) as scope:
            accounts.create_user(session, actor=admin, username="analyst2", full_name="A", full_name_ar="ا",
                                 role="analyst", directorate_id=str(directorate(session, "RBH").id), password="",
                                 now=clock())
        assert scope.value.errors == {"directorate": ["no_directorate_for_role"]}
        assert session.scalar(select(func.count(User.id))) == count
        assert not events(session, "user_created")


def test_deactivation_ends_sessions_and_tokens_at_once_and_reactivation_is_audited(app: Flask, clock: Clock) -> None:
    with app.app_context():
        session = db_session()
        admin, worker = user(session, "admin"), user(session, "casemanager1")
        session_id = start_session(session, user=worker, now=clock())
        token, _expires = issue_token(session, user=worker, now=clock())
        accounts.deactivate_user(session, actor=admin, user_id=worker.id, now=clock())
        session.expire_all()
        assert user_for_session(session, session_id=session_id, now=clock(), **LIMITS) is None
        assert user_for_token(session, token=token, now=clock()) is None
        worker = user(session, "casemanager1")
        assert not worker.active and worker.deactivated_at == clock()
        [event] = events(session, "user_deactivated")
        assert event.actor_id == admin.id
        assert event.details["before"]["active"] is True and event.details["after"]["active"] is False
        clock.advance(days=1)
        accounts.reactivate_user(session, actor=admin, user_id=worker.id, now=clock())
        assert user(session, "casemanager1").active
        assert user_for_session(session, session_id=session_id, now=clock(), **LIMITS) is None  # ended stays ended
        [event] = events(session, "user_reactivated")
        assert event.at == clock() and event.details["after"]["active"] is True


def test_a_password_reset_is_generated_shown_once_and_ends_the_old_one(app: Flask, clock: Clock) -> None:
    with app.app_context():
        session = db_session()
        admin, worker = user(session, "admin"), user(session, "supervisor1")
        session_id = start_session(session, user=worker, now=clock())
        password = accounts.reset_password(session, actor=admin, user_id=worker.id, now=clock())
        assert user_for_session(session, session_id=session_id, now=clock(), **LIMITS) is None
        assert user(session, "supervisor1").must_change_password
        assert authenticate(session, username="supervisor1", password=password, demo_mode=True).id == worker.id
        [event] = events(session, "user_password_reset")
        assert event.actor_id == admin.id and password not in str(event.details)


def test_a_new_role_or_directorate_ends_sessions_and_is_audited_before_and_after(app: Flask, clock: Clock) -> None:
    with app.app_context():
        session = db_session()
        admin, worker = user(session, "admin"), user(session, "casemanager1")
        session_id = start_session(session, user=worker, now=clock())
        hebron = directorate(session, "HBN")
        accounts.change_user(session, actor=admin, user_id=worker.id, full_name=worker.full_name,
                             full_name_ar=worker.full_name_ar, role="supervisor", directorate_id=str(hebron.id),
                             now=clock())
        assert user_for_session(session, session_id=session_id, now=clock(), **LIMITS) is None
        [event] = events(session, "user_changed")
        assert event.details["before"]["role"] == "case_manager" and event.details["before"]["directorate"] == "RBH"
        assert event.details["after"]["role"] == "supervisor" and event.details["after"]["directorate"] == "HBN"
        # a new spelling of a name is audited but leaves the sessions alone
        session_id = start_session(session, user=worker, now=clock())
        accounts.change_user(session, actor=admin, user_id=worker.id, full_name="Rania K. Saleh",
                             full_name_ar=worker.full_name_ar, role="supervisor", directorate_id=str(hebron.id),
                             now=clock())
        assert user_for_session(session, session_id=session_id, now=clock(), **LIMITS) is not None
        assert len(events(session, "user_changed")) == 2


def test_the_last_administrator_and_ones_own_account_are_protected(app: Flask, clock: Clock) -> None:
    with app.app_context():
        session = db_session()
        admin = user(session, "admin")
        with pytest.raises(AdministrationRefused) as own:
            accounts.deactivate_user(session, actor=admin, user_id=admin.id, now=clock())
        assert own.value.code == "self"
        with pytest.raises(AdministrationRefused) as own_role:
            accounts.change_user(session, actor=admin, user_id=admin.id, full_name=admin.full_name,
                                 full_name_ar=admin.full_name_ar, role="analyst", directorate_id="", now=clock())
        assert own_role.value.code == "self"
        second, _password = accounts.create_user(
            session, actor=admin, username="admin2", full_name="Second admin", full_name_ar="مدير ثان",
            role="admin", directorate_id="", password="a long enough password", now=clock())
        # another administrator may step in; whoever is left is never without an administrator
        accounts.deactivate_user(session, actor=second, user_id=admin.id, now=clock())
        with pytest.raises(AdministrationRefused):
            accounts.deactivate_user(session, actor=second, user_id=second.id, now=clock())
        accounts.reactivate_user(session, actor=second, user_id=admin.id, now=clock())
        accounts.change_user(session, actor=admin, user_id=second.id, full_name="Second admin",
                             full_name_ar="مدير ثان", role="analyst", directorate_id="", now=clock())
        assert user(session, "admin").active and user(session, "admin2").role == "analyst"
        assert session.scalar(select(func.count(User.id)).where(User.role == Role.ADMIN.value,
                                                                User.active.is_(True))) == 1
        assert [e.details["user"] for e in events(session, "user_deactivated")] == ["admin"]


def test_only_administrators_manage_accounts(app: Flask, clock: Clock) -> None:
    with app.app_context():
        session = db_session()
        for username in ("analyst", "supervisor1", "complaintsunit"):
            with pytest.raises(NotPermitted):
                accounts.deactivate_user(session, actor=user(session, username),
                                         user_id=user(session, "reception1").id, now=clock())
            with pytest.raises(NotPermitted):
                directorates.list_directorates(session, actor=user(session, username))
        assert user(session, "reception1").active


def test_directorates_are_created_edited_and_deleted_only_when_empty(app: Flask, clock: Clock) -> None:
    with app.app_context():
        session = db_session()
        admin = user(session, "admin")
        made = directorates.create_directorate(session, actor=admin, code="nbl", name_ar="نابلس",
                                               name_en="Nablus", governorate_code="PS-NBS", now=clock())
        assert made.code == "NBL"
        with pytest.raises(FormInvalid) as bad:
            directorates.create_directorate(session, actor=admin, code="NBL", name_ar="", name_en="N",
                                            governorate_code="XX", now=clock())
        assert bad.value.errors == {"code": ["directorate_code_taken"], "name_ar": ["required"],
                                    "governorate": ["unknown_choice"]}
        directorates.change_directorate(session, actor=admin, directorate_id=made.id, name_ar="مديرية نابلس",
                                        name_en="Nablus directorate", governorate_code="PS-NBS", now=clock())
        [changed] = events(session, "directorate_changed")
        assert changed.details["before"]["name_en"] == "Nablus"
        assert changed.details["after"]["name_en"] == "Nablus directorate"
        with pytest.raises(AdministrationRefused) as in_use:
            directorates.delete_directorate(session, actor=admin, directorate_id=directorate(session, "RBH").id,
                                            now=clock())
        assert in_use.value.code == "directorate_in_use"
        directorates.delete_directorate(session, actor=admin, directorate_id=made.id, now=clock())
        assert session.scalar(select(Directorate).where(Directorate.code == "NBL")) is None
        assert [e.details["directorate"] for e in events(session, "directorate_deleted")] == ["NBL"]


KNOWN_SERVICES = ["cash", "health", "education", "empowerment"]


def test_a_partner_organisation_and_its_users_are_managed_and_audited(app: Flask, clock: Clock) -> None:
    from registry.administration import partners
    from webui.db import library

    with app.app_context():
        session = db_session()
        admin = user(session, "admin")
        assert {"health", "education"} <= {code for code, _labels in partners.service_choices(library())}
        with pytest.raises(FormInvalid) as bad:
            partners.create_partner(session, actor=admin, code="9", name_ar="", name_en="Clinic", kind="bank",
                                    services=["flying"], known_services=KNOWN_SERVICES, now=clock())
        assert bad.value.errors == {"code": ["partner_code_format"], "name_ar": ["required"],
                                    "kind": ["unknown_choice"], "services": ["unknown_choice"]}
        clinic = partners.create_partner(session, actor=admin, code="clinic-1", name_ar="عيادة", name_en="Clinic",
                                         kind="ngo", services=["health"], known_services=KNOWN_SERVICES, now=clock())
        assert clinic.code == "CLINIC-1" and clinic.services == ["health"]
        nurse, generated = partners.create_partner_user(session, actor=admin, partner_id=clinic.id, username="nurse",
                                                        full_name="Nurse", full_name_ar="ممرضة", password="",
                                                        now=clock())
        assert nurse.role == Role.PARTNER.value and nurse.partner_id == clinic.id and generated
        with pytest.raises(AdministrationRefused):  # a partner's account has no staff role
            accounts.change_user(session, actor=admin, user_id=nurse.id, full_name="N", full_name_ar="م",
                                 role="supervisor", directorate_id=str(directorate(session, "RBH").id), now=clock())
        session_id = start_session(session, user=nurse, now=clock())
        token, _expires = issue_token(session, user=nurse, now=clock())
        assert partners.deactivate_partner(session, actor=admin, partner_id=clinic.id, now=clock()) == ["nurse"]
        session.expire_all()
        assert user_for_session(session, session_id=session_id, now=clock(), **LIMITS) is None
        assert user_for_token(session, token=token, now=clock()) is None
        with pytest.raises(AdministrationRefused) as inactive:
            accounts.reactivate_user(session, actor=admin, user_id=nurse.id, now=clock())
        assert inactive.value.code == "partner_inactive"
        partners.reactivate_partner(session, actor=admin, partner_id=clinic.id, now=clock())
        accounts.reactivate_user(session, actor=admin, user_id=nurse.id, now=clock())
        [deactivated] = events(session, "partner_deactivated")
        assert deactivated.details["users_deactivated"] == ["nurse"]
        assert deactivated.details["before"]["active"] and not deactivated.details["after"]["active"]
        assert len(events(session, "partner_created")) == len(events(session, "partner_reactivated")) == 1
