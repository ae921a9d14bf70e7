"""The portal offers the decision letter once the directorate has decided, not before, and an online
application's history says once that it was received."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask

from registry.citizens import status
from registry.documents import FileSystemStorage
from tests.conftest import Api
from tests.registry.test_citizen_status import Household
from tests.registry.test_online_path import START, apply_online, make_citizen
from tests.webui.test_portal_status import page, portal, visible
from webui.db import db_session, library


def test_the_letter_is_offered_only_once_the_supervisor_has_decided(app: Flask, api: Callable[[str], Api]) -> None:
    household = Household(app, api, monthly_income=9000).register().recommend()
    browser = portal(app, household, "en")
    html = page(browser, f"/portal/applications/{household.reference}")
    assert "Your eligibility result" in visible(html)  # scored: the result and its explanation show
    assert 'data-testid="letter-en"' not in html and 'data-testid="decision-text"' not in html
    assert "The decision letter will be here once the directorate has decided on your application." in visible(html)
    assert browser.get(f"/portal/applications/{household.reference}/letter?lang=en").status_code == 404

    household.reject()
    html = page(browser, f"/portal/applications/{household.reference}")
    assert "The directorate's decision Your application was not accepted" in visible(html)
    assert 'data-testid="letter-en"' in html and 'data-testid="letter-ar"' in html
    assert browser.get(f"/portal/applications/{household.reference}/letter?lang=en").status_code == 200
    arabic = visible(page(portal(app, household, "ar"), f"/portal/applications/{household.reference}"))
    assert "لم يُقبل طلبك" in arabic


def test_an_online_applications_history_says_once_that_it_was_received(app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        session = db_session()
        citizen = make_citizen(session)
        case = apply_online(session, citizen, FileSystemStorage(tmp_path / "documents"))
        found = status.application_status(session, citizen=citizen, reference=case.reference, library=library(),
                                          lang="en", now=START)
        assert [line.text for line in found.history] == ["Application received"]
        assert found.decision == "" and found.letter is None
