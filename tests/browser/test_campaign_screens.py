"""The campaign screens in Chromium, in Arabic and English: a supervisor creates a campaign and allocates it on a
desktop; a case manager on a phone finds today's visits in the inbox and on the day's route, opens one and records
it; the supervisor reads the campaign's progress. Every page fits its screen and passes axe; screenshots of each."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from tests.browser.checks import assert_fits_and_accessible
from tests.browser.conftest import STEP_TIMEOUT_MS
from tests.browser.steps import Shoot, log_in

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1366, "height": 900}
WORDS = {
    "ar": {"created": "أُنشئت الحملة.", "visits_today": "زيارات اليوم", "recorded": "سُجّلت الزيارة.",
           "updated": "حُدّثت"},
    "en": {"created": "The campaign was created.", "visits_today": "Today's visits",
           "recorded": "The visit was recorded.", "updated": "Updated"},
}


class _Now:
    """The clock add_household reads: now, as the live server sees it."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)


def _beneficiaries(path: Path) -> None:
    """Four registered beneficiary households of Ramallah, scored, with every registration answer known."""
    from tests.factories import registration
    from tests.registry.test_campaigns import add_household

    engine = create_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        for n, locality in enumerate(("البيرة", "البيرة", "بيتونيا", "سردا")):
            add_household(session, _Now(), "RBH", "active",  # type: ignore[arg-type]
                          data=registration(locality=locality, address=f"شارع النزهة {n + 1}"))
    engine.dispose()


def _plan_today(path: Path, campaign_id: int) -> None:
    """On a Friday, Saturday or holiday allocation plans nothing today: move the first day's visits to today,
    as a supervisor would for a day of catch-up, so the day's pages have something to show."""
    from registry.campaigns.models import Visit
    from registry.operations import local_date

    today = local_date(dt.datetime.now(dt.UTC))
    engine = create_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        days = sorted({d for d in session.scalars(select(Visit.planned_on).where(Visit.campaign_id == campaign_id))
                       if d is not None})
        assert days, "the allocation planned no day"
        if days[0] != today:
            session.execute(update(Visit).where(Visit.campaign_id == campaign_id, Visit.planned_on == days[0])
                            .values(planned_on=today))
            session.commit()
    engine.dispose()


def _check(page: Page, shoot: Shoot, name: str) -> None:
    assert_fits_and_accessible(page)
    shoot(page, name)


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_a_campaign_from_creation_to_progress(chromium: Browser, live_server: str, page: Page, shoot: Shoot,
                                              lang: str, tmp_path: Path) -> None:
    database = tmp_path / "browser.sqlite3"
    _beneficiaries(database)
    today = dt.date.today()

    # The supervisor, on a desktop: a new campaign, its page, the allocation.
    log_in(page, "supervisor1", lang)
    page.goto("/campaigns/new")
    _check(page, shoot, f"campaign-new-{lang}-desktop")
    page.get_by_test_id("campaign-name").fill("تحديث بيانات رام الله" if lang == "ar" else "Ramallah update")
    page.get_by_test_id("campaign-starts").fill(today.isoformat())
    page.get_by_test_id("campaign-ends").fill((today + dt.timedelta(days=30)).isoformat())
    page.get_by_test_id("create-campaign").click()
    expect(page.get_by_test_id("campaign-title")).to_be_visible()
    expect(page.locator("main")).to_contain_text(WORDS[lang]["created"].rstrip("."))
    expect(page.get_by_test_id("directorate-row")).to_have_count(1)
    campaign_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    _check(page, shoot, f"campaign-show-{lang}-desktop")
    page.set_viewport_size(PHONE)  # a supervisor in the field checks the same pages on a phone
    _check(page, shoot, f"campaign-show-{lang}-phone")
    page.goto("/campaigns/new")
    _check(page, shoot, f"campaign-new-{lang}-phone")
    page.go_back()
    page.set_viewport_size(DESKTOP)
    page.get_by_test_id("allocate-button").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("allocation-report")).to_be_visible()
    _check(page, shoot, f"campaign-allocated-{lang}-desktop")
    page.get_by_test_id("back-to-campaign").click()
    expect(page.get_by_test_id("campaign-title")).to_be_visible()
    _plan_today(database, campaign_id)

    # The case manager, on a phone: the inbox's panel, the day's route, a visit recorded.
    phone = chromium.new_context(base_url=live_server, viewport=PHONE, is_mobile=True, has_touch=True)
    phone.set_default_timeout(STEP_TIMEOUT_MS)
    phone.set_default_navigation_timeout(STEP_TIMEOUT_MS)
    worker = phone.new_page()
    try:
        log_in(worker, "casemanager1", lang)
        panel = worker.get_by_test_id("inbox-visits-today")
        expect(panel).to_contain_text(WORDS[lang]["visits_today"])
        assert worker.get_by_test_id("inbox-visit-today").count() >= 1
        _check(worker, shoot, f"campaign-inbox-{lang}-phone")
        worker.goto("/visits/today")
        route = worker.get_by_test_id("route-visit")
        expect(route.first).to_be_visible()
        _check(worker, shoot, f"campaign-today-{lang}-phone")
        route.first.locator("a").click()
        expect(worker.get_by_test_id("visit-title")).to_be_visible()
        _check(worker, shoot, f"campaign-visit-{lang}-phone")
        worker.locator("select[name=outcome]").select_option("updated")
        worker.get_by_test_id("submit").click()
        expect(worker.get_by_test_id("visit-outcome")).to_have_text(WORDS[lang]["updated"])
        expect(worker.locator("main")).to_contain_text(WORDS[lang]["recorded"].rstrip("."))
        _check(worker, shoot, f"campaign-visit-done-{lang}-phone")
    finally:
        phone.close()

    # The supervisor reads the progress on the desktop: one visit done.
    page.goto(f"/campaigns/{campaign_id}/progress")
    expect(page.get_by_test_id("progress-title")).to_be_visible()
    expect(page.get_by_test_id("progress-directorates-row")).to_have_count(1)
    _check(page, shoot, f"campaign-progress-after-visit-{lang}-desktop")
