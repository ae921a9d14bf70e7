"""Where each answer of a household came from, and whether anyone has verified it.

A household's ``sources`` (and each person's) keep one entry per value path: ``monthly_income``,
``members.0.disability`` (a person keeps its own fields by name). An entry says how the value is known:

- ``{"how": "declared"}``: the household's word, not verified;
- ``{"how": "ministry", "source": "interior", "as_of": "2025-01-31"}``: another ministry's record;
- ``{"how": "document", "on": "2025-02-03", "by": 7}``: a document staff saw or attached;
- ``{"how": "field_visit", "on": "2025-02-10", "by": 9}``: confirmed by the case manager at a visit.

A pre-filled value staff changed keeps ``correction`` (the ministry, its date, the value before and the
reason); it is then the household's word again until a document or a visit confirms it. The poverty
measure counts an indicator marked ``counts_when: verified`` only when every answer it reads is verified.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.forms import FormDef
from registry.audit import record_event
from registry.eligibility import VERIFIED_HOW
from registry.models import Case, EligibilityScore, Household, Person
from registry.registration import MEMBERS, VERIFIED_BY_DOCUMENT

DECLARED = "declared"
MINISTRY = "ministry"
DOCUMENT = "document"
FIELD_VISIT = "field_visit"
#: The ways of knowing an answer that count as verified (the poverty measure's own list).
VERIFIED = VERIFIED_HOW
#: What a form field may say in ``verifies:``: the answers it lists become verified this way.
FORM_VERIFICATIONS = frozenset({DOCUMENT, FIELD_VISIT})
REGISTRATION_DOCUMENTS_FIELD = VERIFIED_BY_DOCUMENT


def is_verified(entry: Mapping[str, Any] | None) -> bool:
    return entry is not None and entry.get("how") in VERIFIED


def _expand(paths: Iterable[str], member_count: int) -> list[str]:
    """Form answers as value paths: ``members.disability`` stands for that field of every member."""
    expanded: list[str] = []
    for path in paths:
        parts = str(path).split(".")
        if parts[0] == MEMBERS and len(parts) == 2:
            expanded += [f"{MEMBERS}.{index}.{parts[1]}" for index in range(member_count)]
        else:
            expanded.append(str(path))
    return expanded


def _answered(value: Any) -> bool:
    return value not in (None, "", [])


def registration_sources(prefill: Mapping[str, Any], data: Mapping[str, Any], *,
                         corrections: list[dict[str, Any]], reason: str | None, actor_id: int | None,
                         today: dt.date) -> dict[str, dict[str, Any]]:
    """The source of every answered value of a registration, by value path (members by position).

    Pre-filled values still as the ministry gave them are the ministry's; a corrected one is the
    household's word with its correction; answers listed in the registration's document field were
    proven by a document reception saw; everything else is the household's word.
    """
    provenance = prefill.get("provenance") or {}
    given_members = (prefill.get("values") or {}).get(MEMBERS) or []
    by_id = {m.get("national_id"): index for index, m in enumerate(given_members) if m.get("national_id")}
    corrected = {c["path"]: c for c in corrections if c.get("path")}
    sources: dict[str, dict[str, Any]] = {}
    members = data.get(MEMBERS) or []
    for name, value in data.items():
        if name != MEMBERS and _answered(value) and name != REGISTRATION_DOCUMENTS_FIELD:
            sources[name] = _prefilled_or_declared(provenance.get(name), corrected.get(name), reason)
    for position, member in enumerate(members):
        origin_index = by_id.get(member.get("national_id"))
        for name, value in member.items():
            if not _answered(value) and not isinstance(value, bool):
                continue
            origin_path = f"{MEMBERS}.{origin_index}.{name}" if origin_index is not None else None
            sources[f"{MEMBERS}.{position}.{name}"] = _prefilled_or_declared(
                provenance.get(origin_path) if origin_path else None,
                corrected.get(origin_path) if origin_path else None, reason)
    proven = {"how": DOCUMENT, "on": today.isoformat(), "by": actor_id}
    for path in _expand(data.get(REGISTRATION_DOCUMENTS_FIELD) or [], len(members)):
        sources[path] = {**proven, **({"correction": sources[path]["correction"]}
                                      if "correction" in sources.get(path, {}) else {})}
    return sources


def _prefilled_or_declared(origin: Mapping[str, Any] | None, correction: Mapping[str, Any] | None,
                           reason: str | None) -> dict[str, Any]:
    if origin is None:
        return {"how": DECLARED}
    if correction is None:
        return {"how": MINISTRY, "source": origin.get("source"), "as_of": origin.get("as_of")}
    return {"how": DECLARED, "correction": {"source": origin.get("source"), "as_of": origin.get("as_of"),
                                            "before": correction.get("before"), "reason": reason}}


def store_sources(household: Household, members: list[Person], sources: Mapping[str, dict[str, Any]]) -> None:
    """Keep ``sources`` with the household: its own answers on it, each member's on the person."""
    own: dict[str, dict[str, Any]] = {}
    per_member: dict[int, dict[str, dict[str, Any]]] = {}
    for path, entry in sources.items():
        parts = path.split(".")
        if parts[0] == MEMBERS and len(parts) == 3 and parts[1].isdigit():
            per_member.setdefault(int(parts[1]), {})[parts[2]] = dict(entry)
        else:
            own[path] = dict(entry)
    household.sources = own
    for position, person in enumerate(members):
        person.sources = per_member.get(position, {})


def household_sources(household: Household) -> dict[str, dict[str, Any]]:
    """Every value path's source, members by their position (as the poverty measure reads the household)."""
    sources = {path: dict(entry) for path, entry in (household.sources or {}).items()}
    for position, person in enumerate(household.members):
        for name, entry in (person.sources or {}).items():
            sources[f"{MEMBERS}.{position}.{name}"] = dict(entry)
    return sources


def case_sources(session: Session, case: Case) -> dict[str, dict[str, Any]]:
    """The sources of a case's values: the household's once recorded, else what the ministries pre-filled."""
    household = session.get(Household, case.household_id) if case.household_id is not None else None
    if household is not None:
        return household_sources(household)
    prefill = case.prefill or {}
    return {path: {"how": MINISTRY, "source": mark.get("source"), "as_of": mark.get("as_of")}
            for path, mark in (prefill.get("provenance") or {}).items()}


def verifying_fields(form: FormDef) -> list[tuple[str, str]]:
    """(field name, how) for each field of ``form`` whose answer lists the answers it verifies."""
    return [(f.name, str(f.verifies)) for f in form.fields if getattr(f, "verifies", None) in FORM_VERIFICATIONS]


def record_verification(session: Session, *, case_id: int, form: FormDef, data: Mapping[str, Any],
                        actor_id: int | None, now: dt.datetime, rules_dir: str | None) -> list[str]:
    """Mark the answers a completed form verified (a document, a field visit) and score the household again.

    Only when something became verified: a new score is kept with the reason, the old ones stay.
    Returns the value paths newly verified.
    """
    from registry.households import scoring_data
    from registry.operations import local_date, store_score

    marks = [(how, data.get(name) or []) for name, how in verifying_fields(form)]
    if not any(paths for _how, paths in marks):
        return []
    today = local_date(now)
    case = session.get(Case, case_id)
    household = session.get(Household, case.household_id) if case and case.household_id else None
    if case is None or household is None:
        return []
    members = list(session.scalars(select(Person).where(Person.household_id == household.id, Person.active)
                                   .order_by(Person.position)))
    sources = household_sources(household)
    newly: list[str] = []
    for how, paths in marks:
        for path in _expand(paths, len(members)):
            entry = sources.get(path) or {"how": DECLARED}
            if is_verified(entry):
                continue  # a ministry's record or an earlier proof stays as it was
            sources[path] = {"how": how, "on": today.isoformat(), "by": actor_id,
                             **({"correction": entry["correction"]} if "correction" in entry else {})}
            newly.append(path)
    if not newly:
        return []
    store_sources(household, members, sources)
    session.flush()
    session.expire(household, ["members"])
    record_event(session, actor_id=actor_id, case_id=case.id, action="answers_verified", at=now,
                 details={"household_id": household.id, "verified": newly,
                          "how": sorted({how for how, paths in marks if paths})})
    if session.scalar(select(EligibilityScore.id).where(EligibilityScore.household_id == household.id)
                      .limit(1)) is not None:
        scoring = store_score(session, household_id=household.id, case_id=case.id,
                              directorate_id=case.directorate_id, data=scoring_data(household),
                              rules_dir=rules_dir, actor_id=actor_id, now=now)
        record_event(session, actor_id=actor_id, case_id=case.id, action="eligibility_scored", at=now,
                     details={"score": scoring.score, "category": scoring.category,
                              "rule_version": scoring.rule_version, "after": "answers_verified"})
    return newly


def unverified_answers(score: EligibilityScore | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The indicators of a score that did not count because answers they read are not verified yet."""
    indicators = score.indicators if isinstance(score, EligibilityScore) else score.get("indicators") or []
    return [i for i in indicators if i.get("reason") == "unverified"]
