"""The social registry: search by national ID or name, the waiting list, re-scoring with new rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.orm import Session

from engine.forms import national_id_is_valid, normalize_national_id
from registry.audit import record_event
from registry.models import Case, CaseStatus, Directorate, EligibilityScore, Household, Person, User
from registry.names import matches, name_tokens


@dataclass
class SearchHit:
    person: Person
    household: Household
    case: Case | None


@dataclass
class SearchResult:
    hits: list[SearchHit] = field(default_factory=list)
    registered_elsewhere: bool = False


def search(session: Session, *, actor: User, query: str, limit: int = 50) -> SearchResult:
    """People of the actor's directorate by national ID (exact) or name (as people type Arabic names).

    A national ID registered in another directorate is reported as such, without its details.
    """
    result = SearchResult()
    if actor.directorate is None or not query.strip():
        return result
    digits = normalize_national_id(query.strip())
    in_directorate = and_(Person.active, Household.directorate_id == actor.directorate.id)
    if digits.isascii() and digits.isdigit():
        if not national_id_is_valid(digits):
            return result
        people = list(session.scalars(select(Person).join(Household).where(Person.national_id == digits,
                                                                           Person.active)))
        result.registered_elsewhere = any(p.household.directorate_id != actor.directorate.id for p in people)
        candidates = [p for p in people if p.household.directorate_id == actor.directorate.id]
    else:
        tokens = name_tokens(query)
        if not tokens:
            return result
        conditions = [or_(Person.name_search.like(f"{t}%"), Person.name_search.like(f"% {t}%")) for t in tokens]
        candidates = [p for p in session.scalars(
            select(Person).join(Household).where(in_directorate, *conditions).order_by(Person.name_ar).limit(limit * 4))
            if matches(query, f"{p.name_ar} {p.name_latin or ''}")][:limit]
    for person in candidates:
        case = session.scalar(select(Case).where(Case.household_id == person.household_id).order_by(Case.id.desc()))
        result.hits.append(SearchHit(person=person, household=person.household, case=case))
    return result


def scoring_data(household: Household) -> dict[str, Any]:
    """The household as the poverty measure reads it: its living conditions and its members."""
    data = dict(household.living_conditions or {})
    data["members"] = [{
        "national_id": p.national_id, "name_ar": p.name_ar, "relation": p.relation, "sex": p.sex,
        "birth_date": p.birth_date.isoformat() if p.birth_date else None, "marital_status": p.marital_status,
        "disability": p.disability, "chronic_illness": p.chronic_illness, "health_insurance": p.health_insurance,
        "schooling": p.schooling, "work": p.work,
    } for p in household.members]
    return data


def latest_scores(session: Session, household_ids: list[int]) -> dict[int, EligibilityScore]:
    newest = (select(EligibilityScore.household_id, func.max(EligibilityScore.id).label("id"))
              .where(EligibilityScore.household_id.in_(household_ids)).group_by(EligibilityScore.household_id)
              .subquery())
    rows = session.scalars(select(EligibilityScore).join(newest, EligibilityScore.id == newest.c.id))
    return {row.household_id: row for row in rows}


@dataclass
class RescoreSummary:
    households: int = 0
    changed: int = 0
    transitions: dict[str, int] = field(default_factory=dict)
    rule_version: str = ""


def rescore(session: Session, *, rules_dir: str, now: dt.datetime, directorate: str | None = None,
            batch: int = 1000, progress: Callable[[int], None] | None = None) -> RescoreSummary:
    """Score every household with the current rules, adding a new score (old ones stay).

    Works in batches (scored with the compiled rules, written with one INSERT each) and commits per
    batch, so a long run keeps what it did if interrupted; ``progress`` gets the count done. A case's
    history notes the households whose category changed.
    """
    from registry import eligibility
    from registry.operations import local_date, score_row

    measure = eligibility.load_measure(rules_dir)
    summary = RescoreSummary(rule_version=measure.rule_version)
    query = select(Household.id).order_by(Household.id)
    if directorate:
        query = query.join(Directorate).where(Directorate.code == directorate)
    ids = list(session.scalars(query))
    for chunk in _chunks(ids, batch):
        previous = latest_scores(session, chunk)
        households = list(session.scalars(select(Household).where(Household.id.in_(chunk))))
        scorings = eligibility.score_many(measure, [scoring_data(h) for h in households], as_of=local_date(now))
        rows, changed = [], []
        for household, scoring in zip(households, scorings, strict=True):
            rows.append(score_row(measure, scoring, household_id=household.id, case_id=None,
                                  directorate_id=household.directorate_id, actor_id=None, now=now))
            before = previous.get(household.id)
            if before is not None and before.category != scoring.category:
                key = f"{before.category} → {scoring.category}"
                summary.transitions[key] = summary.transitions.get(key, 0) + 1
                changed.append((household.id, before.category, scoring.category))
        session.execute(insert(EligibilityScore), rows)
        open_cases = dict(session.execute(select(Case.household_id, Case.id).where(
            Case.household_id.in_([h for h, _b, _a in changed]), Case.status == CaseStatus.OPEN.value)).tuples().all())
        for household_id, before_category, after_category in changed:
            record_event(session, actor_id=None, case_id=open_cases.get(household_id), action="household_rescored",
                         at=now, details={"household_id": household_id, "before": before_category,
                                          "after": after_category, "rule_version": measure.rule_version})
        summary.households += len(rows)
        summary.changed += len(changed)
        session.commit()
        if progress:
            progress(len(chunk))
    return summary


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class WaitingEntry:
    rank: int
    household: Household
    case: Case | None
    score: EligibilityScore
    priority: list[dict[str, Any]]


ELIGIBLE_CATEGORIES = ("deeply_poor", "poor")


def waiting_list(session: Session, *, actor: User, rules_dir: str, today: dt.date) -> list[WaitingEntry]:
    """Eligible households with an open case in the actor's directorate, in the order ``rules/priority.yaml``
    defines; a rejected or closed request is not waiting for anything."""
    from registry import eligibility

    if actor.directorate is None:
        return []
    households = list(session.scalars(select(Household).where(Household.directorate_id == actor.directorate.id)))
    scores = latest_scores(session, [h.id for h in households])
    priority = eligibility.load_priority(rules_dir)
    open_cases = {c.household_id: c for c in session.scalars(
        select(Case).where(Case.directorate_id == actor.directorate.id, Case.status == CaseStatus.OPEN.value,
                           Case.household_id.is_not(None)))}
    ranked = []
    for household in households:
        score = scores.get(household.id)
        if score is None or score.category not in ELIGIBLE_CATEGORIES or household.id not in open_cases:
            continue
        data = scoring_data(household)
        key = eligibility.priority_key(priority, data, score.details, as_of=today)
        ranked.append((key, household.id, household, score, data))
    ranked.sort(key=lambda item: (item[0], item[1]))
    entries = []
    for rank, (_key, _id, household, score, data) in enumerate(ranked, start=1):
        entries.append(WaitingEntry(rank=rank, household=household, case=open_cases[household.id], score=score,
                                    priority=eligibility.explain_priority(priority, data, score.details,
                                                                          as_of=today)))
    return entries


def directorate_exists(session: Session, code: str) -> bool:
    return session.scalar(select(Directorate.id).where(Directorate.code == code)) is not None


def count_households(session: Session, *, directorate: str | None = None) -> int:
    query = select(func.count(Household.id))
    if directorate:
        query = query.join(Directorate).where(Directorate.code == directorate)
    return int(session.scalar(query) or 0)
