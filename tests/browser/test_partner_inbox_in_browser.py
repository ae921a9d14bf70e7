"""A partner's inbox and referral on a phone (390×844), in Arabic and English: the service asked and how to
reach the household, and nothing of its eligibility."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from app import create_app
from tests.browser.checks import assert_fits_and_accessible
from tests.browser.conftest import Shoot


@pytest.fixture
def live_server(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """The app as the shared fixture starts it, with the demo partners and one case referred to the Ministry
    of Health by its approved plan."""
    from sqlalchemy import select

    from engine.db import utcnow
    from registry import cases
    from registry.models import User
    from registry.referrals.seed import seed_partners
    from registry.seed import _walk, seed_reference, seed_users
    from tests.conftest import _deploy_shipped_files

    path = tmp_path / "browser.sqlite3"
    shutil.copy(sqlite_template, path)
    application = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "browser",
                              "DEMO_MODE": True, "MINISTRY_BACKEND": "file"})
    with application.app_context():
        from webui.db import db_session, library, ministry_sources

        session = db_session()
        seed_reference(session)
        seed_users(session)
        seed_partners(session)
        _deploy_shipped_files(session)
        session.commit()
        reception = session.scalar(select(User).where(User.username == "reception1"))
        assert reception is not None
        case = cases.begin_registration(session, actor=reception, library=library(), national_id="895160174",
                                        consent=True, now=utcnow(), sources=ministry_sources())
        _walk(session, library=library(), case=case, reception="reception1", stage="follow_up",
              sources=ministry_sources(), now=utcnow())
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        application.extensions["db_engine"].dispose()


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_the_partner_sees_its_referral_and_accepts_it_on_a_phone(page: Page, shoot: Shoot, lang: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/login")
    if page.locator("html").get_attribute("lang") != lang:
        with page.expect_navigation(timeout=30_000):
            page.get_by_test_id("language-switch").click()
    page.locator("input[name=username]").fill("partner_moh")
    page.locator("input[name=password]").fill("demo")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/partner/")  # a partner's home is the partner inbox, not the staff inbox
    expect(page.get_by_test_id("partner-referral")).to_have_count(1)
    expect(page.get_by_test_id("partner-inbox-title")).to_contain_text(
        "وزارة الصحة" if lang == "ar" else "Ministry of Health")
    assert_fits_and_accessible(page)
    shoot(page, f"partner-inbox-phone-{lang}")
    page.get_by_test_id("partner-task").first.click()
    expect(page.get_by_test_id("task-form")).to_be_visible()
    expect(page.get_by_test_id("referral-head")).not_to_have_text("—")
    body = page.locator("body").inner_text().lower()
    assert "eligib" not in body and "أهلية" not in body and "score" not in body
    assert_fits_and_accessible(page)
    shoot(page, f"partner-referral-phone-{lang}")
    page.goto("/cases")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    assert page.get_by_test_id("case-referrals").count() == 0
