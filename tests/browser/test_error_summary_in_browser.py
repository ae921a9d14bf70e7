"""In the browser: after a failed submission the focus is on the error summary, its links open the step and focus
the field, and the registration form shows one step at a time, opening on the step with the first problem."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import APPLICANT, Shoot, log_in, start_registration

pytestmark = pytest.mark.browser

TEXT = {
    "en": {"heading": "Please correct the highlighted fields.", "rooms": "Rooms used for sleeping",
           "next": "Next: Household members", "all": "Show all steps", "one": "Show one step at a time"},
    "ar": {"heading": "يُرجى تصحيح الحقول المُعلَّمة.", "rooms": "عدد غرف النوم",
           "next": "التالي: أفراد الأسرة", "all": "عرض كل الخطوات", "one": "عرض خطوة واحدة في كل مرة"},
}


def _focused_test_id(page: Page) -> str | None:
    value: str | None = page.evaluate("document.activeElement && document.activeElement.dataset.testid || null")
    return value


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_registration_comes_in_steps_and_errors_take_the_focus(page: Page, lang: str, shoot: Shoot) -> None:
    text = TEXT[lang]
    log_in(page, "reception1", lang)
    start_registration(page, APPLICANT, all_steps=False)

    # One step at a time, the first one first; the navigation names every step.
    expect(page.locator("[data-steps-nav]")).to_be_visible()
    expect(page.locator("[data-step]:visible")).to_have_count(1)
    expect(page.get_by_test_id("step-applicant")).to_be_visible()
    expect(page.get_by_test_id("step-link-applicant")).to_have_attribute("aria-current", "step")
    page.get_by_role("button", name=text["next"]).click()
    expect(page.get_by_test_id("step-household")).to_be_visible()
    expect(page.get_by_test_id("step-applicant")).to_be_hidden()
    shoot(page, f"{lang}-registration-step-2")

    # A mistake in the dwelling step only (the rooms in words); the phone, on the first step, is left empty.
    page.get_by_test_id("step-link-dwelling").click()
    page.locator("input[name=rooms]").fill("ثلاث")
    page.get_by_test_id("submit").click()
    page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))

    # The summary has the focus and is in view; the step with the first problem (the applicant's phone) shows.
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    expect(page.get_by_test_id("form-message")).to_have_text(text["heading"])
    expect(page.locator("[data-step]:visible")).to_have_count(1)
    expect(page.get_by_test_id("step-applicant")).to_be_visible()
    shoot(page, f"{lang}-registration-error-summary")

    # A link in the summary opens the step that holds its field and puts the focus in the field.
    summary.get_by_role("link", name=re.compile(text["rooms"])).click()
    expect(page.get_by_test_id("step-dwelling")).to_be_visible()
    expect(page.locator("input[name=rooms]")).to_be_focused()
    expect(page.locator("input[name=rooms]")).to_be_in_viewport()
    expect(page.locator("input[name=rooms]")).to_have_value("ثلاث")  # what was typed is kept
    described = page.locator("input[name=rooms]").get_attribute("aria-describedby")
    expect(page.locator(f"#{described}")).to_be_visible()

    # The user may also see the whole form at once, and go back to steps.
    toggle = page.get_by_test_id("steps-all")
    expect(toggle).to_have_text(text["all"])
    toggle.click()
    expect(page.locator("[data-step]:visible")).to_have_count(6)
    expect(toggle).to_have_text(text["one"])
    toggle.click()
    expect(page.locator("[data-step]:visible")).to_have_count(1)


def test_without_javascript_every_step_shows(chromium: object, live_server: str) -> None:
    from playwright.sync_api import Browser

    assert isinstance(chromium, Browser)
    context = chromium.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/login")
        page.locator("input[name=username]").fill("reception1")
        page.locator("input[name=password]").fill("demo")
        page.locator("main form button[type=submit]").click()
        page.goto("/cases/new")
        page.locator("#national_id").fill(APPLICANT)
        page.get_by_test_id("start-registration").click()
        page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
        expect(page.locator("[data-step]:visible")).to_have_count(6)
        expect(page.locator("[data-steps-nav]")).to_be_hidden()
    finally:
        context.close()
