"""What earlier tasks recorded, readable by every staff user of the case's directorate: who, when, every
answer, what changed; and what an earlier task asks the next one to read first, as a banner on top."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import Api, Clock
from tests.factories import PLAN, pdf_document, registration
from tests.webui.test_case_paths import complete, open_case, task_of


def text_of(page: str) -> str:
    """A page's words as a reader sees them: tags dropped, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def section(page: str, testid: str, end: str = "</section>") -> str:
    """The text of the element marked with ``data-testid``, up to the first ``end`` after it."""
    start = page.index(f'data-testid="{testid}"')
    return text_of(page[start:page.index(end, start)])


def step(clock: Clock, user: Api, case_id: int, data: dict[str, Any], form: str) -> dict[str, Any]:
    clock.advance(minutes=5)  # each task is done a little later, as in a working day
    return complete(user, case_id, data, expect_form=form)


def registered_and_reviewed(api: Callable[[str], Api], clock: Clock) -> tuple[int, str]:
    """A case registered and recommended by reception; returns it and the id of its registration task."""
    reception = api("reception1")
    case_id = open_case(reception)
    registration_task = task_of(reception, case_id)["id"]
    step(clock, reception, case_id, registration(notes="Met the mother at the office; papers to follow."),
         "registration")
    step(clock, reception, case_id, {"decision": "recommend_eligible",
                                     "recommendation_notes": "Deeply deprived in health and housing."},
         "eligibility_recommendation")
    return case_id, registration_task


def test_supervisor_reads_the_completed_registration_and_another_directorate_does_not(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient], clock: Clock) -> None:
    case_id, registration_task = registered_and_reviewed(api, clock)
    supervisor = login_as("supervisor1")

    page = supervisor.get(f"/tasks/{registration_task}")
    assert page.status_code == 200
    words = section(page.get_data(as_text=True), "record")
    assert "Lina Haddad" in words  # who recorded it
    assert "Reasons for the request Loss of income or work, Illness" in words
    assert "The household's situation in its own words The father lost his job; the daughter needs treatment." \
        in words
    assert "Total monthly household income (NIS) 700" in words
    assert "Dwelling Apartment" in words and "Tenure Rented" in words and "Rooms used for sleeping 1" in words
    assert "Reception notes Met the mother at the office; papers to follow." in words
    assert 'data-testid="task-form"' not in page.get_data(as_text=True)  # read-only: nothing to submit
    # Reading is not acting: the supervisor still cannot complete reception's task.
    assert supervisor.post(f"/tasks/{registration_task}", data={"consent_data_exchange": "1"}).status_code == 404

    record = supervisor.get(f"/cases/{case_id}/records/{registration_task}")
    assert record.status_code == 200
    assert "Total monthly household income (NIS) 700" in section(record.get_data(as_text=True), "record")

    elsewhere = login_as("supervisor2")
    assert elsewhere.get(f"/tasks/{registration_task}").status_code == 404
    assert elsewhere.get(f"/cases/{case_id}/records/{registration_task}").status_code == 404


def test_ready_task_of_another_role_stays_hidden(api: Callable[[str], Api], login_as: Callable[..., FlaskClient],
                                                 clock: Clock) -> None:
    case_id, _ = registered_and_reviewed(api, clock)
    review = task_of(api("supervisor1"), case_id)["id"]
    assert login_as("reception1").get(f"/tasks/{review}").status_code == 404


def test_case_page_lists_every_completed_task_with_a_link_to_its_record(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient], clock: Clock) -> None:
    case_id, registration_task = registered_and_reviewed(api, clock)
    page = login_as("supervisor1").get(f"/cases/{case_id}?tab=records").get_data(as_text=True)
    listed = section(page, "recorded")
    assert "Register the household" in listed and "Recommend on eligibility" in listed
    assert f"/cases/{case_id}/records/{registration_task}" in page


def test_review_task_shows_the_registration_answers_and_receptions_recommendation(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient], clock: Clock) -> None:
    case_id, _ = registered_and_reviewed(api, clock)
    review = task_of(api("supervisor1"), case_id)["id"]
    for lang, expected in (("en", ["Reasons for the request", "Loss of income or work", "700",
                                   "The father lost his job", "Apartment", "Met the mother at the office",
                                   "Deeply deprived in health and housing."]),
                           ("ar", ["أسباب طلب المساعدة", "فقدان الدخل أو العمل", "700", "شقة", "مستأجر",
                                   "Deeply deprived in health and housing."])):
        page = login_as("supervisor1", lang).get(f"/tasks/{review}").get_data(as_text=True)
        registration_panel = section(page, "panel-record-registration")
        recommendation = section(page, "panel-eligibility_recommendation")
        for words in expected:
            assert words in registration_panel + recommendation, (lang, words)
        assert "Deeply deprived in health and housing." in recommendation


def test_receptions_note_with_the_documents_is_a_banner_on_the_next_review(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient], clock: Clock) -> None:
    case_id, _ = registered_and_reviewed(api, clock)
    supervisor, reception = api("supervisor1"), api("reception1")
    first_review = task_of(supervisor, case_id)["id"]
    assert 'data-testid="task-banner"' not in login_as("supervisor1").get(f"/tasks/{first_review}").get_data(
        as_text=True)  # nothing sent yet: no banner
    step(clock, supervisor, case_id, {"decision": "request_documents", "missing_documents": ["income_proof"]},
         "eligibility_review")
    pdf = base64.b64encode(pdf_document("proof of income")).decode()
    attach = task_of(reception, case_id)["id"]
    note = "Only the father's payslip exists; the mother works informally."
    step(clock, reception, case_id, {"documents": [{"name": "income.pdf", "content_base64": pdf}],
                                     "documents_note": note}, "attach_documents")
    review = task_of(supervisor, case_id)["id"]
    page = login_as("supervisor1").get(f"/tasks/{review}").get_data(as_text=True)
    banner = section(page, "task-banner", end="</div>")
    assert "Note for the supervisor" in banner and "Only the father's payslip exists" in banner
    assert "Lina Haddad" in banner
    arabic = login_as("supervisor1", "ar").get(f"/tasks/{review}").get_data(as_text=True)
    assert "ملاحظة للمشرف" in section(arabic, "task-banner", end="</div>")
    # The note is kept with its task, readable from the case page's list.
    record = login_as("supervisor1").get(f"/cases/{case_id}/records/{attach}").get_data(as_text=True)
    assert "Only the father's payslip exists" in section(record, "record") and "income.pdf" in record


VISIT = {"visit_date": "2026-11-03", "needs_areas": ["health", "work"], "needs_description": "Treatment.",
         "household_resources": "The mother sews.", "risk_level": "medium", "another_visit_needed": False}


def test_returned_plan_shows_the_supervisors_comments_on_top_and_the_revision_shows_what_changed(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient], clock: Clock) -> None:
    case_id, _ = registered_and_reviewed(api, clock)
    supervisor, manager = api("supervisor1"), api("casemanager1")
    step(clock, supervisor, case_id, {"decision": "approve"}, "eligibility_review")
    step(clock, manager, case_id, VISIT, "needs_assessment")
    first_plan = task_of(manager, case_id)["id"]
    assert 'data-testid="task-banner"' not in login_as("casemanager1").get(f"/tasks/{first_plan}").get_data(
        as_text=True)  # a first plan answers nobody's comments
    step(clock, manager, case_id, PLAN, "assistance_plan")
    step(clock, supervisor, case_id, {"decision": "revise", "plan_comments": "Add a health referral for the daughter."},
         "plan_review")

    revision = task_of(manager, case_id)["id"]
    page = login_as("casemanager1").get(f"/tasks/{revision}").get_data(as_text=True)
    banner = section(page, "task-banner", end="</div>")
    assert "Comments for the case manager" in banner and "Add a health referral for the daughter." in banner
    assert "Omar Khalil" in banner
    assert page.index('data-testid="task-banner"') < page.index('data-testid="task-form"')  # on top, not below
    arabic = section(login_as("casemanager1", "ar").get(f"/tasks/{revision}").get_data(as_text=True),
                     "task-banner", end="</div>")
    assert "ملاحظات لمدير الحالة" in arabic and "عمر خليل" in arabic

    health = {"description": "Referral to the health directorate", "area": "health", "provider_type": "partner",
              "provider_name": "Ramallah Health Directorate", "due_date": "2026-12-15"}
    revised = {**PLAN, "goals": "Regular income, treatment for the daughter.",
               "interventions": [PLAN["interventions"][0], {**PLAN["interventions"][1], "due_date": "2027-01-31"},
                                 health]}
    step(clock, manager, case_id, revised, "assistance_plan")
    step(clock, supervisor, case_id, {"decision": "approve"}, "plan_review")

    for lang, words in (("en", ["What changed since the previous submission", "submission 2 of 2",
                                "Goals agreed with the household: Regular income and treatment for the daughter. "
                                "→ now Regular income, treatment for the daughter.",
                                "Interventions 2 · To be done by: 2027-01-15 → now 2027-01-31",
                                "Interventions 3 : added Intervention: Referral to the health directorate · "
                                "Area: Health"]),
                        ("ar", ["ما الذي تغيّر منذ الإرسال السابق", "التدخلات 3", "الصحة"])):
        reader = login_as("supervisor1", lang)
        listed = reader.get(f"/cases/{case_id}?tab=records").get_data(as_text=True)
        plans = re.findall(rf'href="/cases/{case_id}/records/([^"]+)">(?:Assistance plan|[^<]*)</a>', listed)
        record = reader.get(f"/cases/{case_id}/records/{revision}").get_data(as_text=True)
        assert revision in plans
        changes = section(record, "record-changes", end="</ul>")
        for expected in words:
            assert expected in changes or expected in section(record, "record"), (lang, expected)
    first = login_as("supervisor1").get(f"/cases/{case_id}/records/{first_plan}").get_data(as_text=True)
    assert 'data-testid="record-changes"' not in first  # the first plan has nothing before it


def test_changes_name_each_field_added_removed_or_changed_and_each_row_added_or_removed() -> None:
    from engine.forms import parse_form
    from registry.records import changes_between

    form = parse_form("plan", """
title: Plan
fields:
  - {name: goals, type: textarea}
  - {name: agreed, type: boolean}
  - {name: notes, type: textarea}
  - name: items
    type: group
    fields: [{name: what, type: text}, {name: when, type: date}]
""")
    before = {"goals": "A", "agreed": False, "items": [{"what": "cash", "when": "2026-12-01"}, {"what": "school"}]}
    after = {"goals": "A", "agreed": True, "notes": "new", "items": [{"what": "cash", "when": "2026-12-20"}]}
    found = [(c.field.name, c.kind, c.before, c.after, c.row) for c in changes_between(form, before, after)]
    assert found == [("agreed", "changed", False, True, None), ("notes", "added", None, "new", None),
                     ("when", "changed", "2026-12-01", "2026-12-20", 1),
                     ("items", "removed", {"what": "school"}, None, 2)]
    assert changes_between(form, after, after) == []
