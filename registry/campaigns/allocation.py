"""Who visits which household on which day: a directorate's campaign visits spread over its case managers'
days by locality, within each person's daily quota; the day's route; bulk reassignment on leave or departure.

Allocation plans only open visits that have no day yet (``planned_on`` is null): days already planned
are promises made to case managers (and maybe downloaded to their phones), so a second run fills in new
or returned visits (second attempts, visits a reassignment could not place) around them, counting the
visits already planned on each day against that day's quota. Re-planning an absent person's days is the
job of ``reassign_visits``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, select, update
from sqlalchemy.orm import Session, selectinload

from engine.errors import NotFoundForActor
from engine.models import TaskRecord, TaskState
from registry.audit import record_event
from registry.campaigns.allocation_rules import AllocationRules, load_allocation_rules
from registry.campaigns.models import Campaign, CampaignDirectorate, Visit
from registry.campaigns.staff_models import StaffDayOff, StaffQuota
from registry.errors import Conflict, NotPermitted
from registry.models import Directorate, Household, Role, User
from registry.operations import local_date

#: Roles that plan a directorate's visits.
PLANNING_ROLES = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})
#: How far past a campaign's end the report looks for the day an over-full directorate would finish.
LOOKAHEAD_DAYS = 3 * 366
#: Visits written per statement.
CHUNK = 5_000


@dataclass(frozen=True)
class WorkerLoad:
    user_id: int
    visits: int
    days: int
    first_day: dt.date | None
    last_day: dt.date | None


@dataclass(frozen=True)
class AllocationReport:
    campaign_id: int
    directorate_code: str
    #: Open visits that had no day when allocation started.
    considered: int
    allocated: int
    #: Visits left without a day: the case managers' capacity up to the campaign's end is not enough.
    unallocated: int
    first_day: dt.date | None
    last_day: dt.date | None
    #: With unallocated visits: the last day they would need at the same capacity (None: no capacity at all).
    needed_until: dt.date | None
    workers: list[WorkerLoad] = field(default_factory=list)


@dataclass(frozen=True)
class Move:
    visit_id: int
    household_id: int
    locality: str
    address: str | None
    from_day: dt.date | None
    #: None: nobody had room before the campaign's end; the visit goes back to be allocated again.
    to_user_id: int | None
    to_day: dt.date | None


@dataclass(frozen=True)
class ReassignmentPreview:
    from_user: User
    to_user: User | None
    since: dt.date
    moves: list[Move]

    @property
    def placed(self) -> int:
        return sum(1 for move in self.moves if move.to_user_id is not None)

    @property
    def unplaced(self) -> int:
        return len(self.moves) - self.placed

    @property
    def fingerprint(self) -> str:
        """What the supervisor saw: the confirmation is refused when the moves computed then differ."""
        text = ";".join(f"{m.visit_id}:{m.to_user_id}:{m.to_day}" for m in self.moves)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


class ReassignmentChanged(Conflict):
    """The visits or the team changed since the preview; nothing was moved."""


# --- who may plan what --------------------------------------------------------------------------------

def planning_directorate(session: Session, actor: User, directorate_code: str | None = None) -> Directorate:
    if actor.role not in PLANNING_ROLES:
        raise NotPermitted("only a directorate's supervisors plan its visits")
    if actor.directorate is None or (directorate_code is not None and directorate_code != actor.directorate.code):
        raise NotFoundForActor("directorate")
    return actor.directorate


def _campaign_of(session: Session, *, campaign_id: int, directorate: Directorate, lock: bool = False) -> Campaign:
    query = select(Campaign).join(CampaignDirectorate, and_(
        CampaignDirectorate.campaign_id == Campaign.id, CampaignDirectorate.directorate_id == directorate.id)
    ).where(Campaign.id == campaign_id)
    if lock:  # two supervisors allocating at once would promise the same days twice
        query = query.with_for_update(of=Campaign)
    campaign = session.scalar(query)
    if campaign is None:
        raise NotFoundForActor("campaign")
    return campaign


def case_managers(session: Session, *, directorate_id: int) -> list[User]:
    """The directorate's active case managers, in a fixed order."""
    return list(session.scalars(select(User).where(
        User.directorate_id == directorate_id, User.role == Role.CASE_MANAGER.value, User.active.is_(True)
    ).order_by(User.id)))


def directorate_case_manager(session: Session, *, directorate_id: int, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.directorate_id != directorate_id or user.role != Role.CASE_MANAGER.value:
        raise NotFoundForActor("case manager")
    return user


# --- capacity -----------------------------------------------------------------------------------------

class Capacity:
    """Free visits per (case manager, day): quota minus visits already planned, none on days off."""

    def __init__(self, session: Session, *, rules: AllocationRules, user_ids: Sequence[int], start: dt.date) -> None:
        self.rules = rules
        self.user_ids = list(user_ids)
        quotas = dict(session.execute(select(StaffQuota.user_id, StaffQuota.visits_per_day).where(
            StaffQuota.user_id.in_(self.user_ids))).tuples().all())
        self.quota = {user: quotas.get(user, rules.visits_per_day) for user in self.user_ids}
        self.days_off: set[tuple[int, dt.date]] = set(session.execute(
            select(StaffDayOff.user_id, StaffDayOff.day).where(
                StaffDayOff.user_id.in_(self.user_ids), StaffDayOff.day >= start)).tuples().all())
        self.used: dict[tuple[int, dt.date], int] = defaultdict(int)
        if self.user_ids:
            for user, day, count in session.execute(select(
                    Visit.case_manager_id, Visit.planned_on, func.count()).where(
                    Visit.case_manager_id.in_(self.user_ids), Visit.planned_on >= start, Visit.outcome.is_(None)
            ).group_by(Visit.case_manager_id, Visit.planned_on)).tuples():
                if user is not None and day is not None:
                    self.used[(user, day)] = count

    def free(self, user: int, day: dt.date) -> int:
        if not self.rules.is_working_day(day) or (user, day) in self.days_off:
            return 0
        return max(0, self.quota.get(user, 0) - self.used[(user, day)])

    def take(self, user: int, day: dt.date, count: int = 1) -> None:
        self.used[(user, day)] += count

    def release(self, user: int, day: dt.date, count: int = 1) -> None:
        self.used[(user, day)] -= count


def _days(start: dt.date, end: dt.date) -> Iterable[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


# --- allocation ---------------------------------------------------------------------------------------

def _route_order(rules: AllocationRules, directorate_code: str) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """Sort key of (visit id, household id, locality, address) rows: locality order, address, household."""
    locality = rules.locality_key(directorate_code)
    return lambda row: (locality(row[2]), row[3] or "", row[1], row[0])


def allocate(session: Session, *, actor: User, campaign_id: int, directorate_code: str, now: dt.datetime,
             progress: Callable[[int], None] | None = None, rules_dir: str | Path | None = None) -> AllocationReport:
    """Give the directorate's unplanned open visits a case manager and a day; ``progress`` gets each chunk's size.

    The visits, in route order (locality, address, household), are cut into one contiguous band per case
    manager, as large as that person's free capacity up to the first day by which everyone together can
    finish; each band then fills its owner's days in order. So a worker-day is one locality, or two
    neighbouring ones where a locality ends mid-day, and everybody finishes at about the same time.
    """
    directorate = planning_directorate(session, actor, directorate_code)
    campaign = _campaign_of(session, campaign_id=campaign_id, directorate=directorate, lock=True)
    rules = load_allocation_rules(rules_dir)
    start = max(campaign.starts_on, local_date(now))
    workers = [user.id for user in case_managers(session, directorate_id=directorate.id)]
    capacity = Capacity(session, rules=rules, user_ids=workers, start=start)
    rows = session.execute(
        select(Visit.id, Visit.household_id, Visit.locality, Household.address)
        .join(Household, Household.id == Visit.household_id)
        .where(Visit.campaign_id == campaign.id, Visit.directorate_id == directorate.id,
               Visit.outcome.is_(None), Visit.planned_on.is_(None))).tuples().all()
    ordered = sorted(rows, key=_route_order(rules, directorate.code))

    # The horizon: the first day by which the free capacity covers every visit (or the campaign's end).
    horizon, total, needed_until = None, 0, None
    for day in _days(start, campaign.ends_on):
        total += sum(capacity.free(user, day) for user in workers)
        horizon = day
        if total >= len(ordered):
            break
    if total < len(ordered):
        missing = len(ordered) - total
        for day in _days(campaign.ends_on + dt.timedelta(days=1), campaign.ends_on + dt.timedelta(LOOKAHEAD_DAYS)):
            missing -= sum(capacity.free(user, day) for user in workers)
            if missing <= 0:
                needed_until = day
                break

    plan: list[tuple[int, int, dt.date]] = []
    position = 0
    if horizon is not None:
        for user in workers:
            for day in _days(start, horizon):
                if position >= len(ordered):
                    break
                free = capacity.free(user, day)
                if free:
                    for row in ordered[position:position + free]:
                        plan.append((row[0], user, day))
                    taken = min(free, len(ordered) - position)
                    capacity.take(user, day, taken)
                    position += taken

    _write_plan(session, plan, now=now, progress=progress)
    loads: dict[int, list[dt.date]] = defaultdict(list)
    for _visit, user, day in plan:
        loads[user].append(day)
    report = AllocationReport(
        campaign_id=campaign.id, directorate_code=directorate.code, considered=len(ordered), allocated=len(plan),
        unallocated=len(ordered) - len(plan), first_day=min((d for _v, _u, d in plan), default=None),
        last_day=max((d for _v, _u, d in plan), default=None),
        needed_until=needed_until if len(plan) < len(ordered) else None,
        workers=[WorkerLoad(user_id=user, visits=len(loads[user]), days=len(set(loads[user])),
                            first_day=min(loads[user], default=None), last_day=max(loads[user], default=None))
                 for user in workers])
    record_event(session, actor_id=actor.id, case_id=None, action="campaign.allocated", at=now, details={
        "campaign_id": campaign.id, "directorate": directorate.code, "considered": report.considered,
        "allocated": report.allocated, "unallocated": report.unallocated,
        "first_day": _iso(report.first_day), "last_day": _iso(report.last_day),
        "needed_until": _iso(report.needed_until),
        "per_case_manager": {str(load.user_id): load.visits for load in report.workers if load.visits}})
    session.commit()
    return report


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _write_plan(session: Session, plan: Sequence[tuple[int, int | None, dt.date | None]], *, now: dt.datetime,
                progress: Callable[[int], None] | None = None) -> None:
    """Set case manager and day of many visits at once; each change counts as a new version of the visit."""
    table = cast(Table, Visit.__table__)
    statement = update(table).where(table.c.id == bindparam("visit_id")).values(
        case_manager_id=bindparam("user_id"), planned_on=bindparam("day"),
        lock_version=table.c.lock_version + 1, updated_at=now)
    for start in range(0, len(plan), CHUNK):
        chunk = plan[start:start + CHUNK]
        session.connection().execute(statement, [
            {"visit_id": visit, "user_id": user, "day": day} for visit, user, day in chunk])
        if progress:
            progress(len(chunk))


# --- the day's route ----------------------------------------------------------------------------------

def route_key(rules: AllocationRules, directorate_code: str) -> Callable[[Visit], tuple[Any, ...]]:
    locality = rules.locality_key(directorate_code)
    return lambda visit: (locality(visit.locality), visit.household.address or "", visit.household_id, visit.id)


def todays_visits(session: Session, *, actor: User, day: dt.date,
                  rules_dir: str | Path | None = None) -> list[Visit]:
    """The actor's visits planned for ``day`` (open and done), in route order: locality, address, household."""
    if actor.directorate is None:
        return []
    visits = list(session.scalars(select(Visit).options(selectinload(Visit.household)).where(
        Visit.case_manager_id == actor.id, Visit.planned_on == day, Visit.directorate_id == actor.directorate_id)))
    rules = load_allocation_rules(rules_dir)
    return sorted(visits, key=route_key(rules, actor.directorate.code))


# --- bulk reassignment --------------------------------------------------------------------------------

def _moving(session: Session, *, from_user: User, since: dt.date) -> list[tuple[Visit, Campaign]]:
    """The from-user's open visits planned on or after ``since`` (or not yet planned)."""
    return list(session.execute(select(Visit, Campaign).join(Campaign, Campaign.id == Visit.campaign_id)
                                .options(selectinload(Visit.household)).where(
        Visit.case_manager_id == from_user.id, Visit.outcome.is_(None),
        Visit.directorate_id == from_user.directorate_id,
        (Visit.planned_on >= since) | Visit.planned_on.is_(None))).tuples())


def _roomiest(capacity: Capacity, recipients: Sequence[int], day: dt.date) -> int | None:
    """The recipient with the most free visits on ``day`` (the first by id on a tie), None when all are full."""
    best, room = None, 0
    for user in recipients:
        free = capacity.free(user, day)
        if free > room:
            best, room = user, free
    return best


def _plan_moves(session: Session, *, directorate: Directorate, from_user: User, to_user: User | None,
                since: dt.date, today: dt.date, rules: AllocationRules) -> list[Move]:
    """Each visit keeps its day when a recipient has room that day, else takes the next day with room
    before its campaign's end; a day's visits stay together with one recipient where they fit."""
    recipients = [to_user.id] if to_user else [
        user.id for user in case_managers(session, directorate_id=directorate.id) if user.id != from_user.id]
    start = max(since, today)
    capacity = Capacity(session, rules=rules, user_ids=recipients, start=start)
    key = route_key(rules, directorate.code)
    visits = sorted(_moving(session, from_user=from_user, since=since),
                    key=lambda pair: (pair[0].planned_on or dt.date.max, key(pair[0])))
    moves: list[Move] = []
    block_owner: dict[dt.date | None, int] = {}
    for visit, campaign in visits:
        wanted = max(visit.planned_on or start, start, campaign.starts_on)
        placed: tuple[int, dt.date] | None = None
        for day in _days(wanted, campaign.ends_on):
            owner = block_owner.get(visit.planned_on)
            if owner is not None and capacity.free(owner, day):
                placed = (owner, day)
                break
            roomiest = _roomiest(capacity, recipients, day)
            if roomiest is not None:
                placed = (roomiest, day)
                block_owner[visit.planned_on] = roomiest
                break
        if placed:
            capacity.take(*placed)
        moves.append(Move(visit_id=visit.id, household_id=visit.household_id, locality=visit.locality,
                          address=visit.household.address, from_day=visit.planned_on,
                          to_user_id=placed[0] if placed else None, to_day=placed[1] if placed else None))
    return moves


def preview_reassignment(session: Session, *, actor: User, from_user_id: int, to_user_id: int | None,
                         since: dt.date, now: dt.datetime,
                         rules_dir: str | Path | None = None) -> ReassignmentPreview:
    """What ``reassign_visits`` would move, changing nothing: open visits only, from ``since`` on."""
    directorate = planning_directorate(session, actor)
    from_user = directorate_case_manager(session, directorate_id=directorate.id, user_id=from_user_id)
    to_user = (directorate_case_manager(session, directorate_id=directorate.id, user_id=to_user_id)
               if to_user_id else None)
    if to_user is not None and (to_user.id == from_user.id or not to_user.active):
        raise NotFoundForActor("case manager")
    moves = _plan_moves(session, directorate=directorate, from_user=from_user, to_user=to_user, since=since,
                        today=local_date(now), rules=load_allocation_rules(rules_dir))
    return ReassignmentPreview(from_user=from_user, to_user=to_user, since=since, moves=moves)


def reassign_visits(session: Session, *, actor: User, from_user_id: int, to_user_id: int | None, since: dt.date,
                    now: dt.datetime, expected: str | None = None,
                    rules_dir: str | Path | None = None) -> ReassignmentPreview:
    """Move the open visits as previewed, with the ready tasks of visits already started; audited.

    ``expected`` is the preview's fingerprint: when the moves differ now (a visit was done or planned
    meanwhile), nothing moves and ``ReassignmentChanged`` asks for a new preview.
    """
    if session.get_bind().dialect.name == "postgresql":  # one planner at a time per directorate
        directorate = planning_directorate(session, actor)
        session.execute(select(Directorate.id).where(Directorate.id == directorate.id).with_for_update())
    preview = preview_reassignment(session, actor=actor, from_user_id=from_user_id, to_user_id=to_user_id,
                                   since=since, now=now, rules_dir=rules_dir)
    if expected is not None and expected != preview.fingerprint:
        session.rollback()
        raise ReassignmentChanged("the visits changed since the preview")
    _write_plan(session, [(m.visit_id, m.to_user_id, m.to_day) for m in preview.moves], now=now)
    by_user: dict[int | None, list[int]] = defaultdict(list)
    for move in preview.moves:
        by_user[move.to_user_id].append(move.visit_id)
    for user, visit_ids in by_user.items():
        for start in range(0, len(visit_ids), CHUNK):
            instances = select(Visit.instance_id).where(Visit.id.in_(visit_ids[start:start + CHUNK]),
                                                        Visit.instance_id.is_not(None))
            session.execute(update(TaskRecord).where(
                TaskRecord.instance_id.in_(instances), TaskRecord.state == TaskState.READY.value,
            ).values(assignee_id=user).execution_options(synchronize_session=False))
    record_event(session, actor_id=actor.id, case_id=None, action="visits.reassigned", at=now, details={
        "from_user_id": preview.from_user.id, "to_user_id": preview.to_user.id if preview.to_user else None,
        "since": since.isoformat(), "moved": preview.placed, "unplanned": preview.unplaced,
        "visit_ids": [move.visit_id for move in preview.moves]})
    session.commit()
    return preview
