"""The citizen follows an application in the portal: plain words in Arabic and English, the result and its letter,
a way to ask for a review, and nothing of another household's or of the staff's own notes."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Api
from tests.registry.test_citizen_status import PASSWORD, SECRET_NOTE, Household, database, household_deadline
from tests.webui.test_case_paths import BOTH_DATABASES


def portal(app: Flask, household: Household, lang: str) -> FlaskClient:
    """A browser logged in to the portal as the household's head, in ``lang``."""
    browser = app.test_client()
    response = browser.post("/portal/login", data={"national_id": household.national_id, "password": PASSWORD,
                                                   "lang": lang})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


def page(browser: FlaskClient, path: str) -> str:
    response = browser.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def visible(html: str) -> str:
    """The page's text as read (tags dropped, entities of apostrophes undone)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def test_a_new_application_shows_its_stage_and_next_step_in_arabic_and_english(
        app: Flask, api: Callable[[str], Api]) -> None:
    household = Household(app, api).as_online()  # a walk-in case shows in the portal once its household is recorded
    arabic = visible(page(portal(app, household, "ar"), f"/portal/applications/{household.reference}"))
    assert "يجري تسجيل طلبك" in arabic and "قيد المتابعة" in arabic
    assert "سيستكمل موظفو الاستقبال في المديرية تسجيل بيانات أسرتك." in arabic
    assert "2026-11-04" in arabic and "استُلم الطلب" in arabic
    english = visible(page(portal(app, household, "en"), f"/portal/applications/{household.reference}"))
    assert "Your application is being registered" in english
    assert "The directorate's reception will finish recording your household's details." in english
    assert "Expected by about 2026-11-04" in english and "Application received" in english
    assert "Your eligibility result" not in english  # not scored yet: no result, no letter


def test_the_list_and_the_portal_home_show_the_households_applications_in_plain_words(
        app: Flask, api: Callable[[str], Api]) -> None:
    household = Household(app, api).register()
    browser = portal(app, household, "en")
    for path in ("/portal/applications", "/portal/"):
        html = page(browser, path)
        assert f'href="/portal/applications/{household.reference}"' in html
        assert "The directorate is checking whether your household can receive assistance" in visible(html)


@BOTH_DATABASES
def test_a_document_request_is_the_next_step_and_the_supervisors_note_never_shows(
        app: Flask, api: Callable[[str], Api]) -> None:
    household = Household(app, api).register().recommend().request_documents()
    deadline = household_deadline(app, household.case_id).isoformat()
    english = page(portal(app, household, "en"), f"/portal/applications/{household.reference}")
    assert "Bring the documents the directorate asked for to the directorate's reception." in visible(english)
    assert "The directorate is waiting for you." in visible(english)
    assert f"Your deadline: {deadline}" in visible(english)
    assert "Proof of income or unemployment" in visible(english)
    arabic = page(portal(app, household, "ar"), f"/portal/applications/{household.reference}")
    assert "أحضِر الوثائق التي طلبتها المديرية إلى قسم الاستقبال في المديرية." in visible(arabic)
    assert deadline in arabic
    assert "إثبات الدخل أو البطالة" in visible(arabic)
    assert SECRET_NOTE not in english and SECRET_NOTE not in arabic


def test_after_the_decision_the_household_reads_its_explanation_and_downloads_its_letter(
        app: Flask, api: Callable[[str], Api]) -> None:
    household = Household(app, api, monthly_income=400).register().recommend().approve()
    browser = portal(app, household, "en")
    html = page(browser, f"/portal/applications/{household.reference}")
    text = visible(html)
    assert "Decision made: your application was accepted" in text
    assert "Your household meets the conditions for assistance." in text
    assert "Why: your household's" in text
    assert SECRET_NOTE not in html
    with database(app) as session:
        from registry.models import Case

        case = session.get(Case, household.case_id)
        assert case is not None and case.case_manager is not None
        assert case.case_manager.full_name not in html  # the household is told "a social worker", not who
    for lang in ("ar", "en"):
        response = browser.get(f"/portal/applications/{household.reference}/letter?lang={lang}")
        assert response.status_code == 200
        assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert household.reference in response.headers["Content-Disposition"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    arabic = visible(page(portal(app, household, "ar"), f"/portal/applications/{household.reference}"))
    assert "صدر القرار: قُبل طلبك" in arabic


def test_how_to_ask_for_a_review_links_to_a_complaint_about_the_decision(
        app: Flask, api: Callable[[str], Api]) -> None:
    household = Household(app, api, monthly_income=9000).register().recommend().reject()
    html = page(portal(app, household, "en"), f"/portal/applications/{household.reference}")
    assert "How to ask for a review" in html
    assert f'href="/portal/complaints/new?case={household.reference}&amp;about=decision"' in html
    assert "Decision made: your application was not accepted" in visible(html)
    assert "Not accepted" in visible(html) and SECRET_NOTE not in html


@BOTH_DATABASES
def test_another_households_application_and_letter_are_404(app: Flask, api: Callable[[str], Api]) -> None:
    mine, theirs = Household(app, api).register(), Household(app, api).register()
    browser = portal(app, mine, "en")
    assert browser.get(f"/portal/applications/{theirs.reference}").status_code == 404
    assert browser.get(f"/portal/applications/{theirs.reference}/letter").status_code == 404
    assert browser.get("/portal/applications/NO-SUCH-REF/letter").status_code == 404
    assert theirs.reference not in page(browser, "/portal/applications")
    assert browser.get(f"/portal/applications/{mine.reference}/letter").status_code == 404  # not decided yet


def test_staff_and_strangers_are_sent_to_the_portal_login(app: Flask, api: Callable[[str], Api],
                                                         login_as: Callable[..., FlaskClient]) -> None:
    household = Household(app, api).register()
    for browser in (app.test_client(), login_as("supervisor1")):
        response = browser.get(f"/portal/applications/{household.reference}/letter")
        assert response.status_code == 302 and "/portal/login" in response.headers["Location"]
