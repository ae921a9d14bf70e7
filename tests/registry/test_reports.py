"""Every dashboard figure equals a count made here in plain Python over the rows; a supervisor sees only their
own directorate, the ministry sees all, and a directorate outside the reader's scope does not exist."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFoundForActor
from engine.models import TaskRecord, TaskState
from registry import cases
from registry.household_waits import start_wait
from registry.models import AuditEvent, Case, Directorate, EligibilityScore, Household, User
from registry.reports import period as periods
from registry.reports.figures import Figure
from registry.reports.services import dashboard
from registry.seed import advance
from tests.conftest import Clock
from tests.factories import PLAN, registration
from webui.db import db_session, library

RECOMMEND = {"decision": "recommend_eligible", "recommendation_notes": "Deprived."}
VISIT = {"visit_date": "2026-11-03", "needs_areas": ["health"], "needs_description": "Treatment.",
         "household_resources": "The mother sews.", "risk_level": "medium", "another_visit_needed": False}
FOLLOW = {"visit_date": "2026-12-01", "progress": "on_track", "follow_up_notes": "Paid.", "more_follow_up": False}
#: How far each case goes, in order; each step is (user suffix role, data).
ORDER = ["opened", "registered", "rejected", "approved", "planned", "closed"]
STAGES = ["registration", "eligibility", "assessment", "planning", "implementation", "evaluation", "closed"]
OUTCOMES = ["fully", "partly", "not_at_all"]
#: A plan the ministry delivers alone (a partner's intervention would start a referral, which is not counted here).
MINISTRY_PLAN = {**PLAN, "interventions": [i for i in PLAN["interventions"] if i["provider_type"] == "ministry"]}


def user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def walk(session: Session, clock: Clock, *, office: str, to: str, channel: str = "reception",
         goals: str = "fully", hours: float = 5) -> Case:
    """A case of directorate ``office`` ("1" Ramallah, "2" Hebron) taken as far as ``to``, the clock moving
    ``hours`` between steps so the stages last different times."""
    governorate = "PS-RBH" if office == "1" else "PS-HBN"
    case = cases.start_registration(session, actor=user(session, f"reception{office}"), library=library(),
                                    now=clock())
    if channel != "reception":
        case.channel = channel
        session.commit()
    reached = ORDER.index(to)

    def step(who: str, data: dict[str, Any]) -> None:
        clock.advance(hours=hours)
        advance(session, library=library(), case_id=case.id, username=f"{who}{office}", data=data, now=clock())

    if reached >= ORDER.index("registered"):
        step("reception", registration(governorate=governorate))
        step("reception", RECOMMEND)
    if to == "rejected":
        step("supervisor", {"decision": "reject", "rejection_reason": "Income above the line."})
        return case
    if reached >= ORDER.index("approved"):
        manager = user(session, f"casemanager{office}")
        step("supervisor", {"decision": "approve", "case_manager": str(manager.id)})
    if reached >= ORDER.index("planned"):
        step("casemanager", VISIT)
        step("casemanager", MINISTRY_PLAN)
        step("supervisor", {"decision": "approve"})
    if reached >= ORDER.index("closed"):
        step("casemanager", FOLLOW)
        step("casemanager", {"goals_achieved": goals, "decision": "close", "evaluation_notes": "Reviewed."})
    return case


def build(session: Session, clock: Clock) -> None:
    """Cases of both directorates at every stage, some opened in October (before the period) and some in
    November; one task paused while the household brings something, which is never overdue."""
    clock.now = dt.datetime(2026, 10, 20, 7, 0, tzinfo=dt.UTC)
    walk(session, clock, office="2", to="approved")
    walk(session, clock, office="1", to="closed", goals="partly", hours=60)  # opened in October, closed in November
    clock.now = dt.datetime(2026, 11, 3, 7, 0, tzinfo=dt.UTC)
    walk(session, clock, office="1", to="opened")
    walk(session, clock, office="1", to="opened", channel="online")
    walk(session, clock, office="1", to="registered", hours=30)
    walk(session, clock, office="1", to="rejected")
    walk(session, clock, office="1", to="approved", channel="online")
    walk(session, clock, office="1", to="planned", hours=20)
    walk(session, clock, office="1", to="closed", goals="fully")
    walk(session, clock, office="1", to="closed", goals="fully", hours=2)
    walk(session, clock, office="2", to="registered")
    walk(session, clock, office="2", to="rejected", channel="online")
    walk(session, clock, office="2", to="closed", goals="not_at_all", hours=9)
    paused = walk(session, clock, office="1", to="opened")
    task = session.scalar(select(TaskRecord).where(TaskRecord.business_key == str(paused.id),
                                                   TaskRecord.state == TaskState.READY.value))
    assert task is not None
    start_wait(session, actor=user(session, "reception1"), library=library(), task_id=task.id,
               reason="Bring the family book.", respond_by=(clock().date() + dt.timedelta(days=40)).isoformat(),
               now=clock())
    clock.now = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)  # a few tasks are now past their due dates


NOVEMBER = periods.month(2026, 11)


def within(moment: dt.datetime | None, period: periods.Period) -> bool:
    return moment is not None and period.starts_at <= moment.astimezone(dt.UTC) < period.ends_at


def as_dict(figure: Figure) -> dict[tuple[str, int], Any]:
    return {(row, d): v for (row, d), v in figure.values.items() if v}


def expected(session: Session, now: dt.datetime, period: periods.Period, ids: set[int]) -> dict[str, dict[Any, Any]]:
    """Each figure counted here from every row of the tables, without the reports' queries."""
    all_cases = [c for c in session.scalars(select(Case)) if c.directorate_id in ids]
    by_instance = {c.instance_id: c for c in all_cases}
    tasks = [(t, by_instance[t.instance_id]) for t in session.scalars(select(TaskRecord))
             if t.instance_id in by_instance]
    by_case = {c.id: c for c in all_cases}
    out: dict[str, dict[Any, Any]] = {}
    out["registrations"] = dict(Counter((c.channel, c.directorate_id) for c in all_cases
                                        if within(c.created_at, period)))
    decisions: Counter[tuple[str, int]] = Counter()
    for t, c in tasks:
        if (t.form_key == "eligibility_review" and t.state == "completed" and within(t.completed_at, period)
                and (t.data or {}).get("decision") == "approve"):
            decisions[("approved", c.directorate_id)] += 1
    for event in session.scalars(select(AuditEvent)):
        if event.action == "case_rejected" and event.case_id in by_case and within(event.at, period):
            decisions[("rejected", by_case[event.case_id].directorate_id)] += 1
    out["decisions"] = dict(decisions)
    out["stages"] = dict(Counter((c.stage, c.directorate_id) for c in all_cases if c.status == "open"))
    out["overdue"] = dict(Counter((t.stage or "", c.directorate_id) for t, c in tasks
                                  if t.state == "ready" and t.due_at is not None and t.due_at < now
                                  and t.waiting_on is None))
    spans: dict[tuple[int, str], list[TaskRecord]] = defaultdict(list)
    for t, c in tasks:
        if t.stage and t.state != "cancelled":
            spans[(c.id, t.stage)].append(t)
    days: dict[tuple[str, int], list[float]] = defaultdict(list)
    for (case_id, stage), rows in spans.items():
        if any(t.state == "ready" for t in rows):
            continue
        last = max(t.completed_at for t in rows if t.completed_at)
        if not within(last, period):
            continue
        seconds = (last - min(t.created_at for t in rows)).total_seconds() - sum(t.paused_seconds for t in rows)
        days[(stage, by_case[case_id].directorate_id)].append(max(seconds, 0) / 86400)
    out["time_in_stage"] = {k: round(statistics.median(v), 1) for k, v in days.items()}
    latest: dict[int, EligibilityScore] = {}
    for score in session.scalars(select(EligibilityScore).order_by(EligibilityScore.id)):
        if score.created_at < period.ends_at:
            latest[score.household_id] = score
    homes = {h.id: h.directorate_id for h in session.scalars(select(Household))}
    out["poverty"] = dict(Counter((s.category, homes[h]) for h, s in latest.items() if homes[h] in ids))
    out["plan_outcomes"] = dict(Counter(
        ((t.data or {}).get("goals_achieved"), c.directorate_id) for t, c in tasks
        if t.form_key == "outcome_evaluation" and t.state == "completed" and within(t.completed_at, period)
        and (t.data or {}).get("decision") == "close"))
    return out


def report(session: Session, username: str, now: dt.datetime, period: periods.Period = NOVEMBER,
           code: str | None = None) -> Any:
    return dashboard(session, actor=user(session, username), period=period, directorate_code=code, now=now,
                     stage_order=STAGES, outcome_choices=OUTCOMES)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_every_figure_equals_a_count_made_from_the_rows(app: Flask, clock: Clock) -> None:
    with app.app_context():
        session = db_session()
        build(session, clock)
        directorates = {d.code: d.id for d in session.scalars(select(Directorate))}
        checks = [("admin", None, set(directorates.values())), ("supervisor1", None, {directorates["RBH"]}),
                  ("supervisor2", None, {directorates["HBN"]}), ("admin", "HBN", {directorates["HBN"]})]
        for period in (NOVEMBER, periods.month(2026, 10), periods.parse_quarter("2026-Q4")):
            for username, code, ids in checks:
                board = report(session, username, clock(), period, code)
                assert {d.id for d in board.chosen} == ids
                want = expected(session, clock(), period, ids)
                for key, counted in want.items():
                    assert as_dict(board.figures[key]) == {k: v for k, v in counted.items() if v}, (key, username)
        # The data cover what the figures are about: none of them is trivially empty in November.
        board = report(session, "admin", clock())
        for key in ("registrations", "decisions", "stages", "time_in_stage", "overdue", "poverty", "plan_outcomes"):
            assert board.figures[key].values, key
        assert board.figures["registrations"].totals == {"reception": 9, "online": 3}
        assert board.figures["plan_outcomes"].totals == {"fully": 2, "not_at_all": 1, "partly": 1}
        assert board.figures["decisions"].totals == {"approved": 5, "rejected": 2}
        # The paused registration task is not overdue although its staff due date would have passed.
        assert board.figures["overdue"].value("registration", directorates["RBH"]) == 2


def test_the_referrals_figure_is_left_out_until_its_tables_exist(app: Flask, clock: Clock) -> None:
    from registry.reports.figures import referrals_available

    with app.app_context():
        session = db_session()
        board = report(session, "admin", clock())
        assert ("referrals" in board.figures) == referrals_available(session)


def test_referrals_are_counted_by_partner_and_status(app: Flask, clock: Clock) -> None:
    models = pytest.importorskip("registry.referrals.models")
    with app.app_context():
        session = db_session()
        first = walk(session, clock, office="1", to="approved")
        second = walk(session, clock, office="2", to="approved")
        partners = [models.PartnerOrganisation(code=code, name_en=f"Partner {code}", name_ar=f"شريك {code}",
                                               kind="ngo", services=["health"], created_at=clock())
                    for code in ("P1", "P2")]
        session.add_all(partners)
        session.flush()
        made = [(first, partners[0], "sent", clock()), (first, partners[0], "delivered", clock()),
                (first, partners[1], "declined", clock()), (second, partners[0], "sent", clock()),
                (second, partners[1], "sent", clock() - dt.timedelta(days=60))]  # before the period
        for number, (case, partner, status, at) in enumerate(made):
            session.add(models.Referral(reference=f"R-{number}", case_id=case.id, partner_id=partner.id,
                                        service="health", intervention="Treatment", status=status, created_at=at))
        session.commit()
        counted = Counter((f"{p.code}/{status}", c.directorate_id) for c, p, status, at in made
                          if within(at, NOVEMBER))
        board = report(session, "admin", clock())
        assert as_dict(board.figures["referrals"]) == dict(counted)
        assert board.figures["referrals"].row_names["P1/sent"]["ar"] == "شريك P1"
        assert not report(session, "supervisor2", clock()).figures["referrals"].totals.get("P1/delivered")


def test_a_supervisor_sees_only_their_directorate_and_no_other(app: Flask, clock: Clock) -> None:
    with app.app_context():
        session = db_session()
        walk(session, clock, office="2", to="approved")
        mine = report(session, "supervisor1", clock())
        assert [d.code for d in mine.chosen] == ["RBH"] and [d.code for d in mine.visible] == ["RBH"]
        assert all(not f.values for f in mine.figures.values())
        theirs = report(session, "supervisor2", clock())
        assert theirs.figures["registrations"].totals == {"reception": 1}
        with pytest.raises(NotFoundForActor):
            report(session, "supervisor1", clock(), code="HBN")
        with pytest.raises(NotFoundForActor):
            report(session, "admin", clock(), code="NOPE")
        for username in ("casemanager1", "reception1", "analyst", "complaintsunit", "complaints1"):
            with pytest.raises(NotFoundForActor):
                report(session, username, clock())


def test_periods_are_read_strictly() -> None:
    assert periods.parse_month("2026-02").last == dt.date(2026, 2, 28)
    assert periods.parse_quarter("2026-q4") == periods.Period(dt.date(2026, 10, 1), dt.date(2026, 12, 31), "quarter")
    for bad in ("2026-13", "2026", "x-y", "9999-12"):
        with pytest.raises(periods.PeriodInvalid):
            periods.parse_month(bad)
    for bad in ("2026-Q5", "2026-Q0", "2026"):
        with pytest.raises(periods.PeriodInvalid):
            periods.parse_quarter(bad)
    with pytest.raises(periods.PeriodInvalid):
        periods.custom(dt.date(2026, 2, 2), dt.date(2026, 2, 1))
