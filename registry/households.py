"""The social registry: search by national ID or name, the waiting list, re-scoring with new rules."""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, contains_eager, load_only

from engine.forms import national_id_is_valid, normalize_national_id
from registry.interop import events as interop_events
from registry.models import (
    AuditEvent,
    Case,
    CaseStatus,
    Directorate,
    EligibilityScore,
    Household,
    Person,
    User,
    WaitingPriority,
)
from registry.names import name_tokens
from registry.paging import PER_PAGE, Page, bounded, page_of
from registry.registration import MEMBER_FIELDS, MEMBERS, SOURCES, member_data
from registry.verification import household_sources

if TYPE_CHECKING:
    from registry import eligibility

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


#: A hit shows its household's head and locality: households and members come in two queries, not two per hit.
_HIT_LOADS = (contains_eager(Person.household).selectinload(Household.members),)


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
            Person.national_id == digits, Person.active).options(*_HIT_LOADS)).tuples().all()
        result.registered_elsewhere = any(where != directorate_id for _p, where in found)
        candidates = [p for p, where in found if where == directorate_id]
    else:
        words = name_conditions(query)
        if not words:
            return result
        candidates = list(session.scalars(
            select(Person).join(Household).where(in_directorate, *words).order_by(Person.name_ar, Person.id)
            .limit(limit).options(*_HIT_LOADS)))
    cases = latest_cases(session, directorate_id=directorate_id, household_ids={p.household_id for p in candidates})
    for person in candidates:
        result.hits.append(SearchHit(person=person, household=person.household, case=cases.get(person.household_id)))
    return result


def name_conditions(query: str) -> list[ColumnElement[bool]]:
    """A person whose name matches ``query`` as ``names.matches`` decides: each word typed starts a word of the
    stored search key (``names.search_key``), so the database answers exactly and no row is checked in Python.

    Each word is asked for twice: anywhere in the key (what the trigram index of active people reads on
    PostgreSQL, migration 0029: every word's trigrams in one index scan, a handful of rows for a full
    name), then at the start of a word of the key (exact, checked on those rows only). Empty: no words.
    """
    spaced = literal(" ", String) + Person.name_search
    return [and_(Person.name_search.like(f"%{t}%"), spaced.like(f"% {t}%")) for t in name_tokens(query)]


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


#: What a list shows of a score: its JSON (inputs, indicators, details, reasons: kilobytes a row) stays unread.
SCORE_SUMMARY = (EligibilityScore.household_id, EligibilityScore.score, EligibilityScore.category,
                 EligibilityScore.rule_version, EligibilityScore.created_at)


def latest_scores(session: Session, household_ids: list[int], *,
                  summary: bool = False) -> dict[int, EligibilityScore]:
    """Each household's latest score; ``summary``: only ``SCORE_SUMMARY``'s columns are loaded (for lists)."""
    newest = (select(EligibilityScore.household_id, func.max(EligibilityScore.id).label("id"))
              .where(EligibilityScore.household_id.in_(household_ids)).group_by(EligibilityScore.household_id)
              .subquery())
    query = select(EligibilityScore).join(newest, EligibilityScore.id == newest.c.id)
    if summary:
        query = query.options(load_only(*SCORE_SUMMARY))
    return {row.household_id: row for row in session.scalars(query)}


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

    Works in chunks of households in id order (read as columns, members in one query per chunk, scored
    with the compiled rules, written in bulk) and commits per chunk, so a long run keeps what it did if
    interrupted; ``progress`` gets the count done. A case's history notes the households whose category
    changed. On PostgreSQL a second session writes each chunk while the next one is scored, so the
    server's work (parsing ~15 KB of JSON per score) overlaps ours instead of adding to it.
    """
    from registry import eligibility, scores
    from registry.operations import local_date

    measure = eligibility.load_measure(rules_dir)
    summary = RescoreSummary(rule_version=measure.rule_version)
    as_of = local_date(now)
    # Only the member columns the rules read (a scoring's inputs keep no others).
    member_names = tuple(name for name in _MEMBER_NAMES if name in measure.member_fields)
    query = select(Household.id, Household.directorate_id, Household.living_conditions, Household.sources)
    if directorate:
        query = query.join(Directorate).where(Directorate.code == directorate)
    with _ChunkWriter(session, measure=measure, now=now, progress=progress) as writer:
        last_id: int | None = None
        while households := session.execute(
                (query if last_id is None else query.where(Household.id > last_id)).order_by(Household.id)
                .limit(batch)).all():
            last_id = households[-1].id
            ids = [h.id for h in households]
            members = _active_members(session, ids, member_names)
            previous = scores.scores_before(session, ids)
            scorings = eligibility.score_many(measure, [
                _scoring_data_of(h.living_conditions, h.sources, members.get(h.id, [])) for h in households],
                as_of=as_of)
            rows, changed = [], []
            for household, scoring in zip(households, scorings, strict=True):
                before = previous.get(household.id)
                row = scores.score_row(measure, scoring, household_id=household.id, case_id=None,
                                       directorate_id=household.directorate_id, actor_id=None, now=now,
                                       previous=before)
                rows.append(row)
                for reason in row["reasons"]:
                    summary.reasons[reason] = summary.reasons.get(reason, 0) + 1
                if before is not None and before.category != scoring.category:
                    key = f"{before.category} → {scoring.category}"
                    summary.transitions[key] = summary.transitions.get(key, 0) + 1
                    changed.append((household.id, before.category, scoring.category, row["reasons"]))
            writer.write(rows, changed)
            summary.households += len(rows)
            summary.changed += len(changed)
    return summary


class _ChunkWriter:
    """Writes each chunk of new scores with its audit and interop events, and commits it.

    On PostgreSQL the writing runs in a thread with a session of its own, one chunk behind the scoring (at
    most one chunk waits); elsewhere it runs in line in the caller's session. Either way chunks commit in
    order, and an error in one stops the run with that error.
    """

    def __init__(self, session: Session, *, measure: eligibility.Measure, now: dt.datetime,
                 progress: Callable[[int], None] | None) -> None:
        self.reader, self.measure, self.now, self.progress = session, measure, now, progress
        self.threaded = session.get_bind().dialect.name == "postgresql"
        self.session = Session(bind=session.get_bind()) if self.threaded else session
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rescore-writer") if self.threaded else None
        self.pending: Future[int] | None = None

    def __enter__(self) -> _ChunkWriter:
        from registry import scores

        if self.threaded:
            # The writer's session must see what the caller wrote (a run always committed it with its first chunk).
            self.reader.commit()
        scores.keep_rule_version(self.session, self.measure, now=self.now)  # committed with the first chunk
        return self

    def write(self, rows: list[dict[str, Any]], changed: list[tuple[int, str, str, list[str]]]) -> None:
        if self.pool is None:
            self._report(self._write(rows, changed))
            return
        self._wait()
        self.pending = self.pool.submit(self._write, rows, changed)

    def _write(self, rows: list[dict[str, Any]], changed: list[tuple[int, str, str, list[str]]]) -> int:
        from registry import scores

        scores.insert_scores(self.session, rows)
        _note_category_changes(self.session, changed, at=self.now, rule_version=self.measure.rule_version)
        interop_events.categories_changed(self.session, [(h, before, after) for h, before, after, _r in changed],
                                          at=self.now)
        self.session.commit()
        return len(rows)

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self._report(pending.result())

    def _report(self, count: int) -> None:
        if self.progress:
            self.progress(count)

    def __exit__(self, error_type: type[BaseException] | None, *_rest: object) -> None:
        try:
            if error_type is None:
                self._wait()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
                self.session.close()
            # Ends the reads' transaction (and, in line, drops a chunk an error left half written).
            if error_type is None:
                self.reader.commit()
            else:
                self.reader.rollback()


#: The member fields as rescoring reads them, and which of them are dates (the measure reads ISO days).
_MEMBER_NAMES = tuple(f.name for f in MEMBER_FIELDS)
_MEMBER_DATES = frozenset(f.name for f in MEMBER_FIELDS if f.kind == "date")


def _active_members(session: Session, household_ids: list[int], names: tuple[str, ...] = _MEMBER_NAMES
                    ) -> dict[int, list[tuple[dict[str, Any], Any]]]:
    """Each household's active members in order, as (``member_data`` of the fields ``names``, sources), in one query."""
    # Most members' sources are empty: NULL costs no JSON parsing. A Core query, fetched at once: a chunk has
    # thousands of rows, and the ORM's and row-by-row fetching's costs per row were most of the reading.
    sources = func.nullif(Person.sources, literal_column("'{}'"), type_=Person.sources.type)
    rows = session.connection().execute(select(Person.household_id, sources, *(getattr(Person, n) for n in names))
                                        .where(Person.household_id.in_(household_ids), Person.active)
                                        .order_by(Person.household_id, Person.position)).all()
    dates = _MEMBER_DATES.intersection(names)
    members: dict[int, list[tuple[dict[str, Any], Any]]] = {}
    for household_id, sources, *values in rows:
        data = dict(zip(names, values, strict=True))
        for name in dates:
            if data[name] is not None:
                data[name] = data[name].isoformat()
        members.setdefault(household_id, []).append((data, sources))
    return members


def _scoring_data_of(living_conditions: dict[str, Any] | None, sources: dict[str, Any] | None,
                     members: list[tuple[dict[str, Any], Any]]) -> dict[str, Any]:
    """``scoring_data`` of a household read as columns (the same dict, without loading ORM objects)."""
    data = dict(living_conditions or {})
    data[MEMBERS] = [member for member, _sources in members]
    paths = {path: dict(entry) for path, entry in (sources or {}).items()}
    for position, (_member, member_sources) in enumerate(members):
        for name, entry in (member_sources or {}).items():
            paths[f"{MEMBERS}.{position}.{name}"] = dict(entry)
    data[SOURCES] = paths
    return data


def _note_category_changes(session: Session, changed: list[tuple[int, str, str, list[str]]], *, at: dt.datetime,
                           rule_version: str) -> None:
    """One audit event per household whose category changed, in its open case's history, in one INSERT."""
    if not changed:
        return
    open_cases = dict(session.execute(select(Case.household_id, Case.id).where(
        Case.household_id.in_([h for h, *_rest in changed]), Case.status == CaseStatus.OPEN.value)).tuples().all())
    session.execute(insert(AuditEvent), [
        {"actor_id": None, "case_id": open_cases.get(household_id), "action": "household_rescored", "at": at,
         "details": {"household_id": household_id, "before": before, "after": after, "rule_version": rule_version,
                     "reasons": reasons}}
        for household_id, before, after, reasons in changed])


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


def _eligible_query(directorate_id: int) -> Select[tuple[int | None, int, int]]:
    """Households with an open case in the directorate whose latest score is in an eligible category.

    Filtered in SQL: a household belongs to the waiting list of the directorate of its open case.
    """
    latest = (select(func.max(EligibilityScore.id)).where(EligibilityScore.household_id == Case.household_id)
              .correlate(Case).scalar_subquery())
    # Joined on the latest score's id alone: the eligible scores' ids are then read from an index
    # (ix_eligibility_scores_category_id), never the scores' wide rows.
    return (select(Case.household_id, Case.id.label("case_id"), EligibilityScore.id.label("score_id"))
            .join(EligibilityScore, EligibilityScore.id == latest)
            .where(Case.directorate_id == directorate_id, Case.status == CaseStatus.OPEN.value,
                   Case.household_id.is_not(None), EligibilityScore.category.in_(ELIGIBLE_CATEGORIES)))


def _eligible(session: Session, directorate_id: int) -> list[_Waiting]:
    return [_Waiting(household_id=h, case_id=c, score_id=s)
            for h, c, s in session.execute(_eligible_query(directorate_id)).tuples() if h is not None]


def waiting_household_ids(session: Session, directorate_id: int) -> set[int]:
    """The households on the directorate's waiting list, unranked (a campaign's scope, for example)."""
    return {item.household_id for item in _eligible(session, directorate_id)}


def _loaded(session: Session, items: list[_Waiting]) -> tuple[dict[int, Household], dict[int, EligibilityScore]]:
    households = {h.id: h for h in session.scalars(
        select(Household).where(Household.id.in_([w.household_id for w in items])))}
    scores = {s.id: s for s in session.scalars(
        select(EligibilityScore).where(EligibilityScore.id.in_([w.score_id for w in items])))}
    return households, scores


def _ranked(session: Session, *, directorate_id: int, rules_dir: str, today: dt.date,
            batch: int) -> tuple[Select[tuple[int | None, int, int]], int]:
    """The waiting households in the order ``rules/priority.yaml`` defines (then by registration), as a query
    to page through, and how many there are.

    Each household's sort key is worked out once per score, day and rule version and stored with a rank
    that sorts as the key does, so a page is sorted and cut by the database; only the keys of households
    scored since the day's first view are worked out here.
    """
    from registry import eligibility

    priority = eligibility.load_priority(rules_dir)
    eligible = _eligible_query(directorate_id).subquery()
    today_keys = and_(WaitingPriority.score_id == eligible.c.score_id, WaitingPriority.as_of == today,
                      WaitingPriority.rule_version == priority.rule_version)
    # One pass counts the list and the keys it has today; only when some are missing are they looked for.
    total, keyed = session.execute(select(func.count(), func.count(WaitingPriority.score_id)).select_from(eligible)
                                   .outerjoin(WaitingPriority, today_keys)).tuples().one()
    missing = [] if keyed == total else [
        _Waiting(household_id=h, case_id=c, score_id=sc) for h, c, sc in session.execute(
            select(eligible.c.household_id, eligible.c.case_id, eligible.c.score_id)
            .where(~exists().where(today_keys))).tuples() if h is not None]
    computed: dict[int, list[Any]] = {}
    for chunk in _chunks(missing, batch):
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
    return (select(eligible.c.household_id, eligible.c.case_id, eligible.c.score_id).join(WaitingPriority, today_keys)
            .order_by(WaitingPriority.rank, eligible.c.household_id)), int(total)


def rank_waiting_lists(session: Session, *, rules_dir: str, today: dt.date, batch: int = 500) -> int:
    """Work out today's waiting-list sort keys for every directorate once a day (a step of the worker), so that
    no page view does: at registry size that is about 20 s for a directorate's 13,000 households. Returns how
    many keys were worked out (none when today's exist). A page still works out the keys it lacks (households
    scored since), and the whole list when the worker has not run."""
    from registry import eligibility

    priority = eligibility.load_priority(rules_dir)
    today_keys = (WaitingPriority.as_of == today, WaitingPriority.rule_version == priority.rule_version)
    if session.scalar(select(exists().where(*today_keys))):
        session.rollback()
        return 0
    for directorate_id in list(session.scalars(select(Directorate.id).order_by(Directorate.id))):
        _ranked(session, directorate_id=directorate_id, rules_dir=rules_dir, today=today, batch=batch)
        session.commit()
    return int(session.scalar(select(func.count()).select_from(WaitingPriority).where(*today_keys)) or 0)


def _encode_key(key: tuple[Any, ...]) -> list[Any]:
    """A sort key as JSON: exact fractions (the score) as [numerator, denominator]."""
    return [[flag, [value.numerator, value.denominator] if isinstance(value, Fraction) else value]
            for flag, value in key]


def _decode_key(stored: list[Any]) -> tuple[Any, ...]:
    # A fraction sorts as its correctly rounded float: rounding keeps the order, and the small
    # denominators of weighted scores never round two different values to one.
    return tuple((flag, float(Fraction(*value)) if isinstance(value, list) else value) for flag, value in stored)


def rank_text(stored: list[Any]) -> str:
    """A stored sort key as text that sorts, character by character, as the key does (so the database
    orders the waiting list): each part is its flag and its value as a float whose IEEE bits are turned
    so that unsigned order is numeric order, in hexadecimal."""
    parts = []
    for flag, value in _decode_key(stored):
        bits = struct.unpack(">Q", struct.pack(">d", float(value) + 0.0))[0]  # + 0.0: -0.0 sorts as 0.0
        bits = bits ^ 0xFFFF_FFFF_FFFF_FFFF if bits >> 63 else bits | 1 << 63
        parts.append(f"{int(flag)}{bits:016x}")
    return "".join(parts)


def _store_keys(session: Session, keys: dict[int, list[Any]], *, as_of: dt.date, rule_version: str) -> None:
    """Keep the keys worked out (a second server doing the same at once is no conflict); drop earlier days'."""
    dialect_insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows = [{"score_id": score_id, "as_of": as_of, "rule_version": rule_version, "sort_key": key,
             "rank": rank_text(key)} for score_id, key in keys.items()]
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


def _waiting(rows: Any) -> list[_Waiting]:
    return [_Waiting(household_id=h, case_id=c, score_id=s) for h, c, s in rows if h is not None]


def waiting_list(session: Session, *, actor: User, rules_dir: str, today: dt.date, page: int | None = 1,
                 per_page: int | None = PER_PAGE, batch: int = 500) -> Page[WaitingEntry]:
    """One page of the eligible households with an open case in the actor's directorate, in priority order;
    a rejected or closed request is not waiting for anything."""
    if actor.directorate is None:
        return Page(info=page_of(0, page=page, per_page=per_page))
    number, size = bounded(page, per_page)
    found = _keyed_page(session, directorate_id=actor.directorate.id, rules_dir=rules_dir, today=today,
                        offset=(number - 1) * size, limit=size)
    if found is not None:
        chosen, total = found
        info = page_of(total, page=page, per_page=per_page)
    else:  # keys to work out (the worker has not run, or households were scored since), or a page past the end
        ranked, total = _ranked(session, directorate_id=actor.directorate.id, rules_dir=rules_dir, today=today,
                                batch=batch)
        info = page_of(total, page=page, per_page=per_page)
        chosen = _waiting(session.execute(ranked.offset(info.offset).limit(info.per_page)).tuples())
    return Page(items=_entries(session, chosen, first_rank=info.offset + 1, rules_dir=rules_dir, today=today),
                info=info)


def _keyed_page(session: Session, *, directorate_id: int, rules_dir: str, today: dt.date, offset: int,
                limit: int) -> tuple[list[_Waiting], int] | None:
    """A page of the waiting list and its length in one pass over the list, when every household on it has
    today's key (the usual case: the worker stores them each morning); None when some key is missing or
    the page is past the end."""
    from registry import eligibility

    priority = eligibility.load_priority(rules_dir)
    eligible = _eligible_query(directorate_id).subquery()
    today_keys = and_(WaitingPriority.score_id == eligible.c.score_id, WaitingPriority.as_of == today,
                      WaitingPriority.rule_version == priority.rule_version)
    rows = session.execute(
        select(eligible.c.household_id, eligible.c.case_id, eligible.c.score_id, func.count().over(),
               func.count(WaitingPriority.score_id).over())
        .select_from(eligible).outerjoin(WaitingPriority, today_keys)
        .order_by(WaitingPriority.rank, eligible.c.household_id).offset(offset).limit(limit)).tuples().all()
    if not rows or rows[0][3] != rows[0][4]:
        return None
    return _waiting(row[:3] for row in rows), int(rows[0][3])


def iter_waiting_list(session: Session, *, actor: User, rules_dir: str, today: dt.date,
                      batch: int = 500) -> Iterator[WaitingEntry]:
    """Every entry of the waiting list in order, loaded a batch at a time (for exports)."""
    if actor.directorate is None:
        return
    query, _total = _ranked(session, directorate_id=actor.directorate.id, rules_dir=rules_dir, today=today,
                            batch=batch)
    ranked = _waiting(session.execute(query).tuples())
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
