"""What belongs to a citizen: their household's records and cases. Every portal read goes through here.

A household is the citizen's when their own online application recorded it (``Citizen.household_id``), or
when they are one of its active members *and* the household's phone on record is the mobile they confirmed.
Knowing someone's national ID is not enough: anyone can type it at sign-up, while the confirmed mobile proves
they hold the phone the household gave the ministry.

Anything else answers exactly as a missing record does (``NotFoundForActor``, a 404), so a citizen cannot
learn that another household's case exists by trying references.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from registry.citizens.models import Citizen
from registry.citizens.validation import normalize_mobile
from registry.errors import NotFoundForActor
from registry.models import Case, Household, Person

#: The channel of a case the household opened itself from the portal (registry.online.ONLINE).
ONLINE_CHANNEL = "online"


def same_mobile(a: str | None, b: str | None) -> bool:
    """Both numbers are the same mobile once written the same way (05XXXXXXXX)."""
    first, second = normalize_mobile(a or ""), normalize_mobile(b or "")
    return first is not None and first == second


def household_ids_for(session: Session, citizen: Citizen) -> set[int]:
    """The account's own household, and any household in which the citizen is an active member and whose
    phone on record is the account's confirmed mobile."""
    ids: set[int] = set()
    if not citizen.active:
        return ids
    if citizen.household_id is not None:
        ids.add(citizen.household_id)
    if citizen.mobile_confirmed_at is None:
        return ids
    rows = session.execute(select(Household.id, Household.phone).where(Household.id.in_(
        select(Person.household_id).where(Person.national_id == citizen.national_id, Person.active))))
    ids.update(household_id for household_id, phone in rows if same_mobile(phone, citizen.mobile))
    return ids


def account_may_see(session: Session, citizen: Citizen, household_id: int) -> bool:
    """Whether this account sees the household (the rule of ``household_ids_for``)."""
    return household_id in household_ids_for(session, citizen)


def _belongs(session: Session, citizen: Citizen) -> ColumnElement[bool]:
    households = household_ids_for(session, citizen)
    # The citizen's own online application before reception records its household: no household to check yet.
    clauses: list[ColumnElement[bool]] = [and_(Case.channel == ONLINE_CHANNEL, Case.household_id.is_(None),
                                               Case.applicant_national_id == citizen.national_id)]
    if households:
        clauses.append(Case.household_id.in_(households))
    return or_(*clauses)


def cases_for_citizen(session: Session, citizen: Citizen) -> list[Case]:
    """The citizen's household's cases, newest first."""
    return list(session.scalars(select(Case).where(_belongs(session, citizen)).order_by(Case.id.desc())))


def case_for_citizen(session: Session, citizen: Citizen, case_reference: str) -> Case:
    """The case with this reference if it is the citizen's household's; ``NotFoundForActor`` otherwise."""
    case = session.scalar(select(Case).where(Case.reference == case_reference.strip(), _belongs(session, citizen)))
    if case is None or not citizen.active:
        raise NotFoundForActor(case_reference)
    return case


_CONFIRMED = (Citizen.active, Citizen.mobile_confirmed_at.is_not(None))
#: Confirmed accounts of a household's own application or of its active members, the application's first.
#: Built once (a task's completion may notify): SQLAlchemy then neither rebuilds nor re-keys it each time.
_ACCOUNTS_OF_HOUSEHOLD = (
    select(Citizen).where(or_(Citizen.household_id == bindparam("household_id"),
                              Citizen.national_id.in_(select(Person.national_id).where(
                                  Person.household_id == bindparam("household_id"), Person.active))),
                          *_CONFIRMED)
    .order_by((Citizen.household_id == bindparam("household_id")).desc(), Citizen.id))


def account_of_case(session: Session, case: Case) -> Citizen | None:
    """The portal account to tell about the case, by the same rule as what it may see: the account its own
    application linked to the household, else a member's whose confirmed mobile is the household's phone; for
    an online case whose household is not recorded yet, its applicant's. Never an account that merely typed
    a member's national ID."""
    if case.household_id is None:
        if case.channel != ONLINE_CHANNEL or not case.applicant_national_id:
            return None
        return session.scalar(select(Citizen).where(Citizen.national_id == case.applicant_national_id, *_CONFIRMED))
    household = session.get(Household, case.household_id)
    candidates = session.scalars(_ACCOUNTS_OF_HOUSEHOLD, {"household_id": case.household_id})
    return next((citizen for citizen in candidates if citizen.household_id == case.household_id
                 or same_mobile(citizen.mobile, household.phone if household is not None else None)), None)
