"""A citizen on a phone signs up with the code from the outbox, logs out, and resets a forgotten password."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, text

from tests import factories
from tests.browser.checks import assert_fits_and_accessible
from tests.browser.conftest import STEP_TIMEOUT_MS
from tests.browser.steps import Shoot

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _code_from_outbox(tmp_path: Path) -> str:
    """The code as the citizen reads it in the text message (the newest message in the outbox)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'browser.sqlite3'}")
    with engine.connect() as connection:
        body = connection.execute(text("SELECT body FROM outbox_messages ORDER BY id DESC LIMIT 1")).scalar_one()
    engine.dispose()
    found = re.search(r"\d{6}", body)
    assert found is not None, body
    return found.group(0)


@pytest.fixture
def phone(chromium: Browser, live_server: str) -> Page:
    context = chromium.new_context(base_url=live_server, viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    return context.new_page()


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_sign_up_confirm_log_out_and_reset_on_a_phone(phone: Page, tmp_path: Path, shoot: Shoot, lang: str) -> None:
    page = phone
    page.goto("/portal/login")
    if lang == "en":
        page.get_by_test_id("language-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    assert_fits_and_accessible(page)
    shoot(page, f"portal-login-{lang}")
    page.get_by_test_id("signup-link").click()

    national_id = factories.national_id()
    page.locator("#national_id").fill("123456789")  # a wrong check digit
    page.locator("#mobile").fill("0791234567")
    page.locator("#password").fill("short")
    page.get_by_test_id("signup-submit").click()
    expect(page.get_by_test_id("error-summary")).to_be_visible()
    assert_fits_and_accessible(page)
    shoot(page, f"portal-signup-errors-{lang}")

    page.locator("#national_id").fill(national_id)
    page.locator("#mobile").fill("0599 876 543")
    page.locator("#password").fill("green-olive-7")
    page.locator("#password_again").fill("green-olive-7")
    page.get_by_test_id("signup-submit").click()
    expect(page.get_by_test_id("code-sent")).to_be_visible()
    assert_fits_and_accessible(page)
    shoot(page, f"portal-confirm-{lang}")
    page.locator("#code").fill(_code_from_outbox(tmp_path))
    page.get_by_test_id("confirm-submit").click()

    expect(page.get_by_test_id("section-applications")).to_be_visible()
    expect(page.get_by_test_id("section-apply")).to_be_visible()
    expect(page.get_by_test_id("section-complaints")).to_be_visible()
    assert_fits_and_accessible(page)
    shoot(page, f"portal-home-{lang}")

    page.get_by_test_id("portal-logout").click()
    expect(page.get_by_test_id("portal-login-submit")).to_be_visible()
    page.goto("/portal/")
    expect(page.get_by_test_id("portal-login-submit")).to_be_visible()

    page.get_by_test_id("forgot-password").click()
    page.locator("#national_id").fill(national_id)
    page.get_by_test_id("reset-submit").click()
    page.locator("#code").fill(_code_from_outbox(tmp_path))
    page.locator("#password").fill("new-password-9")
    page.locator("#password_again").fill("new-password-9")
    assert_fits_and_accessible(page)
    shoot(page, f"portal-reset-{lang}")
    page.get_by_test_id("reset-code-submit").click()

    page.locator("#national_id").fill(national_id)
    page.locator("#password").fill("new-password-9")
    page.get_by_test_id("portal-login-submit").click()
    expect(page.get_by_test_id("section-applications")).to_be_visible()
