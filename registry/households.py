"""The social registry: search by national ID or name, the waiting list, re-scoring with new rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeVar

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.forms import national_id_is_valid, normalize_national_id
from registry.audit import record_event
from registry.models import (
    Case,
    CaseStatus,
    Directorate,
    EligibilityScore,
    Household,
    Person,
    User,
    WaitingPriority,
)
from registry.names import matches, name_tokens
from registry.paging import PER_PAGE, Page, page_of
from registry.registration import MEMBERS, SOURCES, member_data
from registry.verification import household_sources

T = TypeVar("T")


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
    """People of households of the actor's directorate by national ID (exact) or name (as people type
    Arabic names), each with the household's latest case in the directorate.

    A national ID registered in another directorate is reported as such, without its details.
    """
    result = SearchResult()
    if actor.directorate is None or not query.strip():
        return result
    directorate_id = actor.directorate.id
    digits = normalize_national_id(query.strip())
    in_directorate = and_(Person.active, Household.directorate_id == directorate_id)
    if digits.isascii() and digits.isdigit():
        if not national_id_is_valid(digits):
            return result
        found = session.execute(select(Person, Household.directorate_id).join(Household).where(
            Person.national_id == digits, Person.active)).tuples().all()
        result.registered_elsewhere = any(where != directorate_id for _p, where in found)
        candidates = [p for p, where in found if where == directorate_id]
    else:
        tokens = name_tokens(query)
        if not tokens:
            return result
        conditions = [or_(Person.name_search.like(f"{t}%"), Person.name_search.like(f"% {t}%")) for t in tokens]
        candidates = [p for p in session.scalars(
            select(Person).join(Household).where(in_directorate, *conditions).order_by(Person.name_ar).limit(limit * 4))
            if matches(query, f"{p.name_ar} {p.name_latin or ''}")][:limit]
    cases = latest_cases(session, directorate_id=directorate_id, household_ids={p.household_id for p in candidates})
    for person in candidates:
        result.hits.append(SearchHit(person=person, household=person.household, case=cases.get(person.household_id)))
    return result


def latest_cases(session: Session, *, directorate_id: int, household_ids: set[int]) -> dict[int, Case]:
    """Each household's newest case in the directorate: another directorate's cases are not linked."""
    if not household_ids:
        return {}
    newest = (select(func.max(Case.id)).where(Case.household_id.in_(household_ids),
                                               Case.directorate_id == directorate_id)
              .group_by(Case.household_id))
    return {c.household_id: c for c in session.scalars(select(Case).where(Case.id.in_(newest)))
            if c.household_id is not None}


class PersonName(str):
    """A name as recorded (Arabic) that also carries its Latin spelling, when one was recorded.

    A ``str``, so every list that shows or sorts the Arabic name keeps working; pages in English show
    ``latin`` when there is one.
    """

    latin: str | None

    def __new__(cls, arabic: str, latin: str | None = None) -> PersonName:
        name = super().__new__(cls, arabic)
        name.latin = (latin or "").strip() or None
        return name


def head_names(session: Session, household_ids: set[int]) -> dict[int, PersonName]:
    """The name of each household's head (its first member when no head is recorded), in one query."""
    if not household_ids:
        return {}
    rows = session.execute(
        select(Person.household_id, Person.name_ar, Person.name_latin, Person.relation)
        .where(Person.household_id.in_(household_ids), Person.active,
               or_(Person.relation == "head", Person.position == 0))
        .order_by(Person.household_id, Person.position)).tuples().all()
    names: dict[int, PersonName] = {}
    for household_id, name, latin, relation in rows:
        if relation == "head" or household_id not in names:
            names[household_id] = PersonName(name, latin)
    return names


def scoring_data(household: Household) -> dict[str, Any]:
    """The household as the poverty measure reads it: its living conditions and its members."""
    data = dict(household.living_conditions or {})
    data[MEMBERS] = [member_data(p) for p in household.members]
    # How each answer is known: the measure counts some indicators only on verified answers.
    data[SOURCES] = household_sources(household)
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
    #: How many new scores give each reason (registry.scores.ChangeReason): rules, data, time.
    reasons: dict[str, int] = field(default_factory=dict)


def rescore(session: Session, *, rules_dir: str, now: dt.datetime, directorate: str | None = None,
            batch: int = 1000, progress: Callable[[int], None] | None = None) -> RescoreSummary:
    """Score every household with the current rules, adding a new score (old ones stay).

    Works in batches (scored with the compiled rules, written with one INSERT each) and commits per
    batch, so a long run keeps what it did if interrupted; ``progress`` gets the count done. A case's
    history notes the households whose category changed.
    """
    from registry import eligibility, scores
    from registry.operations import local_date, score_row

    measure = eligibility.load_measure(rules_dir)
    summary = RescoreSummary(rule_version=measure.rule_version)
    scores.keep_rule_version(session, measure, now=now)  # committed with the first batch that uses it
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
            before = previous.get(household.id)
            row = score_row(measure, scoring, household_id=household.id, case_id=None,
                            directorate_id=household.directorate_id, actor_id=None, now=now, previous=before)
            rows.append(row)
            for reason in row["reasons"]:
                summary.reasons[reason] = summary.reasons.get(reason, 0) + 1
            if before is not None and before.category != scoring.category:
                key = f"{before.category} → {scoring.category}"
                summary.transitions[key] = summary.transitions.get(key, 0) + 1
                changed.append((household.id, before.category, scoring.category, row["reasons"]))
        session.execute(insert(EligibilityScore), rows)
        open_cases = dict(session.execute(select(Case.household_id, Case.id).where(
            Case.household_id.in_([h for h, *_rest in changed]), Case.status == CaseStatus.OPEN.value)).tuples().all())
        for household_id, before_category, after_category, reasons in changed:
            record_event(session, actor_id=None, case_id=open_cases.get(household_id), action="household_rescored",
                         at=now, details={"household_id": household_id, "before": before_category,
                                          "after": after_category, "rule_version": measure.rule_version,
                                          "reasons": reasons})
        summary.households += len(rows)
        summary.changed += len(changed)
        session.commit()
        if progress:
            progress(len(chunk))
    return summary


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
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


@dataclass(frozen=True)
class _Waiting:
    household_id: int
    case_id: int
    score_id: int


def _eligible(session: Session, directorate_id: int) -> list[_Waiting]:
    """Households with an open case in the directorate whose latest score is in an eligible category.

    Filtered in SQL: a household belongs to the waiting list of the directorate of its open case.
    """
    latest = (select(func.max(EligibilityScore.id)).where(EligibilityScore.household_id == Case.household_id)
              .correlate(Case).scalar_subquery())
    rows = session.execute(
        select(Case.household_id, Case.id, EligibilityScore.id)
        .join(EligibilityScore, EligibilityScore.household_id == Case.household_id)
        .where(Case.directorate_id == directorate_id, Case.status == CaseStatus.OPEN.value,
               Case.household_id.is_not(None), EligibilityScore.id == latest,
               EligibilityScore.category.in_(ELIGIBLE_CATEGORIES))).tuples().all()
    return [_Waiting(household_id=h, case_id=c, score_id=s) for h, c, s in rows if h is not None]


def waiting_household_ids(session: Session, directorate_id: int) -> set[int]:
    """The households on the directorate's waiting list, unranked (a campaign's scope, for example)."""
    return {item.household_id for item in _eligible(session, directorate_id)}


def _loaded(session: Session, items: list[_Waiting]) -> tuple[dict[int, Household], dict[int, EligibilityScore]]:
    households = {h.id: h for h in session.scalars(
        select(Household).where(Household.id.in_([w.household_id for w in items])))}
    scores = {s.id: s for s in session.scalars(
        select(EligibilityScore).where(EligibilityScore.id.in_([w.score_id for w in items])))}
    return households, scores


def _ranked(session: Session, *, actor: User, rules_dir: str, today: dt.date, batch: int) -> list[_Waiting]:
    """The waiting households in the order ``rules/priority.yaml`` defines (then by registration).

    Each household's sort key is worked out once per score, day and rule version and stored, so a
    page sorts stored keys and works out only those of households scored since the day's first view.
    """
    from registry import eligibility

    if actor.directorate is None:
        return []
    priority = eligibility.load_priority(rules_dir)
    waiting = _eligible(session, actor.directorate.id)
    keys = _stored_keys(session, [w.score_id for w in waiting], as_of=today, rule_version=priority.rule_version,
                        batch=batch)
    computed: dict[int, list[Any]] = {}
    for chunk in _chunks([w for w in waiting if w.score_id not in keys], batch):
        households = {h.id: h for h in session.scalars(
            select(Household).where(Household.id.in_([w.household_id for w in chunk])))}
        details = dict(session.execute(select(EligibilityScore.id, EligibilityScore.details).where(
            EligibilityScore.id.in_([w.score_id for w in chunk]))).tuples().all())
        for item in chunk:
            key = eligibility.priority_key(priority, scoring_data(households[item.household_id]),
                                           details[item.score_id], as_of=today)
            computed[item.score_id] = _encode_key(key)
    if computed:
        _store_keys(session, computed, as_of=today, rule_version=priority.rule_version)
        keys.update(computed)
    return sorted(waiting, key=lambda w: (_decode_key(keys[w.score_id]), w.household_id))


def _encode_key(key: tuple[Any, ...]) -> list[Any]:
    """A sort key as JSON: exact fractions (the score) as [numerator, denominator]."""
    return [[flag, [value.numerator, value.denominator] if isinstance(value, Fraction) else value]
            for flag, value in key]


def _decode_key(stored: list[Any]) -> tuple[Any, ...]:
    # A fraction sorts as its correctly rounded float: rounding keeps the order, and the small
    # denominators of weighted scores never round two different values to one.
    return tuple((flag, float(Fraction(*value)) if isinstance(value, list) else value) for flag, value in stored)


def _stored_keys(session: Session, score_ids: list[int], *, as_of: dt.date, rule_version: str,
                 batch: int) -> dict[int, list[Any]]:
    keys: dict[int, list[Any]] = {}
    for chunk in _chunks(score_ids, batch * 10):  # reading stored keys is cheap: fewer, larger queries
        keys.update(session.execute(select(WaitingPriority.score_id, WaitingPriority.sort_key).where(
            WaitingPriority.score_id.in_(chunk), WaitingPriority.as_of == as_of,
            WaitingPriority.rule_version == rule_version)).tuples().all())
    return keys


def _store_keys(session: Session, keys: dict[int, list[Any]], *, as_of: dt.date, rule_version: str) -> None:
    """Keep the keys worked out (a second server doing the same at once is no conflict); drop earlier days'."""
    dialect_insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows = [{"score_id": score_id, "as_of": as_of, "rule_version": rule_version, "sort_key": key}
            for score_id, key in keys.items()]
    for chunk in _chunks(rows, 1000):
        session.execute(dialect_insert(WaitingPriority).on_conflict_do_nothing(), chunk)
    session.execute(delete(WaitingPriority).where(WaitingPriority.as_of < as_of))
    session.commit()


def _entries(session: Session, ranked: list[_Waiting], *, first_rank: int, rules_dir: str,
             today: dt.date) -> list[WaitingEntry]:
    from registry import eligibility

    if not ranked:
        return []
    priority = eligibility.load_priority(rules_dir)
    households, scores = _loaded(session, ranked)
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_([w.case_id for w in ranked])))}
    entries = []
    for rank, item in enumerate(ranked, start=first_rank):
        household, score = households[item.household_id], scores[item.score_id]
        entries.append(WaitingEntry(rank=rank, household=household, case=cases.get(item.case_id), score=score,
                                    priority=eligibility.explain_priority(priority, scoring_data(household),
                                                                          score.details, as_of=today)))
    return entries


def waiting_list(session: Session, *, actor: User, rules_dir: str, today: dt.date, page: int | None = 1,
                 per_page: int | None = PER_PAGE, batch: int = 500) -> Page[WaitingEntry]:
    """One page of the eligible households with an open case in the actor's directorate, in priority order;
    a rejected or closed request is not waiting for anything."""
    ranked = _ranked(session, actor=actor, rules_dir=rules_dir, today=today, batch=batch)
    info = page_of(len(ranked), page=page, per_page=per_page)
    chosen = ranked[info.offset:info.offset + info.per_page]
    return Page(items=_entries(session, chosen, first_rank=info.offset + 1, rules_dir=rules_dir, today=today),
                info=info)


def iter_waiting_list(session: Session, *, actor: User, rules_dir: str, today: dt.date,
                      batch: int = 500) -> Iterator[WaitingEntry]:
    """Every entry of the waiting list in order, loaded a batch at a time (for exports)."""
    ranked = _ranked(session, actor=actor, rules_dir=rules_dir, today=today, batch=batch)
    for start in range(0, len(ranked), batch):
        yield from _entries(session, ranked[start:start + batch], first_rank=start + 1, rules_dir=rules_dir,
                            today=today)


def directorate_exists(session: Session, code: str) -> bool:
    return session.scalar(select(Directorate.id).where(Directorate.code == code)) is not None


def count_households(session: Session, *, directorate: str | None = None) -> int:
    query = select(func.count(Household.id))
    if directorate:
        query = query.join(Directorate).where(Directorate.code == directorate)
    return int(session.scalar(query) or 0)
