"""What belongs to a citizen: their household's records and cases. Every portal read goes through here.

Anything else answers exactly as a missing record does (``NotFoundForActor``, a 404), so a citizen cannot
learn that another household's case exists by trying references.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from registry.citizens.models import Citizen
from registry.errors import NotFoundForActor
from registry.models import Case, Person


def household_ids_for(session: Session, citizen: Citizen) -> set[int]:
    """The account's own household, and any household in which the citizen is an active member."""
    ids = set(session.scalars(select(Person.household_id).where(Person.national_id == citizen.national_id,
                                                                 Person.active)))
    if citizen.household_id is not None:
        ids.add(citizen.household_id)
    return ids


def _belongs(session: Session, citizen: Citizen) -> ColumnElement[bool]:
    households = household_ids_for(session, citizen)
    # A case still being registered has no household yet: its applicant is the citizen.
    clauses = [Case.applicant_national_id == citizen.national_id]
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
