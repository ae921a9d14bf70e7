"""The case page in a browser: tabs switch in place (mouse and keyboard, the address keeps the choice), a note
is added and pinned to the summary, the documents checklist previews files; every tab fits a phone and passes
axe-core in both languages. Screenshots: test-artifacts/screenshots/case-tabs-<lang>-<size>-<tab>.png."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checks import assert_fits_and_accessible
from tests.browser.steps import Shoot
from tests.browser.test_pages_fit import SIZES, Api, sign_in
from tests.factories import pdf_document, png_image, registration

pytestmark = pytest.mark.browser

TABS = ["household", "eligibility", "documents", "records", "plan", "notes", "history"]


def case_with_documents(page: Page) -> int:
    reception, supervisor = Api(page.request, "reception1"), Api(page.request, "supervisor1")
    case_id = int(reception.post("/cases", {}, 201)["case_id"])
    reception.complete(case_id, "registration", registration())
    reception.complete(case_id, "eligibility_recommendation", {"decision": "recommend_eligible",
                                                               "recommendation_notes": "Both parents out of work."})
    supervisor.complete(case_id, "eligibility_review", {"decision": "request_documents",
                                                        "missing_documents": ["income_proof", "medical_report"]},
                        claim=True)
    files = [{"name": "income.pdf", "content_base64": base64.b64encode(pdf_document("income")).decode()},
             {"name": "report.png", "content_base64": base64.b64encode(png_image(60, 40)).decode()}]
    reception.complete(case_id, "attach_documents", {"documents": files})
    return case_id


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", ["ar", "en"])
def test_tabs_notes_and_documents_on_the_case_page(page: Page, lang: str, size: str, shoot: Shoot) -> None:
    case_id = case_with_documents(page)
    page.set_viewport_size(SIZES[size])
    page.goto("/login")
    if page.locator("html").get_attribute("lang") != lang:
        with page.expect_navigation():
            page.get_by_test_id("language-switch").click()
    sign_in(page, "casemanager1")
    page.goto(f"/cases/{case_id}")
    tabs = page.get_by_role("tab")
    expect(tabs).to_have_count(len(TABS) + (1 if page.locator("#tab-diagram").count() else 0))

    for name in TABS:  # a click shows its section alone, without reloading, and the address says which
        page.locator(f"#tab-{name}").click()
        expect(page.get_by_test_id(f"section-{name}")).to_be_visible()
        expect(page.locator(f"#tab-{name}")).to_have_attribute("aria-selected", "true")
        assert page.url.endswith(f"?tab={name}")
        for other in TABS:
            if other != name:
                expect(page.get_by_test_id(f"section-{other}")).to_be_hidden()
        shoot(page, f"case-tabs-{lang}-{size}-{name}")
        assert_fits_and_accessible(page)

    # The keyboard: the arrow that points forward in the reading direction moves to the next tab.
    page.locator("#tab-household").click()
    page.locator("#tab-household").focus()
    page.keyboard.press("ArrowLeft" if lang == "ar" else "ArrowRight")
    expect(page.locator("#tab-eligibility")).to_be_focused()
    expect(page.get_by_test_id("section-eligibility")).to_be_visible()
    page.keyboard.press("End")
    expect(page.get_by_test_id("section-household")).to_be_hidden()

    # A note, then pinned: it shows in the summary above every tab.
    page.locator("#tab-notes").click()
    page.locator("#note-text").fill("Visited on Monday: the roof leaks.")
    with page.expect_navigation():
        page.get_by_test_id("note-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("section-notes")).to_be_visible()
    note = page.get_by_test_id("note-list").locator("li.note").first
    expect(note).to_contain_text("Visited on Monday: the roof leaks.")
    with page.expect_navigation():
        note.locator("button[type=submit]").click()
    expect(page.get_by_test_id("pinned-notes")).to_contain_text("Visited on Monday: the roof leaks.")
    shoot(page, f"case-tabs-{lang}-{size}-pinned")
    assert_fits_and_accessible(page)

    # The documents: a thumbnail of the image, and the PDF in the page when asked for.
    page.locator("#tab-documents").click()
    image = page.get_by_test_id("section-documents").locator("img.document-thumb")
    expect(image).to_be_visible()
    # The section arrives by fetch, so its image may still be loading: wait for it, then check it decoded.
    page.wait_for_function("(img) => img.complete", arg=image.element_handle())
    assert page.evaluate("(img) => img.naturalWidth", image.element_handle()) == 60
    pdf = page.get_by_test_id("section-documents").locator("details.preview")
    pdf.locator("summary").click()
    expect(pdf.locator("iframe")).to_be_visible()
    assert re.search(r"/documents/\d+/preview$", pdf.locator("iframe").get_attribute("src") or "")
    shoot(page, f"case-tabs-{lang}-{size}-documents-preview")
    assert_fits_and_accessible(page)
