"""A household's whole journey on a 390×844 phone, in Arabic and in English, through the real pages of a live server:
sign up with the code from the outbox, apply online with the ministries' data and a document, follow the status,
answer the supervisor's document request, download the decision letter and ask for a review of the decision."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, ViewportSize, expect
from sqlalchemy import select
from werkzeug.serving import make_server

from app import create_app
from tests.browser.checks import assert_fits_and_accessible
from tests.browser.conftest import STEP_TIMEOUT_MS
from tests.browser.steps import APPLICANT, Shoot
from tests.conftest import Clock
from tests.factories import pdf_document, png_image

pytestmark = pytest.mark.browser
PHONE: ViewportSize = {"width": 390, "height": 844}
PASSWORD = "green-olive-7"

# What the household reads, in each language.
WORDS = {
    "ar": {"from_interior": "من وزارة الداخلية", "registering": "يجري تسجيل طلبك",
           "upload_task": "تحميل الوثائق المطلوبة", "income_proof": "إثبات الدخل",
           "reviewing": "تدرس المديرية أهلية أسرتك للحصول على المساعدة"},
    "en": {"from_interior": "From Ministry of Interior", "registering": "Your application is being registered",
           "upload_task": "Upload the requested documents", "income_proof": "Proof of income",
           "reviewing": "The directorate is checking whether your household can receive assistance"},
}


@pytest.fixture
def served(tmp_path: Path, sqlite_template: Path, clock: Clock) -> Iterator[tuple[Flask, str]]:
    """The app (CSRF on, the test's clock, its own document store) on a free port, and the app for staff steps."""
    from registry.seed import seed_reference, seed_users
    from tests.conftest import _deploy_shipped_files

    path = tmp_path / "journey.sqlite3"
    shutil.copy(sqlite_template, path)
    application = create_app({
        "TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "journey", "DEMO_MODE": True,
        "MINISTRY_BACKEND": "file", "CLOCK": clock, "DOCUMENT_STORAGE_DIR": str(tmp_path / "documents"),
    })
    with application.app_context():
        from webui.db import db_session

        session = db_session()
        seed_reference(session)
        seed_users(session)
        _deploy_shipped_files(session)
        session.commit()
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="journey-server", daemon=True)
    thread.start()
    try:
        yield application, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        application.extensions["db_engine"].dispose()


def code_from_outbox(app: Flask) -> str:
    """The code as the citizen reads it in the text message: the newest message in the outbox table."""
    from registry.notifications import OutboxMessage

    with app.app_context():
        from webui.db import db_session

        body = db_session().scalars(select(OutboxMessage.body).order_by(OutboxMessage.id.desc()).limit(1)).one()
    found = re.search(r"\d{6}", body)
    assert found is not None, body
    return found.group(0)


def staff_step(app: Flask, reference: str, username: str, data: dict[str, Any] | None = None, *,
               now: Any) -> None:
    """A member of staff completes the case's ready task of their role (``data=None``: as the form shows it)."""
    from registry import cases
    from registry.models import Case, User
    from registry.seed import advance

    with app.app_context():
        from webui.db import db_session, library

        session = db_session()
        case_id = session.scalars(select(Case.id).where(Case.reference == reference)).one()
        if data is None:
            user = session.scalars(select(User).where(User.username == username)).one()
            ready = cases.case_view(session, actor=user, case_id=case_id, history_per_page=0,
                                    submission_forms=()).ready
            task = next(t for t in ready if t.visible_to(role=user.role, scope=user.scope))
            data = dict(cases.task_view_for_page(session, actor=user, library=library(), task_id=task.id).values)
        advance(session, library=library(), case_id=case_id, username=username, data=data, now=now)
        session.commit()


def walk_the_steps(page: Page, fills: list[tuple[str, Any]]) -> None:
    """Fill the registration form one step at a time, as the page shows it, with its "Next" buttons."""
    pending = list(fills)
    for _step in range(12):
        for item in list(pending):
            selector, action = item
            if page.locator(selector).first.is_visible():
                action(page.locator(selector).first)
                pending.remove(item)
        following = page.locator("[data-step]:visible [data-testid=step-next]")
        if not following.count():
            break
        following.click()
    assert not pending, f"never shown: {[selector for selector, _a in pending]}"


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_a_household_applies_follows_answers_and_asks_for_a_review_on_a_phone(
        chromium: Browser, served: tuple[Flask, str], clock: Clock, shoot: Shoot, tmp_path: Path,
        lang: str) -> None:
    app, base_url = served
    words = WORDS[lang]
    context = chromium.new_context(base_url=base_url, viewport=PHONE, is_mobile=True, has_touch=True,
                                   accept_downloads=True)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()

    def look(name: str) -> None:
        assert_fits_and_accessible(page)
        shoot(page, f"journey-{lang}-{name}")

    # Sign up with the code the outbox sent, in the household's language.
    page.goto("/portal/login")
    if page.locator("html").get_attribute("lang") != lang:
        with page.expect_navigation():
            page.get_by_test_id("language-switch").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")
    page.get_by_test_id("signup-link").click()
    page.locator("#national_id").fill(APPLICANT)
    page.locator("#mobile").fill("0599876543")
    page.locator("#password").fill(PASSWORD)
    page.locator("#password_again").fill(PASSWORD)
    look("01-signup")
    page.get_by_test_id("signup-submit").click()
    expect(page.get_by_test_id("code-sent")).to_be_visible()
    page.locator("#code").fill(code_from_outbox(app))
    page.get_by_test_id("confirm-submit").click()
    expect(page.get_by_test_id("no-applications")).to_be_visible()
    look("02-home-new")

    # Apply: consent, the ministries' data with its source, the form's steps, a document, send.
    page.get_by_test_id("apply-link").click()
    look("03-consent")
    page.get_by_test_id("consent-yes").check()
    page.get_by_test_id("consent-continue").click()
    expect(page.get_by_test_id("apply-form")).to_be_visible()
    expect(page.locator("input[name=members-0-national_id]")).to_have_value(APPLICANT)
    expect(page.locator("input[name=members-0-name_ar]")).to_have_value("عيسى إبراهيم موسى يعقوب")
    expect(page.get_by_test_id("source-members.0.name_ar")).to_contain_text(words["from_interior"])
    look("04-form-first-step")
    walk_the_steps(page, [
        ("input[name=phone]", lambda f: f.fill("0599876543")),
        ("input[name=reasons][value=illness]", lambda f: f.check()),
        ("textarea[name=reasons_details]", lambda f: f.fill("الزوجان مسنّان ومريضان ولا دخل ثابتاً لهما.")),
        ("input[name=monthly_income]", lambda f: f.fill("350")),
        ("select[name=dwelling_type]", lambda f: f.select_option("house")),
        ("select[name=dwelling_tenure]", lambda f: f.select_option("owned")),
        ("input[name=rooms]", lambda f: f.fill("1")),
        ("select[name=water_source]", lambda f: f.select_option("tanker")),
        ("select[name=sanitation]", lambda f: f.select_option("cesspit")),
        ("input[name=electricity]", lambda f: f.check()),
        ("select[name=cooking_fuel]", lambda f: f.select_option("wood_or_coal")),
        ("input[name=unmet_medical_needs]", lambda f: f.check()),
    ])
    look("05-form-last-step")
    page.get_by_test_id("continue").click()
    expect(page.get_by_test_id("apply-send")).to_be_visible()
    id_card = tmp_path / "id-card.png"
    id_card.write_bytes(png_image(40, 30))
    page.locator("input[name=documents]").set_input_files(str(id_card))
    page.locator("textarea[name=applicant_note]").fill("توقف دخلنا في آذار." if lang == "ar"
                                                       else "Our income stopped in March.")
    page.locator("input[name=declaration]").check()
    look("06-send")
    page.get_by_test_id("send").click()

    # The status page says in plain words where the application is; the home lists it.
    expect(page.get_by_test_id("stage")).to_have_text(words["registering"])
    reference = page.get_by_test_id("reference").inner_text().strip()
    look("07-status-sent")
    page.goto("/portal/")
    expect(page.get_by_test_id(f"application-{reference}")).to_contain_text(words["registering"])
    look("08-home-applied")

    # Reception records what the household declared and recommends; the supervisor asks for proof of income.
    staff_step(app, reference, "reception1", now=clock())
    staff_step(app, reference, "reception1", {"decision": "recommend_eligible",
                                              "recommendation_notes": "Elderly couple, no income."}, now=clock())
    staff_step(app, reference, "supervisor1", {"decision": "request_documents", "missing_documents": ["income_proof"],
                                               "review_comments": "Staff only: call the employer."}, now=clock())

    # The request is the household's task: what is missing, by when; the upload returns the case to review.
    page.reload()
    tasks = page.get_by_test_id("my-tasks")
    expect(tasks).to_contain_text(words["upload_task"])
    expect(page.get_by_test_id(f"application-{reference}").get_by_test_id("waiting-on-you")).to_be_visible()
    look("09-home-task")
    tasks.get_by_role("link").first.click()
    expect(page.get_by_test_id("missing-documents")).to_contain_text(words["income_proof"])
    expect(page.get_by_test_id("task-due")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("call the employer")
    look("10-task")
    income = tmp_path / "income.pdf"
    income.write_bytes(pdf_document("income certificate"))
    page.locator("input[name=documents__for__income_proof]").set_input_files(str(income))
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("stage")).to_have_text(words["reviewing"])
    expect(page.get_by_test_id("your-step")).to_have_count(0)
    look("11-status-back-in-review")

    # The supervisor approves; the household reads the result and downloads the decision letter as a PDF.
    from registry.models import User

    with app.app_context():
        from webui.db import db_session

        manager = db_session().scalars(select(User.id).where(User.username == "casemanager1")).one()
    staff_step(app, reference, "supervisor1", {"decision": "approve", "case_manager": str(manager),
                                               "review_comments": "Approved."}, now=clock())
    page.reload()
    expect(page.get_by_test_id("result-text")).to_be_visible()
    expect(page.get_by_test_id("documents-asked")).to_have_count(0)  # sent already: not asked again
    look("12-status-decided")
    with page.expect_download() as downloading:
        page.get_by_test_id(f"letter-{lang}").click()
    letter = downloading.value
    assert letter.suggested_filename == f"decision-{reference}-{lang}.pdf"
    assert Path(letter.path()).read_bytes().startswith(b"%PDF-")
    response = page.request.get(f"/portal/applications/{reference}/letter?lang={lang}")
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment;")

    # A complaint about the decision, from the status page's review link; it shows in the household's complaints.
    page.get_by_test_id("ask-review").click()
    expect(page.get_by_test_id("case-reference")).to_have_value(reference)
    expect(page.get_by_test_id("kind-decision")).to_be_checked()
    page.get_by_test_id("complaint-text").fill("لم تُحتسب مصاريف علاج زوجتي." if lang == "ar"
                                              else "My wife's medical costs were not counted.")
    look("13-complaint-new")
    page.get_by_test_id("send-complaint").click()
    page.wait_for_url(re.compile(r"/portal/complaints/[^/?]+\?filed=1$"))
    complaint = page.url.rsplit("/", 1)[1].split("?", 1)[0]
    look("14-complaint-filed")
    page.goto("/portal/complaints")
    expect(page.get_by_test_id("complaint-row")).to_contain_text(complaint)
    look("15-complaints")
    context.close()
