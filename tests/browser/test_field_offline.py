"""The field app on a phone with the network cut: visits done offline are sent when it returns; a visit changed
on the server meanwhile is a conflict, and what was typed for it is on the conflicts page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from registry.campaigns.models import Visit
from registry.field.models import VisitSubmission
from tests.browser.checks import assert_fits_and_accessible
from tests.browser.conftest import Shoot
from tests.browser.steps import log_in
from tests.factories import png_image
from tests.webui.test_field_api import add_visit

SENT = {"ar": "أُرسلت", "en": "Sent"}


def _database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'browser.sqlite3'}"


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).astimezone(ZoneInfo("Asia/Hebron")).date()


def _two_visits(tmp_path: Path) -> tuple[int, int]:
    engine = create_engine(_database(tmp_path))
    try:
        with Session(engine) as session:
            found = add_visit(session, day=_today())
            changed = add_visit(session, day=_today(), head_name="سعيد خالد ناصر", head_latin="Said Nasser")
            return found.id, changed.id
    finally:
        engine.dispose()


def _change_household_at_the_office(tmp_path: Path, visit_id: int) -> None:
    engine = create_engine(_database(tmp_path))
    try:
        with Session(engine) as session, session.begin():
            visit = session.get(Visit, visit_id)
            assert visit is not None
            visit.household.phone = "0599000111"
            visit.household.updated_at = dt.datetime.now(dt.UTC)
    finally:
        engine.dispose()


def _recorded(tmp_path: Path) -> tuple[dict[int, str | None], list[tuple[int, str, int]]]:
    engine = create_engine(_database(tmp_path))
    try:
        with Session(engine) as session:
            outcomes = {v.id: v.outcome for v in session.scalars(select(Visit))}
            sent = [(s.visit_id, s.state, len(s.files)) for s in session.scalars(select(VisitSubmission))]
            return outcomes, sorted(sent)
    finally:
        engine.dispose()


def _fill_visit(page: Page, visit_id: int, note: str, photo: Path | None = None) -> None:
    page.locator(f"li[data-visit='{visit_id}'] a").click()
    expect(page.get_by_test_id("field-form")).to_be_visible()
    page.locator("#f-outcome").select_option("refused")
    page.locator("#f-visit_note").fill(note)
    if photo is not None:
        page.locator("#f-attachments").set_input_files(str(photo))
    page.get_by_test_id("field-save").click()
    expect(page.get_by_test_id("field-visits")).to_be_visible()


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_visits_done_offline_are_sent_when_the_connection_returns(page: Page, tmp_path: Path, shoot: Shoot,
                                                                   lang: str) -> None:
    found, changed = _two_visits(tmp_path)
    photo = tmp_path / "dwelling.png"
    photo.write_bytes(png_image(60, 40))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, "casemanager1", lang)
    page.goto("/field/")
    # The service worker holds the app shell before the network goes.
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)") is True
    page.get_by_test_id("field-download").click()
    expect(page.locator("li.field-visit")).to_have_count(2)
    assert errors == []
    expect(page.get_by_test_id("field-visits")).to_contain_text("سعيد خالد ناصر" if lang == "ar" else "Said Nasser")
    assert_fits_and_accessible(page)
    shoot(page, f"field-visits-phone-{lang}")

    page.context.set_offline(True)
    page.reload()  # the page comes from the service worker's cache, the visits from IndexedDB
    expect(page.locator("li.field-visit")).to_have_count(2)
    assert page.evaluate("navigator.serviceWorker.controller !== null && !navigator.onLine") is True
    expect(page.get_by_test_id("field-online")).to_have_class("field-badge field-waiting")
    _fill_visit(page, found, "Visited offline: the household refused", photo)
    _change_household_at_the_office(tmp_path, changed)
    _fill_visit(page, changed, "كتبتها دون اتصال: رفضت الأسرة")
    expect(page.get_by_test_id(f"state-{found}")).to_have_class("field-badge field-waiting")
    expect(page.get_by_test_id(f"state-{changed}")).to_have_class("field-badge field-waiting")
    assert _recorded(tmp_path)[1] == []  # nothing left the phone
    shoot(page, f"field-offline-outbox-phone-{lang}")
    page.locator(f"li[data-visit='{found}'] a").click()
    expect(page.get_by_test_id("visit-state")).to_be_visible()
    expect(page.get_by_test_id("visit-files")).to_contain_text("dwelling.png")
    assert_fits_and_accessible(page)
    shoot(page, f"field-offline-visit-phone-{lang}")
    page.go_back()

    page.context.set_offline(False)  # the `online` event sends the outbox
    expect(page.get_by_test_id(f"state-{found}")).to_have_class("field-badge field-sent", timeout=15_000)
    expect(page.get_by_test_id(f"state-{found}")).to_have_text(SENT[lang])
    expect(page.get_by_test_id(f"state-{changed}")).to_have_class("field-badge field-conflict", timeout=15_000)
    shoot(page, f"field-synced-phone-{lang}")
    outcomes, sent = _recorded(tmp_path)
    assert outcomes[found] == "refused" and outcomes[changed] is None
    assert sent == sorted([(found, "applied", 1), (changed, "conflict", 0)])

    page.goto("/visits/conflicts")
    page.locator("ul[data-testid=conflicts] a").first.click()
    expect(page.get_by_test_id("offline-visit_note")).to_have_text("كتبتها دون اتصال: رفضت الأسرة")
    expect(page.get_by_test_id("apply-offline")).to_be_visible()
    expect(page.get_by_test_id("conflict-changes").locator("li")).to_have_count(1)
    assert_fits_and_accessible(page)
    shoot(page, f"field-conflict-phone-{lang}")
