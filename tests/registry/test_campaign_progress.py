"""Campaign progress: every figure equals a count made here, in plain Python, over the visit rows."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

NOW = dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)  # the test clock's Monday morning
TODAY = dt.date(2026, 11, 2)
HEBRON = ZoneInfo("Asia/Hebron")
#: Poorest first: a change down this list is "less poor", up it "poorer"; incomplete has no direction.
RANK = {"deeply_poor": 0, "poor": 1, "not_poor": 2}
CATEGORIES = ["deeply_poor", "poor", "not_poor", "incomplete", None]
BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


def _user(session: Session, username: str) -> Any:
    from registry.models import User

    return session.scalar(select(User).where(User.username == username))


def _directorate(session: Session, code: str) -> Any:
    from registry.models import Directorate

    return session.scalar(select(Directorate).where(Directorate.code == code))


def make_campaign(session: Session, *, codes: tuple[str, ...], name: str = "Northern update 2026",
                  starts_on: dt.date = dt.date(2026, 10, 18), ends_on: dt.date = dt.date(2026, 11, 26)) -> Any:
    from registry.campaigns.models import Campaign, CampaignDirectorate

    campaign = Campaign(name=name, starts_on=starts_on, ends_on=ends_on, status="active", include=["beneficiaries"],
                        created_by_id=_user(session, "admin").id, created_at=NOW)
    session.add(campaign)
    session.flush()
    for code in codes:
        session.add(CampaignDirectorate(campaign_id=campaign.id, directorate_id=_directorate(session, code).id))
    session.flush()
    return campaign


def add_visit(session: Session, campaign: Any, *, code: str, worker: Any = None, household: Any = None,
              outcome: str | None = None, at: dt.datetime | None = None, planned_on: dt.date | None = None,
              attempt: int = 1, before: str | None = None, after: str | None = None) -> Any:
    from registry.campaigns.models import Visit
    from registry.models import Household

    directorate = _directorate(session, code)
    if household is None:
        household = Household(directorate_id=directorate.id, governorate_code=directorate.governorate_code,
                              locality="البيرة")
        session.add(household)
        session.flush()
    visit = Visit(campaign_id=campaign.id, household_id=household.id, directorate_id=directorate.id,
                  locality=household.locality, case_manager_id=worker.id if worker else None, planned_on=planned_on,
                  attempt=attempt, outcome=outcome, visited_at=at if outcome else None,
                  completed_at=at if outcome else None, category_before=before,
                  category_after=after if outcome == "updated" else None, updated_at=NOW)
    session.add(visit)
    session.flush()
    return visit


def _extra_case_manager(session: Session) -> Any:
    from registry.models import Role, User

    user = User(username="fieldworker3", full_name="Fadi Odeh", full_name_ar="فادي عودة", role=Role.CASE_MANAGER.value,
                directorate_id=_directorate(session, "RBH").id, password_hash="-")
    session.add(user)
    session.flush()
    return user


def build_campaign(session: Session, *, seed: int = 12) -> tuple[Any, list[Any]]:
    """A campaign over Ramallah and Hebron with visits in every outcome, on many days (late evenings that
    are the next day in Palestine, a Friday, today), by three case managers and unallocated; second
    attempts; and another campaign's visits, which must count nowhere."""
    rng = random.Random(seed)
    campaign = make_campaign(session, codes=("RBH", "HBN"))
    workers = {"RBH": [_user(session, "casemanager1"), _extra_case_manager(session), None],
               "HBN": [_user(session, "casemanager2"), None]}
    days = [dt.date(2026, 10, 18) + dt.timedelta(days=n) for n in range(16)]  # Oct 18 .. Nov 2 (today)
    rows = []
    for number in range(60):
        code = "HBN" if number % 3 == 0 else "RBH"
        worker = rng.choice(workers[code])
        outcome = rng.choice([None, "updated", "updated", "updated", "not_found", "refused"])
        day = rng.choice(days)
        at = dt.datetime.combine(day, dt.time(rng.choice([5, 9, 13, 21, 22, 23]), 30), tzinfo=dt.UTC)
        planned = (day if outcome else TODAY + dt.timedelta(days=rng.randrange(1, 9))) if worker else None
        first = add_visit(session, campaign, code=code, worker=worker, outcome=outcome, at=at, planned_on=planned,
                          before=rng.choice(CATEGORIES), after=rng.choice(CATEGORIES))
        rows.append(first)
        if outcome in ("not_found", "refused") and rng.random() < 0.7:
            again = rng.choice([None, "updated", "refused"])
            later = at + dt.timedelta(days=rng.randrange(1, 4))
            if later > NOW:
                later, again = NOW - dt.timedelta(hours=1), again
            rows.append(add_visit(session, campaign, code=code, worker=worker, household=first.household,
                                  outcome=again, at=later, attempt=2, planned_on=later.date() if worker else None,
                                  before=rng.choice(CATEGORIES), after=rng.choice(CATEGORIES)))
    other = make_campaign(session, codes=("RBH", "HBN"), name="Another campaign")
    for row in rows[:10]:
        add_visit(session, other, code="RBH", worker=workers["RBH"][0], household=row.household, outcome="updated",
                  at=NOW - dt.timedelta(days=1), before="poor", after="deeply_poor")
    session.commit()
    return campaign, rows


# --- the independent count -------------------------------------------------------------------------------

def local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(HEBRON).date()


def count(rows: list[Any], *, date_from: dt.date | None = None, date_to: dt.date | None = None) -> dict[str, int]:
    """The figures of a list of visit rows, counted one row at a time."""
    def in_range(v: Any) -> bool:
        if v.outcome is None:
            return False
        day = local_day(v.visited_at)
        return (date_from is None or day >= date_from) and (date_to is None or day <= date_to)

    done = [v for v in rows if in_range(v)]
    updated = [v for v in done if v.outcome == "updated"]
    changed = [v for v in updated if v.category_before and v.category_after and v.category_before != v.category_after]
    ranked = [v for v in changed if v.category_before in RANK and v.category_after in RANK]
    return {
        "households": len({v.household_id for v in rows}), "attempts": len(rows), "visited": len(done),
        "updated": len(updated), "not_found": sum(v.outcome == "not_found" for v in done),
        "refused": sum(v.outcome == "refused" for v in done), "remaining": sum(v.outcome is None for v in rows),
        "changed": len(changed), "poorer": sum(RANK[v.category_after] < RANK[v.category_before] for v in ranked),
        "less_poor": sum(RANK[v.category_after] > RANK[v.category_before] for v in ranked),
    }


def by(rows: list[Any], key: Callable[[Any], Any]) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return dict(groups)


def progress(session: Session, username: str, campaign: Any, **filters: Any) -> Any:
    from pathlib import Path

    from registry.campaigns.progress import ProgressFilter, campaign_progress

    return campaign_progress(session, actor=_user(session, username), campaign_id=campaign.id,
                             filters=ProgressFilter(**filters), now=NOW,
                             rules_dir=Path(__file__).resolve().parents[2] / "rules")


# --- tests ---------------------------------------------------------------------------------------------

@BOTH_DATABASES
def test_every_figure_equals_a_count_made_row_by_row(app: Flask) -> None:
    from webui.db import db_session

    with app.app_context():
        session = db_session()
        campaign, rows = build_campaign(session)
        report = progress(session, "admin", campaign)

        assert asdict(report.totals) == count(rows)
        assert report.totals.changed and report.totals.poorer and report.totals.less_poor  # the data has them all
        assert report.totals.not_found and report.totals.refused and report.totals.remaining
        directorates = by(rows, lambda v: v.directorate.code)
        assert {r.key: asdict(r.figures) for r in report.by_directorate} == {
            code: count(group) for code, group in directorates.items()}
        workers = by(rows, lambda v: str(v.case_manager_id) if v.case_manager_id else "")
        assert {r.key: asdict(r.figures) for r in report.by_worker} == {
            key: count(group) for key, group in workers.items()}
        assert next(r for r in report.by_worker if r.key == "").name("en") == ""  # not allocated, named by the page

        done_days = by([v for v in rows if v.outcome], lambda v: local_day(v.visited_at))
        shown = {d.day: d for d in report.by_day if d.figures.visited}
        assert set(shown) == set(done_days)
        for day, group in done_days.items():
            expected = count(group)
            assert {k: getattr(shown[day].figures, k) for k in
                    ("visited", "updated", "not_found", "refused", "changed", "poorer", "less_poor")} == {
                k: expected[k] for k in ("visited", "updated", "not_found", "refused", "changed", "poorer",
                                         "less_poor")}, day
        # Cumulative and planned per day, counted again from the rows.
        for row in report.by_day:
            if row.day <= TODAY:
                done = [v for v in rows if v.outcome and local_day(v.visited_at) <= row.day]
                assert row.cumulative_visited == len(done)
            else:
                assert row.cumulative_visited is None
            assert row.planned == sum(1 for v in rows if v.planned_on == row.day)
            assert row.cumulative_planned == sum(1 for v in rows if v.planned_on and v.planned_on <= row.day)


def test_a_late_evening_visit_counts_on_the_next_day_in_palestine(app: Flask) -> None:
    from webui.db import db_session

    with app.app_context():
        session = db_session()
        campaign = make_campaign(session, codes=("RBH",))
        # 22:30 UTC on 20 October is 01:30 on the 21st in Palestine (summer time, UTC+3).
        add_visit(session, campaign, code="RBH", outcome="updated", at=dt.datetime(2026, 10, 20, 22, 30, tzinfo=dt.UTC))
        session.commit()
        days = {d.day: d.figures.visited for d in progress(session, "admin", campaign).by_day if d.figures.visited}
    assert days == {dt.date(2026, 10, 21): 1}


def test_filters_narrow_every_figure_to_the_directorate_worker_and_days_chosen(app: Flask) -> None:
    from webui.db import db_session

    with app.app_context():
        session = db_session()
        campaign, rows = build_campaign(session, seed=5)
        worker = _user(session, "casemanager1")
        first, last = dt.date(2026, 10, 22), dt.date(2026, 10, 28)
        report = progress(session, "admin", campaign, directorate_code="RBH", worker_id=worker.id,
                          date_from=first, date_to=last)
        mine = [v for v in rows if v.directorate.code == "RBH" and v.case_manager_id == worker.id]
        assert asdict(report.totals) == count(mine, date_from=first, date_to=last)
        assert [r.key for r in report.by_worker] == [str(worker.id)]
        assert [r.key for r in report.by_directorate] == ["RBH"]
        assert all(first <= d.day <= last for d in report.by_day)
        hebron = progress(session, "admin", campaign, directorate_code="HBN")
        assert asdict(hebron.totals) == count([v for v in rows if v.directorate.code == "HBN"])


def test_forecast_divides_what_remains_by_the_pace_of_the_last_ten_working_days(app: Flask) -> None:
    from webui.db import db_session

    with app.app_context():
        session = db_session()
        campaign = make_campaign(session, codes=("RBH",), starts_on=dt.date(2026, 10, 11))
        # Working days are Sunday to Thursday (rules/campaign_allocation.yaml); the ten before Monday
        # 2 November are 1 Nov and 29, 28, 27, 26, 25, 22, 21, 20, 19 October: 3 visits on each, 2 more
        # on Friday 23 October (a day off inside the window), and 7 on 18 October (before the window).
        window = [dt.date(2026, 11, 1), *(dt.date(2026, 10, d) for d in (29, 28, 27, 26, 25, 22, 21, 20, 19))]
        for day in window:
            for _ in range(3):
                add_visit(session, campaign, code="RBH", outcome="updated",
                          at=dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC))
        for day, visits in ((dt.date(2026, 10, 23), 2), (dt.date(2026, 10, 18), 7), (TODAY, 4)):
            for _ in range(visits):
                add_visit(session, campaign, code="RBH", outcome="refused",
                          at=dt.datetime.combine(day, dt.time(7), tzinfo=dt.UTC))
        for _ in range(32):
            add_visit(session, campaign, code="RBH")
        session.commit()
        forecast = progress(session, "supervisor1", campaign).forecast
    # Pace: 32 visits in the window / 10 working days = 3.2 a day; 32 open visits need 10 working days
    # after today: 3, 4, 5, 8, 9, 10, 11, 12, (13-14 off, 15 Independence Day), 16, 17 November.
    assert forecast.pace == pytest.approx(3.2)
    assert forecast.remaining == 32 and forecast.working_days_ahead == 10
    assert forecast.finishes_on == dt.date(2026, 11, 17)
    assert not forecast.late


def test_forecast_without_visits_on_recent_days_says_so_and_a_finished_campaign_is_done() -> None:
    from registry.campaigns.progress import WorkCalendar, forecast_completion

    friday_off = WorkCalendar()
    none = forecast_completion(remaining=5, done_by_day={}, today=TODAY, starts_on=dt.date(2026, 10, 1),
                               ends_on=dt.date(2026, 10, 30), calendar=friday_off)
    assert none.finishes_on is None and none.pace == 0
    done = forecast_completion(remaining=0, done_by_day={dt.date(2026, 11, 1): 9}, today=TODAY,
                               starts_on=dt.date(2026, 10, 1), ends_on=dt.date(2026, 10, 30), calendar=friday_off)
    assert done.done and done.finishes_on is None
    # Every day but Friday: 7 open at 2 a day is 4 working days after Monday 2 November (Tue, Wed, Thu, Sat).
    late = forecast_completion(remaining=7, done_by_day={dt.date(2026, 11, 1): 2}, today=TODAY,
                               starts_on=dt.date(2026, 11, 1), ends_on=dt.date(2026, 11, 5), calendar=friday_off)
    assert late.pace == 2 and late.finishes_on == dt.date(2026, 11, 7) and late.late


def test_without_allocation_rules_every_day_but_friday_is_a_working_day(tmp_path: Any) -> None:
    from registry.campaigns.progress import work_calendar

    calendar = work_calendar(tmp_path)
    assert not calendar.from_rules
    assert [calendar.is_working(dt.date(2026, 10, d)) for d in range(18, 25)] == [
        True, True, True, True, True, False, True]  # Sunday .. Saturday


def test_a_supervisor_sees_only_their_directorate_and_others_see_nothing(app: Flask) -> None:
    from engine.errors import NotFoundForActor
    from registry.campaigns.progress import campaigns_for_progress
    from webui.db import db_session

    with app.app_context():
        session = db_session()
        campaign, rows = build_campaign(session)
        ramallah_only = make_campaign(session, codes=("RBH",), name="Ramallah only")
        add_visit(session, ramallah_only, code="RBH", outcome="updated", at=NOW)
        session.commit()

        hebron = progress(session, "supervisor2", campaign)
        assert [d.code for d in hebron.directorates] == ["HBN"]
        assert [r.key for r in hebron.by_directorate] == ["HBN"]
        assert asdict(hebron.totals) == count([v for v in rows if v.directorate.code == "HBN"])
        assert {w.username for w in hebron.workers} <= {"casemanager2"}

        for username, chosen in (("supervisor2", None), ("casemanager1", None), ("analyst", None),
                                 ("reception1", None)):
            with pytest.raises(NotFoundForActor):
                progress(session, username, ramallah_only, directorate_code=chosen)
        with pytest.raises(NotFoundForActor):  # a directorate outside one's scope is not there either
            progress(session, "supervisor2", campaign, directorate_code="RBH")
        with pytest.raises(NotFoundForActor):
            progress(session, "casemanager2", campaign)
        assert {c.name for c in campaigns_for_progress(session, actor=_user(session, "supervisor2"))} == {
            "Northern update 2026", "Another campaign"}
        assert {c.name for c in campaigns_for_progress(session, actor=_user(session, "admin"))} == {
            "Northern update 2026", "Another campaign", "Ramallah only"}
        assert campaigns_for_progress(session, actor=_user(session, "casemanager1")) == []


def test_spot_checks_waiting_and_done_are_counted_from_the_task_index(app: Flask) -> None:
    import uuid

    from engine.models import ProcessInstance, ProcessVersion, TaskRecord
    from registry.campaigns.services import SPOT_CHECK_TASK
    from webui.db import db_session

    with app.app_context():
        session = db_session()
        campaign = make_campaign(session, codes=("RBH", "HBN"))
        version = session.scalars(select(ProcessVersion)).first()
        tasks = [("RBH", SPOT_CHECK_TASK, "ready"), ("RBH", SPOT_CHECK_TASK, "ready"),
                 ("RBH", SPOT_CHECK_TASK, "completed"), ("HBN", SPOT_CHECK_TASK, "completed"),
                 ("HBN", "update_household_data", "ready"), ("HBN", SPOT_CHECK_TASK, "cancelled")]
        for code, spec_id, state in tasks:
            visit = add_visit(session, campaign, code=code, outcome="updated", at=NOW, before="poor",
                              after="deeply_poor")
            instance = ProcessInstance(process_version_id=version.id, business_key=f"visit:{visit.id}",
                                       scope=f"visits:{code}", state="{}", serializer_version="1", created_at=NOW,
                                       updated_at=NOW)
            session.add(instance)
            session.flush()
            visit.instance_id = instance.id
            session.add(TaskRecord(id=str(uuid.uuid4()), instance_id=instance.id, business_key=instance.business_key,
                                   scope=instance.scope, spec_id=spec_id, title="t", lane="supervisor", form_key="f",
                                   state=state, created_at=NOW))
        session.commit()
        report = progress(session, "admin", campaign)
        hebron = progress(session, "supervisor2", campaign)

    expected = {code: (sum(1 for c, s, st in tasks if c == code and s == SPOT_CHECK_TASK and st == "ready"),
                       sum(1 for c, s, st in tasks if c == code and s == SPOT_CHECK_TASK and st == "completed"))
                for code in ("RBH", "HBN")}
    assert {r.key: (r.spot_checks_waiting, r.spot_checks_done) for r in report.by_directorate} == expected
    assert (report.spot_checks_waiting, report.spot_checks_done) == (2, 2)
    assert (hebron.spot_checks_waiting, hebron.spot_checks_done) == expected["HBN"]
