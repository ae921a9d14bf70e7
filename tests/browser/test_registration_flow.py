"""Staff drive the app in headless Chromium, in Arabic and in English: a registration with data from other
ministries, reception's recommendation, the supervisor's approval, and the case manager's inbox."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import APPLICANT, TEXT, Shoot, log_in, log_out, start_registration

pytestmark = pytest.mark.browser

# Staff names as each language writes them (registry/seed.py).
STAFF = {
    "en": {"reception1": "Lina Haddad", "supervisor1": "Omar Khalil", "casemanager1": "Rania Saleh"},
    "ar": {"reception1": "لينا حداد", "supervisor1": "عمر خليل", "casemanager1": "رانيا صالح"},
}


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_a_registration_goes_from_reception_to_the_case_manager(page: Page, lang: str, shoot: Shoot) -> None:
    text = TEXT[lang]
    # The head's name as the page's language writes it (Interior records a Latin spelling too).
    head_name = "عيسى إبراهيم موسى يعقوب" if lang == "ar" else "Issa Ibrahim Musa Yaqoub"

    # Reception: log in, open a registration with consent; the form arrives filled from the ministries.
    log_in(page, "reception1", lang, shoot)
    expect(page.get_by_test_id("who")).to_contain_text(text["reception"])
    shoot(page, f"{lang}-02-inbox-reception")
    start_registration(page, APPLICANT, lambda: shoot(page, f"{lang}-03-new-registration"))
    expect(page.get_by_test_id("task-title")).to_have_text(text["register"])
    expect(page.locator(".crumbs")).to_contain_text(text["stage_registration"])
    prefill = page.get_by_test_id("panel-prefill")
    expect(prefill).to_contain_text(text["prefill_panel"])
    for ministry in ("interior", "education", "health"):
        expect(prefill).to_contain_text(text[ministry])
    expect(page.locator("fieldset[data-group=members] legend")).to_contain_text(text["members"])
    expect(page.locator("[data-group=members] [data-row]")).to_have_count(3)
    expect(page.locator("input[name=members-0-national_id]")).to_have_value(APPLICANT)
    expect(page.locator("input[name=members-0-name_ar]")).to_have_value("عيسى إبراهيم موسى يعقوب")
    expect(page.locator("input[name=members-1-name_ar]")).to_have_value("رقية حسن علي شحادة")
    expect(page.locator("select[name=members-0-relation]")).to_have_value("head")
    expect(page.locator("select[name=members-1-relation]")).to_have_value("spouse")
    expect(page.locator("input[name=members-2-birth_date]")).to_have_value("2012-10-05")
    expect(page.locator("input[name=locality]")).to_have_value("دير دبوان")
    expect(page.get_by_test_id("source-members.0.name_ar")).to_have_text(text["from_interior"])
    expect(page.get_by_test_id("source-members.1.chronic_illness")).to_contain_text(text["health"])
    expect(page.get_by_test_id("source-members.2.schooling")).to_contain_text(text["education"])
    shoot(page, f"{lang}-04-registration-prefilled")

    # What only the household can tell.
    page.locator("input[name=consent_data_exchange]").check()
    page.locator("input[name=phone]").fill("0599123456")
    page.locator("input[name=reasons][value=illness]").check()
    page.locator("input[name=reasons][value=loss_of_income]").check()
    page.locator("textarea[name=reasons_details]").fill("الزوجان مسنّان ومريضان ولا دخل ثابتاً لهما.")
    page.locator("input[name=monthly_income]").fill("350")
    page.locator("select[name=dwelling_type]").select_option("house")
    page.locator("select[name=dwelling_tenure]").select_option("owned")
    page.locator("input[name=rooms]").fill("1")
    page.locator("input[name=damp_or_leaking]").check()
    page.locator("select[name=water_source]").select_option("tanker")
    page.locator("select[name=sanitation]").select_option("cesspit")
    page.locator("input[name=electricity]").check()
    page.locator("select[name=cooking_fuel]").select_option("wood_or_coal")
    page.locator("input[name=assets][value=refrigerator]").check()
    page.locator("input[name=unmet_medical_needs]").check()
    shoot(page, f"{lang}-05-registration-completed")
    page.get_by_test_id("submit").click()

    # Reception's recommendation, with the eligibility explained indicator by indicator.
    expect(page.get_by_test_id("task-title")).to_have_text(text["recommend"])
    expect(page.locator(".flash")).to_have_text(text["saved"])
    eligibility = page.get_by_test_id("panel-eligibility")
    expect(eligibility).to_contain_text(text["eligibility"])
    expect(eligibility.get_by_test_id("category")).to_have_text(re.compile(
        "^(" + "|".join(map(re.escape, text["categories"])) + ")$"))
    expect(eligibility.get_by_test_id("score")).to_have_text(re.compile(r"^0\.\d{3}$|^1\.000$"))
    indicators = eligibility.get_by_test_id("indicators")
    expect(indicators).to_be_visible()
    assert indicators.locator("tbody tr").count() >= 5
    deprived = indicators.locator("tbody tr.deprived")
    assert deprived.count() >= 1
    expect(deprived.first.locator(".badge.danger")).to_have_text(text["deprived"])
    expect(page.get_by_test_id("panel-household")).to_contain_text(head_name)
    shoot(page, f"{lang}-06-recommendation")
    page.locator("select[name=decision]").select_option("recommend_eligible")
    page.locator("textarea[name=recommendation_notes]").fill("Elderly couple, both ill, no regular income.")
    page.get_by_test_id("submit").click()
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    case_url = page.url
    expect(page.get_by_test_id("case-stage")).to_have_text(text["stage_eligibility"])
    log_out(page, lang)

    # Supervisor: the review waits in the open tasks of the role; claim it and approve with a case manager.
    log_in(page, "supervisor1", lang)
    expect(page.get_by_test_id("who")).to_contain_text(text["supervisor"])
    open_tasks = page.get_by_test_id("open-tasks")
    row = open_tasks.locator("tbody tr", has_text=text["review"])
    expect(row).to_have_count(1)
    expect(row).to_contain_text(head_name)
    expect(row).to_contain_text(text["stage_eligibility"])
    shoot(page, f"{lang}-07-inbox-supervisor")
    row.get_by_role("button").click()
    expect(page.get_by_test_id("task-title")).to_have_text(text["review"])
    expect(page.locator(".flash")).to_have_text(text["claimed"])
    expect(page.get_by_test_id("panel-eligibility").get_by_test_id("indicators")).to_be_visible()
    expect(page.get_by_test_id("panel-eligibility_recommendation")).to_contain_text(
        "Elderly couple, both ill, no regular income.")
    manager = page.locator("select[name=case_manager]")
    expect(manager).to_be_hidden()  # shown only for an approval
    page.locator("select[name=decision]").select_option("approve")
    expect(manager).to_be_visible()
    manager.select_option(label=manager.locator("option", has_text=STAFF[lang]["casemanager1"]).inner_text().strip())
    page.locator("textarea[name=review_comments]").fill("Approved after review.")
    shoot(page, f"{lang}-08-supervisor-review")
    page.get_by_test_id("submit").click()
    page.wait_for_url(case_url)
    expect(page.get_by_test_id("case-stage")).to_have_text(text["stage_assessment"])
    log_out(page, lang)

    # Case manager: the needs assessment is waiting in "My tasks"; the case page tells its story.
    log_in(page, "casemanager1", lang)
    expect(page.get_by_test_id("who")).to_contain_text(text["case_manager"])
    mine = page.get_by_test_id("my-tasks")
    expect(mine.locator("tbody tr", has_text=text["visit"])).to_have_count(1)
    expect(mine).to_contain_text(head_name)
    shoot(page, f"{lang}-09-inbox-case-manager")
    page.goto(case_url)
    expect(page.get_by_test_id("case-stage")).to_have_text(text["stage_assessment"])
    expect(page.get_by_test_id("case-status")).to_have_text(text["status_open"])
    expect(page.get_by_test_id("case-manager")).to_contain_text(STAFF[lang]["casemanager1"])
    page.locator("#tab-history").click()  # sections other than the household's are fetched when chosen
    history = page.get_by_test_id("history")
    expect(history.locator("h3")).to_have_text(text["history"])
    for event in text["events"]:
        expect(history).to_contain_text(event)
    expect(history).to_contain_text(STAFF[lang]["reception1"])
    expect(history).to_contain_text(STAFF[lang]["supervisor1"])
    shoot(page, f"{lang}-10-case-page")

    # The registry pages, in the same language.
    page.goto("/registry/search?q=" + "عيسى")
    expect(page.get_by_test_id("search-results")).to_contain_text(APPLICANT)
    shoot(page, f"{lang}-11-registry-search")
    page.goto("/registry/waiting-list")
    expect(page.get_by_test_id("waiting-list")).to_contain_text(head_name)
    shoot(page, f"{lang}-12-waiting-list")
    page.goto("/cases")
    expect(page.get_by_test_id("cases")).to_contain_text(text["stage_assessment"])
    shoot(page, f"{lang}-13-cases")
