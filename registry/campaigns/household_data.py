"""A registered household as the registration form reads it, and written back from that form at a visit.

A campaign visit updates the household with the same form as registration (``forms/registration.yaml``):
the form is filled in from what the registry holds, and what comes back is written with its sources.
A value the visit leaves as it was keeps the source it had (another ministry, a document); a changed or
new value is the household's word given at the visit, unless the case manager saw a document for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Household, Person
from registry.names import search_key
from registry.registration import MEMBERS, living_conditions, member_data, person_values
from registry.verification import DECLARED, household_sources, registration_sources, store_sources


def household_form_data(household: Household) -> dict[str, Any]:
    """The household's current values under the registration form's field names."""
    head = household.head
    data: dict[str, Any] = dict(household.living_conditions or {})
    data.update({
        "consent_data_exchange": bool(household.consent_data_exchange),
        "head_national_id": head.national_id if head is not None else None,
        "phone": household.phone,
        "governorate": household.governorate_code,
        "locality": household.locality,
        "address": household.address,
        "reasons": list(household.reasons or []),
        "reasons_details": household.reasons_details,
        MEMBERS: [member_data(p) for p in household.members],
    })
    return data


def _paths(data: Mapping[str, Any]) -> dict[str, Any]:
    """Every value by its path (members by national ID, so reordering members changes nothing)."""
    values = {name: value for name, value in data.items() if name != MEMBERS}
    for member in data.get(MEMBERS) or []:
        for name, value in member.items():
            values[f"{MEMBERS}.{member.get('national_id')}.{name}"] = value
    return values


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The form's field names whose value changed (members' fields as ``members.<field>``), for the history."""
    old, new = _paths(before), _paths(after)
    names = set()
    for path in set(old) | set(new):
        if old.get(path) != new.get(path):
            parts = path.split(".")
            names.add(f"{MEMBERS}.{parts[2]}" if parts[0] == MEMBERS and len(parts) == 3 else path)
    return sorted(names)


def update_household(session: Session, household: Household, data: Mapping[str, Any], *, actor_id: int | None,
                     visit_id: int, today: dt.date, now: dt.datetime) -> list[str]:
    """Write the registration form's ``data`` over the household and its members, with sources.

    Only flushes. Returns the names of the fields that changed.
    """
    before = household_form_data(household)
    old_sources = household_sources(household)
    old_positions = {p.national_id: position for position, p in enumerate(household.members)}
    household.phone = data.get("phone")
    household.governorate_code = data["governorate"]
    household.locality = data["locality"]
    household.address = data.get("address")
    household.reasons = list(data.get("reasons") or [])
    household.reasons_details = data.get("reasons_details")
    household.living_conditions = living_conditions(data)
    consent = bool(data.get("consent_data_exchange"))
    if consent and not household.consent_data_exchange:
        household.consent_at = now
    elif not consent:
        household.consent_at = None
    household.consent_data_exchange = consent
    household.updated_at = now
    for old in session.scalars(select(Person).where(Person.household_id == household.id, Person.active)):
        old.active = False
    session.flush()
    persons = []
    for position, member in enumerate(data.get(MEMBERS) or []):
        values = person_values(member)
        persons.append(Person(household_id=household.id, position=position, active=True,
                              name_search=search_key(f"{values['name_ar']} {values['name_latin'] or ''}"), **values))
    session.add_all(persons)
    # Declared at the visit (or seen on a document); a value left as it was keeps its earlier source.
    fresh = registration_sources({}, data, corrections=[], reason=None, actor_id=actor_id, today=today)
    visit_mark = {"visit_id": visit_id, "on": today.isoformat()}
    old_values = _paths(before)
    sources: dict[str, dict[str, Any]] = {}
    for path, entry in fresh.items():
        parts = path.split(".")
        if parts[0] == MEMBERS and len(parts) == 3:
            national_id = (data.get(MEMBERS) or [])[int(parts[1])].get("national_id")
            value_path, old_position = f"{MEMBERS}.{national_id}.{parts[2]}", old_positions.get(national_id)
            old_path = f"{MEMBERS}.{old_position}.{parts[2]}" if old_position is not None else None
            new_value = (data.get(MEMBERS) or [])[int(parts[1])].get(parts[2])
        else:
            value_path, old_path, new_value = path, path, data.get(path)
        kept = old_sources.get(old_path) if old_path else None
        if entry.get("how") == DECLARED and kept is not None and old_values.get(value_path) == new_value:
            sources[path] = kept
        elif entry.get("how") == DECLARED:
            sources[path] = {**entry, "visit": visit_mark}
        else:
            sources[path] = entry
    store_sources(household, persons, sources)
    session.flush()
    session.expire(household, ["members"])
    return changed_fields(before, household_form_data(household))
