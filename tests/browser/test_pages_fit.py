"""Every role's main pages fit a phone (390×844) and a desktop (1366×900) in Arabic and in English: nothing
overflows sideways, and axe-core finds no serious or critical violation. Screenshots: test-artifacts/screenshots/
fit-<lang>-<size>-<page>.png."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Page, expect

from tests.browser.checks import assert_fits_and_accessible
from tests.browser.steps import APPLICANT, Shoot
from tests.factories import registration

pytestmark = pytest.mark.browser

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}


class Api:
    """Staff acting through the JSON API, to put demo cases at the stages the pages show."""

    def __init__(self, request: APIRequestContext, username: str) -> None:
        self.request = request
        token = request.post("/api/v1/auth/token", data={"username": username, "password": "demo"})
        assert token.status == 200, token.text()
        self.headers = {"Authorization": f"Bearer {token.json()['token']}"}

    def post(self, path: str, data: dict[str, Any], status: int = 200) -> dict[str, Any]:
        answer = self.request.post("/api/v1" + path, data=data, headers=self.headers)
        assert answer.status == status, answer.text()
        body: dict[str, Any] = answer.json()
        return body

    def get(self, path: str) -> dict[str, Any]:
        answer = self.request.get("/api/v1" + path, headers=self.headers)
        assert answer.status == 200, answer.text()
        body: dict[str, Any] = answer.json()
        return body

    def task_of(self, case_id: int, form_key: str) -> dict[str, Any]:
        return next(t for t in self.get("/tasks?per_page=200")["tasks"]
                    if t["case_id"] == case_id and t["form_key"] == form_key)

    def complete(self, case_id: int, form_key: str, data: dict[str, Any], *, claim: bool = False) -> None:
        task = self.task_of(case_id, form_key)
        if claim:
            self.post(f"/tasks/{task['id']}/claim", {})
        self.post(f"/tasks/{task['id']}/complete", {"data": data})


def demo_cases(request: APIRequestContext) -> dict[str, Any]:
    """Cases waiting at registration (reception), eligibility review (supervisor) and needs assessment (case
    manager), with the ids of the task each role opens."""
    reception, supervisor, manager = (Api(request, name) for name in ("reception1", "supervisor1", "casemanager1"))
    registering = int(reception.post("/cases", {"national_id": APPLICANT, "consent_data_exchange": True},
                                     201)["case_id"])
    recommended = {"decision": "recommend_eligible", "recommendation_notes": "Both parents out of work."}
    reviewed = int(reception.post("/cases", {}, 201)["case_id"])
    reception.complete(reviewed, "registration", registration())
    reception.complete(reviewed, "eligibility_recommendation", recommended)
    assessed = int(reception.post("/cases", {}, 201)["case_id"])
    reception.complete(assessed, "registration", registration(reasons_details="A very long account " * 30))
    reception.complete(assessed, "eligibility_recommendation", recommended)
    review = supervisor.task_of(assessed, "eligibility_review")
    supervisor.post(f"/tasks/{review['id']}/claim", {})
    choices = next(f for f in supervisor.get(f"/tasks/{review['id']}")["fields"] if f["name"] == "case_manager")
    rania = next(c["value"] for c in choices["choices"] if "Rania" in c["label"] or "رانيا" in c["label"])
    supervisor.post(f"/tasks/{review['id']}/complete", {"data": {
        "decision": "approve", "review_comments": "Documents complete.", "case_manager": rania}})
    eligibility_task = supervisor.task_of(reviewed, "eligibility_review")["id"]
    supervisor.post(f"/tasks/{eligibility_task}/claim", {})
    return {
        "registering": registering, "registration_task": reception.task_of(registering, "registration")["id"],
        "reviewed": reviewed, "review_task": eligibility_task,
        "assessed": assessed, "assessment_task": manager.task_of(assessed, "needs_assessment")["id"],
    }


def sign_in(page: Page, username: str) -> None:
    """Log in through the login page (in the language already chosen) and wait for the inbox's address."""
    page.goto("/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill("demo")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/login" not in page.url, f"{username} could not log in"


def sign_out(page: Page) -> None:
    with page.expect_navigation():
        page.locator("form[action$='/logout'] button").click()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", ["ar", "en"])
def test_every_main_page_fits_the_screen_and_passes_axe(page: Page, lang: str, size: str, shoot: Shoot) -> None:
    cases = demo_cases(page.request)
    page.set_viewport_size(SIZES[size])
    failures: list[str] = []

    def visit(path: str | None, name: str) -> None:
        if path is not None:
            page.goto(path)
        expect(page.locator("main")).to_be_visible()
        shoot(page, f"fit-{lang}-{size}-{name}")
        try:
            assert_fits_and_accessible(page)
        except AssertionError as failure:  # every page is checked; the test lists all that fail
            failures.append(f"[{name}] {failure}")

    page.goto("/login")
    if page.locator("html").get_attribute("lang") != lang:
        with page.expect_navigation():
            page.get_by_test_id("language-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    visit(None, "login")

    sign_in(page, "reception1")
    visit("/", "reception-inbox")
    visit("/cases/new", "reception-new-registration")
    visit(f"/tasks/{cases['registration_task']}", "reception-registration-task")
    visit(f"/cases/{cases['reviewed']}", "reception-case")
    sign_out(page)

    sign_in(page, "supervisor1")
    visit("/", "supervisor-inbox")
    visit(f"/tasks/{cases['review_task']}", "supervisor-eligibility-review")
    visit(f"/cases/{cases['reviewed']}", "supervisor-case")
    visit("/registry/waiting-list", "supervisor-waiting-list")
    visit("/cases", "supervisor-cases")
    visit("/registry/search?q=" + "أحمد", "supervisor-registry-search")
    sign_out(page)

    sign_in(page, "casemanager1")
    visit("/", "case-manager-inbox")
    visit(f"/tasks/{cases['assessment_task']}", "case-manager-needs-assessment")
    visit(f"/cases/{cases['assessed']}", "case-manager-case")
    sign_out(page)

    sign_in(page, "analyst")
    visit("/processes/", "analyst-processes")
    page.locator("main a[href*='/versions/']").first.click()
    page.wait_for_load_state("networkidle")
    visit(None, "analyst-version")

    assert not failures, "\n\n".join(failures)
