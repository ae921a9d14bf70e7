"""The operations diagrams may call, the choice providers and checks forms may name.

Registered into the engine's catalog by name at start-up (``register_all``); each receives the
open transaction through its context and only flushes.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from engine.catalog import OperationContext, register_choice_provider, register_form_check, register_operation
from registry import eligibility, scores
from registry.audit import record_event
from registry.interop import events as interop_events
from registry.models import (
    Case,
    CaseStatus,
    Directorate,
    DocumentRequest,
    EligibilityScore,
    Household,
    Person,
    Role,
    User,
)
from registry.names import search_key
from registry.registration import MEMBERS, SOURCES, living_conditions, person_values
from registry.verification import household_sources, registration_sources, store_sources

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MAX_EXTENSION_WEEKS = 12
MINISTRY_TIMEZONE = ZoneInfo("Asia/Hebron")

def local_date(now: dt.datetime) -> dt.date:
    """The ministry's calendar date (ages and deadlines follow Palestine's day, not UTC's)."""
    return now.astimezone(MINISTRY_TIMEZONE).date()


def _case(context: OperationContext) -> Case:
    case = context.session.get(Case, int(context.business_key))
    if case is None:
        raise LookupError(f"case {context.business_key} not found")
    return case


def _date_or_none(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)[:10]) if value else None


def returning_household(session: Session, *, head_national_id: str | None, case_id: int) -> int | None:
    """The registry household of an applicant who applies again after an earlier case ended.

    A new request from a household already in the registry updates that household instead of
    creating a second one, so nobody ends up in two active households.
    """
    if not head_national_id:
        return None
    person = session.scalar(select(Person).where(Person.national_id == head_national_id, Person.active))
    if person is None:
        return None
    busy = session.scalar(select(Case.id).where(Case.household_id == person.household_id, Case.id != case_id,
                                                Case.status == CaseStatus.OPEN.value))
    return None if busy is not None else person.household_id


def save_household(context: OperationContext) -> dict[str, Any]:
    """Write the registered household and its members into the registry (creating or updating).

    A household belongs to the directorate of its current address and open case: a returning
    household registered by another directorate moves to it.
    """
    session, data, case = context.session, context.data, _case(context)
    if case.household_id is None:
        case.household_id = returning_household(session, head_national_id=data.get("head_national_id"),
                                                case_id=case.id)
    household = session.get(Household, case.household_id) if case.household_id else None
    registered = household is None
    if household is None:
        household = Household(directorate_id=case.directorate_id, governorate_code=data["governorate"],
                              locality=data["locality"], created_at=context.now)
        session.add(household)
    elif household.directorate_id != case.directorate_id:
        _move_household(session, household, case, actor_id=context.actor_id, now=context.now)
    household.governorate_code = data["governorate"]
    household.locality = data["locality"]
    household.address = data.get("address")
    household.phone = data.get("phone")
    household.reasons = list(data.get("reasons") or [])
    household.reasons_details = data.get("reasons_details")
    household.living_conditions = living_conditions(data)
    household.consent_data_exchange = bool(data.get("consent_data_exchange"))
    household.consent_at = context.now if household.consent_data_exchange else None
    household.updated_at = context.now
    session.flush()
    members_before: set[str] = set()
    for old in session.scalars(select(Person).where(Person.household_id == household.id, Person.active)):
        members_before.add(old.national_id)
        old.active = False
    session.flush()
    persons = []
    for position, member in enumerate(data.get(MEMBERS) or []):
        values = person_values(member)
        persons.append(Person(household_id=household.id, position=position, active=True,
                              name_search=search_key(f"{values['name_ar']} {values['name_latin'] or ''}"), **values))
    session.add_all(persons)
    interop_events.household_saved(session, household_id=household.id, registered=registered, at=context.now,
                                   members_before=members_before, members_now=[p.national_id for p in persons])
    case.household_id = household.id
    case.applicant_national_id = data.get("head_national_id")
    from registry.online.services import link_household  # the applicant's portal account, for online applications

    link_household(session, case=case, household_id=household.id)
    corrections = prefill_differences(case.prefill or {}, data)
    store_sources(household, persons, registration_sources(
        case.prefill or {}, data, corrections=corrections, reason=data.get("correction_reason"),
        actor_id=context.actor_id, today=local_date(context.now)))
    session.flush()
    if corrections:
        record_event(session, actor_id=context.actor_id, case_id=case.id, action="field_corrected", at=context.now,
                     details={"corrections": corrections, "reason": data.get("correction_reason")})
    session.expire(household, ["members"])
    record_event(session, actor_id=context.actor_id, case_id=case.id, action="household_recorded", at=context.now,
                 details={"household_id": household.id, "members": len(data.get(MEMBERS) or [])})
    return {"household_id": household.id}


def _move_household(session: Session, household: Household, case: Case, *, actor_id: int | None,
                    now: dt.datetime) -> None:
    """Give the household to the case's directorate; the event names directorates only, no personal data."""
    codes = dict(session.execute(select(Directorate.id, Directorate.code).where(
        Directorate.id.in_([household.directorate_id, case.directorate_id]))).tuples().all())
    record_event(session, actor_id=actor_id, case_id=case.id, action="household_moved", at=now,
                 details={"household_id": household.id, "from": codes.get(household.directorate_id),
                          "to": codes.get(case.directorate_id)})
    household.directorate_id = case.directorate_id


def score_eligibility(context: OperationContext) -> dict[str, Any]:
    """Score multidimensional poverty with the rule files and keep the scoring (never overwritten)."""
    case = _case(context)
    assert case.household_id is not None, "the household must be recorded before it is scored"
    household = context.session.get(Household, case.household_id)
    assert household is not None
    # The form's answers with how each is known (the registry keeps that, not the form's data).
    data = {**context.data, SOURCES: household_sources(household)}
    scoring = store_score(context.session, household_id=case.household_id, case_id=case.id,
                          directorate_id=case.directorate_id, data=data,
                          rules_dir=context.rules_dir, actor_id=context.actor_id, now=context.now)
    record_event(context.session, actor_id=context.actor_id, case_id=case.id, action="eligibility_scored",
                 at=context.now, details={"score": scoring.score, "category": scoring.category,
                                          "rule_version": scoring.rule_version})
    return {"score": scoring.score, "category": scoring.category, "rule_version": scoring.rule_version,
            "deprived": [i["key"] for i in scoring.indicators if i["deprived"]]}


def store_score(session: Session, *, household_id: int, case_id: int | None, directorate_id: int,
                data: dict[str, Any], rules_dir: str | None, actor_id: int | None,
                now: dt.datetime) -> eligibility.Scoring:
    measure = eligibility.load_measure(rules_dir or DATA_DIR.parent / "rules")
    scoring = eligibility.score_household(measure, data, as_of=local_date(now))
    scores.keep_rule_version(session, measure, now=now)
    previous = scores.latest_score(session, household_id)
    session.add(EligibilityScore(**scores.score_row(measure, scoring, household_id=household_id, case_id=case_id,
                                                    directorate_id=directorate_id, actor_id=actor_id, now=now,
                                                    previous=previous)))
    if previous is not None:
        interop_events.categories_changed(session, [(household_id, previous.category, scoring.category)], at=now)
    session.flush()
    return scoring


#: A request is appended and not read back as an object in its step: a plain insert, as audit events are.
_ADD_DOCUMENT_REQUEST = insert(cast(Table, DocumentRequest.__table__))


def request_documents(context: OperationContext, missing: Any = None, note: Any = None) -> dict[str, Any]:
    case_id = int(context.business_key)
    requested = list(missing or [])
    context.session.execute(_ADD_DOCUMENT_REQUEST, [{"case_id": case_id, "missing": requested, "note": note,
                                                     "requested_by_id": context.actor_id,
                                                     "requested_at": context.now}])
    record_event(context.session, actor_id=context.actor_id, case_id=case_id, action="documents_requested",
                 at=context.now, details={"missing": requested, "note": note})
    return {"missing": requested, "requested_at": context.now.isoformat()}


def assign_case_manager(context: OperationContext, preferred: Any = None) -> int:
    """The supervisor's choice if it is a case manager of this directorate, else the least loaded one."""
    session, case = context.session, _case(context)
    managers = list(session.scalars(select(User).where(
        User.role == Role.CASE_MANAGER.value, User.directorate_id == case.directorate_id, User.active)))
    if not managers:
        raise LookupError("no active case manager in this directorate")
    chosen = next((m for m in managers if preferred not in (None, "") and str(m.id) == str(preferred)), None)
    if chosen is None:
        loads = dict(session.execute(
            select(Case.case_manager_id, func.count(Case.id))
            .where(Case.status == CaseStatus.OPEN.value, Case.case_manager_id.in_([m.id for m in managers]))
            .group_by(Case.case_manager_id)).tuples().all())
        chosen = min(managers, key=lambda m: (loads.get(m.id, 0), m.id))
    case.case_manager_id = chosen.id
    record_event(session, actor_id=context.actor_id, case_id=case.id, action="case_manager_assigned",
                 at=context.now, details={"case_manager_id": chosen.id, "case_manager": chosen.full_name,
                                          "case_manager_ar": chosen.display_name("ar"),
                                          "chosen_by_supervisor": str(chosen.id) == str(preferred)})
    return chosen.id


def extend_plan(context: OperationContext, weeks: Any = None, current_end: Any = None, reason: Any = None) -> str:
    """Push the plan's end a short period (at most 12 weeks) past the later of its end and today.

    The diagram keeps the answer as the result variable; a case field of that name (the vocabulary's
    ``plan_end_date``) takes it, as it takes a form's value.
    """
    case = _case(context)
    span = max(1, min(int(weeks or 0), MAX_EXTENSION_WEEKS))
    today = local_date(context.now)
    current = _date_or_none(current_end)
    new_end = max(current or today, today) + dt.timedelta(weeks=span)
    before = current.isoformat() if current else None
    record_event(context.session, actor_id=context.actor_id, case_id=case.id, action="plan_extended",
                 at=context.now, details={"before": before, "after": new_end.isoformat(), "weeks": span,
                                          "reason": reason})
    return new_end.isoformat()


def close_case(context: OperationContext, outcome: Any = None, reason: Any = None) -> dict[str, Any]:
    case = _case(context)
    status = CaseStatus.REJECTED if outcome == "rejected" else CaseStatus.CLOSED
    before = case.status
    case.status = status.value
    case.stage = "closed"
    case.closed_at = context.now
    case.outcome_reason = reason
    record_event(context.session, actor_id=context.actor_id, case_id=case.id, action=f"case_{status.value}",
                 at=context.now, details={"before": before, "after": status.value, "reason": reason})
    return {"status": status.value, "closed_at": context.now.isoformat()}


def record_fact(context: OperationContext, fact: Any = None) -> str:
    """Note on the case that something happened today (a missed deadline): the result is the day.

    The case keeps it under the fact's name (a case field of the vocabulary shows it), and its history says so.
    """
    case = _case(context)
    name, day = str(fact or "fact"), local_date(context.now).isoformat()
    case.fields = {**(case.fields or {}), name: day}
    record_event(context.session, actor_id=context.actor_id, case_id=case.id, action="fact_recorded",
                 at=context.now, details={"fact": name, "on": day})
    return day


# --- choices and checks forms may name --------------------------------------------------------

@functools.lru_cache(maxsize=1)
def governorates() -> list[tuple[str, dict[str, str]]]:
    with open(DATA_DIR / "governorates.csv", encoding="utf-8") as handle:
        return [(r["code"], {"en": r["name_en"], "ar": r["name_ar"]}) for r in csv.DictReader(handle)]


def _governorate_choices(session: Session, scope: str) -> list[tuple[str, dict[str, str]]]:
    return governorates()


def _case_manager_choices(session: Session, scope: str) -> list[tuple[str, dict[str, str]]]:
    users = session.scalars(select(User).join(Directorate, Directorate.id == User.directorate_id).where(
        User.role == Role.CASE_MANAGER.value, Directorate.code == scope, User.active).order_by(User.full_name))
    return [(str(u.id), {"en": u.display_name("en"), "ar": u.display_name("ar")}) for u in users]


def check_household_composition(session: Session, values: dict[str, Any],
                                context: OperationContext) -> dict[str, list[str]]:
    """Exactly one head, no person twice, and the applicant is one of the members."""
    errors: dict[str, list[str]] = {}
    members = values.get(MEMBERS) or []
    heads = [i for i, m in enumerate(members) if m.get("relation") == "head"]
    if len(heads) != 1:
        errors[MEMBERS] = ["one_head_required"]
    seen: dict[str, int] = {}
    for index, member in enumerate(members):
        nid = member.get("national_id")
        if nid in seen:
            errors.setdefault(f"members.{index}.national_id", []).append("duplicate_in_household")
        seen.setdefault(nid, index)
    if values.get("head_national_id") and values["head_national_id"] not in seen:
        errors.setdefault("head_national_id", []).append("applicant_not_member")
    return errors


def check_no_duplicate_registration(session: Session, values: dict[str, Any],
                                    context: OperationContext) -> dict[str, list[str]]:
    """Refuse a silent duplicate: a person already in another active household, or a second open case."""
    errors: dict[str, list[str]] = {}
    visit_household = _visit_household(session, context.business_key)
    if visit_household is not None:  # a campaign visit updates a registered household with this form
        return _members_elsewhere(session, values, visit_household, context.scope.removeprefix("visits:"))
    case = session.get(Case, int(context.business_key))
    own_household = case.household_id if case else None
    if own_household is None:
        own_household = returning_household(session, head_national_id=values.get("head_national_id"),
                                            case_id=int(context.business_key))
    errors.update(_members_elsewhere(session, values, own_household, context.scope))
    applicant = values.get("head_national_id")
    if applicant:
        # Any other open case counts, also one still at registration (no household yet): the database
        # allows one open case per applicant and would otherwise refuse the save itself.
        open_case = session.scalar(select(Case).where(
            Case.applicant_national_id == applicant, Case.status == CaseStatus.OPEN.value,
            Case.id != int(context.business_key)))
        if open_case is not None:
            where = open_case.reference if open_case.directorate.code == context.scope else "another directorate"
            errors.setdefault("head_national_id", []).append(f"open_case_exists:{where}")
    return errors


def _visit_household(session: Session, business_key: str) -> int | None:
    """The household a campaign visit's form is about (its key is ``visit:<id>``); None for a case."""
    from registry.campaigns.operations import visit_id_of

    visit_id = visit_id_of(business_key)
    if visit_id is None:
        return None
    from registry.campaigns.models import Visit

    visit = session.get(Visit, visit_id)
    return visit.household_id if visit is not None else None


def _members_elsewhere(session: Session, values: dict[str, Any], own_household: int | None,
                       scope: str) -> dict[str, list[str]]:
    """Members already in another active household."""
    errors: dict[str, list[str]] = {}
    for index, member in enumerate(values.get(MEMBERS) or []):
        other = session.scalar(select(Person).where(Person.national_id == member.get("national_id"), Person.active))
        if other is not None and other.household_id != own_household:
            errors.setdefault(f"members.{index}.national_id", []).append(
                "already_registered:" + _where_registered(session, other.household_id, scope))
    return errors


def prefill_differences(prefill: dict[str, Any], values: dict[str, Any]) -> list[dict[str, Any]]:
    """Pre-filled values that staff changed: field, value from the ministry, value submitted, source.

    Members are matched by national ID, so reordering or adding members is not a correction.
    """
    given = prefill.get("values") or {}
    submitted_members = {m.get("national_id"): m for m in values.get(MEMBERS) or []}
    changes = []
    for path, origin in (prefill.get("provenance") or {}).items():
        parts = path.split(".")
        if parts[0] == MEMBERS and len(parts) == 3:
            index, name = int(parts[1]), parts[2]
            known = (given.get(MEMBERS) or [])[index] if index < len(given.get(MEMBERS) or []) else {}
            person = submitted_members.get(known.get("national_id"))
            before, after = known.get(name), (person or {}).get(name) if person else None
            member = known.get("name_ar") or known.get("national_id")
            label = f"{member}: {name}"
        else:
            before, after, label, name, member = given.get(path), values.get(path), path, path, None
        if before is not None and before != after:
            # ``field`` names it for people; ``name`` (the form field), ``member`` and ``path`` for the pages.
            changes.append({"field": label, "name": name, "member": member, "path": path, "before": before,
                            "after": after, "source": origin.get("source"), "as_of": origin.get("as_of")})
    return changes


def check_prefill_corrections(session: Session, values: dict[str, Any],
                              context: OperationContext) -> dict[str, list[str]]:
    """Changing what another ministry holds needs a reason, which the history keeps."""
    if not context.business_key.isdigit():  # a campaign visit: nothing was pre-filled by another ministry
        return {}
    case = session.get(Case, int(context.business_key))
    if case is None or not case.prefill or (values.get("correction_reason") or "").strip():
        return {}
    return {"correction_reason": ["correction_reason_required"]} if prefill_differences(case.prefill, values) else {}


def _where_registered(session: Session, household_id: int, scope: str) -> str:
    """The other household's open case reference when staff may see it, else only that it exists."""
    case = session.scalar(select(Case).where(Case.household_id == household_id).order_by(Case.id.desc()))
    if case is not None and case.directorate.code == scope:
        return case.reference
    return "another directorate"


def register_all() -> None:
    """Make every name above available to process and form files."""
    register_operation("save_household", save_household)
    register_operation("score_eligibility", score_eligibility)
    register_operation("request_documents", request_documents)
    register_operation("assign_case_manager", assign_case_manager)
    register_operation("extend_plan", extend_plan)
    register_operation("close_case", close_case)
    register_operation("record_fact", record_fact)
    register_choice_provider("governorates", _governorate_choices)
    register_choice_provider("case_managers", _case_manager_choices)
    register_form_check("household_composition", check_household_composition)
    register_form_check("no_duplicate_registration", check_no_duplicate_registration)
    register_form_check("prefill_corrections", check_prefill_corrections)
    from registry.notifications.operations import check_notify, notify

    register_operation("notify", notify, check=check_notify)
    from registry.campaigns.operations import register as register_visit_operations

    register_visit_operations()
    from registry.referrals.operations import register as register_referral_operations

    register_referral_operations()
