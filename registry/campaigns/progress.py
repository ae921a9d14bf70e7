"""How far a campaign has got: per directorate, per case manager and per day, and when it will finish.

Every figure is a grouped query over ``campaign_visits`` (one row per attempt: a household not found or
refusing gets a second row, attempt 2) and the task index; nothing is counted in Python but the folding of
hours into the ministry's days. The words, in one place:

- *visited*: attempts with an outcome (updated + not found + refused), counted on the day of the visit;
- *remaining*: attempts still open (no outcome yet), whatever the date filter says: it is what is left now;
- *category changes*: updated visits whose poverty category after the visit differs from the one before;
  *poorer* when the new category is a poorer one, *less poor* when it is a less poor one (a change to or
  from "incomplete" is a change without a direction);
- *forecast*: the open attempts divided by the pace of the last working days, counted forward in working
  days from tomorrow.

Scope: a supervisor sees the campaign's figures for their own directorate; the administrator sees every
directorate of the campaign; anyone else, or a supervisor whose directorate the campaign does not cover,
is told the campaign does not exist.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.orm import Session

from engine.errors import NotFoundForActor
from engine.models import TaskRecord, TaskState
from registry.campaigns.allocation_rules import AllocationRulesInvalid, load_allocation_rules
from registry.campaigns.models import Campaign, CampaignDirectorate, Visit, VisitOutcome
from registry.campaigns.services import SPOT_CHECK_TASK
from registry.eligibility import CATEGORIES
from registry.models import Directorate, Role, User
from registry.operations import MINISTRY_TIMEZONE, local_date

#: Poverty categories from the poorest to the least poor: the category contract's first three names
#: (the fourth, "incomplete", has no place in this order).
POVERTY_ORDER: tuple[str, ...] = CATEGORIES[:3]
#: The working days of the last this many working days set the pace of the forecast.
PACE_WINDOW = 10
#: Without allocation rules naming them, every day but Friday is a working day (Python's weekday numbers).
DEFAULT_WORKING_WEEKDAYS = frozenset({0, 1, 2, 3, 5, 6})
#: Who sees every directorate of a campaign.
_MINISTRY_ROLES = frozenset({Role.ADMIN.value})


@dataclass(frozen=True)
class ProgressFilter:
    """What the reader narrowed the figures to; ``None`` means everything in their scope."""

    directorate_code: str | None = None
    worker_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass(frozen=True)
class Figures:
    """The counts of one group of visits (the whole campaign, a directorate, a worker or a day)."""

    households: int = 0
    attempts: int = 0
    visited: int = 0
    updated: int = 0
    not_found: int = 0
    refused: int = 0
    remaining: int = 0
    changed: int = 0
    poorer: int = 0
    less_poor: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


@dataclass(frozen=True)
class GroupRow:
    """A directorate's or a worker's figures; ``key`` is the directorate code or the worker's id."""

    key: str
    names: Mapping[str, str]
    figures: Figures
    spot_checks_waiting: int = 0
    spot_checks_done: int = 0

    def name(self, lang: str) -> str:
        return self.names.get(lang) or self.names.get("en", "")


@dataclass(frozen=True)
class DayRow:
    day: dt.date
    figures: Figures
    planned: int
    #: None for a day still to come.
    cumulative_visited: int | None
    cumulative_planned: int
    working: bool


@dataclass(frozen=True)
class Forecast:
    """When the open attempts will be done at the recent pace (``finishes_on`` is None without a pace)."""

    remaining: int
    pace: float
    window_days: int
    finishes_on: dt.date | None
    working_days_ahead: int | None
    ends_on: dt.date

    @property
    def done(self) -> bool:
        return self.remaining == 0

    @property
    def late(self) -> bool:
        return self.finishes_on is not None and self.finishes_on > self.ends_on


@dataclass
class CampaignProgress:
    campaign: Campaign
    filters: ProgressFilter
    today: dt.date
    directorates: list[Directorate]
    workers: list[User]
    totals: Figures
    by_directorate: list[GroupRow]
    by_worker: list[GroupRow]
    by_day: list[DayRow]
    forecast: Forecast
    spot_checks_waiting: int
    spot_checks_done: int
    calendar: WorkCalendar
    plan_from_allocation: bool = field(default=False)


# --- working days ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkCalendar:
    """The days campaign staff go out: working weekdays (0 = Monday) less the official holidays."""

    weekdays: frozenset[int] = DEFAULT_WORKING_WEEKDAYS
    holidays: frozenset[dt.date] = frozenset()
    #: Whether the allocation rules named the weekdays (else the default: every day but Friday).
    from_rules: bool = False

    def is_working(self, day: dt.date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays


def work_calendar(rules_dir: str | Path | None) -> WorkCalendar:
    """The working weekdays and holidays of the allocation rules (rules/campaign_allocation.yaml); when
    that file is missing or unusable, every day but Friday, with no holidays."""
    try:
        rules = load_allocation_rules(rules_dir)
    except AllocationRulesInvalid:
        return WorkCalendar()
    return WorkCalendar(weekdays=rules.working_weekdays, holidays=rules.holidays, from_rules=True)


def forecast_completion(*, remaining: int, done_by_day: Mapping[dt.date, int], today: dt.date,
                        starts_on: dt.date, ends_on: dt.date, calendar: WorkCalendar,
                        window: int = PACE_WINDOW) -> Forecast:
    """The finishing day at the pace of the last ``window`` whole working days before today.

    The pace is the visits done from the first of those days (not before the campaign started) until
    yesterday, days off included, divided by the number of working days among them; the
    open attempts divided by the pace, rounded up, is the number of working days still needed, counted
    from tomorrow (today's visits are still coming in, so today is not counted as a day ahead).
    """
    days: list[dt.date] = []
    day = today - dt.timedelta(days=1)
    while len(days) < window and day >= starts_on:
        if calendar.is_working(day):
            days.append(day)
        day -= dt.timedelta(days=1)
    # Visits done on a day off within the window count too: they are work done in those days.
    done = sum(n for d, n in done_by_day.items() if days[-1] <= d < today) if days else 0
    pace = done / len(days) if days else 0.0
    if remaining == 0:
        return Forecast(remaining=0, pace=pace, window_days=len(days), finishes_on=None, working_days_ahead=0,
                        ends_on=ends_on)
    if pace <= 0:
        return Forecast(remaining=remaining, pace=0.0, window_days=len(days), finishes_on=None,
                        working_days_ahead=None, ends_on=ends_on)
    ahead = -(-remaining * len(days) // done)  # remaining / pace, rounded up, in whole numbers
    return Forecast(remaining=remaining, pace=pace, window_days=len(days), ends_on=ends_on,
                    finishes_on=nth_working_day_after(today, ahead, calendar), working_days_ahead=ahead)


def nth_working_day_after(day: dt.date, count: int, calendar: WorkCalendar) -> dt.date:
    """The ``count``-th working day after ``day`` (``day`` itself not counted)."""
    if not calendar.weekdays:
        raise ValueError("no working weekday")
    while count > 0:
        day += dt.timedelta(days=1)
        if calendar.is_working(day):
            count -= 1
    return day


# --- scope ----------------------------------------------------------------------------------------------

def visible_directorate_ids(session: Session, *, actor: User, campaign: Campaign) -> list[int]:
    """The campaign's directorates whose figures ``actor`` may see (empty: none)."""
    covered = list(session.scalars(select(CampaignDirectorate.directorate_id)
                                   .where(CampaignDirectorate.campaign_id == campaign.id)))
    if not actor.active:
        return []
    if actor.role in _MINISTRY_ROLES:
        return covered
    if actor.role == Role.SUPERVISOR.value and actor.directorate_id in covered:
        return [actor.directorate_id]
    return []


def campaign_for_progress(session: Session, *, actor: User, campaign_id: int) -> tuple[Campaign, list[int]]:
    """The campaign and the directorates ``actor`` sees of it; NotFoundForActor when none."""
    campaign = session.get(Campaign, campaign_id)
    scope = visible_directorate_ids(session, actor=actor, campaign=campaign) if campaign else []
    if campaign is None or not scope:
        raise NotFoundForActor(f"campaign {campaign_id}")
    return campaign, scope


def campaigns_for_progress(session: Session, *, actor: User) -> list[Campaign]:
    """The campaigns whose progress ``actor`` may see, newest first."""
    if not actor.active:
        return []
    query = select(Campaign).order_by(Campaign.starts_on.desc(), Campaign.id.desc())
    if actor.role in _MINISTRY_ROLES:
        return list(session.scalars(query))
    if actor.role == Role.SUPERVISOR.value and actor.directorate_id is not None:
        covered = select(CampaignDirectorate.campaign_id).where(
            CampaignDirectorate.directorate_id == actor.directorate_id)
        return list(session.scalars(query.where(Campaign.id.in_(covered))))
    return []


# --- the figures ----------------------------------------------------------------------------------------

def campaign_progress(session: Session, *, actor: User, campaign_id: int, filters: ProgressFilter,
                      now: dt.datetime, rules_dir: str | Path | None) -> CampaignProgress:
    """Every figure of the progress page, in the actor's scope and narrowed by ``filters``."""
    campaign, scope = campaign_for_progress(session, actor=actor, campaign_id=campaign_id)
    directorates = list(session.scalars(select(Directorate).where(Directorate.id.in_(scope))
                                        .order_by(Directorate.code)))
    chosen = _chosen_directorates(directorates, filters.directorate_code)
    where = [Visit.campaign_id == campaign.id, Visit.directorate_id.in_([d.id for d in chosen])]
    worker_ids = list(session.scalars(select(Visit.case_manager_id).distinct().where(
        *where, Visit.case_manager_id.is_not(None))))
    workers = sorted(session.scalars(select(User).where(User.id.in_(worker_ids))),
                     key=lambda u: u.full_name.lower()) if worker_ids else []
    if filters.worker_id is not None:
        where.append(Visit.case_manager_id == filters.worker_id)
    in_range = _in_range(filters)

    totals = next(iter(_grouped(session, where, in_range, None).values()), Figures())
    names = {d.id: {"ar": d.name_ar, "en": d.name_en} for d in directorates}
    codes = {d.id: d.code for d in directorates}
    checks = _spot_checks(session, where)
    by_directorate = [GroupRow(key=codes[key], names=names[key], figures=figures,
                               spot_checks_waiting=checks.get(key, (0, 0))[0],
                               spot_checks_done=checks.get(key, (0, 0))[1])
                      for key, figures in sorted(_grouped(session, where, in_range, Visit.directorate_id).items(),
                                                 key=lambda item: codes[item[0]])]
    people = {u.id: {"ar": u.full_name_ar or u.full_name, "en": u.full_name} for u in workers}
    by_worker = [GroupRow(key=str(key) if key is not None else "", names=people.get(key, {}), figures=figures)
                 for key, figures in _grouped(session, where, in_range, Visit.case_manager_id).items()]
    by_worker.sort(key=lambda row: (row.key == "", row.name("en").lower()))

    calendar = work_calendar(rules_dir)
    today = local_date(now)
    done = _done_by_day(session, where)
    planned, from_allocation = _planned_by_day(session, where, campaign, totals.attempts, calendar)
    by_day = _days(done, planned, campaign, filters, today, calendar)
    forecast = forecast_completion(
        remaining=totals.remaining, today=today, starts_on=campaign.starts_on, ends_on=campaign.ends_on,
        calendar=calendar, done_by_day={day: f.visited for day, f in done.items()})
    return CampaignProgress(
        campaign=campaign, filters=filters, today=today, directorates=directorates, workers=workers,
        totals=totals, by_directorate=by_directorate, by_worker=by_worker, by_day=by_day, forecast=forecast,
        spot_checks_waiting=sum(w for w, _ in checks.values()), spot_checks_done=sum(d for _, d in checks.values()),
        calendar=calendar, plan_from_allocation=from_allocation)


def _chosen_directorates(directorates: list[Directorate], code: str | None) -> list[Directorate]:
    if not code:
        return directorates
    chosen = [d for d in directorates if d.code == code]
    if not chosen:
        raise NotFoundForActor(f"directorate {code}")
    return chosen


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=MINISTRY_TIMEZONE).astimezone(dt.UTC)


def _in_range(filters: ProgressFilter) -> ColumnElement[bool]:
    """Visited within the filter's days (the ministry's days, from midnight to midnight)."""
    conditions: list[ColumnElement[bool]] = [Visit.outcome.is_not(None)]
    if filters.date_from is not None:
        conditions.append(Visit.visited_at >= _local_midnight(filters.date_from))
    if filters.date_to is not None:
        conditions.append(Visit.visited_at < _local_midnight(filters.date_to + dt.timedelta(days=1)))
    return and_(*conditions)


def _rank(column: Any) -> Any:
    return case(*((column == name, rank) for rank, name in enumerate(POVERTY_ORDER)), else_=None)


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _figure_columns(in_range: ColumnElement[bool]) -> list[Any]:
    """The aggregate columns of Figures, in its field order."""
    updated = and_(in_range, Visit.outcome == VisitOutcome.UPDATED.value)
    changed = and_(updated, Visit.category_before.is_not(None), Visit.category_after.is_not(None),
                   Visit.category_before != Visit.category_after)
    return [
        func.count(func.distinct(Visit.household_id)),
        func.count(Visit.id),
        _count(in_range),
        _count(updated),
        _count(and_(in_range, Visit.outcome == VisitOutcome.NOT_FOUND.value)),
        _count(and_(in_range, Visit.outcome == VisitOutcome.REFUSED.value)),
        _count(Visit.outcome.is_(None)),
        _count(changed),
        _count(and_(changed, _rank(Visit.category_after) < _rank(Visit.category_before))),
        _count(and_(changed, _rank(Visit.category_after) > _rank(Visit.category_before))),
    ]


def _grouped(session: Session, where: list[Any], in_range: ColumnElement[bool],
             key: Any) -> dict[Any, Figures]:
    """One grouped query: the figures per value of ``key`` (or of everything, with ``key`` None)."""
    columns = _figure_columns(in_range)
    query: Select[Any] = select(*(columns if key is None else [key, *columns])).where(*where)
    if key is not None:
        query = query.group_by(key)
    out: dict[Any, Figures] = {}
    for row in session.execute(query):
        values = tuple(row) if key is None else tuple(row)[1:]
        if key is None and not values[1]:
            continue
        out[None if key is None else row[0]] = Figures(*(int(v or 0) for v in values))
    return out


def _hour_bucket(session: Session) -> Any:
    """The UTC hour of a visit as text, ``YYYY-MM-DD HH``, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", Visit.visited_at), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", Visit.visited_at)


def _done_by_day(session: Session, where: list[Any]) -> dict[dt.date, Figures]:
    """Visits done per ministry day: grouped by UTC hour in SQL, the hours folded into local days here
    (SQLite knows no time zones; an hour never straddles two local days, as Palestine's offsets are whole
    hours)."""
    bucket = _hour_bucket(session)
    done = Visit.outcome.is_not(None)
    columns = _figure_columns(done)[2:]  # households, attempts and remaining mean nothing per day
    query = (select(bucket, *columns).where(*where, done, Visit.visited_at.is_not(None))
             .group_by(bucket))
    out: dict[dt.date, Figures] = defaultdict(Figures)
    for row in session.execute(query):
        hour = dt.datetime.strptime(str(row[0]), "%Y-%m-%d %H").replace(tzinfo=dt.UTC)
        visited, updated, not_found, refused, _, changed, poorer, less_poor = (int(v or 0) for v in tuple(row)[1:])
        out[local_date(hour)] += Figures(visited=visited, updated=updated, not_found=not_found, refused=refused,
                                         changed=changed, poorer=poorer, less_poor=less_poor)
    return dict(out)


def _planned_by_day(session: Session, where: list[Any], campaign: Campaign, attempts: int,
                    calendar: WorkCalendar) -> tuple[dict[dt.date, int], bool]:
    """Attempts planned per day: the allocation's days when visits have them, else an even spread of all
    attempts over the campaign's working days."""
    query = (select(Visit.planned_on, func.count(Visit.id)).where(*where, Visit.planned_on.is_not(None))
             .group_by(Visit.planned_on))
    planned = {day: int(count) for day, count in session.execute(query)}
    if planned:
        return planned, True
    days = [d for d in _dates(campaign.starts_on, campaign.ends_on) if calendar.is_working(d)]
    if not days or not attempts:
        return {}, False
    share, extra = divmod(attempts, len(days))
    return {day: share + (1 if i < extra else 0) for i, day in enumerate(days)}, False


def _dates(first: dt.date, last: dt.date) -> Iterable[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def _days(done: Mapping[dt.date, Figures], planned: Mapping[dt.date, int], campaign: Campaign,
          filters: ProgressFilter, today: dt.date, calendar: WorkCalendar) -> list[DayRow]:
    """One row per day of the campaign (and any day outside it with visits or a plan), cumulative from
    the first; the filter's dates choose which rows are shown, not where the sums start."""
    known = [*done, *planned]
    first = min([campaign.starts_on, *known])
    last = max([campaign.ends_on, *known])
    rows: list[DayRow] = []
    total_done = total_planned = 0
    for day in _dates(first, last):
        figures = done.get(day, Figures())
        total_done += figures.visited
        total_planned += planned.get(day, 0)
        if filters.date_from is not None and day < filters.date_from:
            continue
        if filters.date_to is not None and day > filters.date_to:
            continue
        working = calendar.is_working(day)
        if not working and not figures.visited and not planned.get(day):
            continue
        rows.append(DayRow(day=day, figures=figures, planned=planned.get(day, 0), working=working,
                           cumulative_visited=total_done if day <= today else None,
                           cumulative_planned=total_planned))
    return rows


def _spot_checks(session: Session, where: list[Any]) -> dict[int, tuple[int, int]]:
    """The supervisors' spot-checks of the campaign's visits per directorate, waiting and done: from the task
    index (the visit process's spot-check task, joined to its visit by process instance)."""
    query = (select(Visit.directorate_id, _count(TaskRecord.state == TaskState.READY.value),
                    _count(TaskRecord.state == TaskState.COMPLETED.value))
             .join(TaskRecord, TaskRecord.instance_id == Visit.instance_id)
             .where(*where, TaskRecord.spec_id == SPOT_CHECK_TASK)
             .group_by(Visit.directorate_id))
    return {key: (int(waiting), int(done)) for key, waiting, done in session.execute(query)}
