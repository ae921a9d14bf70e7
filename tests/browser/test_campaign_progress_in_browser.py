"""The campaign progress page in Chromium: on a phone and a desktop, in Arabic and English, with screenshots."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from tests.browser.checks import assert_fits_and_accessible
from tests.browser.steps import Shoot, log_in
from tests.registry.test_campaign_progress import add_visit, make_campaign

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def _campaign_under_way(path: Path) -> int:
    """A campaign three weeks in, in two directorates: visits done on past working days, the rest planned."""
    from registry.operations import local_date
    from tests.registry.test_campaign_progress import _user

    rng = random.Random(7)
    today = local_date(dt.datetime.now(dt.UTC))
    engine = create_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        campaign = make_campaign(session, codes=("RBH", "HBN"), name="تحديث بيانات الشمال 2026",
                                 starts_on=today - dt.timedelta(days=21), ends_on=today + dt.timedelta(days=24))
        workers = {"RBH": [_user(session, "casemanager1")], "HBN": [_user(session, "casemanager2")]}
        past = [today - dt.timedelta(days=n) for n in range(1, 22) if (today - dt.timedelta(days=n)).weekday() < 4
                or (today - dt.timedelta(days=n)).weekday() == 6]
        for number in range(140):
            code = "HBN" if number % 3 == 0 else "RBH"
            worker = workers[code][0]
            if number < 90:
                day = rng.choice(past)
                outcome = rng.choice(["updated"] * 6 + ["not_found", "refused"])
                add_visit(session, campaign, code=code, worker=worker, outcome=outcome, planned_on=day,
                          at=dt.datetime.combine(day, dt.time(rng.randrange(6, 14)), tzinfo=dt.UTC),
                          before=rng.choice(["deeply_poor", "poor", "not_poor"]),
                          after=rng.choice(["deeply_poor", "poor", "poor", "not_poor"]))
            else:
                add_visit(session, campaign, code=code, worker=worker,
                          planned_on=today + dt.timedelta(days=rng.randrange(0, 20)))
        session.commit()
        campaign_id = int(campaign.id)
    engine.dispose()
    return campaign_id


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_progress_page_on_a_phone_and_a_desktop(page: Page, shoot: Shoot, lang: str, tmp_path: Path) -> None:
    campaign_id = _campaign_under_way(tmp_path / "browser.sqlite3")
    log_in(page, "admin", lang)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(f"/campaigns/{campaign_id}/progress")
        expect(page.get_by_test_id("progress-title")).to_be_visible()
        expect(page.get_by_test_id("chart-daily").locator("svg rect").first).to_be_visible()
        expect(page.get_by_test_id("progress-directorates-row")).to_have_count(2)
        assert_fits_and_accessible(page)
        shoot(page, f"campaign-progress-{lang}-{size}")
    # The filters narrow the page to one directorate; its export answers with a file.
    page.locator("select[name=directorate]").select_option("HBN")
    page.locator("form[data-testid=progress-filters] button[type=submit]").click()
    expect(page.get_by_test_id("progress-directorates-row")).to_have_count(1)
    with page.expect_download() as download:
        page.get_by_test_id("export-workers-csv").click()
    assert download.value.suggested_filename.endswith(".csv")
