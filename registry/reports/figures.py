"""Each figure of the dashboards as one grouped query per directorate; only medians are taken in Python.

The words, in one place (every figure is counted per directorate of the case or household):

- *registrations*: cases opened in the period, by ``cases.channel`` (``reception`` is a walk-in, ``online``
  came through the portal);
- *decisions*: approvals are eligibility reviews completed in the period with the decision ``approve``;
  rejections are ``case_rejected`` audit events in the period (a review's rejection or an online check's);
- *cases by stage*: open cases today, by the stage they are at (not limited to the period);
- *time in stage*: for each case and stage whose tasks are all done and whose last task was completed in the
  period, the days from the first of them becoming ready to the last being completed, less the time they
  waited on the household; the figure is the median over those cases;
- *overdue tasks*: ready tasks of cases past their staff due date today; a task waiting on the household is
  paused, never overdue (as in the inbox);
- *poverty distribution*: each household's latest score made before the period ends, by category;
- *plan outcomes*: outcome evaluations completed in the period that closed the case, by goals achieved;
- *referrals*: referrals made in the period, by partner and status (when the referrals table exists).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, case, column, func, inspect, select, table
from sqlalchemy.orm import Session

from engine.db import UTCDateTime
from engine.models import TaskRecord, TaskState
from registry.eligibility import CATEGORIES
from registry.models import AuditEvent, Case, CaseStatus, EligibilityScore, Household
from registry.reports.period import Period

#: The forms whose answers the figures read (files in forms/), and the answers they count.
REVIEW_FORM = "eligibility_review"
APPROVED = "approve"
OUTCOME_FORM = "outcome_evaluation"
CLOSED = "close"
GOALS_FIELD = "goals_achieved"
#: The audit action a rejection writes (registry.operations.close_case).
REJECTED_ACTION = f"case_{CaseStatus.REJECTED.value}"
#: Channels in the order the tables list them; others follow by name.
CHANNELS = ("reception", "online")
SECONDS_PER_DAY = 86400.0

Number = int | float


@dataclass(frozen=True)
class Figure:
    """One figure: a value per (row, directorate id), the rows in the order to show them, and a total per row
    across the chosen directorates (a sum for counts, the median of every case for days)."""

    key: str
    unit: str
    rows: list[str]
    values: dict[tuple[str, int], Number]
    totals: dict[str, Number]
    #: Words for rows that are data, not vocabulary (a partner's name): row -> {"en": ..., "ar": ...}.
    row_names: dict[str, dict[str, str]] = field(default_factory=dict)

    def value(self, row: str, directorate_id: int) -> Number | None:
        found = self.values.get((row, directorate_id))
        if found is None and self.unit == "count":
            return 0
        return found

    def total(self) -> Number:
        return sum(v for v in self.totals.values()) if self.unit == "count" else 0


def _counted(key: str, found: Iterable[Any], order: Iterable[str] = (),
             row_names: dict[str, dict[str, str]] | None = None) -> Figure:
    """A count figure from (row, directorate id, count) rows: listed rows first, then the rest by name."""
    values: dict[tuple[str, int], Number] = {}
    totals: dict[str, Number] = defaultdict(int)
    for row, directorate_id, count in found:
        name = str(row)
        values[(name, directorate_id)] = values.get((name, directorate_id), 0) + int(count)
        totals[name] += int(count)
    listed = [r for r in order]
    rows = listed + sorted(r for r in totals if r not in listed)
    return Figure(key=key, unit="count", rows=rows, values=values, totals=dict(totals), row_names=row_names or {})


def _in(column_: Any, period: Period) -> ColumnElement[bool]:
    return and_(column_ >= period.starts_at, column_ < period.ends_at)


def _case_tasks() -> Any:
    """Task rows of cases (a complaint's or a campaign visit's tasks belong to no case)."""
    return select().select_from(TaskRecord).join(Case, Case.instance_id == TaskRecord.instance_id)


def registrations(session: Session, *, directorate_ids: list[int], period: Period) -> Figure:
    found = session.execute(
        select(Case.channel, Case.directorate_id, func.count())
        .where(Case.directorate_id.in_(directorate_ids), _in(Case.created_at, period))
        .group_by(Case.channel, Case.directorate_id))
    return _counted("registrations", found, CHANNELS)


def decisions(session: Session, *, directorate_ids: list[int], period: Period) -> Figure:
    approved = session.execute(
        _case_tasks().add_columns(Case.directorate_id, func.count())
        .where(Case.directorate_id.in_(directorate_ids), TaskRecord.form_key == REVIEW_FORM,
               TaskRecord.state == TaskState.COMPLETED.value, _in(TaskRecord.completed_at, period),
               TaskRecord.data["decision"].as_string() == APPROVED)
        .group_by(Case.directorate_id))
    rejected = session.execute(
        select(Case.directorate_id, func.count()).select_from(AuditEvent).join(Case, Case.id == AuditEvent.case_id)
        .where(Case.directorate_id.in_(directorate_ids), AuditEvent.action == REJECTED_ACTION,
               _in(AuditEvent.at, period))
        .group_by(Case.directorate_id))
    rows = [("approved", d, n) for d, n in approved] + [("rejected", d, n) for d, n in rejected]
    return _counted("decisions", rows, ("approved", "rejected"))


def stages(session: Session, *, directorate_ids: list[int], stage_order: list[str]) -> Figure:
    found = session.execute(
        select(Case.stage, Case.directorate_id, func.count())
        .where(Case.directorate_id.in_(directorate_ids), Case.status == CaseStatus.OPEN.value)
        .group_by(Case.stage, Case.directorate_id))
    figure = _counted("stages", found)
    listed = [s for s in stage_order if s in figure.totals]  # the process's order; other processes' stages left out
    return Figure(key=figure.key, unit="count", rows=listed + [r for r in figure.rows if r not in listed],
                  values=figure.values, totals=figure.totals)


def overdue(session: Session, *, directorate_ids: list[int], now: dt.datetime, stage_order: list[str]) -> Figure:
    found = session.execute(
        _case_tasks().add_columns(func.coalesce(TaskRecord.stage, ""), Case.directorate_id, func.count())
        .where(Case.directorate_id.in_(directorate_ids), TaskRecord.state == TaskState.READY.value,
               TaskRecord.due_at < now,
               # A task waiting on the household is paused: its staff due date stands still.
               TaskRecord.waiting_on.is_(None))
        .group_by(TaskRecord.stage, Case.directorate_id))
    figure = _counted("overdue", found)
    listed = [s for s in stage_order if s in figure.totals]
    return Figure(key=figure.key, unit="count", rows=listed + [r for r in figure.rows if r not in listed],
                  values=figure.values, totals=figure.totals)


def time_in_stage(session: Session, *, directorate_ids: list[int], period: Period,
                  stage_order: list[str]) -> Figure:
    """Median days per stage; the durations are one grouped query, the median is taken here (SQLite has none)."""
    last_done = func.max(TaskRecord.completed_at)
    found = session.execute(
        _case_tasks().add_columns(TaskRecord.stage, Case.directorate_id, func.min(TaskRecord.created_at), last_done,
                                  func.sum(TaskRecord.paused_seconds))
        .where(Case.directorate_id.in_(directorate_ids), TaskRecord.stage.is_not(None),
               TaskRecord.state != TaskState.CANCELLED.value)
        .group_by(TaskRecord.instance_id, TaskRecord.stage, Case.directorate_id)
        .having(func.sum(case((TaskRecord.state == TaskState.READY.value, 1), else_=0)) == 0,
                last_done >= period.starts_at, last_done < period.ends_at))
    durations: dict[tuple[str, int], list[float]] = defaultdict(list)
    for stage, directorate_id, first, last, paused in found:
        seconds = max((_aware(last) - _aware(first)).total_seconds() - float(paused or 0), 0.0)
        durations[(str(stage), directorate_id)].append(seconds / SECONDS_PER_DAY)
    by_stage: dict[str, list[float]] = defaultdict(list)
    for (stage, _directorate), days in durations.items():
        by_stage[stage].extend(days)
    listed = [s for s in stage_order if s in by_stage]
    return Figure(key="time_in_stage", unit="days", rows=listed + sorted(s for s in by_stage if s not in listed),
                  values={k: round(statistics.median(v), 1) for k, v in durations.items()},
                  totals={k: round(statistics.median(v), 1) for k, v in by_stage.items()})


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back a max()/min() of a datetime column as text or a naive value: read it as UTC."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def poverty(session: Session, *, directorate_ids: list[int], period: Period) -> Figure:
    latest = (select(func.max(EligibilityScore.id).label("id")).where(EligibilityScore.created_at < period.ends_at)
              .group_by(EligibilityScore.household_id).subquery())
    found = session.execute(
        select(EligibilityScore.category, Household.directorate_id, func.count())
        .join(latest, latest.c.id == EligibilityScore.id)
        .join(Household, Household.id == EligibilityScore.household_id)
        .where(Household.directorate_id.in_(directorate_ids))
        .group_by(EligibilityScore.category, Household.directorate_id))
    return _counted("poverty", found, CATEGORIES)


def plan_outcomes(session: Session, *, directorate_ids: list[int], period: Period,
                  choices: list[str]) -> Figure:
    goals = TaskRecord.data[GOALS_FIELD].as_string()
    found = session.execute(
        _case_tasks().add_columns(func.coalesce(goals, ""), Case.directorate_id, func.count())
        .where(Case.directorate_id.in_(directorate_ids), TaskRecord.form_key == OUTCOME_FORM,
               TaskRecord.state == TaskState.COMPLETED.value, _in(TaskRecord.completed_at, period),
               TaskRecord.data["decision"].as_string() == CLOSED)
        .group_by(goals, Case.directorate_id))
    return _counted("plan_outcomes", found, choices)


#: The referrals tables as agreed with the referrals work (registry/referrals/), read by name so the figure
#: needs nothing from that package and is left out while its tables do not exist.
_REFERRALS = table("referrals", column("id"), column("case_id"), column("partner_id"), column("status"),
                   column("created_at", UTCDateTime()))
_PARTNERS = table("partner_organisations", column("id"), column("code"), column("name_en"), column("name_ar"))


def referrals_available(session: Session) -> bool:
    found = inspect(session.connection())
    return bool(found.has_table("referrals") and found.has_table("partner_organisations"))


def referrals(session: Session, *, directorate_ids: list[int], period: Period) -> Figure | None:
    """Referrals by partner and status (row ``<partner code>/<status>``); None without the referrals tables."""
    if not referrals_available(session):
        return None
    r, p = _REFERRALS.c, _PARTNERS.c
    found = list(session.execute(
        select(p.code, p.name_en, p.name_ar, r.status, Case.directorate_id, func.count())
        .select_from(_REFERRALS).join(_PARTNERS, p.id == r.partner_id).join(Case, Case.id == r.case_id)
        .where(Case.directorate_id.in_(directorate_ids), _in(r.created_at, period))
        .group_by(p.code, p.name_en, p.name_ar, r.status, Case.directorate_id)))
    names = {f"{code}/{status}": {"en": str(name_en), "ar": str(name_ar or name_en), "status": str(status)}
             for code, name_en, name_ar, status, _d, _n in found}
    return _counted("referrals", ((f"{code}/{status}", d, n) for code, _e, _a, status, d, n in found),
                    row_names=names)
