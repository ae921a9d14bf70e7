"""A household follows its application: the stage and next step in plain words, history without staff details."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from engine.errors import NotFoundForActor
from engine.models import TaskRecord
from registry.citizens import status
from registry.citizens.models import Citizen
from registry.models import Case
from tests.conftest import Api
from tests.factories import registration
from tests.webui.test_case_paths import complete, task_of

SECRET_NOTE = "Staff only: neighbour says the husband works in Israel"
PASSWORD = "olive-tree-2026"


@contextmanager
def database(app: Flask) -> Iterator[Session]:
    with app.app_context():
        from webui.db import db_session

        yield db_session()


def citizen_for(app: Flask, head_national_id: str) -> int:
    """A confirmed portal account of the household's head (password ``PASSWORD``), whose mobile is the phone
    ``tests.factories.registration`` records for the household (so the account sees it once it is recorded)."""
    from registry.auth import hash_password

    with database(app) as session:
        citizen = Citizen(national_id=head_national_id, mobile="0599123456", password_hash=hash_password(PASSWORD),
                          mobile_confirmed_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), lang="ar")
        session.add(citizen)
        session.commit()
        return citizen.id


class Household:
    """One household's application, moved through the process by the seeded staff over the API."""

    def __init__(self, app: Flask, api: Callable[[str], Api], **overrides: Any) -> None:
        self.app, self.reception, self.supervisor = app, api("reception1"), api("supervisor1")
        self.data = registration(**overrides)
        self.national_id = self.data["head_national_id"]
        response = self.reception.post("/cases", {"national_id": self.national_id, "consent_data_exchange": False})
        assert response.status_code == 201, response.get_json()
        self.case_id = int(response.get_json()["case_id"])
        self.reference = str(response.get_json()["reference"])
        self.citizen_id = citizen_for(app, self.national_id)

    def as_online(self) -> Household:
        """The case as the household's own online application: followed in the portal before it is recorded
        (a walk-in case is not, as long as no household with the account's mobile is on record)."""
        with database(self.app) as session:
            case = session.get(Case, self.case_id)
            assert case is not None
            case.channel = "online"
            session.commit()
        return self

    def register(self) -> Household:
        complete(self.reception, self.case_id, self.data, expect_form="registration")
        return self

    def recommend(self) -> Household:
        complete(self.reception, self.case_id, {"decision": "recommend_eligible", "recommendation_notes": SECRET_NOTE},
                 expect_form="eligibility_recommendation")
        return self

    def request_documents(self) -> Household:
        complete(self.supervisor, self.case_id, {"decision": "request_documents", "missing_documents": ["income_proof"],
                                                 "review_comments": SECRET_NOTE}, expect_form="eligibility_review")
        return self

    def approve(self) -> Household:
        fields = self.supervisor.get(f"/tasks/{task_of(self.supervisor, self.case_id)['id']}").get_json()["fields"]
        chosen = next(f for f in fields if f["name"] == "case_manager")["choices"][0]["value"]
        complete(self.supervisor, self.case_id, {"decision": "approve", "case_manager": chosen,
                                                 "review_comments": SECRET_NOTE}, expect_form="eligibility_review")
        return self

    def reject(self) -> Household:
        complete(self.supervisor, self.case_id, {"decision": "reject", "rejection_reason": SECRET_NOTE},
                 expect_form="eligibility_review")
        return self

    def status(self, lang: str, citizen_id: int | None = None) -> status.ApplicationStatus:
        from webui.db import library

        with database(self.app) as session:
            citizen = session.get(Citizen, citizen_id or self.citizen_id)
            assert citizen is not None
            return status.application_status(session, citizen=citizen, reference=self.reference, library=library(),
                                             lang=lang, now=dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC))


def household_deadline(app: Flask, case_id: int) -> dt.date:
    """The household's own date on the case's waiting task, in the ministry's calendar."""
    from sqlalchemy import select

    from registry.operations import local_date

    with database(app) as session:
        due = session.scalars(select(TaskRecord.household_due_at).where(
            TaskRecord.business_key == str(case_id), TaskRecord.state == "ready",
            TaskRecord.household_due_at.is_not(None))).one()
        return local_date(due)


def words(found: status.ApplicationStatus) -> str:
    """Everything the household reads about the application, as one text."""
    parts = [found.status_words, found.where, found.directorate, *(s.text for s in found.next_steps),
             *(line.text for line in found.history)]
    return " | ".join(parts)


def test_a_new_application_says_it_is_being_registered_and_what_reception_does_next(
        app: Flask, api: Callable[[str], Api]) -> None:
    household = Household(app, api)
    # A walk-in case before its household is recorded is nobody's in the portal: knowing an ID proves nothing.
    with pytest.raises(NotFoundForActor):
        household.status("en")
    household.as_online()
    english, arabic = household.status("en"), household.status("ar")
    assert (english.status_words, english.where) == ("In progress", "Your application is being registered")
    assert (arabic.status_words, arabic.where) == ("قيد المتابعة", "يجري تسجيل طلبك")
    [step] = english.next_steps
    assert step.text == "The directorate's reception will finish recording your household's details."
    assert step.due_on == dt.date(2026, 11, 4) and not step.yours  # two days, from the diagram's dueIn
    assert arabic.next_steps[0].text == "سيستكمل موظفو الاستقبال في المديرية تسجيل بيانات أسرتك."
    assert [line.text for line in english.history] == ["Application received"]
    assert [line.text for line in arabic.history] == ["استُلم الطلب"]
    assert english.letter is None


def test_after_registration_the_household_sees_the_review_stage_and_its_eligibility_result(
        app: Flask, api: Callable[[str], Api]) -> None:
    household = Household(app, api, monthly_income=400).register()
    found = household.status("en")
    assert found.stage == "eligibility"
    assert found.where == "The directorate is checking whether your household can receive assistance"
    assert [s.text for s in found.next_steps] == [
        "The directorate will compare your household's situation with the conditions for assistance."]
    assert [line.text for line in found.history] == [
        "Application received", "Your household's eligibility was assessed", "Your household's details were recorded"]
    assert found.letter is not None and found.letter.explanation is not None
    assert found.letter.explanation.category in ("poor", "deeply_poor")
    assert household.status("ar").where == "تدرس المديرية أهلية أسرتك للحصول على المساعدة"


def test_a_document_request_shows_as_the_next_step_without_the_supervisors_comments(
        app: Flask, api: Callable[[str], Api]) -> None:
    household = Household(app, api).register().recommend().request_documents()
    english, arabic = household.status("en"), household.status("ar")
    assert [s.text for s in english.next_steps] == [
        "Bring the documents the directorate asked for to the directorate's reception."]
    # The household brings them: the step is the household's, by its own date (the staff's stands still).
    assert english.next_steps[0].yours
    assert english.next_steps[0].due_on == household_deadline(app, household.case_id)
    assert english.next_steps[0].documents == ("income_proof",)
    assert english.history[-1].text == "The directorate asked for more documents"
    assert arabic.history[-1].text == "طلبت المديرية وثائق إضافية"
    assert "Your application was checked and passed on for a decision" in words(english)
    for found in (english, arabic):
        assert SECRET_NOTE not in words(found)


def test_an_approved_application_says_the_decision_and_names_no_staff_member(
        app: Flask, api: Callable[[str], Api]) -> None:
    household = Household(app, api).register().recommend().approve()
    found = household.status("en")
    assert found.stage == "assessment"
    assert found.where == "A social worker is getting to know your household's needs"
    assert found.next_steps[0].text == ("A social worker will visit your home to talk with your household "
                                        "about its needs.")
    assert ("Decision made: your application was accepted and a social worker will follow your household"
            in [line.text for line in found.history])
    with database(app) as session:
        case = session.get(Case, household.case_id)
        assert case is not None and case.case_manager is not None
        manager = (case.case_manager.full_name, case.case_manager.full_name_ar or "-")
    text = words(found) + words(household.status("ar"))
    assert manager[0] not in text and manager[1] not in text and SECRET_NOTE not in text


def test_a_rejected_application_has_no_next_step_and_says_so_in_both_languages(
        app: Flask, api: Callable[[str], Api]) -> None:
    household = Household(app, api, monthly_income=9000).register().recommend().reject()
    english, arabic = household.status("en"), household.status("ar")
    assert (english.status_words, english.next_steps) == ("Not accepted", ())
    assert english.history[-1].text == "Decision made: your application was not accepted"
    assert (arabic.status_words, arabic.history[-1].text) == ("لم يُقبل الطلب", "صدر القرار: لم يُقبل طلبك")
    assert SECRET_NOTE not in words(english)


def test_another_households_application_does_not_exist_for_the_citizen(
        app: Flask, api: Callable[[str], Api]) -> None:
    mine, theirs = Household(app, api).register(), Household(app, api).register()
    with pytest.raises(NotFoundForActor):
        theirs.status("en", citizen_id=mine.citizen_id)
    with database(app) as session:
        citizen = session.get(Citizen, mine.citizen_id)
        assert citizen is not None
        assert [a.reference for a in status.applications(session, citizen=citizen, library=_library(),
                                                         lang="en")] == [mine.reference]
        with pytest.raises(NotFoundForActor):
            status.application_letter(session, citizen=citizen, reference=theirs.reference, library=_library(),
                                      lang="en", now=dt.datetime(2026, 11, 2, tzinfo=dt.UTC))


def _library() -> Any:
    from webui.db import library

    return library()


def test_a_task_waiting_on_the_household_comes_first_with_the_households_own_deadline(app: Flask) -> None:
    from engine.vocabulary import load_vocabulary

    vocabulary = load_vocabulary(_library_dir(app))
    due = dt.datetime(2026, 11, 20, 22, 30, tzinfo=dt.UTC)  # already the 21st in Palestine (UTC+2)
    staff = TaskRecord(id="a", spec_id="review_eligibility", lane="supervisor", due_at=due - dt.timedelta(days=5))
    yours = TaskRecord(id="b", spec_id="upload_requested_documents", lane="citizen", due_at=due)
    steps = status.next_steps(vocabulary, [staff, yours], "en")
    assert [(s.yours, s.due_on, s.task_id) for s in steps] == [
        (True, dt.date(2026, 11, 21), "b"), (False, dt.date(2026, 11, 16), None)]


def _library_dir(app: Flask) -> Any:
    with app.app_context():
        return _library().processes_dir


def test_household_words_must_name_a_declared_stage_and_a_user_task_in_both_languages() -> None:
    from engine.vocabulary import UserTaskFacts, VocabularyInvalid, check_against, parse_vocabulary

    source = """
stages:
  review: {en: "Review", ar: "مراجعة"}
household_stages:
  review: {en: "We are looking at your application", ar: "ندرس طلبك"}
  archive: {en: "Archived", ar: "محفوظ"}
household_next:
  check: {en: "We will check it", ar: "سندققه"}
  visit: {en: "We will visit", ar: "سنزوركم"}
""".encode()
    vocabulary = parse_vocabulary(source)
    assert vocabulary.label("household_stage", "review", "en") == "We are looking at your application"
    task = UserTaskFacts(file="p.bpmn", process_id="p", element_id="check", name="Check", lane=None, stage="review",
                         form_key=None)
    problems = check_against(vocabulary, user_tasks=[task], service_results=[], forms=[])["vocabulary.yaml"]
    assert any(p.startswith("household_stages.archive: not a stage") for p in problems), problems
    assert any(p.startswith("household_next.visit: not a user task") for p in problems), problems
    assert not any("household_next.check" in p or "household_stages.review" in p for p in problems)
    with pytest.raises(VocabularyInvalid, match="household_next.check: needs ar text"):
        parse_vocabulary(b'household_next:\n  check: {en: "We will check it"}\n')
