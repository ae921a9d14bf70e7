"""The dashboards in Chromium: the ministry's and a directorate's, with charts, on a phone and a desktop, in
Arabic and English, with screenshots."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checks import assert_fits_and_accessible
from tests.browser.steps import Shoot, log_in
from tests.conftest import Clock
from tests.registry.test_reports import build

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
QUARTER = "period=quarter&quarter=2026-Q4"


def _cases_at_every_stage(path: Path) -> None:
    """Cases of Ramallah and Hebron at every stage, written through the product's own services."""
    from app import create_app
    from webui.db import db_session

    application = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "build",
                              "DEMO_MODE": True, "MINISTRY_BACKEND": "file", "DOCUMENT_STORAGE_DIR": str(path.parent)})
    with application.app_context():
        build(db_session(), Clock())
    application.extensions["db_engine"].dispose()


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_the_dashboards_on_a_phone_and_a_desktop(page: Page, shoot: Shoot, lang: str, tmp_path: Path) -> None:
    _cases_at_every_stage(tmp_path / "browser.sqlite3")
    log_in(page, "admin", lang)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(f"/reports/?{QUARTER}")
        expect(page.get_by_test_id("report-title")).to_be_visible()
        expect(page.get_by_test_id("report-registrations").locator("svg.hbar rect").first).to_be_visible()
        assert_fits_and_accessible(page)
        shoot(page, f"dashboard-ministry-{lang}-{size}")
    # The ministry narrows to one directorate with the filters; its tables open and export.
    page.set_viewport_size(DESKTOP)
    page.locator("select[name=directorate]").select_option("RBH")
    page.locator("form[data-testid=report-filters] button[type=submit]").click()
    expect(page.get_by_test_id("table-registrations").locator("thead th")).to_have_count(2)
    page.get_by_test_id("report-stages").locator("summary").click()
    expect(page.get_by_test_id("table-stages")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_test_id("export-stages-xlsx").click()
    assert download.value.suggested_filename.startswith("report-stages-RBH-2026-10-01")
    with page.expect_download() as pdf:
        page.get_by_test_id("monthly-pdf").click()
    assert pdf.value.suggested_filename.endswith(f"-{lang}.pdf")
    log_in(page, "supervisor2", lang)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(f"/reports/?{QUARTER}")
        expect(page.get_by_test_id("report-decisions").locator("svg.hbar rect").first).to_be_visible()
        expect(page.locator("select[name=directorate]")).to_have_count(0)
        assert_fits_and_accessible(page)
        shoot(page, f"dashboard-directorate-{lang}-{size}")
