"""The supervisor's team view in Chromium, on a phone and a desktop, in Arabic and English, with screenshots;
a figure opens its list."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from tests.browser.checks import assert_fits_and_accessible
from tests.browser.steps import Shoot, log_in
from tests.registry.test_supervision import write_cases

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def _team_at_work(path: Path) -> None:
    """Two case managers of Ramallah with cases at every stage, overdue tasks, quiet cases and a session."""
    from registry.auth import hash_password
    from registry.models import Directorate, User
    from registry.supervision.models import SupervisionSession

    now = dt.datetime.now(dt.UTC)
    engine = create_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        ramallah = session.scalar(select(Directorate).where(Directorate.code == "RBH"))
        assert ramallah is not None
        second = User(username="casemanager1b", full_name="Dana Mansour", full_name_ar="دانا منصور",
                      role="case_manager", directorate_id=ramallah.id, password_hash=hash_password("demo"))
        session.add(second)
        session.flush()
        first = session.scalar(select(User.id).where(User.username == "casemanager1"))
        supervisor = session.scalar(select(User.id).where(User.username == "supervisor1"))
        assert first is not None and supervisor is not None
        write_cases(session, now, {"RBH": [first, second.id]}, count=30)
        session.add(SupervisionSession(directorate_id=ramallah.id, case_manager_id=first, supervisor_id=supervisor,
                                       scheduled_at=now + dt.timedelta(days=2), agenda="الحالات المتأخرة والزيارات",
                                       created_at=now))
        session.commit()
    engine.dispose()


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_team_view_on_a_phone_and_a_desktop(page: Page, shoot: Shoot, lang: str, tmp_path: Path) -> None:
    _team_at_work(tmp_path / "browser.sqlite3")
    log_in(page, "supervisor1", lang)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto("/team")
        expect(page.get_by_test_id("team-member")).to_have_count(2)
        expect(page.get_by_test_id("team-sessions")).to_contain_text("الحالات المتأخرة")
        assert_fits_and_accessible(page)
        shoot(page, f"team-view-{lang}-{size}")
    # A figure opens the list of that many.
    overdue = page.get_by_test_id("team-member").first.get_by_test_id("overdue")
    count = int(overdue.inner_text().strip())
    assert count > 0
    overdue.locator("xpath=self::a").click()
    expect(page.get_by_test_id("team-list-row")).to_have_count(count)
    assert_fits_and_accessible(page)
    shoot(page, f"team-overdue-list-{lang}-phone")


def test_moving_cases_preview_and_a_members_supervision_on_a_phone(page: Page, shoot: Shoot, tmp_path: Path) -> None:
    _team_at_work(tmp_path / "browser.sqlite3")
    log_in(page, "supervisor1", "ar")
    page.set_viewport_size(PHONE)
    page.goto("/team/reassign")
    page.locator("select[name=from_user_id]").select_option(label="رانيا صالح")
    page.locator("form[data-testid=reassign-choose] button[type=submit]").click()
    expect(page.get_by_test_id("preview-move").first).to_be_visible()
    assert_fits_and_accessible(page)
    shoot(page, "team-reassign-preview-ar-phone")
    page.goto("/team")
    page.get_by_test_id("team-member").first.locator("a").first.click()
    expect(page.get_by_test_id("member-sessions")).to_be_visible()
    page.locator("#member-notes-text").fill("أحسنتِ في متابعة الزيارات هذا الشهر.")
    page.locator("form[data-testid=supervision-note-form] button[type=submit]").click()
    expect(page.get_by_test_id("member-notes-list")).to_contain_text("أحسنتِ في متابعة الزيارات")
    assert_fits_and_accessible(page)
    shoot(page, "team-member-supervision-ar-phone")
