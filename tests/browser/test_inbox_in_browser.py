"""The inbox on a phone and a desktop, in Arabic and English: a supervisor filters the whole directorate's tasks,
the page fits and passes axe-core, and several tasks are reassigned at once. Screenshots:
test-artifacts/screenshots/inbox-<lang>-<size>-<page>.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checks import assert_fits_and_accessible
from tests.browser.steps import Shoot
from tests.browser.test_pages_fit import SIZES, demo_cases, sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", ["ar", "en"])
def test_a_supervisor_filters_and_reassigns_from_the_inbox(page: Page, lang: str, size: str, shoot: Shoot) -> None:
    demo_cases(page.request)
    page.set_viewport_size(SIZES[size])
    page.goto("/login")
    if page.locator("html").get_attribute("lang") != lang:
        with page.expect_navigation():
            page.get_by_test_id("language-switch").click()
    sign_in(page, "supervisor1")

    page.goto("/?view=team")
    expect(page.get_by_test_id("team-tasks")).to_be_visible()
    shoot(page, f"inbox-{lang}-{size}-team")
    assert_fits_and_accessible(page)
    total = int(page.get_by_test_id("match-total").text_content() or "0")
    assert total == page.locator("[data-testid=team-tasks] tbody tr").count() >= 3

    # Filter by stage through the form: the list and its count agree with the option's count.
    stage = page.locator("select[name=stage] option").nth(1)
    expected = int((stage.text_content() or "").rsplit("(", 1)[1].rstrip(")"))
    page.locator("select[name=stage]").select_option(stage.get_attribute("value"))
    with page.expect_navigation():
        page.locator("[data-testid=inbox-filters] button[type=submit]").click()
    assert int(page.get_by_test_id("match-total").text_content() or "0") == expected
    assert page.locator("[data-testid=team-tasks] tbody tr").count() == expected
    shoot(page, f"inbox-{lang}-{size}-filtered")
    assert_fits_and_accessible(page)

    # Reassign every case-manager task shown to Rania at once.
    page.goto("/?view=team&stage=assessment")
    rows = page.locator("[data-testid=team-tasks] tbody tr")
    chosen = rows.count()
    assert chosen >= 1
    for n in range(chosen):
        rows.nth(n).locator("input[name=task_id]").check()
    person = page.locator("select[name=assignee_id] option", has_text="رانيا" if lang == "ar" else "Rania")
    page.locator("select[name=assignee_id]").select_option(person.first.get_attribute("value"))
    page.locator("input[name=confirm]").check()
    with page.expect_navigation():
        page.locator("[data-testid=reassign-form] button[type=submit]").click()
    expect(page.locator(".flash.success")).to_contain_text(str(chosen))
    shoot(page, f"inbox-{lang}-{size}-reassigned")
    assert_fits_and_accessible(page)
