"""In the browser: what is typed in a task form is saved as a draft while typing; after the session ends, the
submit leads to the login page in the user's language, and logging in comes back to the task with the values."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

from registry.models import StaffSession
from tests.browser.checks import assert_fits_and_accessible
from tests.browser.steps import TEXT, Shoot, log_in
from tests.factories import registration

pytestmark = pytest.mark.browser

NOTES = {"en": "Five children; the father lost his job in March.", "ar": "خمسة أطفال، وفقد الأب عمله في آذار."}
WORDS = {
    "en": {"restored": "Restored your unsaved draft from", "ended": "Your session ended, so the form was not sent.",
           "discard": "Discard draft"},
    "ar": {"restored": "استُعيدت مسودتك غير المُرسلة", "ended": "انتهت جلستك، فلم يُرسَل النموذج.",
           "discard": "حذف المسودة"},
}


def recommendation_task(page: Page) -> str:
    """Reception registers a household through the API; its next task is the recommendation."""
    token = page.request.post("/api/v1/auth/token", data={"username": "reception1", "password": "demo"})
    assert token.status == 200, token.text()
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    opened = page.request.post("/api/v1/cases", data={}, headers=headers)
    assert opened.status == 201, opened.text()
    case_id = int(opened.json()["case_id"])

    def task() -> dict[str, str]:
        tasks = page.request.get("/api/v1/tasks", headers=headers).json()["tasks"]
        return next(t for t in tasks if t["case_id"] == case_id)

    done = page.request.post(f"/api/v1/tasks/{task()['id']}/complete", data={"data": registration()},
                             headers=headers)
    assert done.status == 200, done.text()
    following = task()
    assert following["form_key"] == "eligibility_recommendation"
    return following["id"]


def end_every_session_by_idling(database: Path) -> None:
    """As if the user had left the page alone for 31 minutes: past the idle limit, the server ends the session."""
    engine = create_engine(f"sqlite:///{database}")
    with Session(engine) as session:
        session.execute(update(StaffSession).values(last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)))
        session.commit()
    engine.dispose()


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_typed_values_survive_an_ended_session_and_are_submitted_after_logging_in_again(
        page: Page, lang: str, shoot: Shoot, tmp_path: Path) -> None:
    words, notes = WORDS[lang], NOTES[lang]
    task_id = recommendation_task(page)
    log_in(page, "reception1", lang)
    page.goto(f"/tasks/{task_id}")
    form = page.get_by_test_id("task-form")

    # Typing saves a draft a moment after typing stops; reloading the page shows what was typed.
    with page.expect_response(lambda r: r.url.endswith(f"/tasks/{task_id}/draft") and r.request.method == "PUT") \
            as saved:
        form.locator("select[name=decision]").select_option("recommend_eligible")
        form.locator("textarea[name=recommendation_notes]").fill(notes)
    assert saved.value.status == 200, saved.value.text()
    expect(form).to_have_attribute("data-draft-state", "saved")
    page.reload()
    expect(page.get_by_test_id("draft-note")).to_contain_text(words["restored"])
    expect(page.get_by_test_id("discard-draft")).to_have_text(words["discard"])
    expect(form.locator("textarea[name=recommendation_notes]")).to_have_value(notes)
    expect(form.locator("select[name=decision]")).to_have_value("recommend_eligible")
    assert_fits_and_accessible(page)
    shoot(page, f"{lang}-draft-restored")

    # The session ends while the page is open; the submit leads to the login page, in the user's language.
    end_every_session_by_idling(tmp_path / "browser.sqlite3")
    page.get_by_test_id("submit").click()
    page.wait_for_url(re.compile(r"/login\?next="))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.get_by_role("status").filter(has_text=words["ended"])).to_be_visible()
    assert_fits_and_accessible(page)
    shoot(page, f"{lang}-draft-session-ended-login")

    # Logging in comes back to the same task with the typed values, and the submit goes through.
    page.locator("input[name=username]").fill("reception1")
    page.locator("input[name=password]").fill("demo")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/tasks/{task_id}$"))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(form.locator("textarea[name=recommendation_notes]")).to_have_value(notes)
    expect(form.locator("select[name=decision]")).to_have_value("recommend_eligible")
    page.get_by_test_id("submit").click()
    expect(page.locator(".flash.success")).to_have_text(TEXT[lang]["saved"])

    # The task is done: its draft is gone with it, and a late save (a tab left open) is refused.
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    late = page.request.put(f"/tasks/{task_id}/draft", data={"values": {"recommendation_notes": "late"}},
                            headers={"X-CSRFToken": token})
    assert late.status == 409, late.text()
