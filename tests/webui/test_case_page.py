"""The case page: a summary header, one section per tab (working without JavaScript), and the documents
checklist with who uploaded what and when, and previews served inline only to the case's directorate."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

from flask.testing import FlaskClient

from tests.conftest import Api, Clock
from tests.factories import pdf_document, png_image
from tests.webui.test_case_paths import complete, register_and_recommend, task_of

PDF = pdf_document("proof of income")
PNG = png_image(40, 30)
TABS = ["household", "eligibility", "documents", "records", "plan", "notes", "history"]


def _section(html: str, name: str) -> str:
    """The markup of one tab's section (sections are not nested)."""
    found = re.search(rf'<section role="tabpanel" id="section-{name}"(.*?)data-testid="section-{name}"[^>]*>(.*?)'
                      rf'(?=<section role="tabpanel"|\Z)', html, re.S)
    assert found, f"no section {name}"
    return found.group(0)


def _opening_tag(html: str, name: str) -> str:
    found = re.search(rf'<section role="tabpanel" id="section-{name}"[^>]*>', html, re.S)
    assert found
    return found.group(0)


def _case_with_documents(api: Callable[[str], Api], clock: Clock) -> int:
    """A case whose supervisor asked for proof of income and a medical report, and reception attached two files."""
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    clock.advance(hours=1)
    complete(supervisor, case_id, {"decision": "request_documents", "missing_documents": ["income_proof",
                                                                                          "medical_report"]},
             expect_form="eligibility_review")
    clock.advance(hours=2)
    complete(reception, case_id, {"documents": [
        {"name": "income.pdf", "content_base64": base64.b64encode(PDF).decode()},
        {"name": "report.png", "content_base64": base64.b64encode(PNG).decode()}]}, expect_form="attach_documents")
    return case_id


def test_each_tab_is_a_section_and_a_link_shows_it_without_javascript(
        api: Callable[[str], Api], login_as: Callable[[str], FlaskClient], clock: Clock) -> None:
    case_id = _case_with_documents(api, clock)
    supervisor = login_as("supervisor1")
    html = supervisor.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'role="tablist"' in html
    for name in TABS:
        assert f'href="/cases/{case_id}?tab={name}"' in html
        assert re.search(rf'<a role="tab" id="tab-{name}"[^>]*aria-controls="section-{name}"', html, re.S)
    # By default the household is shown; every other section is hidden and left empty (not rendered, its data
    # not read) until its tab is chosen: case_tabs.js then fetches it, or the link opens the page with it.
    assert " hidden" not in _opening_tag(html, "household")
    assert " hidden" in _opening_tag(html, "history") and "data-tab-pending" in _opening_tag(html, "history")
    assert "Additional documents requested" not in _section(html, "history")
    assert re.search(r'id="tab-household"[^>]*aria-selected="true"', html, re.S)

    contents = {"household": 'data-testid="members"', "eligibility": 'data-testid="score-latest"',
                "documents": "income.pdf", "records": 'data-testid="panel-eligibility_recommendation"',
                "plan": 'data-testid="no-plan"',
                "notes": 'data-testid="note-form"', "history": "Additional documents requested"}
    for name, content in contents.items():
        page = supervisor.get(f"/cases/{case_id}?tab={name}").get_data(as_text=True)
        assert " hidden" not in _opening_tag(page, name)
        assert re.search(rf'id="tab-{name}"[^>]*aria-selected="true"', page, re.S)
        assert content in _section(page, name), name
        others = [n for n in TABS if n != name]
        assert all(" hidden" in _opening_tag(page, n) for n in others)


def test_an_unknown_tab_shows_the_first_section(api: Callable[[str], Api], login_as: Callable[[str], FlaskClient],
                                                clock: Clock) -> None:
    case_id = _case_with_documents(api, clock)
    page = login_as("supervisor1").get(f"/cases/{case_id}?tab=<script>").get_data(as_text=True)
    assert " hidden" not in _opening_tag(page, "household")
    assert re.search(r'id="tab-household"[^>]*aria-selected="true"', page, re.S)


def test_the_summary_names_the_head_category_manager_and_what_is_due(
        api: Callable[[str], Api], login_as: Callable[[str], FlaskClient], clock: Clock) -> None:
    case_id = _case_with_documents(api, clock)
    html = login_as("supervisor1").get(f"/cases/{case_id}").get_data(as_text=True)
    summary = html.split('data-testid="case-summary"', 1)[1].split("</header>", 1)[0]
    assert re.search(r'data-testid="case-head">.*\d{9}', summary, re.S)
    assert re.search(r'data-testid="case-category">\s*(Poor|Deeply poor|Not poor|[A-Z])', summary)
    due = summary.split('data-testid="case-due">', 1)[1].split("</dd>", 1)[0]
    assert "Review" in due and re.search(r"\d{4}-\d{2}-\d{2}", due)  # the supervisor's review, with its date
    assert 'data-testid="case-opened"' in summary


def test_the_checklist_shows_each_requested_document_and_who_uploaded_which_file_when(
        api: Callable[[str], Api], login_as: Callable[[str], FlaskClient], clock: Clock) -> None:
    case_id = _case_with_documents(api, clock)
    page = login_as("supervisor1").get(f"/cases/{case_id}?tab=documents").get_data(as_text=True)
    documents = _section(page, "documents")
    checklist = documents.split('data-testid="document-checklist"', 1)[1].split("</ul>", 1)[0]
    assert 'data-requested="income_proof"' in checklist and "Proof of income or unemployment" in checklist
    assert 'data-requested="medical_report"' in checklist and "Medical report" in checklist
    assert checklist.count("(received: see the files below)") == 2
    files = documents.split('data-testid="request-files"', 1)[1]
    uploaded = clock.now.strftime("%Y-%m-%d")
    for name in ("income.pdf", "report.png"):
        row = files.split(name, 1)[1].split("</li>", 1)[0]
        assert "Lina Haddad" in row and uploaded in row  # reception1 uploaded it, today
    assert '<img src="/documents/' in files and "/preview" in files
    assert "<iframe" in files


def test_a_request_still_waiting_is_marked_as_waiting(api: Callable[[str], Api],
                                                     login_as: Callable[[str], FlaskClient]) -> None:
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    complete(supervisor, case_id, {"decision": "request_documents", "missing_documents": ["id_copies"]},
             expect_form="eligibility_review")
    page = login_as("reception1").get(f"/cases/{case_id}?tab=documents").get_data(as_text=True)
    checklist = _section(page, "documents").split('data-testid="document-checklist"', 1)[1].split("</ul>", 1)[0]
    assert "Copies of members&#39; ID cards" in checklist or "Copies of members' ID cards" in checklist
    assert "(waiting)" in checklist


def test_a_preview_is_inline_for_the_directorate_and_a_404_elsewhere(
        api: Callable[[str], Api], login_as: Callable[[str], FlaskClient], clock: Clock) -> None:
    case_id = _case_with_documents(api, clock)
    page = login_as("supervisor1").get(f"/cases/{case_id}?tab=documents").get_data(as_text=True)
    previews = sorted(set(re.findall(r"/documents/(\d+)/preview", page)))
    assert len(previews) == 2
    manager = login_as("casemanager1")
    bodies = {}
    for document_id in previews:
        with manager.get(f"/documents/{document_id}/preview") as response:
            assert response.status_code == 200
            assert response.headers["Content-Disposition"].startswith("inline;")
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
            assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
            bodies[response.mimetype] = response.data
    assert bodies == {"application/pdf": PDF, "image/png": PNG}
    # The download stays an attachment, and other pages still refuse to be framed.
    with manager.get(f"/documents/{previews[0]}") as download:
        assert download.headers["Content-Disposition"].startswith("attachment;")
    assert manager.get(f"/cases/{case_id}").headers["X-Frame-Options"] == "DENY"

    elsewhere = login_as("supervisor2")
    for document_id in previews:
        assert elsewhere.get(f"/documents/{document_id}/preview").status_code == 404


def test_the_attach_task_shows_the_checklist_of_what_was_asked(
        api: Callable[[str], Api], login_as: Callable[[str], FlaskClient]) -> None:
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    complete(supervisor, case_id, {"decision": "request_documents", "missing_documents": ["medical_report"]},
             expect_form="eligibility_review")
    task = next(t for t in reception.get("/tasks").get_json()["tasks"] if t["case_id"] == case_id)
    page = login_as("reception1").get(f"/tasks/{task['id']}").get_data(as_text=True)
    checklist = page.split('data-testid="document-checklist"', 1)[1].split("</ul>", 1)[0]
    assert 'data-requested="medical_report"' in checklist and "(waiting)" in checklist


def test_a_task_page_shows_what_the_task_works_from_before_the_eligibility_table(
        api: Callable[[str], Api], login_as: Callable[[str], FlaskClient]) -> None:
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception)
    task = next(t for t in supervisor.get("/tasks").get_json()["tasks"] if t["case_id"] == case_id)
    page = login_as("supervisor1").get(f"/tasks/{task['id']}").get_data(as_text=True)
    context = page.split('<aside class="context">', 1)[1]
    order = [context.index(f'data-testid="panel-{name}"') for name in
             ("eligibility_recommendation", "documents", "household", "eligibility")]
    assert order == sorted(order)


def test_the_plan_and_its_reviews_have_their_own_tab(api: Callable[[str], Api],
                                                     login_as: Callable[[str], FlaskClient]) -> None:
    """Forms that say `case_tab: plan` (the assistance plan and its review) are listed under Plan only."""
    from tests.factories import PLAN

    reception, supervisor, manager = api("reception1"), api("supervisor1"), api("casemanager1")
    case_id = register_and_recommend(reception)
    fields = supervisor.get(f"/tasks/{task_of(supervisor, case_id)['id']}").get_json()["fields"]
    chosen = next(f for f in fields if f["name"] == "case_manager")["choices"][0]["value"]
    complete(supervisor, case_id, {"decision": "approve", "case_manager": chosen}, expect_form="eligibility_review")
    complete(manager, case_id, {"visit_date": "2026-11-03", "needs_areas": ["health"], "needs_description": "x",
                                "household_resources": "y", "risk_level": "medium", "another_visit_needed": False},
             expect_form="needs_assessment")
    complete(manager, case_id, PLAN, expect_form="assistance_plan")
    supervisor_page = login_as("supervisor1")
    page = supervisor_page.get(f"/cases/{case_id}?tab=plan").get_data(as_text=True)
    assert 'data-testid="panel-assistance_plan"' in _section(page, "plan")
    records = supervisor_page.get(f"/cases/{case_id}?tab=records").get_data(as_text=True)
    assert 'data-testid="panel-assistance_plan"' not in _section(records, "records")
    assert 'data-testid="panel-needs_assessment"' in _section(records, "records")
