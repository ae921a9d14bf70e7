"""The administration pages on a phone (390×844), in Arabic and English: an administrator creates an account,
and deactivating a logged-in colleague ends their session at once. Every page fits and passes axe-core."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.checks import assert_fits_and_accessible
from tests.browser.conftest import Shoot
from tests.browser.steps import log_in

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_an_administrator_manages_accounts_on_a_phone(page: Page, chromium: Browser, live_server: str,
                                                      shoot: Shoot, lang: str) -> None:
    colleague = chromium.new_context(base_url=live_server, viewport=PHONE).new_page()
    log_in(colleague, "casemanager1", lang)
    page.set_viewport_size(PHONE)
    log_in(page, "admin", lang)
    page.get_by_test_id("nav-admin").click()
    expect(page.get_by_test_id("admin-changes")).to_be_visible()
    assert_fits_and_accessible(page)

    page.get_by_test_id("admin-users").click()
    expect(page.get_by_test_id("user-row")).not_to_have_count(0)
    assert_fits_and_accessible(page)
    shoot(page, f"admin-users-phone-{lang}")

    page.get_by_test_id("new-user").click()
    page.get_by_test_id("create-user").click()  # nothing filled in: every field says what it needs
    expect(page.get_by_test_id("form-message")).to_be_visible()
    assert_fits_and_accessible(page)
    shoot(page, f"admin-new-user-errors-phone-{lang}")
    page.get_by_test_id("user-username").fill(f"dana.{lang}")
    page.get_by_test_id("user-name-ar").fill("دانا عودة")
    page.get_by_test_id("user-name-en").fill("Dana Odeh")
    page.get_by_test_id("user-role").select_option("case_manager")
    page.get_by_test_id("user-directorate").select_option(index=1)
    page.get_by_test_id("create-user").click()
    expect(page.get_by_test_id("generated-password")).to_have_text(re.compile(r"^[a-z2-9]{5}-[a-z2-9]{5}-[a-z2-9]{5}$"))
    assert_fits_and_accessible(page)
    shoot(page, f"admin-password-once-phone-{lang}")

    page.goto("/admin/users/?role=case_manager")
    page.get_by_role("link", name="casemanager1").click()
    expect(page.get_by_test_id("user-account")).to_be_visible()
    assert_fits_and_accessible(page)
    shoot(page, f"admin-user-phone-{lang}")
    page.get_by_test_id("deactivate-user").click()
    expect(page.get_by_test_id("reactivate-user")).to_be_visible()
    colleague.reload()  # the colleague's very next request: back to the login page
    expect(colleague.locator("input[name=username]")).to_be_visible()
    colleague.context.close()

    page.get_by_test_id("admin-directorates").click()
    expect(page.get_by_test_id("directorate-row")).not_to_have_count(0)
    assert_fits_and_accessible(page)
    shoot(page, f"admin-directorates-phone-{lang}")
    page.get_by_test_id("admin-partners").click()
    page.get_by_test_id("new-partner").click()
    assert_fits_and_accessible(page)
    shoot(page, f"admin-new-partner-phone-{lang}")
