"""Stored scores: the rule versions they used, why each was made, recomputing them, comparing two.

Every decision can be reproduced from the database alone: a score keeps its inputs and date, and the
``rule_versions`` table keeps the texts of the rule files of its version (stored the first time that
version scores). Recomputing reads nothing on disk.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Connection, and_, event, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapper, QueryContext, Session
from sqlalchemy.orm.attributes import set_committed_value

from engine.errors import NotFoundForActor
from registry import eligibility
from registry.cases import case_for_actor
from registry.models import Case, EligibilityScore, RuleVersion, User


class ChangeReason(enum.StrEnum):
    """What changed since the household's score before: each new score records every one that applies."""

    FIRST_SCORE = "first_score"
    #: Scored with another rule version.
    RULES_CHANGED = "rules_changed"
    #: The inputs the rules read (the household's answers and members) differ.
    DATA_CHANGED = "data_changed"
    #: The later date alone changes a result, with the same rules and data: an age (a member turned 6, 18 or 65),
    #: or the month whose prices the money lines are brought to.
    TIME_PASSED = "time_passed"
    UNCHANGED = "unchanged"
    #: A score stored before reasons were kept, whose rules and inputs are those of the score before it.
    NOT_RECORDED = "not_recorded"


# --- rule versions -------------------------------------------------------------------------------

def keep_rule_version(session: Session, measure: eligibility.Measure, *, now: dt.datetime) -> None:
    """Store the measure's files under its label unless stored already (only flushes).

    A second server storing the same version at the same moment is no conflict: the same label means
    the same files.
    """
    if session.get(RuleVersion, measure.rule_version) is not None:
        return
    dialect_insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(dialect_insert(RuleVersion).values(
        label=measure.rule_version, content_hash=measure.content_hash, files=dict(measure.sources),
        first_used_at=now).on_conflict_do_nothing())


class RulesNotStored(LookupError):
    """The database holds no files for a rule version (a score older than the table that keeps them)."""


class RulesAltered(ValueError):
    """A stored rule version's files no longer work out to its label: they are not the files that scored."""


class RulesUnreadable(ValueError):
    """The scorer of today refuses a stored version's files (it asks for something older files lack)."""


def stored_measure(session: Session, label: str) -> eligibility.Measure:
    """The measure of a stored rule version, compiled from the database's copy of its files."""
    files = session.scalar(select(RuleVersion.files).where(RuleVersion.label == label))
    if files is None:
        raise RulesNotStored(label)
    try:
        measure = eligibility.load_stored_measure(label, files)
    except eligibility.RuleFileInvalid as err:
        raise RulesUnreadable("; ".join(err.problems)) from None
    if measure.rule_version != label:
        raise RulesAltered(f"the stored files work out to {measure.rule_version}, not {label}")
    return measure


# --- the stored form of an indicator row ---------------------------------------------------------

#: What an indicator row repeats of its rule version's files: the rules' words (three quarters of a score's
#: bytes, the same in every score), its dimension and the weight as written. A stored row leaves them out;
#: reading a score puts them back from the ``rule_versions`` copy of the files.
_FROM_RULES = frozenset(("dimension", "label", "cutoff", "rule_weight_exact", "counts_when", "unit",
                         "dimension_label"))


#: The size of a scoring's row with nothing to add (``eligibility._score``): the rules' part, then value,
#: deprived, counted and unknown.
_PLAIN_ROW_SIZE = len(_FROM_RULES - {"dimension_label"}) + len(("key", "weight", "weight_exact")) + 4


def stored_indicators(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A scoring's indicator rows as a score stores them: the household's results (key, value, deprived,
    counted, unknown and why), and the weight only where unknown indicators made the applied one differ."""
    from_rules = _FROM_RULES
    stored = []
    for row in rows:
        if len(row) == _PLAIN_ROW_SIZE and row["weight_exact"] == row["rule_weight_exact"]:
            # Most rows: decided and counted as answered, at the weight written (a literal is the fast way).
            stored.append({"key": row["key"], "value": row["value"], "deprived": row["deprived"],
                           "counted": row["counted"], "unknown": row["unknown"]})
            continue
        kept = {name: value for name, value in row.items() if name not in from_rules}
        if row.get("weight_exact") == row.get("rule_weight_exact"):
            del kept["weight"], kept["weight_exact"]
        stored.append(kept)
    return stored


#: Per rule version label, its words per indicator (``eligibility.rule_words``): a label names its files'
#: contents, so what one database stores under it holds in every database and never goes stale.
_RULE_WORDS: dict[str, dict[str, tuple[dict[str, Any], dict[str, str]]]] = {}


def _rule_words(connection: Connection, label: str) -> dict[str, tuple[dict[str, Any], dict[str, str]]] | None:
    words = _RULE_WORDS.get(label)
    if words is None:
        files = connection.scalar(select(RuleVersion.files).where(RuleVersion.label == label))
        try:
            measure = eligibility.load_stored_measure(label, files) if files is not None else None
        except eligibility.RuleFileInvalid:
            measure = None
        if measure is None or measure.rule_version != label:
            return None  # not stored, or not the files that scored: the rows stay as stored
        words = _RULE_WORDS[label] = eligibility.rule_words(measure)
    return words


def labelled_indicators(rows: list[Any], words: Mapping[str, tuple[dict[str, Any], dict[str, str]]]
                        ) -> list[Any]:
    """Stored indicator rows with the rules' words put back, as the scoring wrote them (shared: do not mutate).

    A row stored with its words (scores stored before revision 0031) is kept as it is.
    """
    labelled = []
    for row in rows:
        found = words.get(str(row.get("key"))) if isinstance(row, dict) and "label" not in row else None
        if found is None:
            labelled.append(row)
            continue
        fixed, dimension_label = found
        full = fixed.copy()
        full.update(row)
        full["dimension_label"] = dimension_label
        labelled.append(full)
    return labelled


def _put_words_back(score: EligibilityScore, connection: Connection) -> None:
    rows = score.__dict__.get("indicators")
    if not rows or not isinstance(rows[0], dict) or "label" in rows[0] or "rule_version" not in score.__dict__:
        return
    words = _rule_words(connection, score.rule_version)
    if words is not None:
        set_committed_value(score, "indicators", labelled_indicators(rows, words))


# Every reader of a score (pages, API, comparison, letter, exports) sees its indicators with their words,
# whether the score was stored with them or not: they are put back once, when the score is loaded or written.
@event.listens_for(EligibilityScore, "load")
def _labelled_on_load(score: EligibilityScore, context: QueryContext) -> None:
    _put_words_back(score, context.session.connection())


@event.listens_for(EligibilityScore, "refresh")
def _labelled_on_refresh(score: EligibilityScore, context: QueryContext, names: Collection[str] | None) -> None:
    if names is None or "indicators" in names:
        _put_words_back(score, context.session.connection())


@event.listens_for(EligibilityScore, "after_insert")
def _labelled_after_insert(_mapper: Mapper[EligibilityScore], connection: Connection,
                           score: EligibilityScore) -> None:
    _put_words_back(score, connection)


# --- why a score was made ------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """A value as it reads back from a JSON column, so a fresh scoring compares equal to a stored one."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _outcome(scoring: eligibility.Scoring) -> Any:
    """Everything a scoring decided (not when, with what or from what)."""
    return _plain({k: v for k, v in scoring.to_dict().items() if k not in ("as_of", "rule_version", "inputs")})


#: The fields of a scoring that ``_outcome`` keeps: what it decided.
_DECIDED = tuple(f.name for f in fields(eligibility.Scoring) if f.name not in ("as_of", "rule_version", "inputs"))


def _same(a: Any, b: Any) -> bool:
    """``_plain(a) == _plain(b)``, mostly without the JSON round trip: values equal as they are also
    read back equal (keys are texts on both sides), so only unequal ones are compared the slow way."""
    return a == b or _plain(a) == _plain(b)


def _same_outcome(a: eligibility.Scoring, b: eligibility.Scoring) -> bool:
    if all(getattr(a, name) == getattr(b, name) for name in _DECIDED):
        return True
    return bool(_outcome(a) == _outcome(b))


@dataclass(frozen=True, slots=True)
class ScoreBefore:
    """What the reasons of a new score read of the household's score before it (no indicators needed)."""

    id: int
    rule_version: str
    inputs: Mapping[str, Any]
    #: The date it was scored on (None: stored before scores kept it).
    as_of: str | None
    category: str

    @classmethod
    def of(cls, score: EligibilityScore) -> ScoreBefore:
        return cls(id=score.id, rule_version=score.rule_version, inputs=score.inputs or {},
                   as_of=(score.details or {}).get("as_of"), category=score.category)


def change_reasons(measure: eligibility.Measure, scoring: eligibility.Scoring,
                   previous: EligibilityScore | ScoreBefore | None) -> list[str]:
    """What changed since ``previous``: the rules, the household's data, the date (only when it matters).

    Time is judged with the new rules and data, scored again on the earlier date: if that gives other
    results, the passing of time alone changed something (ages).
    """
    if previous is None:
        return [ChangeReason.FIRST_SCORE.value]
    before = previous if isinstance(previous, ScoreBefore) else ScoreBefore.of(previous)
    reasons = []
    if before.rule_version != scoring.rule_version:
        reasons.append(ChangeReason.RULES_CHANGED.value)
    if not _same(before.inputs, scoring.inputs):
        reasons.append(ChangeReason.DATA_CHANGED.value)
    earlier = before.as_of
    if earlier and earlier != scoring.as_of:
        then_day = dt.date.fromisoformat(earlier)
        # Most households' results cannot differ by date (no member's age crossed a line): known cheaply.
        if not eligibility.same_results_on(measure, scoring.inputs, then_day, dt.date.fromisoformat(scoring.as_of)):
            then = eligibility.score_household(measure, scoring.inputs, as_of=then_day)
            if not _same_outcome(then, scoring):
                reasons.append(ChangeReason.TIME_PASSED.value)
    return reasons or [ChangeReason.UNCHANGED.value]


def scores_before(session: Session, household_ids: Collection[int]) -> dict[int, ScoreBefore]:
    """Each household's latest score, only the columns its reasons read, in one query (bulk re-scoring)."""
    if not household_ids:
        return {}
    newest = (select(func.max(EligibilityScore.id)).where(EligibilityScore.household_id.in_(household_ids))
              .group_by(EligibilityScore.household_id))
    # A Core query fetched at once: the ORM's and row-by-row fetching's costs per row are not worth paying here.
    rows = session.connection().execute(select(
        EligibilityScore.id, EligibilityScore.household_id, EligibilityScore.rule_version, EligibilityScore.inputs,
        EligibilityScore.details["as_of"].as_string(), EligibilityScore.category,
    ).where(EligibilityScore.id.in_(newest.scalar_subquery()))).all()
    return {household_id: ScoreBefore(id=score_id, rule_version=rule_version, inputs=inputs or {}, as_of=as_of,
                                      category=category)
            for score_id, household_id, rule_version, inputs, as_of, category in rows}


def latest_score(session: Session, household_id: int) -> EligibilityScore | None:
    return session.scalars(select(EligibilityScore).where(EligibilityScore.household_id == household_id)
                           .order_by(EligibilityScore.id.desc()).limit(1)).first()


def score_row(measure: eligibility.Measure, scoring: eligibility.Scoring, *, household_id: int,
              case_id: int | None, directorate_id: int, actor_id: int | None, now: dt.datetime,
              previous: EligibilityScore | ScoreBefore | None) -> dict[str, Any]:
    """The stored form of one scoring: the household's results without the rules' words, which the
    ``rule_versions`` copy of the version's files keeps (so the explanation reads the same later).

    ``previous`` is the household's latest score before this one: the row says what changed since it.
    The measure's rule version must be kept (``keep_rule_version``) in the same transaction.
    """
    details = scoring.to_dict()
    del details["indicators"], details["inputs"]
    # The category table compared the unrounded income (a household value); the reason must match it.
    income = scoring.household_values.get("income_per_ae", scoring.income_per_ae)
    details["category_reason"] = eligibility.category_reason(measure, score=scoring.score_exact,
                                                             income_per_ae=income)
    return {"household_id": household_id, "case_id": case_id, "directorate_id": directorate_id,
            "rule_version": scoring.rule_version, "inputs": scoring.inputs,
            "indicators": stored_indicators(scoring.indicators),
            "score": scoring.score, "score_exact": scoring.score_exact, "category": scoring.category,
            # The rest of the scoring (lines, cut-offs, counts); indicators and inputs have columns of their own.
            "details": details, "created_at": now, "created_by_id": actor_id,
            "previous_score_id": previous.id if previous is not None else None,
            "reasons": change_reasons(measure, scoring, previous)}


#: The columns a new score is written with (its id comes from the table).
_SCORE_COLUMNS = ("household_id", "case_id", "directorate_id", "rule_version", "inputs", "indicators", "score",
                  "score_exact", "category", "details", "created_at", "created_by_id", "previous_score_id", "reasons")
_JSON_COLUMNS = frozenset(("inputs", "indicators", "details", "reasons"))


def insert_scores(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write many new scores (``score_row`` dicts) in the session's transaction; only flushes.

    PostgreSQL: one COPY, the JSON written as UTF-8 text (a score is ~15 KB of JSON, most of it Arabic and
    English labels: ``\\u`` escapes would double what the server parses). Elsewhere: one executemany.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(EligibilityScore), rows)
        return
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY eligibility_scores ({', '.join(_SCORE_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([dumps(row[name]) if name in _JSON_COLUMNS else row[name] for name in _SCORE_COLUMNS])
    cursor.close()


# --- recomputing ---------------------------------------------------------------------------------

class Outcome(enum.StrEnum):
    CONFIRMED = "confirmed"
    DIFFERS = "differs"
    RULES_NOT_STORED = "rules_not_stored"
    RULES_ALTERED = "rules_altered"
    RULES_UNREADABLE = "rules_unreadable"


@dataclass
class Difference:
    """One result that came out otherwise: ``what`` names it (``indicator:<key>`` for an indicator)."""

    what: str
    stored: Any
    recomputed: Any


@dataclass
class Recomputation:
    score_id: int
    household_id: int
    rule_version: str
    as_of: str | None
    outcome: Outcome
    differences: list[Difference] = field(default_factory=list)
    problem: str | None = None

    @property
    def confirmed(self) -> bool:
        return self.outcome is Outcome.CONFIRMED


#: The results compared besides the indicators: score, category, counts, income, cut-offs and lines.
_COMPARED = ("score_exact", "category", "deprived_indicators", "deprived_dimensions", "income_per_ae",
             "multidimensionally_poor", "k", "deep_k", "poverty_line", "deep_poverty_line", "household_values")


def _as_of(score: EligibilityScore) -> dt.date:
    from registry.operations import local_date

    stored = (score.details or {}).get("as_of")
    return dt.date.fromisoformat(stored) if stored else local_date(score.created_at)


def _differences(score: EligibilityScore, again: eligibility.Scoring) -> list[Difference]:
    stored = dict(score.details or {})
    stored.update(score_exact=score.score_exact, category=score.category)
    fresh = _plain(again.to_dict())
    found = [Difference(what=name, stored=_plain(stored.get(name)), recomputed=fresh.get(name))
             for name in _COMPARED if name in stored and _plain(stored.get(name)) != fresh.get(name)]
    before = {row.get("key"): row for row in score.indicators or []}
    after = {row["key"]: row for row in fresh["indicators"]}
    for key in list(before) + [key for key in after if key not in before]:
        old, new = before.get(key) or {}, after.get(key) or {}
        old_result = _plain({"value": old.get("value"), "deprived": old.get("deprived")}) if old else None
        new_result = {"value": new.get("value"), "deprived": new.get("deprived")} if new else None
        if old_result != new_result:
            found.append(Difference(what=f"indicator:{key}", stored=old_result, recomputed=new_result))
    return found


def recompute(session: Session, score: EligibilityScore,
              measures: dict[str, eligibility.Measure] | None = None) -> Recomputation:
    """Score the stored inputs again with the stored rules of the score's version, and compare.

    ``measures`` caches compiled rule versions across many calls (e.g. recomputing every score).
    """
    as_of = _as_of(score)
    result = Recomputation(score_id=score.id, household_id=score.household_id, rule_version=score.rule_version,
                           as_of=as_of.isoformat(), outcome=Outcome.CONFIRMED)
    cache = measures if measures is not None else {}
    try:
        measure = cache.get(score.rule_version) or stored_measure(session, score.rule_version)
    except RulesNotStored:
        result.outcome, result.problem = Outcome.RULES_NOT_STORED, "the rules of this version are not stored"
        return result
    except RulesAltered as err:
        result.outcome, result.problem = Outcome.RULES_ALTERED, str(err)
        return result
    except RulesUnreadable as err:
        result.outcome, result.problem = Outcome.RULES_UNREADABLE, f"today's scorer cannot read these rules: {err}"
        return result
    cache[score.rule_version] = measure
    again = eligibility.score_household(measure, score.inputs or {}, as_of=as_of)
    result.differences = _differences(score, again)
    if result.differences:
        result.outcome = Outcome.DIFFERS
    return result


def recompute_for_actor(session: Session, *, actor: User, score_id: int) -> Recomputation:
    """Recompute a score of the actor's directorate; another directorate's scores do not exist for them."""
    score = session.get(EligibilityScore, score_id)
    if score is None or actor.directorate is None or score.directorate_id != actor.directorate.id:
        raise NotFoundForActor(str(score_id))
    return recompute(session, score)


def recompute_all(session: Session, *, score_ids: list[int] | None = None, batch: int = 500,
                  progress: Callable[[int], None] | None = None) -> Iterator[Recomputation]:
    """Recompute every stored score (or those of ``score_ids``), a batch at a time, each version compiled once."""
    ids = score_ids if score_ids is not None else list(session.scalars(
        select(EligibilityScore.id).order_by(EligibilityScore.id)))
    measures: dict[str, eligibility.Measure] = {}
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        rows = session.scalars(select(EligibilityScore).where(EligibilityScore.id.in_(chunk))
                               .order_by(EligibilityScore.id))
        for score in rows:
            yield recompute(session, score, measures)
        session.expunge_all()  # a registry holds a million scores: keep memory flat
        if progress:
            progress(len(chunk))


# --- comparing two scores ------------------------------------------------------------------------

@dataclass
class IndicatorChange:
    key: str
    label: Mapping[str, str]
    dimension_label: Mapping[str, str] | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass
class ValueChange:
    """An input or a worked-out value that differs; ``name`` is a field, ``member`` a member's place (from 1)."""

    name: str
    before: Any
    after: Any
    member: int | None = None


@dataclass
class ScoreComparison:
    case: Case
    a: EligibilityScore
    b: EligibilityScore
    indicators: list[IndicatorChange]
    inputs: list[ValueChange]
    values: list[ValueChange]

    @property
    def rules_changed(self) -> bool:
        return self.a.rule_version != self.b.rule_version


def _visible_score(session: Session, *, case: Case, score_id: int) -> EligibilityScore:
    """A score the case page shows: the case's own, or its household's in the case's directorate."""
    score = session.scalar(select(EligibilityScore).where(EligibilityScore.id == score_id, or_(
        EligibilityScore.case_id == case.id,
        and_(EligibilityScore.household_id == case.household_id,
             EligibilityScore.directorate_id == case.directorate_id))))
    if score is None:
        raise NotFoundForActor(str(score_id))
    return score


def _input_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[ValueChange]:
    a, b = _plain(dict(a or {})), _plain(dict(b or {}))
    changes = [ValueChange(name=name, before=a.get(name), after=b.get(name))
               for name in sorted((set(a) | set(b)) - {"members"}) if a.get(name) != b.get(name)]
    members_a, members_b = a.get("members") or [], b.get("members") or []
    for position in range(max(len(members_a), len(members_b))):
        old = members_a[position] if position < len(members_a) else None
        new = members_b[position] if position < len(members_b) else None
        if old is None or new is None:
            changes.append(ValueChange(name="member", before=old, after=new, member=position + 1))
            continue
        changes += [ValueChange(name=name, before=old.get(name), after=new.get(name), member=position + 1)
                    for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]
    return changes


def compare_scores(session: Session, *, actor: User, case_id: int, a_id: int, b_id: int) -> ScoreComparison:
    """Two scores of a case side by side: indicators whose result differs, inputs and values that differ."""
    case = case_for_actor(session, actor=actor, case_id=case_id)
    a = _visible_score(session, case=case, score_id=a_id)
    b = _visible_score(session, case=case, score_id=b_id)
    before = {row.get("key"): row for row in a.indicators or []}
    after = {row.get("key"): row for row in b.indicators or []}
    indicators = []
    for key in list(before) + [key for key in after if key not in before]:
        old, new = before.get(key), after.get(key)
        old_result = None if old is None else _plain({"value": old.get("value"), "deprived": old.get("deprived")})
        new_result = None if new is None else _plain({"value": new.get("value"), "deprived": new.get("deprived")})
        if old_result != new_result:
            shown = new or old or {}
            indicators.append(IndicatorChange(key=str(key), label=shown.get("label") or {},
                                              dimension_label=shown.get("dimension_label"),
                                              before=old_result, after=new_result))
    details_a, details_b = a.details or {}, b.details or {}
    shown = ("as_of", "income_per_ae", "k", "deep_k", "poverty_line", "deep_poverty_line")
    values = [ValueChange(name=name, before=details_a.get(name), after=details_b.get(name))
              for name in shown if _plain(details_a.get(name)) != _plain(details_b.get(name))]
    values += [change for change in _input_changes(details_a.get("household_values") or {},
                                                   details_b.get("household_values") or {})
               if change.name not in shown]
    return ScoreComparison(case=case, a=a, b=b, indicators=indicators, inputs=_input_changes(a.inputs, b.inputs),
                           values=values)
