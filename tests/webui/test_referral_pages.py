"""Referral pages: the partner's inbox and referral, the case's panel, the staff inbox, and what partners
may never open."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Clock
from tests.registry.test_referrals import case_with_approved_plan, ready, referral

Login = Callable[..., FlaskClient]


def test_the_partner_accepts_and_records_the_service_in_its_pages(app: Flask, clock: Clock, login_as: Login) -> None:
    reference = case_with_approved_plan(app, clock)
    partner = login_as("partner_moh")
    page = partner.get("/partner/").get_data(as_text=True)
    assert reference in page and "Health" in page
    shown = partner.get(f"/partner/referrals/{reference}").get_data(as_text=True)
    assert "Referral for treatment" in shown
    task = ready(app, reference)[0]
    refused = partner.post(f"/partner/referrals/{reference}/tasks/{task.id}", data={"partner_decision": "decline"})
    assert refused.status_code == 422 and referral(app, reference).status == "sent"
    done = partner.post(f"/partner/referrals/{reference}/tasks/{task.id}", data={"partner_decision": "accept"})
    assert done.status_code == 302 and referral(app, reference).status == "accepted"
    task = ready(app, reference)[0]
    partner.post(f"/partner/referrals/{reference}/tasks/{task.id}", data={
        "service_delivered": "Medicine for three months.", "delivered_on": clock.now.date().isoformat(),
        "delivery_outcome": "completed"})
    assert referral(app, reference).status == "delivered"
    case_page = login_as("casemanager1").get(f"/cases/{referral(app, reference).case_id}?tab=plan")
    text = case_page.get_data(as_text=True)
    assert 'data-testid="case-referrals"' in text and "Service delivered" in text
    assert "Medicine for three months." in text


def test_a_partner_never_sees_another_partners_referral_nor_the_households_eligibility(
        app: Flask, clock: Clock, login_as: Login) -> None:
    reference = case_with_approved_plan(app, clock)
    other = login_as("partner_ngo")
    assert reference not in other.get("/partner/").get_data(as_text=True)
    assert other.get(f"/partner/referrals/{reference}").status_code == 404
    task = ready(app, reference)[0]
    assert other.get(f"/partner/referrals/{reference}/tasks/{task.id}").status_code == 404
    assert other.post(f"/partner/referrals/{reference}/tasks/{task.id}",
                      data={"partner_decision": "accept"}).status_code == 404
    own = login_as("partner_moh")
    for path in ("/partner/", f"/partner/referrals/{reference}", f"/partner/referrals/{reference}/tasks/{task.id}"):
        page = own.get(path).get_data(as_text=True).lower()
        assert not re.search(r"eligib|poverty|score|deprivation|documents?\b", page), path


def test_partner_users_are_refused_on_staff_pages(app: Flask, clock: Clock, login_as: Login) -> None:
    reference = case_with_approved_plan(app, clock)
    case_id = referral(app, reference).case_id
    partner = login_as("partner_moh")
    assert partner.get("/").headers["Location"].endswith("/partner/")
    for path in (f"/cases/{case_id}", "/cases", "/households", "/processes", f"/referrals/{reference}",
                 "/complaints", "/api/v1/cases"):
        assert partner.get(path).status_code == 404, path


def test_the_case_manager_sees_an_overdue_referral_in_the_inbox_and_a_declined_one_on_the_case(
        app: Flask, clock: Clock, login_as: Login) -> None:
    from registry.worker import run_once
    from webui.db import library

    reference = case_with_approved_plan(app, clock)
    clock.advance(days=5, minutes=1)
    with app.app_context():
        run_once(app.extensions["sessionmaker"], now=clock.now, library=library())
    manager = login_as("casemanager1")
    inbox = manager.get("/").get_data(as_text=True)
    assert 'data-testid="inbox-referral-task"' in inbox and reference in inbox
    assert reference not in login_as("casemanager2").get("/").get_data(as_text=True)
    partner = login_as("partner_moh")
    task = next(t for t in ready(app, reference) if t.spec_id == "acknowledge_referral")
    partner.post(f"/partner/referrals/{reference}/tasks/{task.id}",
                 data={"partner_decision": "decline", "decline_reason": "No doctor this month."})
    page = manager.get(f"/referrals/{reference}").get_data(as_text=True)
    assert "No doctor this month." in page and 'data-testid="staff-referral-task"' in page


def _count(app: Flask) -> int:
    from sqlalchemy import func, select

    from registry.referrals.models import Referral
    from tests.registry.test_referrals import database

    with database(app) as session:
        return session.scalar(select(func.count()).select_from(Referral)) or 0


def test_the_case_manager_refers_to_a_partner_from_the_case_page_and_bad_choices_send_nothing(
        app: Flask, clock: Clock, login_as: Login) -> None:
    reference = case_with_approved_plan(app, clock)
    case_id = referral(app, reference).case_id
    manager = login_as("casemanager1")
    page = manager.get(f"/cases/{case_id}?tab=plan").get_data(as_text=True)
    form = re.search(r'<form method="post" action="([^"]+)" class="refer-form".*?</form>', page, re.S)
    assert form is not None and form.group(1) == f"/referrals/new/{case_id}"
    assert 'name="csrf_token"' in form.group(0)
    assert 'value="NGO-EMP"' in form.group(0) and 'value="education"' in form.group(0)
    before = _count(app)
    for data, said in (
            ({"service": "education", "intervention": "School fees"}, "Choose a partner organisation"),
            ({"partner": "NOPE", "service": "education", "intervention": "School fees"},
             "Choose a partner organisation"),
            ({"partner": "MOH", "service": "education", "intervention": "School fees"},
             "does not deliver the chosen service")):
        refused = manager.post(form.group(1), data=data, follow_redirects=True)
        assert refused.status_code == 200 and said in refused.get_data(as_text=True), data
    assert _count(app) == before
    arabic = login_as("casemanager1", lang="ar").post(form.group(1), data={"service": "education"},
                                                      follow_redirects=True).get_data(as_text=True)
    assert 'class="flash error"' in arabic and _count(app) == before
    other = login_as("casemanager2")
    assert 'class="refer-form"' not in other.get(f"/cases/{case_id}?tab=plan").get_data(as_text=True)
    assert other.post(form.group(1), data={"partner": "NGO-EMP", "service": "education",
                                           "intervention": "School fees"}).status_code == 404
    assert 'class="refer-form"' not in login_as("supervisor1").get(f"/cases/{case_id}?tab=plan").get_data(
        as_text=True)
    assert _count(app) == before
    sent = manager.post(form.group(1), data={"partner": "NGO-EMP", "service": "education",
                                             "intervention": "School fees for the eldest son",
                                             "note": "Call the mother after noon."})
    assert sent.status_code == 302 and _count(app) == before + 1
    new_reference = sent.headers["Location"].rsplit("/", 1)[-1]
    shown = login_as("partner_ngo").get(f"/partner/referrals/{new_reference}").get_data(as_text=True)
    assert "School fees for the eldest son" in shown and "Call the mother after noon." in shown


def test_the_partner_reads_the_plans_note_and_its_due_date_each_under_its_own_label(
        app: Flask, clock: Clock, login_as: Login) -> None:
    import datetime as dt

    reference = case_with_approved_plan(app, clock)
    shown = login_as("partner_moh").get(f"/partner/referrals/{reference}").get_data(as_text=True)
    note = re.search(r'data-testid="referral-note">([^<]*)<', shown)
    assert note is not None and note.group(1) == "The mother prefers morning visits."
    due = (clock.now.date() + dt.timedelta(days=90)).isoformat()
    assert re.search(r"To be done by</dt><dd[^>]*><bdi[^>]*>" + due + "</bdi>", shown)


def test_staff_read_the_delivery_outcome_in_the_words_of_the_delivery_form(
        app: Flask, clock: Clock, login_as: Login) -> None:
    reference = case_with_approved_plan(app, clock)
    partner = login_as("partner_moh")
    partner.post(f"/partner/referrals/{reference}/tasks/{ready(app, reference)[0].id}",
                 data={"partner_decision": "accept"})
    partner.post(f"/partner/referrals/{reference}/tasks/{ready(app, reference)[0].id}", data={
        "service_delivered": "Two consultations.", "delivered_on": clock.now.date().isoformat(),
        "delivery_outcome": "partial"})
    assert referral(app, reference).outcome == "partial"
    case_id = referral(app, reference).case_id
    for lang, words in (("en", "Delivered in part"), ("ar", "قُدّمت جزئياً")):
        manager = login_as("casemanager1", lang=lang)
        page = manager.get(f"/referrals/{reference}").get_data(as_text=True)
        outcome = re.search(r'data-testid="referral-outcome">([^<]*)<', page)
        assert outcome is not None and outcome.group(1) == words, lang
        panel = manager.get(f"/cases/{case_id}?tab=plan").get_data(as_text=True)
        assert f'data-testid="case-referral-outcome">{words}<' in panel and ">partial<" not in panel
