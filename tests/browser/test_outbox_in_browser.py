"""The outbox page on a phone (390×844), in Arabic and English: fits, passes axe-core, hides codes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from registry.models import User
from registry.notifications import queue_message
from tests.browser.checks import assert_fits_and_accessible
from tests.browser.conftest import Shoot
from tests.browser.steps import log_in


def _queue(path: Path) -> None:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with Session(engine) as session, session.begin():
            supervisor = session.scalar(select(User).where(User.username == "supervisor1"))
            assert supervisor is not None
            now = dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)
            for lang in ("ar", "en"):
                queue_message(session, template="complaint_follow_up_code", lang=lang, now=now,
                              params={"reference": "CMP-2026-000017", "code": "731905"}, to_mobile="0599111222",
                              directorate_id=supervisor.directorate_id, business_key="CMP-2026-000017")
                queue_message(session, template="documents_requested", lang=lang, now=now, to_mobile="0599111222",
                              params={"reference": "RAM-2026-000042", "due": "2026-11-20",
                                      "missing": ["Birth certificate", "Proof of income of every working member"]},
                              directorate_id=supervisor.directorate_id, business_key="RAM-2026-000042")
    finally:
        engine.dispose()


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_a_supervisor_reads_the_outbox_on_a_phone(page: Page, tmp_path: Path, shoot: Shoot, lang: str) -> None:
    _queue(tmp_path / "browser.sqlite3")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, "supervisor1", lang)
    page.locator("nav.mainnav a[href='/outbox']").click()
    expect(page.get_by_test_id("outbox-body")).to_have_count(4)
    expect(page.get_by_test_id("outbox")).not_to_contain_text("731905")
    expect(page.get_by_test_id("outbox")).to_contain_text("••••••")
    assert_fits_and_accessible(page)
    shoot(page, f"outbox-phone-{lang}")
