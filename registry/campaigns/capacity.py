"""Supervisors set a case manager's daily visit quota and days off; each change is audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor
from registry.audit import record_event
from registry.campaigns.allocation import case_managers, directorate_case_manager, planning_directorate
from registry.campaigns.allocation_rules import MAX_VISITS_PER_DAY, load_allocation_rules
from registry.campaigns.staff_models import StaffDayOff, StaffQuota
from registry.models import User

MAX_REASON = 200
#: How far ahead a day off may be entered.
MAX_DAYS_AHEAD = 400


@dataclass(frozen=True)
class StaffCapacity:
    user: User
    visits_per_day: int
    #: False: the rule file's default applies.
    own_quota: bool
    days_off: list[StaffDayOff]


def team_capacity(session: Session, *, actor: User, today: dt.date,
                  rules_dir: str | Path | None = None) -> list[StaffCapacity]:
    """The directorate's case managers with their quota and their days off from ``today`` on."""
    directorate = planning_directorate(session, actor)
    rules = load_allocation_rules(rules_dir)
    people = case_managers(session, directorate_id=directorate.id)
    ids = [person.id for person in people]
    quotas = {q.user_id: q.visits_per_day for q in session.scalars(select(StaffQuota).where(
        StaffQuota.user_id.in_(ids)))}
    days_off: dict[int, list[StaffDayOff]] = {person: [] for person in ids}
    for day_off in session.scalars(select(StaffDayOff).where(StaffDayOff.user_id.in_(ids), StaffDayOff.day >= today)
                                   .order_by(StaffDayOff.day)):
        days_off[day_off.user_id].append(day_off)
    return [StaffCapacity(user=person, visits_per_day=quotas.get(person.id, rules.visits_per_day),
                          own_quota=person.id in quotas, days_off=days_off[person.id]) for person in people]


def set_quota(session: Session, *, actor: User, user_id: int, visits_per_day: int | None,
              now: dt.datetime) -> StaffQuota | None:
    """Set one case manager's daily quota; None goes back to the rule file's default."""
    directorate = planning_directorate(session, actor)
    person = directorate_case_manager(session, directorate_id=directorate.id, user_id=user_id)
    if visits_per_day is not None and not 0 <= visits_per_day <= MAX_VISITS_PER_DAY:
        raise FormInvalid({"visits_per_day": ["out_of_range"]})
    quota = session.get(StaffQuota, person.id)
    before = quota.visits_per_day if quota else None
    if visits_per_day is None:
        if quota is not None:
            session.delete(quota)
        quota = None
    elif quota is None:
        quota = StaffQuota(user_id=person.id, visits_per_day=visits_per_day, updated_by_id=actor.id, updated_at=now)
        session.add(quota)
    else:
        quota.visits_per_day, quota.updated_by_id, quota.updated_at = visits_per_day, actor.id, now
    record_event(session, actor_id=actor.id, case_id=None, action="staff.quota_set", at=now, details={
        "user_id": person.id, "before": before, "after": visits_per_day})
    session.commit()
    return quota


def add_day_off(session: Session, *, actor: User, user_id: int, day: dt.date, reason: str,
                now: dt.datetime) -> StaffDayOff:
    """Record a day a case manager does not visit; the same day twice is refused."""
    directorate = planning_directorate(session, actor)
    person = directorate_case_manager(session, directorate_id=directorate.id, user_id=user_id)
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise FormInvalid({"reason": ["too_long"]})
    if (day - now.date()).days > MAX_DAYS_AHEAD:
        raise FormInvalid({"day": ["date_too_far"]})
    if session.scalar(select(StaffDayOff.id).where(StaffDayOff.user_id == person.id, StaffDayOff.day == day)):
        raise FormInvalid({"day": ["day_off_exists"]})
    day_off = StaffDayOff(user_id=person.id, day=day, reason=reason, created_by_id=actor.id, created_at=now)
    session.add(day_off)
    record_event(session, actor_id=actor.id, case_id=None, action="staff.day_off_added", at=now, details={
        "user_id": person.id, "day": day.isoformat(), "reason": reason})
    session.commit()
    return day_off


def remove_day_off(session: Session, *, actor: User, day_off_id: int, now: dt.datetime) -> None:
    directorate = planning_directorate(session, actor)
    day_off = session.get(StaffDayOff, day_off_id)
    if day_off is None:
        raise NotFoundForActor("day off")
    directorate_case_manager(session, directorate_id=directorate.id, user_id=day_off.user_id)
    record_event(session, actor_id=actor.id, case_id=None, action="staff.day_off_removed", at=now, details={
        "user_id": day_off.user_id, "day": day_off.day.isoformat(), "reason": day_off.reason})
    session.delete(day_off)
    session.commit()
