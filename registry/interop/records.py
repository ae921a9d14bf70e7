"""Our households and people as the standard's ``Group``, ``Member`` and ``Person`` objects.

What a record carries depends on the field groups the client may see: a group it may not see is left out
of the record entirely (not sent empty), and may not be searched or sorted on either (registry.interop.queries).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.models import EligibilityScore, Household, Person

REG_TYPE = "ns:org:RegistryType:Social"
GROUP, MEMBER = "Group", "Member"

#: Field groups a client may be given, and what each shows.
FIELD_GROUPS: dict[str, str] = {
    "identifiers": "national IDs of members (UIN) and the household number",
    "names": "members' names",
    "demographics": "sex, birth date, marital status, relation to the head",
    "members": "the list of all members (without it: the head and the group size only)",
    "location": "governorate, locality and address",
    "contact": "the household's phone number",
    "eligibility_category": "the latest eligibility category and the rule version that gave it",
    "poverty_score": "the latest poverty score (0 to 1, higher is poorer)",
    "indicators": "the deprivation indicators behind the latest score",
    "disability": "disability and chronic illness of members",
    "programme": "the assistance programme and the household's standing in it",
}


def _identifier(kind: str, value: str) -> dict[str, Any]:
    return {"@type": "Identifier", "identifier_type": kind, "identifier_value": value}


def _name(full: str) -> dict[str, Any]:
    parts = full.split()
    name: dict[str, Any] = {"@type": "Name", "given_name": parts[0] if parts else full,
                            "surname": parts[-1] if len(parts) > 1 else ""}
    if len(parts) > 2:
        name["second_name"] = " ".join(parts[1:-1])
    return name


def person(row: Person, fields: frozenset[str], *, household: Household) -> dict[str, Any]:
    """The ``Person`` (demographic information) of one member."""
    record: dict[str, Any] = {"@type": "Person"}
    if "identifiers" in fields:
        record["identifier"] = [_identifier("UIN", row.national_id)]
    if "names" in fields:
        record["name"] = _name(row.name_ar)
        if row.name_latin:
            record["name_latin"] = row.name_latin
    if "demographics" in fields:
        record["sex"] = row.sex
        if row.birth_date is not None:
            record["birth_date"] = row.birth_date.isoformat()
    if "location" in fields:
        record["address"] = {"@type": "Address", "region": household.governorate_code,
                             "city": household.locality, "street_address": household.address or ""}
    if "contact" in fields and row.relation == "head" and household.phone:
        record["phone_number"] = household.phone
    return record


def member(row: Person, fields: frozenset[str], *, household: Household) -> dict[str, Any]:
    record: dict[str, Any] = {"@type": "Member", "demographic_info": person(row, fields, household=household)}
    if "identifiers" in fields:
        record["member_identifier"] = [_identifier("UIN", row.national_id)]
    if "demographics" in fields:
        record["relationship_head"] = row.relation
        if row.marital_status:
            record["marital_status"] = row.marital_status
    if "disability" in fields:
        record["is_disabled"] = bool(row.disability)
        if row.chronic_illness is not None:
            record["additional_attributes"] = [{"chronic_illness": bool(row.chronic_illness)}]
    record["registration_date"] = _moment(household.created_at)
    return record


def group(household: Household, score: EligibilityScore | None, fields: frozenset[str]) -> dict[str, Any]:
    """The ``Group`` of one household, with our eligibility result where the client may see it."""
    members = list(household.members)
    record: dict[str, Any] = {"@type": "Group", "group_type": "household", "group_size": len(members)}
    if "identifiers" in fields:
        record["group_identifier"] = [_identifier("HOUSEHOLD_ID", str(household.id))]
    if "location" in fields:
        record["place"] = {"@type": "Place", "address": ", ".join(
            part for part in (household.address, household.locality, household.governorate_code) if part)}
    extra: list[dict[str, Any]] = []
    if score is not None:
        if "poverty_score" in fields:
            record["poverty_score"] = score.score
            record["poverty_score_type"] = "multidimensional"
        if "eligibility_category" in fields:
            extra += [{"eligibility_category": score.category}, {"rule_version": score.rule_version},
                      {"scored_at": _moment(score.created_at)}]
        if "indicators" in fields:
            extra.append({"deprivations": [{"indicator": i.get("key"), "dimension": i.get("dimension"),
                                            "deprived": bool(i.get("deprived"))} for i in score.indicators]})
    if "programme" in fields and household.programme:
        extra.append({"programme": household.programme, "programme_status": household.programme_status})
    if extra:
        record["additional_attributes"] = extra
    head = household.head
    if head is not None:
        record["group_head_info"] = member(head, fields, household=household)
    if "members" in fields:
        record["member_list"] = [member(p, fields, household=household) for p in members]
    record["registration_date"] = _moment(household.created_at)
    record["last_updated"] = _moment(household.updated_at)
    return record


def _moment(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")
