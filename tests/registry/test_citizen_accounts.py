"""Citizen accounts as the services keep them: codes, sessions that end for real, and what a citizen may see."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.citizens import accounts
from registry.citizens.access import case_for_citizen, cases_for_citizen, household_ids_for
from registry.citizens.errors import InvalidCode
from registry.citizens.models import Citizen, CitizenSession, OneTimeCode
from registry.citizens.validation import normalize_mobile
from registry.errors import FormInvalid, InvalidCredentials, NotFoundForActor
from registry.models import AuditEvent, Case, Directorate, Household, Person
from registry.notifications import OutboxMessage
from tests import factories
from webui.db import db_session

NOW = dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)
BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
PASSWORD = "green-olive-7"  # noqa: S105 - a test password
IDLE = dt.timedelta(minutes=30)
LIFETIME = dt.timedelta(hours=12)


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context():
        yield db_session()


def _code(session: Session, citizen_id: int) -> str:
    body = session.scalar(select(OutboxMessage.body).where(OutboxMessage.citizen_id == citizen_id)
                          .order_by(OutboxMessage.id.desc()).limit(1))
    assert body is not None
    found = re.search(r"\d{6}", body)
    assert found is not None, body
    return found.group(0)


def _confirmed(session: Session, national_id: str | None = None) -> Citizen:
    nid = accounts.sign_up(session, national_id=national_id or factories.national_id(), mobile="0599876543",
                           password=PASSWORD, now=NOW)
    citizen = session.scalar(select(Citizen).where(Citizen.national_id == nid))
    assert citizen is not None
    return accounts.confirm_mobile(session, national_id=nid, code=_code(session, citizen.id), now=NOW)


def _live(session: Session, token: str, at: dt.datetime = NOW) -> Citizen | None:
    return accounts.citizen_for_session(session, token=token, now=at, idle_timeout=IDLE, lifetime=LIFETIME)


@pytest.mark.parametrize(("typed", "kept"), [
    ("0599123456", "0599123456"), ("059-912-3456", "0599123456"), ("+970 599 123 456", "0599123456"),
    ("00972569123456", "0569123456"), ("٠٥٩٩١٢٣٤٥٦", "0599123456"), ("599123456", "0599123456"),
    ("0791234567", None), ("05991234", None), ("022981234", None), ("", None), ("phone", None),
])
def test_mobiles_are_kept_in_one_form(typed: str, kept: str | None) -> None:
    assert normalize_mobile(typed) == kept


@BOTH_DATABASES
def test_sign_up_sends_a_code_through_the_outbox_and_confirming_it_makes_the_account_usable(
        session: Session) -> None:
    nid = accounts.sign_up(session, national_id=factories.national_id(), mobile="+970 599 876 543",
                           password=PASSWORD, lang="en", now=NOW)
    citizen = session.scalar(select(Citizen).where(Citizen.national_id == nid))
    assert citizen is not None and citizen.mobile == "0599876543" and not citizen.confirmed
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.citizen_id == citizen.id))
    assert message is not None and message.template == "signup_code" and message.recipient == "0599876543"
    assert message.lang == "en"
    stored = session.scalar(select(OneTimeCode.code_hash).where(OneTimeCode.citizen_id == citizen.id))
    assert stored is not None and _code(session, citizen.id) not in stored  # only a hash is kept
    with pytest.raises(InvalidCredentials):
        accounts.authenticate(session, national_id=nid, password=PASSWORD, demo_mode=False)
    accounts.confirm_mobile(session, national_id=nid, code=_code(session, citizen.id), now=NOW)
    assert accounts.authenticate(session, national_id=nid, password=PASSWORD, demo_mode=False).id == citizen.id
    actions = set(session.scalars(select(AuditEvent.action)))
    assert {"citizen_signed_up", "citizen_code_sent", "citizen_mobile_confirmed"} <= actions


@pytest.mark.parametrize(("fields", "errors"), [
    ({"national_id": "123456789"}, {"national_id": ["invalid_national_id"]}),
    ({"national_id": ""}, {"national_id": ["required"]}),
    ({"mobile": "0791234567"}, {"mobile": ["invalid_mobile"]}),
    ({"password": ""}, {"password": ["required"]}),
    ({"password": "abc"}, {"password": ["password_too_short"]}),
    ({"password": "aaaaaaaaaa"}, {"password": ["password_too_weak"]}),
    ({"password_again": "different-9"}, {"password_again": ["passwords_differ"]}),
])
def test_a_bad_sign_up_creates_nothing(session: Session, fields: dict[str, str],
                                       errors: dict[str, list[str]]) -> None:
    data = {"national_id": factories.national_id(), "mobile": "0599876543", "password": PASSWORD,
            "password_again": PASSWORD, **fields}
    with pytest.raises(FormInvalid) as refused:
        accounts.sign_up(session, now=NOW, **data)
    assert refused.value.errors == errors
    assert session.scalar(select(func.count()).select_from(Citizen)) == 0
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_taken_id_gets_the_same_answer_and_the_account_is_untouched(session: Session) -> None:
    citizen = _confirmed(session)
    answer = accounts.sign_up(session, national_id=citizen.national_id, mobile="0561112223",
                              password="other-password-1", now=NOW + dt.timedelta(minutes=5))
    assert answer == citizen.national_id
    session.refresh(citizen)
    assert citizen.mobile == "0599876543"
    assert accounts.authenticate(session, national_id=citizen.national_id, password=PASSWORD, demo_mode=False)
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_an_unconfirmed_sign_up_is_started_afresh_by_whoever_holds_the_mobile(session: Session) -> None:
    nid = factories.national_id()
    accounts.sign_up(session, national_id=nid, mobile="0599876543", password=PASSWORD, now=NOW)
    citizen = session.scalar(select(Citizen).where(Citizen.national_id == nid))
    assert citizen is not None
    first = _code(session, citizen.id)
    accounts.sign_up(session, national_id=nid, mobile="0561112223", password="second-password-2",
                     now=NOW + dt.timedelta(minutes=2))
    second = _code(session, citizen.id)
    if first != second:  # one time in a million the new code is the same six digits
        with pytest.raises(InvalidCode):  # only the newest code works
            accounts.confirm_mobile(session, national_id=nid, code=first, now=NOW + dt.timedelta(minutes=3))
    accounts.confirm_mobile(session, national_id=nid, code=second, now=NOW + dt.timedelta(minutes=3))
    assert accounts.authenticate(session, national_id=nid, password="second-password-2", demo_mode=False)


@BOTH_DATABASES
def test_a_code_expires_and_allows_five_guesses(session: Session) -> None:
    nid = accounts.sign_up(session, national_id=factories.national_id(), mobile="0599876543", password=PASSWORD,
                           now=NOW)
    citizen = session.scalar(select(Citizen).where(Citizen.national_id == nid))
    assert citizen is not None
    code = _code(session, citizen.id)
    with pytest.raises(InvalidCode):
        accounts.confirm_mobile(session, national_id=nid, code=code, now=NOW + dt.timedelta(minutes=15))
    accounts.resend_signup_code(session, national_id=nid, now=NOW + dt.timedelta(minutes=16))
    code = _code(session, citizen.id)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(InvalidCode):
            accounts.confirm_mobile(session, national_id=nid, code=wrong, now=NOW + dt.timedelta(minutes=17))
    with pytest.raises(InvalidCode):
        accounts.confirm_mobile(session, national_id=nid, code=code, now=NOW + dt.timedelta(minutes=17))
    session.refresh(citizen)
    assert not citizen.confirmed


def test_a_new_code_is_sent_at_most_once_a_minute(session: Session) -> None:
    nid = accounts.sign_up(session, national_id=factories.national_id(), mobile="0599876543", password=PASSWORD,
                           now=NOW)
    for seconds in (10, 30, 59):
        accounts.resend_signup_code(session, national_id=nid, now=NOW + dt.timedelta(seconds=seconds))
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    accounts.resend_signup_code(session, national_id=nid, now=NOW + dt.timedelta(seconds=61))
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2


def test_sessions_end_on_logout_when_idle_and_after_their_lifetime(session: Session) -> None:
    citizen = _confirmed(session)
    token = accounts.start_session(session, citizen=citizen, now=NOW)
    assert _live(session, token) is not None
    accounts.end_session(session, token=token, now=NOW)
    assert _live(session, token) is None
    idle = accounts.start_session(session, citizen=citizen, now=NOW)
    assert _live(session, idle, NOW + IDLE) is None
    busy = accounts.start_session(session, citizen=citizen, now=NOW)
    at = NOW
    while at < NOW + LIFETIME - dt.timedelta(minutes=20):
        at += dt.timedelta(minutes=20)
        assert _live(session, busy, at) is not None
    assert _live(session, busy, NOW + LIFETIME) is None
    assert "citizen_logged_out" in set(session.scalars(select(AuditEvent.action)))


@BOTH_DATABASES
def test_a_password_reset_ends_every_session(session: Session) -> None:
    citizen = _confirmed(session)
    tokens = [accounts.start_session(session, citizen=citizen, now=NOW) for _ in range(2)]
    later = NOW + dt.timedelta(minutes=5)
    assert accounts.request_password_reset(session, national_id=citizen.national_id, now=later)
    message = session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1))
    assert message is not None and message.template == "password_reset_code"
    accounts.reset_password(session, national_id=citizen.national_id, code=_code(session, citizen.id),
                            new_password="new-password-9", now=later)
    assert all(_live(session, token, later) is None for token in tokens)
    assert session.scalar(select(func.count()).select_from(CitizenSession)
                          .where(CitizenSession.ended_at.is_(None))) == 0
    with pytest.raises(InvalidCredentials):
        accounts.authenticate(session, national_id=citizen.national_id, password=PASSWORD, demo_mode=False)
    assert accounts.authenticate(session, national_id=citizen.national_id, password="new-password-9",
                                 demo_mode=False)


def test_a_reset_for_an_unconfirmed_or_unknown_account_sends_nothing(session: Session) -> None:
    assert accounts.request_password_reset(session, national_id=factories.national_id(), now=NOW)
    assert accounts.request_password_reset(session, national_id="12", now=NOW) is None
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    with pytest.raises(InvalidCode):
        accounts.reset_password(session, national_id=factories.national_id(), code="123456",
                                new_password="new-password-9", now=NOW)


def _household_with_case(session: Session, head_id: str, reference: str,
                          phone: str | None = "+970 599 876 543") -> tuple[Household, Case]:
    """A recorded household whose phone on record is, unless told otherwise, ``_confirmed``'s mobile."""
    directorate = session.scalar(select(Directorate).where(Directorate.code == "RBH"))
    assert directorate is not None
    household = Household(directorate_id=directorate.id, governorate_code="PS-RBH", locality="البيرة", phone=phone)
    session.add(household)
    session.flush()
    session.add(Person(household_id=household.id, national_id=head_id, name_ar="أحمد عودة", name_search="احمد عوده",
                       relation="head", sex="male"))
    case = Case(reference=reference, directorate_id=directorate.id, household_id=household.id,
                applicant_national_id=head_id)
    session.add(case)
    session.commit()
    return household, case


@BOTH_DATABASES
def test_a_citizen_sees_their_households_cases_and_no_others(session: Session) -> None:
    citizen = _confirmed(session)
    own_household, own = _household_with_case(session, citizen.national_id, "RBH-2026-900001")
    _other_household, other = _household_with_case(session, factories.national_id(), "RBH-2026-900002")
    assert household_ids_for(session, citizen) == {own_household.id}
    assert case_for_citizen(session, citizen, own.reference).id == own.id
    assert [c.id for c in cases_for_citizen(session, citizen)] == [own.id]
    for reference in (other.reference, "RBH-2026-999999", ""):
        with pytest.raises(NotFoundForActor):
            case_for_citizen(session, citizen, reference)


@BOTH_DATABASES
def test_knowing_a_members_id_without_the_households_phone_shows_nothing(session: Session) -> None:
    """Someone who signs up with a member's national ID but confirms another mobile reaches none of its cases."""
    stranger = _confirmed(session)  # confirms 0599876543
    _household, case = _household_with_case(session, stranger.national_id, "RBH-2026-900011", phone="0561234567")
    case.status = "closed"
    walk_in = Case(reference="RBH-2026-900012", directorate_id=case.directorate_id,
                   applicant_national_id=stranger.national_id)  # not recorded yet, opened by reception
    session.add(walk_in)
    session.commit()
    assert household_ids_for(session, stranger) == set()
    assert cases_for_citizen(session, stranger) == []
    for reference in (case.reference, walk_in.reference):
        with pytest.raises(NotFoundForActor):
            case_for_citizen(session, stranger, reference)


def test_a_member_with_the_households_phone_needs_a_confirmed_mobile(session: Session) -> None:
    nid = accounts.sign_up(session, national_id=factories.national_id(), mobile="0599876543", password=PASSWORD,
                           now=NOW)
    citizen = session.scalar(select(Citizen).where(Citizen.national_id == nid))
    assert citizen is not None
    _household, case = _household_with_case(session, nid, "RBH-2026-900013")
    with pytest.raises(NotFoundForActor):
        case_for_citizen(session, citizen, case.reference)
    accounts.confirm_mobile(session, national_id=nid, code=_code(session, citizen.id), now=NOW)
    assert case_for_citizen(session, citizen, case.reference).id == case.id


def test_the_citizens_own_online_case_counts_before_its_household_is_recorded(session: Session) -> None:
    citizen = _confirmed(session)
    directorate = session.scalar(select(Directorate).where(Directorate.code == "RBH"))
    assert directorate is not None
    online = Case(reference="RBH-2026-900014", directorate_id=directorate.id, channel="online",
                  applicant_national_id=citizen.national_id)
    session.add(online)
    session.commit()
    assert [c.id for c in cases_for_citizen(session, citizen)] == [online.id]


def test_a_household_linked_to_the_account_counts_even_without_membership(session: Session) -> None:
    citizen = _confirmed(session)
    household, case = _household_with_case(session, factories.national_id(), "RBH-2026-900003")
    with pytest.raises(NotFoundForActor):
        case_for_citizen(session, citizen, case.reference)
    citizen.household_id = household.id
    session.commit()
    assert case_for_citizen(session, citizen, case.reference).id == case.id


def test_a_member_who_left_the_household_no_longer_sees_it(session: Session) -> None:
    citizen = _confirmed(session)
    household, case = _household_with_case(session, citizen.national_id, "RBH-2026-900004")
    person = session.scalar(select(Person).where(Person.household_id == household.id))
    assert person is not None
    person.active = False
    case.applicant_national_id = None
    session.commit()
    with pytest.raises(NotFoundForActor):
        case_for_citizen(session, citizen, case.reference)


def test_a_sign_up_moments_after_another_for_the_same_id_changes_nothing(session: Session) -> None:
    nid = accounts.sign_up(session, national_id=factories.national_id(), mobile="0599876543", password=PASSWORD,
                           now=NOW)
    citizen = session.scalar(select(Citizen).where(Citizen.national_id == nid))
    assert citizen is not None
    code = _code(session, citizen.id)
    accounts.sign_up(session, national_id=nid, mobile="0561112223", password="intruder-pass-1",
                     now=NOW + dt.timedelta(seconds=20))
    accounts.confirm_mobile(session, national_id=nid, code=code, now=NOW + dt.timedelta(seconds=30))
    session.refresh(citizen)
    assert citizen.mobile == "0599876543"
    assert accounts.authenticate(session, national_id=nid, password=PASSWORD, demo_mode=False)
