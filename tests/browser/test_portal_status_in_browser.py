"""On a 390×844 phone, in Arabic and English: a household reads its application's status, result and review
button, and the page fits the screen and passes axe-core."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from werkzeug.serving import make_server

from tests.browser.checks import assert_fits_and_accessible
from tests.browser.steps import Shoot
from tests.conftest import Api
from tests.registry.test_citizen_status import PASSWORD, Household

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The test app (its clock and database) on a free local port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="portal-status-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def test_the_status_page_reads_and_fits_on_a_phone_in_both_languages(
        app: Flask, api: Callable[[str], Api], chromium: Browser, served: str, shoot: Shoot) -> None:
    household = Household(app, api, monthly_income=400).register().recommend().approve()
    for lang, stage, review in (
            ("ar", "يتعرّف باحث اجتماعي على احتياجات أسرتك", "كيف تطلب مراجعة"),
            ("en", "A social worker is getting to know your household's needs", "How to ask for a review")):
        context = chromium.new_context(base_url=served, viewport=PHONE)
        context.set_default_timeout(5_000)
        page = context.new_page()
        page.goto("/portal/login")
        page.request.post(f"{served}/portal/login", form={"national_id": household.national_id,
                                                         "password": PASSWORD, "lang": lang})
        page.goto(f"/portal/applications/{household.reference}")
        expect(page.get_by_test_id("stage")).to_have_text(stage)
        expect(page.get_by_test_id("review")).to_contain_text(review if lang == "en" else "")
        expect(page.get_by_test_id("ask-review")).to_be_visible()
        expect(page.get_by_test_id(f"letter-{lang}")).to_be_visible()
        assert_fits_and_accessible(page)
        shoot(page, f"portal-status-{lang}-phone")
        page.goto("/portal/applications")
        expect(page.get_by_test_id(f"application-{household.reference}")).to_be_visible()
        assert_fits_and_accessible(page)
        shoot(page, f"portal-applications-{lang}-phone")
        context.close()
