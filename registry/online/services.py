"""Applying online, and the household's own tasks in the portal: each public function is one unit of work.

The household fills in the registration form reception uses (``forms/registration.yaml`` without its
``staff_only`` fields), pre-filled from the other ministries when it consents. Sending it opens a case in
the directorate of the household's address through the process's online start (channel ``online``) and
completes the household's own first task (the submission, with its documents) in the same transaction;
the case then waits in that directorate's reception inbox.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import runtime
from engine.catalog import CHOICE_PROVIDERS, OperationContext
from engine.errors import FormInvalid, NotFoundForActor
from engine.forms import FormDef, load_form, static_choices, validate_submission
from engine.library import Library
from engine.models import TaskRecord, TaskState
from registry.audit import record_event
from registry.citizens.access import cases_for_citizen
from registry.citizens.models import Citizen
from registry.documents import DocumentStorage, store_uploads
from registry.drafts import MAX_DRAFT_BYTES, DraftRefused, _check_values
from registry.errors import Conflict, DuplicateApplicant
from registry.models import Case, CaseStatus, Directorate, Role
from registry.online.models import ApplicationStatus, OnlineApplication
from registry.registration import REGISTRATION_FORM

#: The channel an online application comes through: the name of the process's start for it, and the case's channel.
ONLINE = "online"
#: The form of the household's own submission (documents and declaration), its first task in the citizen lane.
SUBMISSION_FORM = "online_application"
#: The registration form's checks that hold before a case exists (the others run at reception).
CITIZEN_CHECKS = ("household_composition", "no_duplicate_registration")


@contextmanager
def _unit_of_work(session: Session) -> Iterator[None]:
    try:
        yield
        session.commit()
    except IntegrityError:  # the same household sending twice at the same moment
        session.rollback()
        raise Conflict() from None
    except BaseException:
        session.rollback()
        raise


def citizen_form(form: FormDef) -> FormDef:
    """A form as the household sees it: staff's own fields left out."""
    return dataclasses.replace(form, fields=tuple(f for f in form.fields if not f.staff_only))


def registration_form(library: Library) -> FormDef:
    return citizen_form(load_form(library.forms_dir, REGISTRATION_FORM))


def submission_form(library: Library) -> FormDef:
    return load_form(library.forms_dir, SUBMISSION_FORM)


def _open_case_of(session: Session, citizen: Citizen) -> Case | None:
    return session.scalar(select(Case).where(Case.applicant_national_id == citizen.national_id,
                                             Case.status == CaseStatus.OPEN.value))


def application_for(session: Session, *, citizen: Citizen) -> OnlineApplication | None:
    """The citizen's application still being written, if any."""
    return session.scalar(select(OnlineApplication).where(
        OnlineApplication.citizen_id == citizen.id, OnlineApplication.status != ApplicationStatus.SUBMITTED.value))


def begin_application(session: Session, *, citizen: Citizen, consent: bool, sources: list[Any] | None,
                      today: dt.date, now: dt.datetime) -> OnlineApplication:
    """Start (or restart at the consent step) the citizen's application; with consent, ask the ministries.

    What the household already typed wins over what the ministries return. A household with an open case
    is sent to it instead (``DuplicateApplicant``).
    """
    existing = _open_case_of(session, citizen)
    if existing is not None:
        raise DuplicateApplicant(existing.reference, existing.id)
    with _unit_of_work(session):
        application = application_for(session, citizen=citizen)
        if application is None:
            application = OnlineApplication(citizen_id=citizen.id, status=ApplicationStatus.DRAFT.value,
                                            prefill={}, values={}, created_at=now, updated_at=now)
            session.add(application)
        prefill: dict[str, Any] = {"consent_for_lookup": consent}
        if consent and sources:
            from registry.ministries import prefill_registration

            prefill.update(prefill_registration(citizen.national_id, sources=sources, today=today).to_dict())
        found = dict(prefill.get("values") or {})
        found.update(head_national_id=citizen.national_id, consent_data_exchange=consent)
        found.setdefault("phone", citizen.mobile)
        application.consent = consent
        application.prefill = prefill
        application.values = {**found, **(application.values or {}), "consent_data_exchange": consent}
        application.updated_at = now
    return application


def _own_application(session: Session, citizen: Citizen) -> OnlineApplication:
    application = application_for(session, citizen=citizen)
    if application is None:
        raise NotFoundForActor("application")
    return application


def save_answers(session: Session, *, citizen: Citizen, library: Library, values: Mapping[str, Any],
                 now: dt.datetime) -> OnlineApplication:
    """Keep the answers typed so far (unchecked: a draft may be half done); refused when not form-shaped."""
    try:
        size = len(json.dumps(values, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        raise DraftRefused("bad_values") from None
    if size > MAX_DRAFT_BYTES:
        raise DraftRefused("too_large")
    with _unit_of_work(session):
        application = _own_application(session, citizen)
        form = registration_form(library)
        known = {f.name for f in form.fields if f.type != "file"}
        kept = {name: value for name, value in values.items() if name in known}
        _check_values(form, kept)
        # The applicant is the account's holder, whatever the form posted.
        application.values = {**kept, "head_national_id": citizen.national_id}
        application.updated_at = now
    return application


def _checked_answers(session: Session, *, citizen: Citizen, library: Library, values: Mapping[str, Any],
                     now: dt.datetime) -> dict[str, Any]:
    """The answers validated as reception's form validates them (the checks that need no case yet)."""
    form = registration_form(library)
    choices = static_choices(form)
    for f in form.fields:
        if f.choices_from:
            choices[f.name] = [value for value, _label in CHOICE_PROVIDERS[f.choices_from](session, "")]
    context = OperationContext(session=session, business_key="0", scope="", actor_id=None, now=now, data={})

    def run_checks(cleaned: dict[str, Any]) -> dict[str, list[str]]:
        from engine.catalog import FORM_CHECKS

        errors: dict[str, list[str]] = {}
        for name in CITIZEN_CHECKS:
            if name in form.checks:
                for field_name, codes in FORM_CHECKS[name](session, cleaned, context).items():
                    errors.setdefault(field_name, []).extend(codes)
        return errors

    cleaned = validate_submission(form, {**values, "head_national_id": citizen.national_id}, choices=choices,
                                  context={}, extra_checks=run_checks)
    return cleaned


def check_answers(session: Session, *, citizen: Citizen, library: Library, values: Mapping[str, Any],
                  now: dt.datetime) -> OnlineApplication:
    """Save the answers and check them whole; ``FormInvalid`` lists what to correct (the answers stay saved)."""
    application = save_answers(session, citizen=citizen, library=library, values=values, now=now)
    _checked_answers(session, citizen=citizen, library=library, values=values, now=now)
    return application


def directorate_for_address(session: Session, *, governorate: str, locality: str | None = None) -> Directorate:
    """The directorate serving an address: each governorate has its directorate (data/directorates.csv)."""
    directorate = session.scalar(select(Directorate).where(Directorate.governorate_code == governorate)
                                 .order_by(Directorate.id).limit(1))
    if directorate is None:
        raise FormInvalid({"governorate": ["invalid_choice"]})
    return directorate


def _citizen_may_act(session: Session, citizen: Citizen) -> runtime.MayAct:
    """Tasks of the citizen lane on the citizen's own household's cases."""
    own = {str(case.id) for case in cases_for_citizen(session, citizen)}
    return lambda record: record.lane == Role.CITIZEN.value and record.business_key in own and citizen.active


def _complete_as_citizen(session: Session, *, citizen: Citizen, library: Library, record: TaskRecord,
                         data: Mapping[str, Any], storage: DocumentStorage | None, now: dt.datetime,
                         may_act: runtime.MayAct) -> runtime.Advance:
    """Complete a citizen-lane task through the engine's one path; only flushes."""
    case_id = int(record.business_key)

    def with_files(task: TaskRecord) -> dict[str, Any]:
        return store_uploads(session, storage=storage, actor=None, case_id=case_id,
                             form=runtime.form_for(session, library, task), data=data, now=now)

    advance = runtime.complete_task(session, library=library, task_id=record.id, actor_id=None, data=data,
                                    may_act=may_act, now=now, prepare=with_files)
    done = advance.completed
    assert done is not None
    # The household's answers stay out of the history; the files it added are listed.
    record_event(session, actor_id=None, case_id=case_id, action="task_completed", at=now,
                 details={"task": done.spec_id, "title": done.title, "form": done.form_key, "by": "household",
                          "citizen_id": citizen.id, "next": [r.spec_id for r in advance.ready]})
    stages = [r.stage for r in advance.ready if r.stage]
    case = session.get(Case, case_id)
    assert case is not None
    if stages:
        case.stage = stages[0]
    return advance


def submit_application(session: Session, *, citizen: Citizen, library: Library, data: Mapping[str, Any],
                       storage: DocumentStorage | None, now: dt.datetime) -> Case:
    """Send the application: a case in the directorate of the household's address, waiting for its reception.

    ``data`` is the submission form's (documents, declaration). A second submit of the same application (a
    double click, a resent form) returns the case the first one opened and starts nothing.
    """
    application = application_for(session, citizen=citizen)
    if application is None:
        return _sent_case(session, citizen)
    try:
        return _submit(session, citizen=citizen, library=library, application=application, data=data,
                       storage=storage, now=now)
    except _AlreadySent:
        return _sent_case(session, citizen)


class _AlreadySent(Exception):
    """Another submit of the same application got there first."""


def _sent_case(session: Session, citizen: Citizen) -> Case:
    sent = session.scalar(select(OnlineApplication).where(
        OnlineApplication.citizen_id == citizen.id, OnlineApplication.case_id.is_not(None))
        .order_by(OnlineApplication.id.desc()).limit(1))
    case = session.get(Case, sent.case_id) if sent is not None and sent.case_id is not None else None
    if case is None:
        raise NotFoundForActor("application")
    return case


def _submit(session: Session, *, citizen: Citizen, library: Library, application: OnlineApplication,
            data: Mapping[str, Any], storage: DocumentStorage | None, now: dt.datetime) -> Case:
    with _unit_of_work(session):
        # Claimed with a conditional update: of two submits at once, one starts the case; on PostgreSQL the
        # other waits for it and then finds the application sent.
        claimed = session.execute(
            update(OnlineApplication).where(OnlineApplication.id == application.id,
                                            OnlineApplication.status == ApplicationStatus.DRAFT.value)
            .values(status=ApplicationStatus.SUBMITTING.value).execution_options(synchronize_session=False))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise _AlreadySent()
        session.refresh(application)
        answers = _checked_answers(session, citizen=citizen, library=library, values=application.values or {},
                                   now=now)
        if _open_case_of(session, citizen) is not None:
            raise Conflict()
        directorate = directorate_for_address(session, governorate=answers["governorate"],
                                              locality=answers.get("locality"))
        case = _open_online_case(session, library=library, directorate=directorate, citizen=citizen,
                                 prefill=application.prefill or {}, answers=answers, now=now)
        first = session.scalars(select(TaskRecord).where(
            TaskRecord.business_key == str(case.id), TaskRecord.state == TaskState.READY.value,
            TaskRecord.lane == Role.CITIZEN.value, TaskRecord.form_key == SUBMISSION_FORM)).first()
        if first is None:  # a deployed version whose online start leads elsewhere: nothing to submit
            raise NotFoundForActor("submission task")
        _complete_as_citizen(session, citizen=citizen, library=library, record=first, data=data, storage=storage,
                             now=now, may_act=lambda record: record.id == first.id)
        application.status = ApplicationStatus.SUBMITTED.value
        application.case_id = case.id
        application.submitted_at = now
        application.updated_at = now
    return case


def _open_online_case(session: Session, *, library: Library, directorate: Directorate, citizen: Citizen,
                      prefill: Mapping[str, Any], answers: Mapping[str, Any], now: dt.datetime) -> Case:
    from registry.cases import open_case

    return open_case(session, library=library, directorate=directorate, channel=ONLINE, actor_id=None, now=now,
                     applicant_national_id=citizen.national_id, prefill=prefill, data=answers)


def link_household(session: Session, *, case: Case, household_id: int) -> None:
    """The household an online application recorded becomes its applicant's account's household; only flushes."""
    citizen_id = session.scalar(select(OnlineApplication.citizen_id).where(OnlineApplication.case_id == case.id))
    if citizen_id is None:
        return
    citizen = session.get(Citizen, citizen_id)
    if citizen is not None and citizen.household_id != household_id:
        citizen.household_id = household_id


# --- the household's tasks -----------------------------------------------------------------------

def tasks_for_citizen(session: Session, *, citizen: Citizen) -> list[tuple[TaskRecord, Case]]:
    """The ready tasks of the citizen lane on the citizen's household's cases, soonest deadline first."""
    cases = {str(case.id): case for case in cases_for_citizen(session, citizen) if case.is_open}
    if not cases:
        return []
    rows = session.scalars(select(TaskRecord).where(
        TaskRecord.business_key.in_(list(cases)), TaskRecord.state == TaskState.READY.value,
        TaskRecord.lane == Role.CITIZEN.value).order_by(TaskRecord.created_at))
    found = [(record, cases[record.business_key]) for record in rows]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(found, key=lambda row: row[0].household_due_at or row[0].due_at or far)


@dataclasses.dataclass
class CitizenTask:
    """A task of the household's, as its page shows it: the form, what is asked for, and by when."""

    task: TaskRecord
    case: Case
    form: FormDef
    data: dict[str, Any]
    due_at: dt.datetime | None

    @property
    def missing(self) -> list[str]:
        return list(self.data.get("missing_documents") or [])


def citizen_task(session: Session, *, citizen: Citizen, library: Library, task_id: str) -> CitizenTask:
    """A ready citizen-lane task of the citizen's own case; anything else does not exist for them."""
    record = session.get(TaskRecord, task_id)
    if record is None or not record.is_ready or not _citizen_may_act(session, citizen)(record):
        raise NotFoundForActor(task_id)
    case = session.get(Case, int(record.business_key))
    assert case is not None
    data = runtime.task_data(session, record)
    # Only what the household's page needs: which documents, never staff's notes or scores.
    shown = {"missing_documents": list(data.get("missing_documents") or [])}
    return CitizenTask(task=record, case=case, form=runtime.form_for(session, library, record), data=shown,
                       due_at=record.household_due_at or record.due_at)


def complete_citizen_task(session: Session, *, citizen: Citizen, library: Library, task_id: str,
                          data: Mapping[str, Any], storage: DocumentStorage | None, now: dt.datetime) -> Case:
    """Complete the household's task (its uploads are checked and stored first); the case moves on."""
    with _unit_of_work(session):
        record = session.get(TaskRecord, task_id)
        may_act = _citizen_may_act(session, citizen)
        if record is None or not may_act(record):
            raise NotFoundForActor(task_id)
        _complete_as_citizen(session, citizen=citizen, library=library, record=record, data=data, storage=storage,
                             now=now, may_act=may_act)
        case = session.get(Case, int(record.business_key))
        assert case is not None
    return case
