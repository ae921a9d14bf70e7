"""The JSON each ministry exchanges with us, and its mapping to registration-form values.

The HTTP adapters and the demo files use the same documents, so both paths share this mapping.
Each document carries only what the form needs (no diagnoses, no school names): data
minimisation, since the household consents to the exchange for targeting and verification only.

Interior (civil registry), ``GET {base}/v1/families/{national_id}``: the family the ID belongs to::

    {"as_of": "2026-10-04",
     "address": {"governorate": "PS-RBH", "locality": "البيرة", "details": "..."},
     "members": [{"national_id": "895160174", "name_ar": "...", "name_en": "...",
                  "relation_to_head": "head", "sex": "M", "birth_date": "1979-03-14",
                  "marital_status": "married"}]}

  ``relation_to_head``: head, wife, husband, son, daughter, father, mother, brother, sister,
  grandson, granddaughter, or another word (mapped to ``other``); ``sex``: M or F;
  ``marital_status``: single, married, divorced or widowed.

Education, ``GET {base}/v1/enrolments?ids=ID1,ID2,...``: one entry per ID the ministry knows::

    {"enrolments": [{"national_id": "425408309", "status": "enrolled", "level": "basic",
                     "academic_year": "2026/2027", "as_of": "2026-09-15"}]}

  ``status``: enrolled, withdrawn, never_enrolled or graduated; ``level`` (basic, secondary,
  higher) says which stage a graduate completed.

Health, ``GET {base}/v1/persons/{national_id}/health``::

    {"national_id": "895160174", "insured": true, "insurance_valid_until": "2027-03-31",
     "disability": false, "chronic_illness": true, "as_of": "2026-11-02"}

Every endpoint answers 404 for an ID it does not know. A value that does not fit the form is
dropped, never guessed, so reception asks for it instead.

Interior through the SPDCI CRVS API (``crvs``): a ``Person`` record of the civil registry, as the
standard's CRVS Person object has it (only the fields read here)::

    {"identifier": [{"identifier_type": "UIN", "identifier_value": "895160174"}],
     "name": {"given_name": "أحمد", "second_name": "محمود إبراهيم", "surname": "عودة"},
     "sex": "male", "birth_date": "1979-03-14", "death_date": "", "marital_status": "M",
     "address": {"address_line1": "...", "locality": "البيرة", "region_code": "PS-RBH", "country_code": "PS"},
     "parent1_identifier": {"identifier_type": "UIN", "identifier_value": "..."},
     "spouse_identifier": {"identifier_type": "UIN", "identifier_value": "468671094"}}

  ``identifier`` and ``address`` may be one object or a list; an identifier may say ``type``/``value``;
  ``birth_date`` and ``death_date`` are ISO dates or date-times; ``sex``: male or female (others and
  unknown are dropped); ``marital_status``: the standard's codes S, M, W, D (A, L and U are dropped).
  ``spouse_identifier`` is our extension: the standard's Person names parents but no spouse.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping
from typing import Any, TypeVar

from engine.forms import national_id_is_valid, normalize_national_id
from registry.ministries.records import Family, PersonFacts, SourceUnavailable

T = TypeVar("T")

# ISO 3166-2:PS, the codes the registration form's governorate choices use.
GOVERNORATES = frozenset({
    "PS-JEN", "PS-TBS", "PS-TKM", "PS-NBS", "PS-QQA", "PS-SLT", "PS-RBH", "PS-JRH",
    "PS-JEM", "PS-BTH", "PS-HBN", "PS-NGZ", "PS-GZA", "PS-DEB", "PS-KYS", "PS-RFH",
})
_RELATIONS = {
    "head": "head", "wife": "spouse", "husband": "spouse", "spouse": "spouse",
    "son": "son", "daughter": "daughter", "father": "parent", "mother": "parent",
    "brother": "sibling", "sister": "sibling", "grandson": "grandchild", "granddaughter": "grandchild",
}
_SEXES = {"M": "male", "F": "female"}
_MARITAL = frozenset({"single", "married", "divorced", "widowed"})
_SCHOOLING = {"enrolled": "enrolled", "withdrawn": "dropped_out", "never_enrolled": "none"}
_COMPLETED_LEVELS = frozenset({"basic", "secondary", "higher"})
_CRVS_SEXES = {"male": "male", "female": "female", "m": "male", "f": "female"}
_CRVS_MARITAL = {"S": "single", "M": "married", "W": "widowed", "D": "divorced"}
# Name parts in the order a name is written; titles (prefix, suffix) are not part of it.
_CRVS_NAME_PARTS = ("given_name", "second_name", "middle_name", "third_name", "surname", "family_name")
# The registration form's max_length per text field.
_MAX_NAME, _MAX_LOCALITY, _MAX_ADDRESS = 150, 120, 250


def _get(document: Mapping[str, Any], key: str, kind: type[T]) -> T | None:
    value = document.get(key)
    return value if isinstance(value, kind) else None


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text if text and len(text) <= limit else None


def _national_id(value: Any) -> str | None:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = normalize_national_id(str(value))
    return text if national_id_is_valid(text) else None


def _as_of(document: Mapping[str, Any], today: dt.date) -> dt.date:
    """The record's own date; the day we read it when the ministry does not say."""
    return _date(document.get("as_of")) or today


def _mapping(document: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise SourceUnavailable(f"invalid {what} document")
    return document


def _member(raw: Any, today: dt.date) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        return {}
    member: dict[str, Any] = {}
    candidates: dict[str, Any] = {
        "national_id": _national_id(raw.get("national_id")),
        "name_ar": _text(raw.get("name_ar"), _MAX_NAME),
        "name_latin": _text(raw.get("name_en"), _MAX_NAME),
        "marital_status": raw.get("marital_status") if raw.get("marital_status") in _MARITAL else None,
    }
    relation, sex = _get(raw, "relation_to_head", str), _get(raw, "sex", str)
    candidates["relation"] = _RELATIONS.get(relation, "other") if relation is not None else None
    candidates["sex"] = _SEXES.get(sex) if sex is not None else None
    birth = _date(raw.get("birth_date"))
    candidates["birth_date"] = birth.isoformat() if birth is not None and birth <= today else None
    for name, value in candidates.items():
        if value is not None:
            member[name] = value
    return member


def family_from_interior(document: Any, *, today: dt.date) -> Family:
    """Form values from an Interior family document; members ordered head first."""
    doc = _mapping(document, "family")
    address = doc.get("address")
    if not isinstance(address, Mapping):
        address = {}
    household: dict[str, Any] = {}
    governorate = _get(address, "governorate", str)
    if governorate in GOVERNORATES:
        household["governorate"] = governorate
    for form_name, raw_name, limit in (("locality", "locality", _MAX_LOCALITY),
                                       ("address", "details", _MAX_ADDRESS)):
        value = _text(address.get(raw_name), limit)
        if value is not None:
            household[form_name] = value
    raw_members = _get(doc, "members", list) or []
    members: list[dict[str, Any]] = []
    seen: set[str] = set()
    for raw in raw_members:
        member = _member(raw, today)
        nid = member.get("national_id")
        if not member or (nid is not None and nid in seen):
            continue
        if nid is not None:
            seen.add(nid)
        members.append(member)
    # The form lists the head first; the sort is stable, so the rest keep the registry's order.
    members.sort(key=lambda m: m.get("relation") != "head")
    return Family(as_of=_as_of(doc, today), household=household, members=members)


def facts_from_education(document: Any, *, today: dt.date) -> dict[str, PersonFacts]:
    """``schooling`` per national ID from an Education enrolments document."""
    doc = _mapping(document, "enrolments")
    entries = _get(doc, "enrolments", list) or []
    facts: dict[str, PersonFacts] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        nid = _national_id(entry.get("national_id"))
        status = entry.get("status")
        if status == "graduated":
            level = entry.get("level")
            schooling = level if isinstance(level, str) and level in _COMPLETED_LEVELS else None
        else:
            schooling = _SCHOOLING.get(status) if isinstance(status, str) else None
        if nid is None or schooling is None or nid in facts:
            continue
        facts[nid] = PersonFacts(nid, _as_of(entry, today), {"schooling": schooling})
    return facts


def facts_from_health(document: Any, *, asked: str, today: dt.date) -> PersonFacts | None:
    """Insurance, disability and chronic illness from the Health document about ``asked``."""
    doc = _mapping(document, "health")
    if "national_id" in doc and _national_id(doc["national_id"]) != asked:
        # Another person's health data must never land in this household's form.
        raise SourceUnavailable("answer about another person")
    nid = asked
    values: dict[str, Any] = {}
    if isinstance(doc.get("insured"), bool):
        valid_until = _date(doc.get("insurance_valid_until"))
        # An expired card does not cover the household today, whatever the flag says.
        values["health_insurance"] = doc["insured"] and (valid_until is None or valid_until >= today)
    for name in ("disability", "chronic_illness"):
        if isinstance(doc.get(name), bool):
            values[name] = doc[name]
    return PersonFacts(nid, _as_of(doc, today), values) if values else None


def _crvs_day(value: Any) -> dt.date | None:
    """A CRVS date: the standard writes DateTime, which may be a bare date."""
    day = _date(value)
    if day is not None or not isinstance(value, str):
        return day
    try:
        return dt.datetime.fromisoformat(value).date()
    except ValueError:
        return None


def _crvs_first(value: Any) -> Mapping[str, Any]:
    """The standard's list-or-object fields (identifier, address): the first object, or {}."""
    if isinstance(value, list):
        value = next((item for item in value if isinstance(item, Mapping)), None)
    return value if isinstance(value, Mapping) else {}


def crvs_identifiers(value: Any, id_type: str) -> list[str]:
    """The valid national IDs of type ``id_type`` in a CRVS identifier (one object or a list)."""
    items = value if isinstance(value, list) else [value]
    found: list[str] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("identifier_type", item.get("type"))
        nid = _national_id(item.get("identifier_value", item.get("value")))
        if isinstance(kind, str) and kind.upper() == id_type.upper() and nid is not None:
            found.append(nid)
    return found


def _crvs_name(value: Any) -> dict[str, str]:
    """``name_ar`` or ``name_latin``, by the script the civil registry wrote the name in."""
    if isinstance(value, Mapping):
        parts = [value.get(key) for key in _CRVS_NAME_PARTS]
        value = " ".join(part for part in parts if isinstance(part, str))
    name = _text(value, _MAX_NAME)
    if name is None:
        return {}
    scripts = {unicodedata.name(ch, "").split(" ")[0] for ch in name if ch.isalpha()}
    if scripts == {"ARABIC"}:
        return {"name_ar": name}
    if scripts == {"LATIN"}:
        return {"name_latin": name}
    return {}


def crvs_is_deceased(person: Mapping[str, Any], *, today: dt.date) -> bool:
    """Whether the civil registry records the person's death (on or before ``today``)."""
    died = _crvs_day(person.get("death_date"))
    return died is not None and died <= today


def crvs_member(person: Mapping[str, Any], *, national_id: str, today: dt.date) -> dict[str, Any]:
    """Member form values from a CRVS Person known to be ``national_id``; no relation (the record has none)."""
    member: dict[str, Any] = {"national_id": national_id, **_crvs_name(person.get("name"))}
    sex = person.get("sex")
    if isinstance(sex, str) and sex.lower() in _CRVS_SEXES:
        member["sex"] = _CRVS_SEXES[sex.lower()]
    birth = _crvs_day(person.get("birth_date"))
    if birth is not None and birth <= today:
        member["birth_date"] = birth.isoformat()
    marital = person.get("marital_status")
    if isinstance(marital, str):
        status = _CRVS_MARITAL.get(marital.upper(), marital.lower())
        if status in _MARITAL:
            member["marital_status"] = status
    return member


def crvs_household(person: Mapping[str, Any]) -> dict[str, Any]:
    """Governorate, locality and address from a CRVS Person's current address."""
    address = _crvs_first(person.get("address"))
    household: dict[str, Any] = {}
    region, country = _get(address, "region_code", str), _get(address, "country_code", str)
    for code in (region, f"{country}-{region}" if country and region else None):
        if code in GOVERNORATES:
            household["governorate"] = code
            break
    locality = _text(address.get("locality"), _MAX_LOCALITY)
    if locality is not None:
        household["locality"] = locality
    lines = [line for line in (address.get("address_line1"), address.get("address_line2")) if isinstance(line, str)]
    details = _text(", ".join(line for line in lines if line.strip()), _MAX_ADDRESS)
    if details is not None:
        household["address"] = details
    return household
