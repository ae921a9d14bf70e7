"""Filing a complaint anonymously and following it, on a phone (390×844), in Arabic and English; the handler's list."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checks import assert_fits_and_accessible
from tests.browser.conftest import Shoot
from tests.browser.steps import log_in


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_an_anonymous_complaint_is_filed_and_followed_on_a_phone(page: Page, shoot: Shoot, lang: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/complaints/new")
    if lang == "en":
        page.get_by_test_id("language-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.get_by_test_id("send-complaint").click()  # nothing filled in: the errors say what to fix
    expect(page.get_by_test_id("error-summary")).to_be_visible()
    assert_fits_and_accessible(page)
    shoot(page, f"complaint-errors-phone-{lang}")
    page.get_by_test_id("directorate").select_option("RBH")
    page.get_by_test_id("kind-delay").check()
    page.get_by_test_id("complaint-text").fill("انتظرت ثلاثة أشهر ولم يتصل بي أحد." if lang == "ar"
                                              else "I waited three months and nobody called me back.")
    page.get_by_test_id("send-complaint").click()
    expect(page.get_by_test_id("complaint-filed")).to_be_visible()
    reference = page.get_by_test_id("complaint-reference").inner_text().strip()
    code = page.get_by_test_id("complaint-code").inner_text().strip()
    assert_fits_and_accessible(page)
    shoot(page, f"complaint-filed-phone-{lang}")
    page.goto("/complaints/follow")
    page.fill("#reference", reference)
    page.fill("#code", "WRONG234")
    page.get_by_test_id("follow-complaint").click()
    expect(page.get_by_test_id("follow-error")).to_be_visible()
    page.fill("#reference", reference)
    page.fill("#code", code)
    page.get_by_test_id("follow-complaint").click()
    expect(page.get_by_test_id("reference")).to_have_text(reference)
    expect(page.get_by_test_id("status")).to_be_visible()
    assert_fits_and_accessible(page)
    shoot(page, f"complaint-followed-phone-{lang}")


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_the_complaints_handler_sees_the_complaint_on_a_phone(page: Page, shoot: Shoot, lang: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/complaints/new")
    page.get_by_test_id("directorate").select_option("RBH")
    page.get_by_test_id("kind-staff").check()
    page.get_by_test_id("complaint-text").fill("The employee at the counter was rude to me.")
    page.get_by_test_id("send-complaint").click()
    reference = page.get_by_test_id("complaint-reference").inner_text().strip()
    log_in(page, "complaints1", lang)
    page.goto("/complaints")
    expect(page.get_by_test_id("complaint-task").first).to_contain_text(reference)
    assert_fits_and_accessible(page)
    shoot(page, f"complaints-list-phone-{lang}")
    page.get_by_test_id("complaint-task").first.get_by_role("link").first.click()
    expect(page.get_by_test_id("complaint-text")).to_be_visible()
    assert_fits_and_accessible(page)
    shoot(page, f"complaint-page-phone-{lang}")
    page.get_by_test_id("open-task").click()
    expect(page.get_by_test_id("task-title")).to_be_visible()
    assert_fits_and_accessible(page)
    shoot(page, f"complaint-task-phone-{lang}")
