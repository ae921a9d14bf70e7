"""The campaign from end to end: the old system's export imported, a campaign over two directorates, each
allocated with its quotas and days off, visits completed (updated, not found, refused), a second attempt for
the household not found, a spot-check for the category that changed, and progress figures that equal counts
made here from the visit rows and the audit trail."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Clock
from tests.factories import national_id, registration

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
COLUMNS = ["HH_NO", "MEMBER_ID", "NAME_AR", "NAME_EN", "RELATION", "SEX", "BIRTH_DATE", "PROGRAMME", "STATUS",
           "GOV_CODE", "LOCALITY", "ADDRESS", "PHONE"]
STARTS_ON = dt.date(2026, 11, 8)  # a Sunday; the clock is Monday 2 November 2026
RANK = {"deeply_poor": 0, "poor": 1, "not_poor": 2}
#: The old system's households: number, governorate, locality, status, size.
EXPORT = [("7001", "PS-RBH", "البيرة", "ACTIVE", 3), ("7002", "PS-RBH", "البيرة", "ACTIVE", 2),
          ("7003", "PS-RBH", "بيتونيا", "ACTIVE", 4), ("7004", "PS-RBH", "بيتونيا", "ACTIVE", 1),
          ("7005", "PS-RBH", "البيرة", "SUSPENDED", 2),
          ("8001", "PS-HBN", "دورا", "ACTIVE", 2), ("8002", "PS-HBN", "دورا", "ACTIVE", 3),
          ("8003", "PS-HBN", "الخليل", "ACTIVE", 2)]


@contextmanager
def database(app: Flask) -> Iterator[Session]:
    with app.app_context():
        from webui.db import db_session

        yield db_session()


def user(session: Session, username: str) -> Any:
    from registry.models import User

    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def write_export(path: Path) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for number, governorate, locality, status, size in EXPORT:
            for n in range(size):
                writer.writerow({
                    "HH_NO": number, "MEMBER_ID": national_id(), "NAME_AR": f"عضو {n} من الأسرة {number}",
                    "NAME_EN": f"Member {n}", "RELATION": "HEAD" if n == 0 else "DAUGHTER",
                    "SEX": "M" if n == 0 else "F", "BIRTH_DATE": "1980-01-01" if n == 0 else "2010-06-15",
                    "PROGRAMME": "CTP", "STATUS": status, "GOV_CODE": governorate, "LOCALITY": locality,
                    "ADDRESS": f"شارع {number}", "PHONE": "0599123456"})
    return path


def visit_data(session: Session, visit: Any, **living: Any) -> dict[str, Any]:
    """What a case manager records at the visit: the household as imported, with every registration answer
    the old system did not have (living conditions, each member's details) filled in."""
    from registry.campaigns.services import visit_form_data

    data = visit_form_data(session, visit)
    complete = registration(**living)
    answers = {k: v for k, v in complete.items()
               if k not in ("members", "head_national_id", "governorate", "locality", "address", "phone")}
    data.update(answers)
    template = complete["members"][0]
    data["members"] = [{**{k: v for k, v in template.items() if k not in m or m[k] in (None, "")}, **{
        k: v for k, v in m.items() if v not in (None, "")}} for m in data["members"]]
    return data


def complete(app: Flask, clock: Clock, visit_id: int, outcome: str, **living: Any) -> Any:
    from registry.campaigns.models import Visit
    from registry.campaigns.services import complete_visit
    from webui.db import library

    with database(app) as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None and visit.case_manager_id is not None
        actor: Any = session.get(type(user(session, "admin")), visit.case_manager_id)
        data = visit_data(session, visit, **living) if outcome == "updated" else {}
        return complete_visit(session, actor=actor, library=library(), visit_id=visit_id, outcome=outcome,
                              data=data, base_version=visit.lock_version, now=clock.now)


def figures(rows: list[Any]) -> dict[str, int]:
    """The progress figures of some visit rows, counted one row at a time."""
    done = [v for v in rows if v.outcome is not None]
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


@BOTH_DATABASES
def test_an_imported_caseload_is_visited_and_its_progress_adds_up(app: Flask, clock: Clock, tmp_path: Path) -> None:
    from registry import households
    from registry.campaigns import allocation, capacity, services
    from registry.campaigns.allocation_rules import load_allocation_rules
    from registry.campaigns.models import Visit
    from registry.campaigns.operations import load_spot_check_rules, spot_check_reason
    from registry.campaigns.progress import ProgressFilter, campaign_progress
    from registry.legacy_import.services import import_export
    from registry.models import AuditEvent, Household
    from webui.db import library

    # 1. The old system's export, then the registry's first scoring of what came in.
    with database(app) as session:
        report = import_export(session, path=write_export(tmp_path / "export.csv"), now=clock.now)
        assert (report.households_imported, report.households_rejected) == (len(EXPORT), 0)
        imported = {h.legacy_id: h for h in session.scalars(select(Household).where(Household.legacy_id.is_not(None)))}
        assert {n: h.programme_status for n, h in imported.items()} == {
            n: "active" if s == "ACTIVE" else "suspended" for n, _g, _l, s, _z in EXPORT}
        # Ramallah's households are scored at once (incomplete: the old system knew nothing of their living
        # conditions); Hebron's are not, so their first category comes from the visit.
        households.rescore(session, rules_dir=str(library().rules_dir), now=clock.now, directorate="RBH")

    # 2. A campaign of the beneficiaries of Ramallah and Hebron: one visit each, the suspended one left out.
    with database(app) as session:
        campaign = services.create_campaign(
            session, actor=user(session, "admin"), name="تحديث بيانات 2026", directorate_codes=["RBH", "HBN"],
            starts_on=STARTS_ON, ends_on=dt.date(2026, 12, 31), include=["beneficiaries"], now=clock.now)
        campaign_id = campaign.id
        visits = list(session.scalars(select(Visit).where(Visit.campaign_id == campaign_id)))
        assert sorted(str(v.household.legacy_id) for v in visits) == sorted(
            n for n, _g, _l, s, _z in EXPORT if s == "ACTIVE")
        assert {v.household.legacy_id: v.directorate.code for v in visits} == {
            n: g.removeprefix("PS-") for n, g, _l, s, _z in EXPORT if s == "ACTIVE"}

    # 3. Each directorate's supervisor allocates, with a quota of 2 in Ramallah and days off in both.
    with database(app) as session:
        rbh, hbn = user(session, "supervisor1"), user(session, "supervisor2")
        cm1, cm2 = user(session, "casemanager1"), user(session, "casemanager2")
        capacity.set_quota(session, actor=rbh, user_id=cm1.id, visits_per_day=2, now=clock.now)
        capacity.add_day_off(session, actor=rbh, user_id=cm1.id, day=STARTS_ON, reason="leave", now=clock.now)
        capacity.set_quota(session, actor=hbn, user_id=cm2.id, visits_per_day=1, now=clock.now)
        capacity.add_day_off(session, actor=hbn, user_id=cm2.id, day=STARTS_ON + dt.timedelta(days=1), reason="",
                             now=clock.now)
        for supervisor, code in ((rbh, "RBH"), (hbn, "HBN")):
            done = allocation.allocate(session, actor=supervisor, campaign_id=campaign_id, directorate_code=code,
                                       now=clock.now)
            assert done.allocated == done.considered and done.unallocated == 0
        rules = load_allocation_rules()
        plan: list[Any] = list(session.scalars(select(Visit).where(Visit.campaign_id == campaign_id)
                                    .execution_options(populate_existing=True)))
        assert {v.directorate.code: v.case_manager_id for v in plan} == {"RBH": cm1.id, "HBN": cm2.id}
        per_day = Counter((v.case_manager_id, v.planned_on) for v in plan)
        assert max(n for (w, _d), n in per_day.items() if w == cm1.id) <= 2
        assert max(n for (w, _d), n in per_day.items() if w == cm2.id) <= 1
        assert (cm1.id, STARTS_ON) not in per_day and (cm2.id, STARTS_ON + dt.timedelta(days=1)) not in per_day
        assert all(rules.is_working_day(day) and day >= STARTS_ON for _w, day in per_day)
        # Two households of a worker's day are in one locality when the quota allows it.
        for (worker, day), _n in per_day.items():
            assert len({v.locality for v in plan if (v.case_manager_id, v.planned_on) == (worker, day)}) == 1
        by_number = {v.household.legacy_id: v.id for v in plan}
        first_day = min(v.planned_on for v in plan if v.case_manager_id == cm1.id)
        today = allocation.todays_visits(session, actor=cm1, day=first_day)
        assert today and all(v.case_manager_id == cm1.id and v.planned_on == first_day for v in today)

    # 4. The visits, on the days planned.
    clock.now = dt.datetime.combine(STARTS_ON + dt.timedelta(days=1), dt.time(7), tzinfo=dt.UTC)
    poorer = complete(app, clock, by_number["7001"], "updated", monthly_income=0)  # nothing at all to live on
    with database(app) as session:
        assert poorer.category_before and poorer.category_after and poorer.category_before != poorer.category_after
    clock.advance(hours=1)
    not_found = complete(app, clock, by_number["7002"], "not_found")
    clock.advance(hours=1)
    first_scored = complete(app, clock, by_number["8001"], "updated", monthly_income=0)
    assert (first_scored.category_before, first_scored.category_after) == (None, poorer.category_after)
    clock.advance(days=1)
    second = complete(app, clock, not_found.next_visit_id, "refused")
    assert second.next_visit_id is None  # two attempts, as the diagram allows
    # A refusal on Thursday 12 November: Friday and Saturday are days off, Sunday 15 November a holiday
    # (rules/campaign_allocation.yaml) and Monday 16 the case manager's day off: tried again on Tuesday 17.
    with database(app) as session:
        capacity.add_day_off(session, actor=user(session, "supervisor1"), user_id=user(session, "casemanager1").id,
                             day=dt.date(2026, 11, 16), reason="training", now=clock.now)
    clock.now = dt.datetime(2026, 11, 12, 9, tzinfo=dt.UTC)
    refused = complete(app, clock, by_number["7003"], "refused")

    with database(app) as session:
        again: Any = session.get(Visit, not_found.next_visit_id)
        first_attempt: Any = session.get(Visit, by_number["7002"])
        assert (again.attempt, again.household.legacy_id, again.case_manager_id) == (
            2, "7002", user(session, "casemanager1").id)
        assert again.planned_on is not None and again.planned_on > first_attempt.planned_on
        assert refused.next_visit_id is not None
        assert session.get(Visit, refused.next_visit_id).planned_on == dt.date(2026, 11, 17)  # type: ignore[union-attr]

    # 5. The changed category is spot-checked. A first category is no change (progress does not count it
    # as one either): that visit is checked only if the rules' random draw chose it.
        assert poorer.spot_check
        spot = load_spot_check_rules("rules")
        assert first_scored.spot_check == (
            spot_check_reason(spot, visit_id=by_number["8001"], category_changed=False) is not None)
        waiting = {v.id for _t, v in services.spot_checks(session, actor=user(session, "supervisor1"))}
        assert by_number["7001"] in waiting
        services.complete_spot_check(session, actor=user(session, "supervisor1"), library=library(),
                                     visit_id=by_number["7001"], data={"spot_check_result": "confirmed"},
                                     now=clock.now)

    # 6. Progress: every figure equals a count made here from the rows, and from the audit trail.
    with database(app) as session:
        rows = list(session.scalars(select(Visit).where(Visit.campaign_id == campaign_id)
                                    .execution_options(populate_existing=True)))
        shown = campaign_progress(session, actor=user(session, "admin"), campaign_id=campaign_id,
                                  filters=ProgressFilter(), now=clock.now, rules_dir=library().rules_dir)
        assert asdict(shown.totals) == figures(rows)
        assert {r.key: asdict(r.figures) for r in shown.by_directorate} == {
            code: figures([v for v in rows if v.directorate.code == code]) for code in ("RBH", "HBN")}
        assert {r.key: asdict(r.figures) for r in shown.by_worker} == {
            str(w): figures([v for v in rows if v.case_manager_id == w]) for w in {v.case_manager_id for v in rows}}
        assert (shown.totals.households, shown.totals.attempts, shown.totals.visited, shown.totals.updated,
                shown.totals.not_found, shown.totals.refused, shown.totals.remaining) == (7, 9, 5, 2, 1, 2, 4)
        events = [e.details for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "visit_completed"))
                  if e.details["campaign_id"] == campaign_id]
        assert Counter(e["outcome"] for e in events) == Counter(
            updated=shown.totals.updated, not_found=shown.totals.not_found, refused=shown.totals.refused)
        assert sum(1 for e in events if e["category_before"] and e["category_after"]
                   and e["category_before"] != e["category_after"]) == shown.totals.changed == 1
        ramallah = campaign_progress(session, actor=user(session, "supervisor1"), campaign_id=campaign_id,
                                     filters=ProgressFilter(), now=clock.now, rules_dir=library().rules_dir)
        assert asdict(ramallah.totals) == figures([v for v in rows if v.directorate.code == "RBH"])
        assert [r.key for r in ramallah.by_directorate] == ["RBH"]

