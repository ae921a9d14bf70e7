"""Allocation pages: today's visits for a case manager, quotas and days off, allocating, moving visits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from registry.campaigns.models import Campaign, CampaignDirectorate, Visit
from registry.campaigns.staff_models import StaffDayOff, StaffQuota
from registry.models import Directorate, Household, Role, User

TODAY = dt.date(2026, 11, 2)  # the test clock's day, a Monday


def _setup(app: Flask, *, localities: dict[str, int], starts_on: dt.date = TODAY) -> dict[str, Any]:
    from webui.db import db_session

    with app.app_context():
        session = db_session()
        rbh = session.scalar(select(Directorate).where(Directorate.code == "RBH"))
        extra = User(username="cm_extra", full_name="Lina Haddad", role=Role.CASE_MANAGER.value,
                     directorate_id=rbh.id, password_hash="-")
        session.add(extra)
        campaign = Campaign(name="Update", starts_on=starts_on, ends_on=dt.date(2026, 12, 31), status="active",
                            include=["beneficiaries"])
        session.add(campaign)
        session.flush()
        session.add(CampaignDirectorate(campaign_id=campaign.id, directorate_id=rbh.id))
        for locality, count in localities.items():
            for n in range(count):
                household = Household(directorate_id=rbh.id, governorate_code="PS-RBH", locality=locality,
                                      address=f"street {n}")
                session.add(household)
                session.flush()
                session.add(Visit(campaign_id=campaign.id, household_id=household.id, directorate_id=rbh.id,
                                  locality=locality))
        session.commit()
        cm1 = session.scalar(select(User).where(User.username == "casemanager1"))
        return {"campaign_id": campaign.id, "cm1": cm1.id, "extra": extra.id}


def _plan(app: Flask) -> dict[int, tuple[int | None, dt.date | None]]:
    from webui.db import db_session

    with app.app_context():
        return {v.id: (v.case_manager_id, v.planned_on) for v in db_session().scalars(select(Visit))}


def test_supervisor_allocates_and_the_case_manager_sees_todays_route(
        app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    ids = _setup(app, localities={"سردا": 2, "رام الله": 2})
    supervisor = login_as("supervisor1")
    assert 'data-testid="allocate-button"' in supervisor.get(f"/campaigns/{ids['campaign_id']}").get_data(as_text=True)
    page = supervisor.post(f"/campaigns/{ids['campaign_id']}/allocate")
    assert page.status_code == 200
    assert "Visits without a day: <bdi dir=\"ltr\" class=\"nowrap\">4</bdi>" in page.get_data(as_text=True)
    manager = login_as("casemanager1")
    inbox = manager.get("/").get_data(as_text=True)
    assert 'data-testid="inbox-visits-today"' in inbox
    today = manager.get("/visits/today").get_data(as_text=True)
    visits = {visit_id for visit_id, (_user, day) in _plan(app).items() if day == TODAY}
    links = [f'href="/visits/{visit_id}"' for visit_id in visits]
    assert all(link in today for link in links)
    # The route: رام الله comes before سردا in the rule file's order.
    assert today.index("رام الله") < today.index("سردا")
    assert "No visit is planned" in login_as("casemanager2").get("/visits/today").get_data(as_text=True)


def test_supervisor_sets_a_quota_and_a_day_off(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    from webui.db import db_session

    ids = _setup(app, localities={})
    supervisor = login_as("supervisor1")
    assert "Lina Haddad" in supervisor.get("/campaigns/staff").get_data(as_text=True)
    supervisor.post(f"/campaigns/staff/{ids['extra']}/quota", data={"visits_per_day": "5"})
    supervisor.post(f"/campaigns/staff/{ids['extra']}/days-off", data={"day": "2026-11-10", "reason": "training"})
    page = supervisor.post(f"/campaigns/staff/{ids['extra']}/days-off", data={"day": "2026-11-10"},
                           follow_redirects=True).get_data(as_text=True)
    assert "This day off is already recorded." in page
    bad = supervisor.post(f"/campaigns/staff/{ids['extra']}/quota", data={"visits_per_day": "lots"},
                          follow_redirects=True)
    assert bad.status_code == 200 and "Enter a whole number." in bad.get_data(as_text=True)
    with app.app_context():
        session = db_session()
        assert session.get(StaffQuota, ids["extra"]).visits_per_day == 5
        assert [d.reason for d in session.scalars(select(StaffDayOff))] == ["training"]
    assert "training" in supervisor.get("/campaigns/staff").get_data(as_text=True)


def test_another_directorate_is_a_404(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    ids = _setup(app, localities={"البيرة": 3})
    other = login_as("supervisor2")
    assert other.post(f"/campaigns/{ids['campaign_id']}/allocate").status_code == 404
    assert other.post(f"/campaigns/staff/{ids['cm1']}/quota", data={"visits_per_day": "2"}).status_code == 404
    assert other.post(f"/campaigns/staff/{ids['cm1']}/days-off", data={"day": "2026-11-10"}).status_code == 404
    assert other.get(f"/campaigns/reassign?from_user_id={ids['cm1']}").status_code == 404
    assert login_as("casemanager1").get("/campaigns/staff").status_code == 403
    assert all(value == (None, None) for value in _plan(app).values())


def test_reassignment_preview_then_confirm_moves_what_was_shown(
        app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    ids = _setup(app, localities={"البيرة": 6})
    supervisor = login_as("supervisor1")
    supervisor.post(f"/campaigns/{ids['campaign_id']}/allocate")
    before = _plan(app)
    preview = supervisor.get(f"/campaigns/reassign?from_user_id={ids['cm1']}&to_user_id={ids['extra']}"
                             f"&since={TODAY.isoformat()}").get_data(as_text=True)
    shown = {visit_id for visit_id, (user, _day) in before.items() if user == ids["cm1"]}
    assert shown and all(f'data-visit-id="{visit_id}"' in preview for visit_id in shown)
    assert _plan(app) == before
    fingerprint = preview.split('name="fingerprint" value="')[1].split('"')[0]
    done = supervisor.post("/campaigns/reassign", data={
        "from_user_id": ids["cm1"], "to_user_id": ids["extra"], "since": TODAY.isoformat(),
        "fingerprint": fingerprint, "confirm": "1"}, follow_redirects=True)
    assert "Visits moved: 6" in done.get_data(as_text=True)
    after = _plan(app)
    assert {visit_id for visit_id, (user, _day) in after.items() if user == ids["extra"]} == shown
    stale = supervisor.post("/campaigns/reassign", data={
        "from_user_id": ids["extra"], "to_user_id": ids["cm1"], "since": TODAY.isoformat(),
        "fingerprint": "not-what-was-shown"}, follow_redirects=True)
    assert "The visits changed since the preview" in stale.get_data(as_text=True)
    assert _plan(app) == after
