"""Allocation of campaign visits to case managers' days, the day's route, and bulk reassignment."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from engine.errors import NotFoundForActor
from registry.campaigns import allocation, capacity
from registry.campaigns.allocation_rules import load_allocation_rules
from registry.campaigns.models import Campaign, CampaignDirectorate, Visit
from registry.errors import NotPermitted
from registry.models import AuditEvent, Directorate, Household, Role, User

#: Row locks and bulk updates differ by database: every test runs on both.
pytestmark = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)

NOW = dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)  # a Monday
START = dt.date(2026, 11, 8)  # a Sunday


def user(session: Any, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def add_case_managers(session: Any, code: str, count: int) -> list[User]:
    directorate = session.scalar(select(Directorate).where(Directorate.code == code))
    people = [User(username=f"cm_{code}_{n}", full_name=f"Case manager {n}", role=Role.CASE_MANAGER.value,
                   directorate_id=directorate.id, password_hash="-") for n in range(count)]
    session.add_all(people)
    session.flush()
    return people


def make_campaign(session: Any, code: str, localities: dict[str, int], *, starts_on: dt.date = START,
                  ends_on: dt.date = dt.date(2026, 12, 31)) -> Campaign:
    """A campaign of one directorate with ``count`` households in each locality."""
    directorate = session.scalar(select(Directorate).where(Directorate.code == code))
    campaign = Campaign(name="Update 2026", starts_on=starts_on, ends_on=ends_on, status="active",
                        include=["beneficiaries"])
    session.add(campaign)
    session.flush()
    session.add(CampaignDirectorate(campaign_id=campaign.id, directorate_id=directorate.id))
    for locality, count in localities.items():
        for n in range(count):
            household = Household(directorate_id=directorate.id, governorate_code="PS-RBH", locality=locality,
                                  address=f"street {n:03d}")
            session.add(household)
            session.flush()
            session.add(Visit(campaign_id=campaign.id, household_id=household.id, directorate_id=directorate.id,
                              locality=locality))
    session.commit()
    return campaign


def plan_of(session: Any, campaign: Campaign) -> dict[int, tuple[int | None, dt.date | None]]:
    return {v.id: (v.case_manager_id, v.planned_on) for v in session.scalars(
        select(Visit).where(Visit.campaign_id == campaign.id).execution_options(populate_existing=True))}


def worker_days(session: Any, campaign: Campaign) -> dict[tuple[int, dt.date], list[Visit]]:
    days: dict[tuple[int, dt.date], list[Visit]] = defaultdict(list)
    for visit in session.scalars(select(Visit).where(Visit.campaign_id == campaign.id, Visit.planned_on.is_not(None))
                                 .execution_options(populate_existing=True)):
        days[(visit.case_manager_id, visit.planned_on)].append(visit)
    return days


@pytest.fixture
def session(app: Flask) -> Any:
    from webui.db import db_session

    with app.app_context():
        yield db_session()


def test_quotas_and_working_days_are_respected(session: Any) -> None:
    supervisor = user(session, "supervisor1")
    team = add_case_managers(session, "RBH", 2)
    capacity.set_quota(session, actor=supervisor, user_id=team[0].id, visits_per_day=3, now=NOW)
    campaign = make_campaign(session, "RBH", {"سردا": 20, "بيتونيا": 17})
    report = allocation.allocate(session, actor=supervisor, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    assert report.considered == report.allocated == 37 and report.unallocated == 0
    rules = load_allocation_rules()
    quotas = {team[0].id: 3, team[1].id: rules.visits_per_day, user(session, "casemanager1").id: 8}
    for (worker, day), visits in worker_days(session, campaign).items():
        assert len(visits) <= quotas[worker]
        assert day.weekday() not in (4, 5)  # never on Friday or Saturday
        assert START <= day <= campaign.ends_on
    assert sum(1 for v in plan_of(session, campaign).values() if v[0] == team[0].id) > 0


def test_days_off_and_holidays_are_skipped(session: Any) -> None:
    supervisor = user(session, "supervisor1")
    team = add_case_managers(session, "RBH", 1)
    cm1 = user(session, "casemanager1")
    capacity.add_day_off(session, actor=supervisor, user_id=cm1.id, day=START, reason="leave", now=NOW)
    # 15 November (Independence Day) is a Sunday in 2026: a holiday in the shipped rule file.
    campaign = make_campaign(session, "RBH", {"البيرة": 40}, starts_on=dt.date(2026, 11, 15))
    capacity.add_day_off(session, actor=supervisor, user_id=team[0].id, day=dt.date(2026, 11, 16), reason="",
                         now=NOW)
    allocation.allocate(session, actor=supervisor, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    days = worker_days(session, campaign)
    assert not any(day == dt.date(2026, 11, 15) for _worker, day in days)
    assert (team[0].id, dt.date(2026, 11, 16)) not in days
    assert (cm1.id, dt.date(2026, 11, 16)) in days


def test_one_locality_per_worker_day_and_neighbours_otherwise(session: Any) -> None:
    supervisor = user(session, "supervisor1")
    add_case_managers(session, "RBH", 2)
    # Localities of whole days (quota 8): each worker-day is one locality.
    campaign = make_campaign(session, "RBH", {"رام الله": 16, "البيرة": 8, "سردا": 24})
    allocation.allocate(session, actor=supervisor, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    assert all(len({v.locality for v in visits}) == 1 for visits in worker_days(session, campaign).values())
    # Uneven localities: at most two per day, and neighbours in the rule file's order.
    order = load_allocation_rules().locality_order["RBH"]
    uneven = make_campaign(session, "RBH", {"رام الله": 5, "البيرة": 11, "بيتونيا": 3, "سردا": 13})
    allocation.allocate(session, actor=supervisor, campaign_id=uneven.id, directorate_code="RBH", now=NOW)
    for visits in worker_days(session, uneven).values():
        ranks = sorted({order.index(v.locality) for v in visits})
        assert ranks == list(range(ranks[0], ranks[0] + len(ranks))) and len(ranks) <= 2


def test_allocation_is_deterministic_and_plans_only_unplanned_visits(session: Any) -> None:
    supervisor = user(session, "supervisor1")
    add_case_managers(session, "RBH", 3)
    campaign = make_campaign(session, "RBH", {"جفنا": 9, "سلواد": 14, "عين يبرود": 7, "قرية": 5})
    allocation.allocate(session, actor=supervisor, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    first = plan_of(session, campaign)
    session.execute(update(Visit).where(Visit.campaign_id == campaign.id).values(case_manager_id=None, planned_on=None))
    session.commit()
    allocation.allocate(session, actor=supervisor, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    assert plan_of(session, campaign) == first
    again = allocation.allocate(session, actor=supervisor, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    assert again.considered == 0 and plan_of(session, campaign) == first


def test_a_second_run_fills_days_around_the_visits_already_planned(session: Any) -> None:
    supervisor = user(session, "supervisor1")
    campaign = make_campaign(session, "RBH", {"البيرة": 5})
    allocation.allocate(session, actor=supervisor, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    directorate = session.scalar(select(Directorate).where(Directorate.code == "RBH"))
    for n in range(6):
        household = Household(directorate_id=directorate.id, governorate_code="PS-RBH", locality="البيرة",
                              address=f"late {n}")
        session.add(household)
        session.flush()
        session.add(Visit(campaign_id=campaign.id, household_id=household.id, directorate_id=directorate.id,
                          locality="البيرة", attempt=2))
    session.commit()
    report = allocation.allocate(session, actor=supervisor, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    assert report.considered == 6
    counts = Counter(day for _w, day in plan_of(session, campaign).values())
    assert counts == {START: 8, dt.date(2026, 11, 9): 3}


def test_over_capacity_is_reported_with_the_day_it_would_need(session: Any) -> None:
    supervisor = user(session, "supervisor1")
    cm1 = user(session, "casemanager1")
    # One case manager, 8 a day, Sunday to Thursday: a week of campaign holds 40 visits.
    campaign = make_campaign(session, "RBH", {"البيرة": 50}, ends_on=dt.date(2026, 11, 14))
    report = allocation.allocate(session, actor=supervisor, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    assert (report.allocated, report.unallocated) == (40, 10)
    # 15 November is a holiday: the 10 left need Monday 16 and Tuesday 17.
    assert report.needed_until == dt.date(2026, 11, 17)
    assert report.workers[0].user_id == cm1.id and report.workers[0].days == 5
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "campaign.allocated"))
    assert event.details["unallocated"] == 10 and event.details["needed_until"] == "2026-11-17"


def test_another_directorate_is_refused(session: Any) -> None:
    campaign = make_campaign(session, "RBH", {"البيرة": 3})
    other = user(session, "supervisor2")
    with pytest.raises(NotFoundForActor):
        allocation.allocate(session, actor=other, campaign_id=campaign.id, directorate_code="HBN", now=NOW)
    with pytest.raises(NotFoundForActor):
        allocation.allocate(session, actor=other, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    with pytest.raises(NotPermitted):
        allocation.allocate(session, actor=user(session, "casemanager1"), campaign_id=campaign.id,
                            directorate_code="RBH", now=NOW)
    with pytest.raises(NotFoundForActor):
        capacity.set_quota(session, actor=other, user_id=user(session, "casemanager1").id, visits_per_day=2, now=NOW)
    with pytest.raises(NotFoundForActor):
        allocation.preview_reassignment(session, actor=other, from_user_id=user(session, "casemanager1").id,
                                        to_user_id=None, since=START, now=NOW)
    assert all(v == (None, None) for v in plan_of(session, campaign).values())


def test_todays_visits_follow_the_route(session: Any) -> None:
    supervisor = user(session, "supervisor1")
    cm1 = user(session, "casemanager1")
    campaign = make_campaign(session, "RBH", {"سردا": 3, "رام الله": 3})
    allocation.allocate(session, actor=supervisor, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    route = allocation.todays_visits(session, actor=cm1, day=START)
    assert [(v.locality, v.household.address) for v in route] == [
        ("رام الله", "street 000"), ("رام الله", "street 001"), ("رام الله", "street 002"),
        ("سردا", "street 000"), ("سردا", "street 001"), ("سردا", "street 002")]
    assert allocation.todays_visits(session, actor=user(session, "casemanager2"), day=START) == []


def test_reassignment_moves_what_the_preview_shows_and_only_open_visits(session: Any) -> None:
    supervisor = user(session, "supervisor1")
    cm1 = user(session, "casemanager1")
    team = add_case_managers(session, "RBH", 2)
    campaign = make_campaign(session, "RBH", {"البيرة": 24, "سردا": 24})
    allocation.allocate(session, actor=supervisor, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    mine = [v for v in session.scalars(select(Visit).where(Visit.case_manager_id == cm1.id).order_by(Visit.id))]
    done = mine[0]
    done.outcome = "updated"
    session.commit()
    before = plan_of(session, campaign)
    preview = allocation.preview_reassignment(session, actor=supervisor, from_user_id=cm1.id, to_user_id=None,
                                              since=START, now=NOW)
    assert plan_of(session, campaign) == before  # a preview changes nothing
    assert {m.visit_id for m in preview.moves} == {v.id for v in mine[1:]}
    done_id = done.id
    moved = allocation.reassign_visits(session, actor=supervisor, from_user_id=cm1.id, to_user_id=None, since=START,
                                       now=NOW, expected=preview.fingerprint)
    assert moved.fingerprint == preview.fingerprint
    after = plan_of(session, campaign)
    for move in preview.moves:
        assert after[move.visit_id] == (move.to_user_id, move.to_day)
        assert move.to_user_id in {t.id for t in team}
    assert after[done_id] == before[done_id]
    changed = {visit for visit in after if after[visit] != before[visit]}
    assert changed <= {m.visit_id for m in preview.moves}
    for (worker, _day), visits in worker_days(session, campaign).items():
        assert len(visits) <= 8 and worker != cm1.id or visits[0].id == done_id
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "visits.reassigned")) is not None


def test_a_stale_preview_moves_nothing(session: Any) -> None:
    supervisor = user(session, "supervisor1")
    cm1 = user(session, "casemanager1")
    team = add_case_managers(session, "RBH", 1)
    campaign = make_campaign(session, "RBH", {"البيرة": 6})
    allocation.allocate(session, actor=supervisor, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    preview = allocation.preview_reassignment(session, actor=supervisor, from_user_id=cm1.id,
                                              to_user_id=team[0].id, since=START, now=NOW)
    assert preview.placed == 6
    first = session.scalar(select(Visit).where(Visit.case_manager_id == cm1.id).order_by(Visit.id))
    first.outcome = "refused"
    session.commit()
    before = plan_of(session, campaign)
    with pytest.raises(allocation.ReassignmentChanged):
        allocation.reassign_visits(session, actor=supervisor, from_user_id=cm1.id, to_user_id=team[0].id,
                                   since=START, now=NOW, expected=preview.fingerprint)
    assert plan_of(session, campaign) == before


def test_the_ready_task_of_a_started_visit_moves_with_it(session: Any) -> None:
    from engine.models import TaskRecord, TaskState
    from registry.campaigns.services import start_visit
    from webui.db import library

    supervisor = user(session, "supervisor1")
    cm1 = user(session, "casemanager1")
    team = add_case_managers(session, "RBH", 1)
    campaign = make_campaign(session, "RBH", {"البيرة": 2})
    allocation.allocate(session, actor=supervisor, campaign_id=campaign.id, directorate_code="RBH", now=NOW)
    visit = session.scalar(select(Visit).where(Visit.case_manager_id == cm1.id).order_by(Visit.id))
    instance = start_visit(session, library=library(), visit=visit, now=NOW, actor_id=cm1.id)
    session.execute(update(TaskRecord).where(TaskRecord.instance_id == instance.id).values(assignee_id=cm1.id))
    session.commit()
    assert session.scalar(select(TaskRecord).where(TaskRecord.instance_id == instance.id,
                                                   TaskRecord.state == TaskState.READY.value)) is not None
    allocation.reassign_visits(session, actor=supervisor, from_user_id=cm1.id, to_user_id=team[0].id, since=START,
                               now=NOW)
    tasks = session.scalars(select(TaskRecord).where(TaskRecord.instance_id == instance.id,
                                                     TaskRecord.state == TaskState.READY.value)
                            .execution_options(populate_existing=True)).all()
    assert tasks and all(task.assignee_id == team[0].id for task in tasks)
    moved = session.scalar(select(Visit).where(Visit.id == visit.id).execution_options(populate_existing=True))
    assert moved.case_manager_id == team[0].id and moved.lock_version > 1
