"""A complaint about a case shows in the case's history, as a link to the complaint for staff who may open it."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Api
from tests.registry.test_citizen_status import Household
from tests.webui.test_complaint_pages import portal


def test_the_case_history_links_the_complaint_for_those_who_may_see_it(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    household = Household(app, api).register()
    browser = portal(app, household.national_id)
    response = browser.post("/portal/complaints/new", data={"kind": "decision", "case_reference": household.reference,
                                                            "text": "Why was I refused?"})
    assert response.status_code == 302, response.get_data(as_text=True)
    found = re.search(r'data-testid="reference">([^<]+)<', browser.get(response.headers["Location"]).get_data(
        as_text=True))
    assert found
    reference = found.group(1)

    history = login_as("supervisor1").get(f"/cases/{household.case_id}?tab=history").get_data(as_text=True)
    assert f'<a href="/complaints/{reference}" data-testid="complaint-link"><bdi dir="ltr">{reference}</bdi></a>' \
        in history
    assert login_as("supervisor1").get(f"/complaints/{reference}").status_code == 200

    reception = login_as("reception1")  # sees the case, not the complaints: the reference, no link
    history = reception.get(f"/cases/{household.case_id}?tab=history").get_data(as_text=True)
    assert reference in history and 'data-testid="complaint-link"' not in history
    assert reception.get(f"/complaints/{reference}").status_code in (403, 404)
