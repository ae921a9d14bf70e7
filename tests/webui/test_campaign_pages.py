"""Campaign pages: creating a campaign, its counts by directorate, a visit's page and the supervisor's spot-check."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from registry.campaigns.models import Campaign, Visit
from registry.models import Household
from tests.conftest import Clock
from tests.factories import registration
from tests.registry.test_campaigns import WELL_OFF, add_household, database

Login = Callable[..., FlaskClient]


def as_form(data: dict[str, Any]) -> dict[str, Any]:
    """Registration data as the page posts it: rows as ``members-0-name_ar``, lists repeated, yes as ``on``."""
    form: dict[str, Any] = {}
    for name, value in data.items():
        if name == "members":
            for index, row in enumerate(value):
                for key, cell in row.items():
                    if cell is True:
                        form[f"members-{index}-{key}"] = "on"
                    elif cell not in (None, False):
                        form[f"members-{index}-{key}"] = str(cell)
        elif isinstance(value, list):
            form[name] = [str(v) for v in value]
        elif value is True:
            form[name] = "on"
        elif value not in (None, False):
            form[name] = str(value)
    return form


def create(browser: FlaskClient, **overrides: Any) -> Any:
    form = {"name": "North update", "directorates": ["RBH"], "starts_on": "2026-11-03", "ends_on": "2027-02-28",
            "include": ["beneficiaries"], **overrides}
    return browser.post("/campaigns/new", data=form)


def only_visit(app: Flask) -> Visit:
    with database(app) as session:
        visit = session.scalar(select(Visit).order_by(Visit.id.desc()).limit(1))
        assert visit is not None
        session.expunge(visit)
        return visit


def test_a_supervisor_creates_a_campaign_and_sees_its_counts(app: Flask, clock: Clock, login_as: Login) -> None:
    with database(app) as session:
        for _ in range(2):
            add_household(session, clock, "RBH", "active")
        add_household(session, clock, "HBN", "active")
    supervisor = login_as("supervisor1")
    page = supervisor.get("/campaigns/new")
    assert page.status_code == 200 and 'value="RBH"' in page.get_data(as_text=True)
    assert 'value="HBN"' not in page.get_data(as_text=True)  # only their own directorate to choose
    refused = create(supervisor, name="", ends_on="2026-10-01")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "This field is required." in html
    assert "The end date must not be before the start date." in html
    other = create(supervisor, directorates=["HBN"])
    assert other.status_code == 422 and "Choose your own directorate only." in other.get_data(as_text=True)
    made = create(supervisor)
    assert made.status_code == 302
    with database(app) as session:
        campaign = session.scalar(select(Campaign))
        assert campaign is not None and campaign.name == "North update"
        campaign_id = campaign.id
    shown = supervisor.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert re.search(r'data-testid="count-households">2<', shown)
    listed = supervisor.get("/campaigns").get_data(as_text=True)
    assert "North update" in listed
    # Another directorate's supervisor: the campaign does not exist for them; case managers run no campaigns.
    assert login_as("supervisor2").get(f"/campaigns/{campaign_id}").status_code == 404
    assert "North update" not in login_as("supervisor2").get("/campaigns").get_data(as_text=True)
    assert login_as("casemanager1").get("/campaigns").status_code == 403
    # The ministry sees every directorate's part.
    admin = login_as("admin")
    assert create(admin, name="Everywhere", directorates=["RBH", "HBN"]).status_code == 302
    with database(app) as session:
        everywhere = session.scalar(select(Campaign).where(Campaign.name == "Everywhere"))
        assert everywhere is not None
    whole = admin.get(f"/campaigns/{everywhere.id}").get_data(as_text=True)
    assert re.search(r'data-testid="total-row">.*?data-testid="count-households">3<', whole, re.S)


def test_a_case_manager_records_a_visit_on_its_page(app: Flask, clock: Clock, login_as: Login) -> None:
    with database(app) as session:
        household_id = add_household(session, clock, "RBH", "active", data=registration(**WELL_OFF))
    assert create(login_as("admin")).status_code == 302
    visit = only_visit(app)
    manager = login_as("casemanager1")
    page = manager.get(f"/visits/{visit.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="outcome"' in html and 'value="30000"' in html  # filled in
    for username in ("casemanager2", "supervisor2"):
        assert login_as(username).get(f"/visits/{visit.id}").status_code == 404
    assert 'data-testid="visit-read-only"' in login_as("supervisor1").get(f"/visits/{visit.id}").get_data(as_text=True)
    with database(app) as session:
        from registry.campaigns.services import visit_form_data

        data = visit_form_data(session, session.get(Visit, visit.id))
    data.update(monthly_income=200, phone="0599111222", dwelling_tenure="rented", damp_or_leaking=True)
    missing = manager.post(f"/visits/{visit.id}", data={**as_form({**data, "phone": ""}), "outcome": "updated",
                                                        "_version": "1"})
    assert missing.status_code == 422 and "This field is required." in missing.get_data(as_text=True)
    stale = manager.post(f"/visits/{visit.id}", data={**as_form(data), "outcome": "updated", "_version": "0"})
    assert stale.status_code == 409 and 'data-testid="visit-conflict"' in stale.get_data(as_text=True)
    assert 'value="0599111222"' in stale.get_data(as_text=True)  # what was typed is still there
    done = manager.post(f"/visits/{visit.id}", data={**as_form(data), "outcome": "updated", "_version": "1"})
    assert done.status_code == 302, done.get_data(as_text=True)
    with database(app) as session:
        assert session.get(Household, household_id).phone == "0599111222"
        recorded = session.get(Visit, visit.id)
        assert recorded.outcome == "updated" and recorded.category_before != recorded.category_after
    after = manager.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert 'data-testid="visit-outcome">Updated<' in after and 'data-testid="spot-check-waiting"' in after
    # The category changed: the directorate's supervisor spot-checks it.
    supervisor = login_as("supervisor1")
    assert f"/visits/{visit.id}/spot-check" in supervisor.get("/campaigns").get_data(as_text=True)
    assert login_as("supervisor2").get(f"/visits/{visit.id}/spot-check").status_code == 404
    assert manager.get(f"/visits/{visit.id}/spot-check").status_code == 404
    form = supervisor.get(f"/visits/{visit.id}/spot-check").get_data(as_text=True)
    found = re.search(r'name="_version" value="(\d+)"', form)
    assert found is not None
    version = found.group(1)
    bad = supervisor.post(f"/visits/{visit.id}/spot-check", data={"spot_check_result": "discrepancy",
                                                                  "_version": version})
    assert bad.status_code == 422
    checked = supervisor.post(f"/visits/{visit.id}/spot-check", data={"spot_check_result": "confirmed",
                                                                      "_version": version})
    assert checked.status_code == 302
    assert supervisor.get(f"/visits/{visit.id}/spot-check").status_code == 404  # nothing waits any more


def test_a_household_not_found_is_recorded_from_the_page(app: Flask, clock: Clock, login_as: Login) -> None:
    with database(app) as session:
        add_household(session, clock, "RBH", "active")
    assert create(login_as("admin")).status_code == 302
    visit = only_visit(app)
    manager = login_as("casemanager1", "ar")
    assert manager.post(f"/visits/{visit.id}", data={"outcome": "nobody", "_version": "1"}).status_code == 422
    done = manager.post(f"/visits/{visit.id}", data={"outcome": "not_found", "_version": "1"})
    assert done.status_code == 302
    again = only_visit(app)
    assert again.id != visit.id and again.attempt == 2
    assert 'data-testid="earlier-attempt"' in manager.get(f"/visits/{again.id}").get_data(as_text=True)
