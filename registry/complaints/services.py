"""Complaint services: file, follow, list and handle; each public function that changes data is one unit of work.

A complaint runs the ``complaints`` process (processes/complaints.bpmn): the directorate's complaints handler
acknowledges and resolves it, and its timers escalate an overdue one to the supervisor and then to the
ministry's complaints unit. Staff complete its tasks through the engine's one completion path.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine import runtime
from engine.deployments import latest_version
from engine.errors import FormInvalid, NotDeployed, NotFoundForActor
from engine.forms import FormDef
from engine.library import Library
from engine.models import TaskRecord, TaskState
from registry.audit import record_event
from registry.auth import hash_password, verify_password
from registry.citizens.access import case_for_citizen, cases_for_citizen
from registry.citizens.models import Citizen
from registry.complaints.access import complaint_scope, may_act, may_see, ministry_wide
from registry.complaints.models import Complaint, ComplaintChannel, ComplaintKind, ComplaintStatus
from registry.errors import NotPermitted
from registry.models import Case, Directorate, Role, User
from registry.paging import PER_PAGE, Page, page_info
from registry.transactions import unit_of_work

COMPLAINTS_PROCESS = "complaints"
MAX_TEXT = 4000
#: Letters and digits nobody misreads on a phone screen or over the phone (no 0/O, 1/I/L, U).
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
#: Forms whose completion sets what the complainant sees (by form key).
ACKNOWLEDGEMENT_FORM = "complaint_acknowledgement"
RESOLUTION_FORM = "complaint_resolution"
#: Stages of a complaint's tasks that mean it was escalated (the diagram's stage properties).
ESCALATED_STAGES = frozenset({"complaint_escalated", "complaint_ministry"})


@dataclass(frozen=True)
class Filed:
    """A filed complaint, and its follow-up code in clear (shown once; only its hash is kept)."""

    complaint: Complaint
    code: str | None


@dataclass
class Progress:
    """Where a complaint stands, in what the complainant may see: status, what waits and by when, the answer."""

    complaint: Complaint
    status: str
    due_at: dt.datetime | None
    case_reference: str | None = None


@dataclass
class StaffView:
    complaint: Complaint
    progress: Progress
    tasks: list[TaskRecord]
    actionable: set[str] = field(default_factory=set)
    case: Case | None = None
    about: User | None = None
    names: dict[int, dict[str, str]] = field(default_factory=dict)


def _unit_of_work(session: Session) -> AbstractContextManager[None]:
    return unit_of_work(session, changed="the complaint")


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_reference() -> str:
    """``CMP-XXXX-XXXX``: about 39 bits of randomness, so references are not guessed nor counted."""
    return f"CMP-{_random(4)}-{_random(4)}"


def normalize_reference(text: str) -> str:
    """A reference as people type it: any case, spaces or dashes anywhere, the prefix optional."""
    compact = "".join(ch for ch in str(text).upper() if ch.isascii() and ch.isalnum())
    compact = compact.removeprefix("CMP")
    if len(compact) != 8:
        return ""
    return f"CMP-{compact[:4]}-{compact[4:]}"


def normalize_code(text: str) -> str:
    return "".join(ch for ch in str(text).upper() if ch.isascii() and ch.isalnum())[:32]


# --- filing ------------------------------------------------------------------------------------

def _clean(*, kind: str, text: str, directorate: Directorate | None,
           contact_mobile: str | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if kind not in set(ComplaintKind):
        errors["kind"] = ["invalid_choice"]
    if not text.strip():
        errors["text"] = ["required"]
    elif len(text) > MAX_TEXT:
        errors["text"] = ["too_long"]
    if directorate is None:
        errors["directorate"] = ["invalid_choice"]
    if contact_mobile and not (contact_mobile.isascii() and contact_mobile.lstrip("+").isdigit()
                               and 9 <= len(contact_mobile.lstrip("+")) <= 15):
        errors["contact_mobile"] = ["invalid_phone"]
    return errors


def _directorate(session: Session, code: str | None) -> Directorate | None:
    if not code:
        return None
    return session.scalar(select(Directorate).where(Directorate.code == str(code)[:16]))


def _citizen_case(session: Session, citizen: Citizen, reference: str) -> Case | None:
    """The citizen's own household's case with this reference (another's does not exist for them)."""
    try:
        return case_for_citizen(session, citizen, reference[:32])
    except NotFoundForActor:
        return None


def _staff_case(session: Session, actor: User, reference: str) -> Case | None:
    if actor.directorate_id is None:
        return None
    return session.scalar(select(Case).where(Case.reference == reference.strip()[:32],
                                             Case.directorate_id == actor.directorate_id))


def file_complaint(
    session: Session,
    *,
    library: Library,
    now: dt.datetime,
    kind: str,
    text: str,
    lang: str,
    citizen: Citizen | None = None,
    staff: User | None = None,
    directorate_code: str | None = None,
    case_reference: str | None = None,
    about_user_id: int | None = None,
    contact_mobile: str | None = None,
) -> Filed:
    """File a complaint from the portal (``citizen``), on a citizen's behalf (``staff``), or anonymously (neither).

    The complaint goes to the directorate of the case it is about (else the one chosen, else the staff
    member's). A follow-up code is made for every complaint not tied to a portal account. Raises FormInvalid
    (nothing stored), NotPermitted or NotDeployed.
    """
    if citizen is not None and staff is not None:
        raise ValueError("a complaint is filed by a citizen or by staff, not both")
    text = (text or "").strip()
    contact_mobile = (contact_mobile or "").strip().replace(" ", "") or None
    errors: dict[str, list[str]] = {}
    case: Case | None = None
    if case_reference and case_reference.strip():
        if citizen is not None:
            case = _citizen_case(session, citizen, case_reference)
        elif staff is not None:
            case = _staff_case(session, staff, case_reference)
        if case is None:  # anonymous complaints name no case: anybody could attach one to any case
            errors["case_reference"] = ["unknown_case"]
    if staff is not None and (staff.directorate is None or not staff.active):
        raise NotPermitted("only staff of a directorate file complaints on a citizen's behalf")
    directorate = case.directorate if case is not None else _directorate(session, directorate_code)
    if directorate is None and staff is not None:
        directorate = staff.directorate
    errors.update(_clean(kind=kind, text=text, directorate=directorate, contact_mobile=contact_mobile))
    if "case_reference" in errors:  # the directorate follows from the case: one error says what is wrong
        errors.pop("directorate", None)
    if kind == ComplaintKind.STAFF.value:
        if staff is not None and about_user_id is not None:
            subject = session.get(User, about_user_id)
            if subject is None or subject.directorate_id != (directorate.id if directorate else None):
                errors["about_user_id"] = ["invalid_choice"]
        elif case is not None:
            about_user_id = case.case_manager_id  # the person the household deals with on its case
        else:
            about_user_id = None
    else:
        about_user_id = None
    if errors:
        raise FormInvalid(errors)
    assert directorate is not None
    with _unit_of_work(session):
        version = latest_version(session, COMPLAINTS_PROCESS)
        if version is None:
            raise NotDeployed(COMPLAINTS_PROCESS)
        code = None if citizen is not None else _random(CODE_LENGTH)
        channel = (ComplaintChannel.PORTAL if citizen is not None else
                   ComplaintChannel.STAFF if staff is not None else ComplaintChannel.ANONYMOUS)
        complaint = Complaint(
            reference=new_reference(), access_code_hash=hash_password(code) if code else None,
            channel=channel.value, citizen_id=citizen.id if citizen else None,
            filed_by_id=staff.id if staff else None, directorate_id=directorate.id, kind=kind,
            case_id=case.id if case else None, about_user_id=about_user_id, text=text,
            contact_mobile=contact_mobile, lang=lang if lang in ("ar", "en") else "ar",
            status=ComplaintStatus.RECEIVED.value, created_at=now)
        session.add(complaint)
        session.flush()
        advance = runtime.start_instance(
            session, library=library, version=version, business_key=complaint.reference,
            scope=complaint_scope(directorate.code), actor_id=staff.id if staff else None, now=now,
            data={"complaint_reference": complaint.reference, "complaint_kind": kind,
                  "directorate": directorate.code})
        complaint.instance_id = advance.instance.id
        details = {"reference": complaint.reference, "kind": kind, "channel": channel.value}
        record_event(session, actor_id=staff.id if staff else None, case_id=None, action="complaint_filed",
                     at=now, details=details)
        if case is not None:  # the case's history shows it (the complaint's text stays with the complaint)
            record_event(session, actor_id=staff.id if staff else None, case_id=case.id, action="complaint_filed",
                         at=now, details={**details, "title": complaint.reference})
        _notify(session, complaint, "complaint_received", now, citizen=citizen)
        if code is not None:  # the reference and the code by SMS too, when the complainant left a number
            _notify(session, complaint, "complaint_follow_up_code", now, params={"code": code})
    return Filed(complaint=complaint, code=code)


def _notify(session: Session, complaint: Complaint, template: str, now: dt.datetime,
            citizen: Citizen | None = None, params: dict[str, Any] | None = None) -> None:
    """Tell the complainant, when there is a number to tell them at (an anonymous complaint may have none)."""
    from registry.notifications import queue_message

    if citizen is None and complaint.citizen_id is not None:
        citizen = session.get(Citizen, complaint.citizen_id)
    mobile = complaint.contact_mobile or (citizen.mobile if citizen is not None else None)
    if not mobile:
        return
    queue_message(session, template=template, params={"reference": complaint.reference, **(params or {})},
                  lang=complaint.lang, now=now, to_mobile=mobile, citizen_id=complaint.citizen_id,
                  business_key=complaint.reference, directorate_id=complaint.directorate_id)


# --- where a complaint stands ------------------------------------------------------------------

def _ready(session: Session, complaint: Complaint) -> list[TaskRecord]:
    return list(session.scalars(select(TaskRecord).where(TaskRecord.business_key == complaint.reference,
                                                         TaskRecord.state == TaskState.READY.value)
                                .order_by(TaskRecord.created_at)))


def progress_of(session: Session, complaint: Complaint) -> Progress:
    ready = _ready(session, complaint)
    status = complaint.status
    if not complaint.is_resolved and any(t.stage in ESCALATED_STAGES for t in ready):
        status = ComplaintStatus.ESCALATED.value
    case_reference = session.scalar(select(Case.reference).where(Case.id == complaint.case_id)) \
        if complaint.case_id else None
    return Progress(complaint=complaint, status=status, due_at=ready[0].due_at if ready else None,
                    case_reference=case_reference)


def follow(session: Session, *, reference: str, code: str) -> Progress:
    """A complaint by its reference and follow-up code; a wrong code is answered as an unknown reference."""
    wanted = normalize_reference(reference)
    complaint = session.scalar(select(Complaint).where(Complaint.reference == wanted)) if wanted else None
    # Checked even when nothing matched, so an unknown reference costs the same time as a wrong code.
    ok = verify_password(complaint.access_code_hash if complaint is not None else None, normalize_code(code))
    if complaint is None or not ok:
        raise NotFoundForActor("complaint")
    return progress_of(session, complaint)


def complaints_of_citizen(session: Session, *, citizen: Citizen) -> list[Progress]:
    rows = session.scalars(select(Complaint).where(Complaint.citizen_id == citizen.id)
                           .order_by(Complaint.created_at.desc(), Complaint.id.desc()).limit(100))
    return [progress_of(session, c) for c in rows]


def complaint_of_citizen(session: Session, *, citizen: Citizen, reference: str) -> Progress:
    """The citizen's own complaint; anyone else's does not exist for them."""
    complaint = session.scalar(select(Complaint).where(Complaint.reference == normalize_reference(reference)))
    if complaint is None or complaint.citizen_id != citizen.id:
        raise NotFoundForActor("complaint")
    return progress_of(session, complaint)


def cases_of_citizen(session: Session, *, citizen: Citizen) -> list[Case]:
    """The citizen's household's cases, newest first, that a complaint may be about."""
    return cases_for_citizen(session, citizen)[:20]


# --- staff -------------------------------------------------------------------------------------

def _staff_query(actor: User) -> Any:
    query = select(Complaint)
    if not ministry_wide(actor):
        query = query.where(Complaint.directorate_id == actor.directorate_id)
    return query.where(or_(Complaint.about_user_id.is_(None), Complaint.about_user_id != actor.id))


def may_use_complaints(actor: User) -> bool:
    return may_see(actor, Complaint(directorate_id=actor.directorate_id or -1))


def complaint_list(session: Session, *, actor: User, status: str | None = None, page: int | None = 1,
                   per_page: int | None = PER_PAGE) -> Page[Progress]:
    """A page of the complaints the actor may see (the directorate's, the unit: all), newest first."""
    if not may_use_complaints(actor):
        raise NotPermitted("complaints are handled by complaints handlers, supervisors and the complaints unit")
    query = _staff_query(actor)
    if status == "open":
        query = query.where(Complaint.status != ComplaintStatus.RESOLVED.value)
    elif status in set(ComplaintStatus):
        query = query.where(Complaint.status == status)
    info = page_info(session, query, page=page, per_page=per_page)
    rows = session.scalars(query.order_by(Complaint.created_at.desc(), Complaint.id.desc())
                           .offset(info.offset).limit(info.per_page))
    return Page(items=[progress_of(session, c) for c in rows], info=info)


def open_tasks(session: Session, *, actor: User) -> list[tuple[TaskRecord, Complaint]]:
    """The ready complaint tasks that are the actor's to do (their role's lane), soonest due first."""
    if not may_use_complaints(actor):
        return []
    query = (select(TaskRecord, Complaint).join(Complaint, Complaint.reference == TaskRecord.business_key)
             .where(TaskRecord.state == TaskState.READY.value, TaskRecord.lane == actor.role,
                    Complaint.id.in_(_staff_query(actor).with_only_columns(Complaint.id)))
             .order_by(TaskRecord.due_at.asc().nulls_last(), TaskRecord.created_at).limit(200))
    return [(t, c) for t, c in session.execute(query).tuples()]


def inbox_tasks(session: Session, *, actor: User) -> list[tuple[TaskRecord, Complaint]]:
    """The complaint tasks waiting on the actor, for the panel above their case inbox: a handler's open ones,
    a supervisor's escalated ones, the unit's; never a complaint about the actor (``access.may_act``)."""
    return [(record, complaint) for record, complaint in open_tasks(session, actor=actor)
            if may_act(actor, complaint, record)]


def _complaint_for_staff(session: Session, actor: User, reference: str) -> Complaint:
    complaint = session.scalar(select(Complaint).where(Complaint.reference == normalize_reference(reference)))
    if complaint is None or not may_see(actor, complaint):
        raise NotFoundForActor("complaint")
    return complaint


def visible_complaints(session: Session, *, actor: User, references: Iterable[str | None]) -> set[str]:
    """Those of ``references`` (a case history's complaints) that the actor may open: a link to each of them."""
    wanted = {normalize_reference(r) for r in references if r}
    if not wanted or not may_use_complaints(actor):
        return set()
    found = session.scalars(select(Complaint).where(Complaint.reference.in_(wanted)))
    return {complaint.reference for complaint in found if may_see(actor, complaint)}


def staff_view(session: Session, *, actor: User, reference: str) -> StaffView:
    """A complaint with its tasks, for those who may see it (its subject: 404)."""
    from registry.cases import user_names

    complaint = _complaint_for_staff(session, actor, reference)
    tasks = list(session.scalars(select(TaskRecord).where(TaskRecord.business_key == complaint.reference)
                                 .order_by(TaskRecord.created_at, TaskRecord.id)))
    people = {t.completed_by_id for t in tasks if t.completed_by_id} | {complaint.filed_by_id or 0}
    return StaffView(complaint=complaint, progress=progress_of(session, complaint), tasks=tasks,
                     actionable={t.id for t in tasks if t.is_ready and may_act(actor, complaint, t)},
                     case=session.get(Case, complaint.case_id) if complaint.case_id else None,
                     about=session.get(User, complaint.about_user_id) if complaint.about_user_id else None,
                     names=user_names(session, people - {0}))


@dataclass
class TaskForm:
    complaint: Complaint
    task: TaskRecord
    form: FormDef
    version: int


def task_form(session: Session, *, actor: User, library: Library, reference: str, task_id: str) -> TaskForm:
    """A ready complaint task the actor may do, with its form; anything else is a 404."""
    from engine.models import ProcessInstance

    complaint = _complaint_for_staff(session, actor, reference)
    record = session.get(TaskRecord, task_id)
    if record is None or not record.is_ready or not may_act(actor, complaint, record):
        raise NotFoundForActor(task_id)
    instance = session.get(ProcessInstance, record.instance_id)
    assert instance is not None
    return TaskForm(complaint=complaint, task=record, form=runtime.form_for(session, library, record),
                    version=instance.lock_version)


def complete_task(session: Session, *, actor: User, library: Library, reference: str, task_id: str,
                  data: Mapping[str, Any], now: dt.datetime, expected_version: int | None = None) -> Complaint:
    """Complete a complaint task through the engine; the complaint, its case's history and the complainant's
    message follow in the same transaction."""
    complaint = _complaint_for_staff(session, actor, reference)
    with _unit_of_work(session):
        advance = runtime.complete_task(session, library=library, task_id=task_id, actor_id=actor.id, data=data,
                                        may_act=lambda record: may_act(actor, complaint, record), now=now,
                                        expected_version=expected_version)
        record = advance.completed
        assert record is not None
        answers = record.data or {}
        action = None
        if record.form_key == ACKNOWLEDGEMENT_FORM:
            complaint.status = ComplaintStatus.ACKNOWLEDGED.value
            complaint.acknowledgement_text = str(answers.get("acknowledgement") or "")
            complaint.acknowledged_at = now
            action = "complaint_acknowledged"
        elif record.form_key == RESOLUTION_FORM:
            complaint.status = ComplaintStatus.RESOLVED.value
            complaint.outcome = str(answers.get("outcome") or "") or None
            complaint.resolution_text = str(answers.get("resolution") or "")
            complaint.resolved_at = now
            action = "complaint_resolved"
        details = {"reference": complaint.reference, "task": record.spec_id, "title": complaint.reference}
        record_event(session, actor_id=actor.id, case_id=None, action=action or "task_completed", at=now,
                     details={**details, "data": answers})
        if action is not None:
            if complaint.case_id is not None:
                record_event(session, actor_id=actor.id, case_id=complaint.case_id, action=action, at=now,
                             details={"reference": complaint.reference, "title": complaint.reference})
            _notify(session, complaint, action, now)
    return complaint


def staff_choices(session: Session, *, actor: User) -> list[User]:
    """The staff of the actor's directorate a complaint may be about."""
    if actor.directorate_id is None:
        return []
    return list(session.scalars(select(User).where(User.directorate_id == actor.directorate_id, User.active)
                                .order_by(User.full_name)))


def directorates(session: Session) -> list[Directorate]:
    return list(session.scalars(select(Directorate).order_by(Directorate.code)))


def staff_may_file(actor: User) -> bool:
    return actor.directorate is not None and actor.role in {
        Role.RECEPTION.value, Role.SUPERVISOR.value, Role.CASE_MANAGER.value, Role.COMPLAINTS_HANDLER.value}
