"""The field app's API: what a phone downloads for the day, and what it sends back (once, and never over a change)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from registry.campaigns.household_data import update_household
from registry.campaigns.models import Campaign, CampaignDirectorate, Visit
from registry.field.models import VisitSubmission
from registry.models import AuditEvent, Directorate, Household, User
from tests.factories import member, png_image, registration

pytestmark = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)

TODAY = dt.date(2026, 11, 2)  # the test clock's day (08:30 UTC is 10:30 in Palestine)
NOW = dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)


def _user(session: Any, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def add_visit(session: Any, *, username: str = "casemanager1", code: str = "RBH", day: dt.date = TODAY,
              head_name: str = "أحمد محمود عودة", head_latin: str = "Ahmad Odeh") -> Visit:
    """A campaign visit planned for ``day`` for this case manager, of a registered household of two."""
    directorate = session.scalar(select(Directorate).where(Directorate.code == code))
    campaign = Campaign(name=f"Update {code}", starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=60),
                        status="active", include=["beneficiaries"])
    session.add(campaign)
    session.flush()
    session.add(CampaignDirectorate(campaign_id=campaign.id, directorate_id=directorate.id))
    household = Household(directorate_id=directorate.id, governorate_code=directorate.governorate_code,
                          locality="البيرة", address="حي أم الشرايط")
    session.add(household)
    session.flush()
    head = member(name_ar=head_name, name_latin=head_latin)
    spouse = member("spouse", name_ar="فاطمة يوسف حمدان", sex="female", birth_date="1984-07-02")
    data = registration(governorate=directorate.governorate_code, members=[head, spouse])
    data["head_national_id"] = data["members"][0]["national_id"]
    update_household(session, household, data, actor_id=None, visit_id=0, today=TODAY,
                     now=NOW - dt.timedelta(days=30))
    household.updated_at = NOW - dt.timedelta(days=30)
    visit = Visit(campaign_id=campaign.id, household_id=household.id, directorate_id=directorate.id,
                  locality=household.locality, case_manager_id=_user(session, username).id, planned_on=day,
                  updated_at=NOW - dt.timedelta(days=1))
    session.add(visit)
    session.commit()
    session.refresh(visit)
    return visit


def setup_visit(app: Flask, **kwargs: Any) -> int:
    with app.app_context():
        from webui.db import db_session

        return add_visit(db_session(), **kwargs).id


def send(client: Any, visit_id: int, *, key: str = "phone-1-visit", base_version: int = 1, outcome: str = "not_found",
         data: dict[str, Any] | None = None, files: dict[str, Any] | None = None) -> Any:
    body: dict[str, Any] = {"base_version": base_version, "outcome": outcome,
                            "data": data if data is not None else {"visit_note": "Neighbours say they moved"}}
    if files is not None:
        body["files"] = files
    return client.post(f"/api/v1/visits/{visit_id}/submission", json=body,
                       headers={"Idempotency-Key": key, "Accept-Language": "en"})


def submissions(app: Flask) -> list[VisitSubmission]:
    with app.app_context():
        from webui.db import db_session

        return list(db_session().scalars(select(VisitSubmission).order_by(VisitSubmission.id)))


def visit_row(app: Flask, visit_id: int) -> Visit:
    with app.app_context():
        from webui.db import db_session

        visit = db_session().get(Visit, visit_id)
        assert visit is not None
        return visit


def test_the_download_lists_the_case_managers_visits_with_household_data_version_and_forms(
        app: Flask, login_as: Any) -> None:
    mine = setup_visit(app)
    tomorrow = setup_visit(app, day=TODAY + dt.timedelta(days=1), head_name="سعيد خالد")
    setup_visit(app, username="casemanager2", code="HBN")  # another directorate's
    answer = login_as("casemanager1").get("/api/v1/visits/today?days=2")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["day"] == "2026-11-02"
    assert [v["id"] for v in body["visits"]] == [mine, tomorrow]
    visit = body["visits"][0]
    assert visit["base_version"] == 1 and visit["open"] is True
    assert visit["household"]["head_name"] == "Ahmad Odeh"
    in_arabic = login_as("casemanager1", "ar").get("/api/v1/visits/today").get_json()["visits"][0]
    assert in_arabic["household"]["head_name"] == "أحمد محمود عودة"
    assert visit["values"]["locality"] == "البيرة" and len(visit["values"]["members"]) == 2
    registration_form = body["forms"][visit["form"]]
    governorate = next(f for f in registration_form["fields"] if f["name"] == "governorate")
    assert governorate["required"] is True
    assert governorate["label"] == {"en": "Governorate", "ar": "المحافظة"}
    assert {"value": "PS-RBH", "label": {"en": "Ramallah and al-Bireh", "ar": "رام الله والبيرة"}} in \
        governorate["choices"]
    outcome_form = body["forms"][visit["outcome_form"]]
    assert [o["value"] for o in outcome_form["outcomes"]] == ["updated", "not_found", "refused"]
    assert [f["name"] for f in outcome_form["fields"]] == ["visit_note", "attachments"]

    only_today = login_as("casemanager1").get("/api/v1/visits/today").get_json()
    assert [v["id"] for v in only_today["visits"]] == [mine]


def test_another_workers_or_directorates_visit_is_never_listed_and_is_not_found(
        app: Flask, login_as: Any) -> None:
    hebron = setup_visit(app, username="casemanager2", code="HBN")
    assert login_as("casemanager1").get("/api/v1/visits/today?days=2").get_json()["visits"] == []
    refused = send(login_as("casemanager1"), hebron)
    assert refused.status_code == 404
    assert refused.get_json()["error"] == "Not found."
    assert submissions(app) == []
    assert login_as("casemanager1").get("/api/v1/visits/today").status_code == 200
    assert app.test_client().get("/api/v1/visits/today").status_code == 401


def test_a_submission_completes_the_visit_and_is_kept_as_applied(app: Flask, login_as: Any) -> None:
    visit_id = setup_visit(app)
    answer = send(login_as("casemanager1"), visit_id)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["state"] == "applied"
    visit = visit_row(app, visit_id)
    assert visit.outcome == "not_found" and visit.lock_version == 2
    [kept] = submissions(app)
    assert kept.state == "applied" and kept.payload == {"visit_note": "Neighbours say they moved"}


def test_an_updated_visit_writes_the_typed_values_over_the_household(app: Flask, login_as: Any) -> None:
    visit_id = setup_visit(app)
    browser = login_as("casemanager1")
    values = browser.get("/api/v1/visits/today").get_json()["visits"][0]["values"]
    values.update(address="شارع القدس 12", rooms=3)
    answer = send(browser, visit_id, outcome="updated", data=values,
                  files={"attachments": [{"name": "dwelling.png", "content_base64": base64.b64encode(png_image(40, 30))
                                          .decode()}]})
    assert answer.status_code == 200, answer.get_json()
    with app.app_context():
        from webui.db import db_session

        visit = db_session().get(Visit, visit_id)
        assert visit is not None and visit.outcome == "updated"
        assert visit.household.address == "شارع القدس 12"
    [kept] = submissions(app)
    assert [(f["name"], f["content_type"]) for f in kept.files] == [("dwelling.png", "image/png")]


def test_a_stale_base_version_is_a_409_with_the_differences_and_the_values_are_kept(
        app: Flask, login_as: Any) -> None:
    visit_id = setup_visit(app)
    with app.app_context():  # the household was updated at the office after the phone downloaded the visit
        from webui.db import db_session

        session = db_session()
        visit = session.get(Visit, visit_id)
        assert visit is not None
        visit.household.phone = "0599000111"
        visit.household.updated_at = NOW
        session.commit()
    answer = send(login_as("casemanager1"), visit_id, data={"visit_note": "typed in the village"})
    assert answer.status_code == 409
    body = answer.get_json()
    assert body["state"] == "conflict"
    assert [c["kind"] for c in body["differences"]["changes"]] == ["household_changed"]
    assert "changed on the server" in body["error"]
    assert visit_row(app, visit_id).outcome is None
    [kept] = submissions(app)
    assert kept.state == "conflict" and kept.payload == {"visit_note": "typed in the village"}


def test_a_double_send_is_answered_once(app: Flask, login_as: Any) -> None:
    visit_id = setup_visit(app)
    browser = login_as("casemanager1")
    first, second = send(browser, visit_id), send(browser, visit_id)
    assert first.status_code == second.status_code == 200
    assert second.get_json() == first.get_json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(submissions(app)) == 1
    assert visit_row(app, visit_id).lock_version == 2
    with app.app_context():
        from webui.db import db_session

        completed = db_session().scalar(select(func.count()).select_from(AuditEvent)
                                        .where(AuditEvent.action == "visit_completed"))
        assert completed == 1
    reused = send(browser, visit_id, outcome="refused")
    assert reused.status_code == 422
    assert reused.get_json()["codes"] == {"Idempotency-Key": ["key_reused"]}


def test_a_hostile_file_is_refused_and_nothing_is_kept(app: Flask, login_as: Any) -> None:
    visit_id = setup_visit(app)
    page = b"<html><script>alert(1)</script></html>" + b" " * 200
    answer = send(login_as("casemanager1"), visit_id,
                  files={"attachments": [{"name": "photo.jpg", "content_base64": base64.b64encode(page).decode()}]})
    assert answer.status_code == 422
    assert answer.get_json()["codes"] == {"attachments": ["invalid_file_type"]}
    assert submissions(app) == []
    assert visit_row(app, visit_id).outcome is None
    not_base64 = send(login_as("casemanager1"), visit_id, key="other",
                      files={"attachments": [{"name": "x.png", "content_base64": "%%%"}]})
    assert not_base64.status_code == 422


def test_bad_bodies_are_clear_422s_and_a_missing_key_is_named(app: Flask, login_as: Any) -> None:
    visit_id = setup_visit(app)
    browser = login_as("casemanager1")
    no_key = browser.post(f"/api/v1/visits/{visit_id}/submission", json={"base_version": 1, "outcome": "refused"})
    assert no_key.status_code == 422 and no_key.get_json()["codes"] == {"Idempotency-Key": ["required"]}
    bad = browser.post(f"/api/v1/visits/{visit_id}/submission", data="[1]", content_type="application/json",
                       headers={"Idempotency-Key": "k1"})
    assert bad.status_code == 422
    wrong = send(browser, visit_id, key="k2", base_version=0, outcome="maybe")
    assert wrong.status_code == 422
    assert wrong.get_json()["codes"] == {"base_version": ["out_of_range"], "outcome": ["invalid_choice"]}
    unknown = browser.post(f"/api/v1/visits/{visit_id}/submission", headers={"Idempotency-Key": "k4"},
                           json={"base_version": 1, "outcome": "refused", "household_id": 9})
    assert unknown.status_code == 422 and unknown.get_json()["codes"] == {"household_id": ["unknown_field"]}
    choice = send(browser, visit_id, key="k3", outcome="maybe")
    assert choice.status_code == 422 and choice.get_json()["codes"] == {"outcome": ["invalid_choice"]}
    assert visit_row(app, visit_id).outcome is None


def test_conflicts_page_shows_the_typed_values_and_applying_them_is_audited(app: Flask, login_as: Any) -> None:
    visit_id = setup_visit(app)
    with app.app_context():
        from webui.db import db_session

        session = db_session()
        visit = session.get(Visit, visit_id)
        assert visit is not None
        visit.household.updated_at = NOW
        session.commit()
    assert send(login_as("casemanager1"), visit_id, outcome="refused",
                data={"visit_note": "the father refused at the door"}).status_code == 409
    [kept] = submissions(app)
    supervisor = login_as("supervisor1")
    listing = supervisor.get("/visits/conflicts").get_data(as_text=True)
    assert f"/visits/conflicts/{kept.id}" in listing
    assert f"/visits/conflicts/{kept.id}" not in login_as("supervisor2").get("/visits/conflicts").get_data(as_text=True)
    assert login_as("supervisor2").get(f"/visits/conflicts/{kept.id}").status_code == 404
    page = supervisor.get(f"/visits/conflicts/{kept.id}").get_data(as_text=True)
    assert "the father refused at the door" in page
    applied = supervisor.post(f"/visits/conflicts/{kept.id}/apply")
    assert applied.status_code == 302
    assert visit_row(app, visit_id).outcome == "refused"
    [resolved] = submissions(app)
    assert (resolved.state, resolved.resolution) == ("resolved", "applied")
    with app.app_context():
        from webui.db import db_session

        event = db_session().scalar(select(AuditEvent).where(AuditEvent.action == "visit_submission_applied"))
        assert event is not None and event.details["submission_id"] == kept.id


def test_a_discarded_conflict_stays_on_record(app: Flask, login_as: Any) -> None:
    visit_id = setup_visit(app)
    with app.app_context():
        from webui.db import db_session

        session = db_session()
        visit = session.get(Visit, visit_id)
        assert visit is not None
        visit.lock_version = 5
        session.commit()
    browser = login_as("casemanager1")
    assert send(browser, visit_id).status_code == 409
    [kept] = submissions(app)
    assert browser.post(f"/visits/conflicts/{kept.id}/discard").status_code == 302
    [resolved] = submissions(app)
    assert (resolved.state, resolved.resolution) == ("resolved", "discarded")
    assert resolved.payload == {"visit_note": "Neighbours say they moved"}
    assert visit_row(app, visit_id).outcome is None
    assert f"/visits/conflicts/{kept.id}" in browser.get("/visits/conflicts?all=1").get_data(as_text=True)


def test_a_visit_already_done_is_never_overwritten_even_when_applying(app: Flask, login_as: Any) -> None:
    visit_id = setup_visit(app)
    browser = login_as("casemanager1")
    assert send(browser, visit_id, key="first-phone").status_code == 200
    second = send(browser, visit_id, key="second-phone", outcome="refused", data={"visit_note": "second try"})
    assert second.status_code == 409
    assert [c["kind"] for c in second.get_json()["differences"]["changes"]] == ["already_completed"]
    conflict = [s for s in submissions(app) if s.state == "conflict"][0]
    answer = browser.post(f"/visits/conflicts/{conflict.id}/apply", follow_redirects=True)
    assert "The visit was already completed." in answer.get_data(as_text=True)
    assert visit_row(app, visit_id).outcome == "not_found"
    assert [s.state for s in submissions(app)] == ["applied", "conflict"]


def test_the_app_shell_is_installable_and_its_worker_covers_the_field_scope(app: Flask, login_as: Any) -> None:
    browser = login_as("casemanager1")
    page = browser.get("/field/")
    assert page.status_code == 200
    assert 'rel="manifest"' in page.get_data(as_text=True)
    worker = browser.get("/field/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    prelude = worker.get_data(as_text=True).split("\n", 1)[0]
    assert '"url": "/static/build/field-app.js"' in prelude and 'self.FIELD_SCOPE="/field/"' in prelude
    manifest = browser.get("/field/manifest.webmanifest").get_json(force=True)
    assert (manifest["scope"], manifest["start_url"], manifest["display"]) == ("/field/", "/field/", "standalone")
    assert login_as("reception1").get("/field/").status_code == 404
    assert app.test_client().get("/field/").status_code == 302  # to the login page
