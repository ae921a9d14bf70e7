"""The registration form's fields the registry reads, named once.

Saving a household, scoring it again from the registry, the API's household and the check that the
form still has these fields (``registry.checks``) all read this module: a renamed form field is
reported by ``processes check``, never found missing in front of a user.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.forms import FormDef

#: The form a household is registered with (and whose choice labels the household panels show).
REGISTRATION_FORM = "registration"
#: The repeating group of household members in that form.
MEMBERS = "members"


@dataclass(frozen=True)
class MemberField:
    """A member field kept in its own column of ``persons``: ``text``, ``date`` or ``flag`` (yes/no)."""

    name: str
    kind: str = "text"
    required: bool = False


MEMBER_FIELDS: tuple[MemberField, ...] = (
    MemberField("national_id", required=True),
    MemberField("name_ar", required=True),
    MemberField("name_latin"),
    MemberField("relation", required=True),
    MemberField("sex", required=True),
    MemberField("birth_date", kind="date"),
    MemberField("marital_status"),
    MemberField("disability", kind="flag"),
    MemberField("chronic_illness", kind="flag"),
    MemberField("health_insurance", kind="flag"),
    MemberField("schooling"),
    MemberField("work"),
)

#: Household fields kept in columns of ``households`` (the rest of the form is its living conditions).
HOUSEHOLD_FIELDS = ("governorate", "locality", "address", "phone", "reasons", "reasons_details",
                    "consent_data_exchange")
#: Fields that belong to the case, not the home: the applicant, staff notes, why a pre-filled value changed.
CASE_FIELDS = ("head_national_id", "notes", "correction_reason")
#: Every field of the registration form the registry reads by name.
READ_FIELDS = (*HOUSEHOLD_FIELDS, *CASE_FIELDS, MEMBERS)
#: Names in a registration's data that the case puts there when it starts (not form fields).
CASE_DATA = ("case_id", "case_reference", "directorate", "initiator", "channel", "prefill_provenance",
             "prefill_unavailable", "corrections")
#: The registration's answer listing the answers a document reception saw proves (registry.verification).
VERIFIED_BY_DOCUMENT = "verified_by_document"
#: Where each answer came from, by value path, as the poverty measure receives it with a household's data.
SOURCES = "sources"


def living_conditions(data: Mapping[str, Any]) -> dict[str, Any]:
    """The registration's answers about the home: everything not kept in a column or on the case."""
    kept = frozenset(READ_FIELDS) | frozenset(CASE_DATA) | {VERIFIED_BY_DOCUMENT, SOURCES}
    return {k: v for k, v in data.items() if k not in kept}


def person_values(member: Mapping[str, Any]) -> dict[str, Any]:
    """A submitted member as ``Person`` column values."""
    values: dict[str, Any] = {}
    for f in MEMBER_FIELDS:
        raw = member.get(f.name)
        if f.kind == "flag":  # a blank stays unknown: the measure must never read it as "no"
            values[f.name] = None if raw is None or raw == "" else bool(raw)
        elif f.kind == "date":
            values[f.name] = dt.date.fromisoformat(str(raw)[:10]) if raw else None
        else:
            values[f.name] = raw if f.required else (raw or None)
    return values


def member_data(person: Any) -> dict[str, Any]:
    """A stored member as the form (and the poverty measure) reads it: dates as ISO days."""
    data: dict[str, Any] = {}
    for f in MEMBER_FIELDS:
        value = getattr(person, f.name)
        data[f.name] = value.isoformat() if f.kind == "date" and value is not None else value
    return data


def form_problems(form: FormDef) -> list[str]:
    """Fields the registry reads that the registration form lacks, each named."""
    problems: list[str] = []
    top = {f.name: f for f in form.fields}
    for name in READ_FIELDS:
        if name not in top:
            problems.append(f"{name}: the registry reads this field (registry/registration.py); the form has none")
    group = top.get(MEMBERS)
    if group is not None:
        if group.type != "group":
            problems.append(f"{MEMBERS}: the registry reads it as a group of members (found type {group.type})")
        inner = {f.name for f in group.fields}
        for member_field in MEMBER_FIELDS:
            if member_field.name not in inner:
                problems.append(f"{MEMBERS}.{member_field.name}: the registry reads this member field "
                                "(registry/registration.py); the form has none")
    return problems
