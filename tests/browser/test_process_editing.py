"""A process analyst edits the process in the browser, in Arabic and in English: renames a task in the BPMN modeler
and deploys it (reception's next case runs on the new version), a broken form is refused with its problems, and the
form editor previews the form in both languages; the editor and a version's page also fit a phone."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.browser.steps import APPLICANT, TEXT, Shoot, log_in, log_out, start_registration

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
VERSIONS_URL = re.compile(r"/processes/case_management/versions/(\d+)$")
# A check or deploy that finds problems answers 422, which the browser logs as a failed request: that is expected (and
# so is the missing favicon).
EXPECTED_CONSOLE = re.compile(r"status of 422")


@pytest.fixture
def console_errors(page: Page) -> Iterator[list[str]]:
    """Errors the page logs (scripts, refused by the Content-Security-Policy, failed requests), checked by the test."""
    errors: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        where = message.location.get("url", "")
        if message.type == "error" and not EXPECTED_CONSOLE.search(message.text) and not where.endswith("/favicon.ico"):
            errors.append(f"{message.text} ({where})")

    page.on("console", keep)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield errors


def open_processes(page: Page) -> None:
    """The analyst's process catalogue, with a first version deployed from the shipped files when there is none."""
    page.goto("/processes/")
    catalogue = page.get_by_test_id("process-case_management")
    expect(catalogue).to_be_visible()
    if page.get_by_test_id("not-deployed").count():
        page.get_by_test_id("deploy-files").click()
        expect(page.get_by_test_id("not-deployed")).to_have_count(0)
    expect(catalogue.get_by_test_id("edit-process")).to_be_visible()


def latest_listed_version(page: Page) -> int:
    """The number of the version the catalogue marks as the latest (the first row, with its badge)."""
    first = page.get_by_test_id("process-case_management").get_by_test_id("version-row").first
    expect(first.locator(".badge")).to_be_visible()
    link = first.locator("a").first.get_attribute("href") or ""
    found = VERSIONS_URL.search(link)
    assert found, link
    return int(found.group(1))


def wait_until_loaded(page: Page) -> None:
    expect(page.get_by_test_id("editor")).to_have_attribute("data-state", "ready")


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_an_analyst_renames_a_task_and_the_next_case_runs_on_the_new_version(
        page: Page, lang: str, shoot: Shoot, console_errors: list[str]) -> None:
    text = TEXT[lang]
    log_in(page, "analyst", lang)
    open_processes(page)
    assert latest_listed_version(page) == 1

    # The modeler opens on the diagram of the latest version.
    page.get_by_test_id("process-case_management").get_by_test_id("edit-process").click()
    page.wait_for_url(re.compile(r"/processes/case_management/edit"))
    wait_until_loaded(page)
    task = page.locator(".djs-element[data-element-id=register_household]")
    expect(task).to_be_visible()
    expect(task).to_contain_text("Register the")

    # Rename the task on the diagram: double-click its label, replace the text, click elsewhere on the canvas.
    task.dblclick()
    expect(page.locator(".djs-direct-editing-parent")).to_be_visible()
    page.keyboard.press("Control+A")
    page.keyboard.type("Register the family")
    page.locator(".editor-canvas .djs-container > svg").click(position={"x": 8, "y": 8})
    expect(page.locator(".djs-direct-editing-parent")).to_be_hidden()
    expect(task).to_contain_text(re.compile(r"Register the\s*family"))
    shoot(page, f"editing-{lang}-01-renamed")

    # Deploy: the status line links to version 2, and the catalogue lists it as the latest.
    page.get_by_test_id("deploy").click()
    status = page.get_by_test_id("editor-status")
    expect(status).to_have_attribute("data-kind", "ok")
    expect(status.locator("a")).to_have_attribute("href", "/processes/case_management/versions/2")
    expect(status).to_contain_text("2")
    if lang == "en":
        expect(status).to_have_text("Deployed as version 2; new cases start on it.")
    expect(page.get_by_test_id("problems")).to_be_hidden()
    shoot(page, f"editing-{lang}-02-deployed")
    open_processes(page)
    assert latest_listed_version(page) == 2
    if lang == "en":
        expect(page.get_by_test_id("version-row").first).to_contain_text("Version 2")
        expect(page.get_by_test_id("version-row").first).to_contain_text("The browser's editors")
    shoot(page, f"editing-{lang}-03-catalogue")
    log_out(page, lang)

    # Reception's next registration runs on version 2. Pages name the task as the diagram does in English, and by
    # the process vocabulary's Arabic name in Arabic (which the analyst changes there).
    log_in(page, "reception1", lang)
    start_registration(page, APPLICANT)
    expected_name = "Register the family" if lang == "en" else text["register"]
    expect(page.get_by_test_id("task-title")).to_have_text(expected_name)
    page.goto("/")
    mine = page.get_by_test_id("my-tasks")
    expect(mine.locator("tbody tr").first.locator("td").first).to_have_text(expected_name)
    shoot(page, f"editing-{lang}-04-reception-inbox")
    assert console_errors == []


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_a_broken_form_shows_its_problems_and_deploys_nothing(
        page: Page, lang: str, shoot: Shoot, console_errors: list[str]) -> None:
    log_in(page, "analyst", lang)
    open_processes(page)
    page.goto("/processes/case_management/edit?file=forms/attach_documents.yaml")
    wait_until_loaded(page)
    editor_text = page.get_by_test_id("editor-text")
    expect(editor_text).to_have_value(re.compile(r"^# Reception attaches"))

    # The preview shows the form as staff will see it, in each language.
    arabic, english = page.get_by_test_id("form-preview-ar"), page.get_by_test_id("form-preview-en")
    expect(arabic.locator("[lang=ar][dir=rtl]")).to_contain_text("إرفاق الوثائق المطلوبة")
    expect(arabic).to_contain_text("ملاحظة للمشرف")
    expect(english.locator("[lang=en][dir=ltr]")).to_contain_text("Attach the requested documents")
    expect(english).to_contain_text("Note for the supervisor")

    # An edit updates the preview as the analyst types.
    editor_text.fill(editor_text.input_value().replace("Note for the supervisor", "Note for the reviewer"))
    expect(english).to_contain_text("Note for the reviewer")
    shoot(page, f"editing-{lang}-05-form-preview")

    # A YAML syntax error: the preview says so, and deploying lists the problem and makes no version.
    editor_text.fill(editor_text.input_value().replace("fields:\n", "fields: [\n", 1))
    expect(english.locator(".problems")).to_be_visible()
    page.get_by_test_id("deploy").click()
    status = page.get_by_test_id("editor-status")
    expect(status).to_have_attribute("data-kind", "error")
    if lang == "en":
        expect(status).to_have_text("Nothing was deployed: fix the problems listed.")
    problems = page.get_by_test_id("problems")
    expect(problems).to_be_visible()
    expect(problems.locator("li").first).to_contain_text(re.compile(r"\S"))
    shoot(page, f"editing-{lang}-06-form-problems")

    # Check says the same without deploying; the catalogue still has version 1 only.
    page.get_by_test_id("check").click()
    expect(status).to_have_attribute("data-kind", "error")
    expect(problems.locator("li")).not_to_have_count(0)
    open_processes(page)
    assert latest_listed_version(page) == 1
    expect(page.get_by_test_id("process-case_management").get_by_test_id("version-row")).to_have_count(1)
    assert console_errors == []


def page_overflows(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"))


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_the_editors_and_a_versions_diagram_fit_a_phone(
        page: Page, lang: str, shoot: Shoot, console_errors: list[str]) -> None:
    log_in(page, "analyst", lang)
    open_processes(page)
    page.set_viewport_size(PHONE)

    page.goto("/processes/case_management/edit")
    wait_until_loaded(page)
    expect(page.locator(".djs-element[data-element-id=register_household]")).to_be_visible()
    expect(page.get_by_test_id("deploy")).to_be_visible()
    assert not page_overflows(page)
    shoot(page, f"editing-{lang}-07-phone-modeler")

    page.goto("/processes/case_management/edit?file=rules/poverty_category.dmn")
    wait_until_loaded(page)
    expect(page.locator(".editor-canvas .dmn-decision-table-container, .editor-canvas .dmn-drd-container")
           .first).to_be_visible()
    assert not page_overflows(page)
    shoot(page, f"editing-{lang}-08-phone-dmn")

    page.goto("/processes/case_management/edit?file=forms/attach_documents.yaml")
    wait_until_loaded(page)
    expect(page.get_by_test_id("form-preview-en")).to_contain_text("Note for the supervisor")
    assert not page_overflows(page)
    shoot(page, f"editing-{lang}-09-phone-form")

    page.goto("/processes/case_management/versions/1")
    diagram = page.get_by_test_id("diagram")
    expect(diagram).to_have_attribute("data-state", "ready")
    expect(diagram.locator(".djs-element[data-element-id=register_household]")).to_be_visible()
    assert not page_overflows(page)
    shoot(page, f"editing-{lang}-10-phone-version")
    assert console_errors == []
