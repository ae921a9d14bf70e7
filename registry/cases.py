"""Case and task services: each public function is one unit of work that commits or rolls back.

Every query is scoped here, by the actor's directorate and role, never in a view or template.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from engine import runtime
from engine.catalog import CHOICE_PROVIDERS
from engine.errors import FormInvalid, NotFoundForActor, StaleState, TaskAlreadyCompleted, TaskNotClaimable
from engine.forms import FormDef
from engine.library import Library, deploy
from engine.models import ProcessInstance, TaskRecord, TaskState
from registry.audit import record_event
from registry.errors import Conflict, DuplicateApplicant, NotPermitted
from registry.models import (
    AuditEvent,
    Case,
    CaseStatus,
    Document,
    DocumentRequest,
    EligibilityScore,
    Role,
    User,
)

CASE_PROCESS = "case_management"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def _may_see(actor: User) -> runtime.MayAct:
    return lambda record: record.visible_to(role=actor.role, scope=actor.scope)


def _user_name(session: Session, user_id: int | str | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, int(user_id))
    return user.full_name if user else str(user_id)


@contextmanager
def _unit_of_work(session: Session) -> Iterator[None]:
    """Commit what the block did, or roll all of it back; refusals name people, not user ids."""
    try:
        yield
        session.commit()
    except StaleDataError:
        session.rollback()
        raise StaleState("the case changed meanwhile") from None
    except IntegrityError:  # a uniqueness rule met a concurrent change (e.g. the same person twice)
        session.rollback()
        raise Conflict() from None
    except TaskAlreadyCompleted as err:
        session.rollback()
        raise TaskAlreadyCompleted(by=_user_name(session, err.by), at=err.at) from None
    except TaskNotClaimable as err:
        session.rollback()
        raise TaskNotClaimable(by=_user_name(session, err.by)) from None
    except BaseException:
        session.rollback()
        raise


# --- starting a case -------------------------------------------------------------------------

def start_registration(
    session: Session,
    *,
    actor: User,
    library: Library,
    now: dt.datetime,
    channel: str = "reception",
    applicant_national_id: str | None = None,
    prefill: Mapping[str, Any] | None = None,
) -> Case:
    """Open a case in the actor's directorate; its registration form becomes the actor's first task."""
    if actor.role != Role.RECEPTION.value or actor.directorate is None:
        raise NotPermitted("only reception staff open registrations")
    with _unit_of_work(session):
        version = deploy(session, library, CASE_PROCESS)
        case = Case(reference="pending", directorate_id=actor.directorate.id, channel=channel,
                    applicant_national_id=applicant_national_id, opened_by_id=actor.id, created_at=now,
                    prefill=dict(prefill or {}))
        session.add(case)
        session.flush()
        case.reference = f"{actor.directorate.code}-{now.year}-{case.id:06d}"
        initial: dict[str, Any] = {"case_id": case.id, "case_reference": case.reference,
                                   "directorate": actor.directorate.code, "initiator": actor.id,
                                   "channel": channel}
        initial.update((prefill or {}).get("values", {}))
        if applicant_national_id:
            initial["head_national_id"] = applicant_national_id
        if (prefill or {}).get("consent_for_lookup"):
            initial["consent_data_exchange"] = True
        advance = runtime.start_instance(session, library=library, version=version, business_key=str(case.id),
                                         scope=actor.directorate.code, data=initial, actor_id=actor.id, now=now)
        case.instance_id = advance.instance.id
        _follow(case, advance)
        record_event(session, actor_id=actor.id, case_id=case.id, action="case_opened", at=now,
                     details={"reference": case.reference, "channel": channel,
                              "process_version": version.version})
    return case


def _follow(case: Case, advance: runtime.Advance) -> None:
    """Keep the case's stage in step with the process: the stage of its first ready task."""
    stages = [r.stage for r in advance.ready if r.stage]
    if stages:
        case.stage = stages[0]
    elif case.status != CaseStatus.OPEN.value:
        case.stage = "closed"


# --- inbox -----------------------------------------------------------------------------------

@dataclass
class InboxRow:
    task: TaskRecord
    case: Case
    head_name: str | None


@dataclass
class Inbox:
    mine: list[InboxRow] = field(default_factory=list)
    open_for_role: list[InboxRow] = field(default_factory=list)


def inbox(session: Session, *, actor: User) -> Inbox:
    """Ready tasks assigned to the actor, and unclaimed ones of the actor's role in the directorate."""
    if actor.scope is None:
        return Inbox()
    rows = session.execute(
        select(TaskRecord, Case)
        .join(Case, cast(Case.id, String) == TaskRecord.business_key)
        .where(TaskRecord.state == TaskState.READY.value, TaskRecord.scope == actor.scope,
               TaskRecord.lane == actor.role,
               or_(TaskRecord.assignee_id == actor.id, TaskRecord.assignee_id.is_(None)))
        .order_by(TaskRecord.due_at.is_(None), TaskRecord.due_at, TaskRecord.created_at)
        .options(selectinload(Case.household))  # heads' names without a query per row
    ).all()
    result = Inbox()
    for record, case in rows:
        head = case.household.head if case.household else None
        row = InboxRow(task=record, case=case, head_name=head.name_ar if head else None)
        (result.mine if record.assignee_id == actor.id else result.open_for_role).append(row)
    return result


# --- one task --------------------------------------------------------------------------------

@dataclass
class TaskView:
    task: TaskRecord
    case: Case
    form: FormDef
    values: dict[str, Any]
    choices: dict[str, list[tuple[str, dict[str, str]]]]
    version: int
    data: dict[str, Any]
    case_view: CaseView | None = None


def task_for_actor(session: Session, *, actor: User, task_id: str) -> TaskRecord:
    record = session.get(TaskRecord, task_id)
    if record is None or not record.visible_to(role=actor.role, scope=actor.scope):
        raise NotFoundForActor(task_id)
    return record


def open_task(session: Session, *, actor: User, library: Library, task_id: str) -> TaskView:
    """A task with its form, the values to show, and the case it belongs to."""
    record = task_for_actor(session, actor=actor, task_id=task_id)
    case = _case_of(session, record)
    form = runtime.form_for(session, library, record)
    data = runtime.task_data(session, record) if record.is_ready else dict(record.data or {})
    values = {f.name: f.initial_value(data) for f in form.fields} if record.is_ready else dict(record.data or {})
    choices = {}
    for f in form.fields:
        if f.choices_from:
            choices[f.name] = CHOICE_PROVIDERS[f.choices_from](session, record.scope)
    instance = session.get(ProcessInstance, record.instance_id)
    assert instance is not None
    return TaskView(task=record, case=case, form=form, values=values, choices=choices,
                    version=instance.lock_version, data=data)


def claim_task(session: Session, *, actor: User, task_id: str, now: dt.datetime) -> TaskRecord:
    with _unit_of_work(session):
        record = runtime.claim_task(session, task_id=task_id, actor_id=actor.id, may_act=_may_see(actor), now=now)
        record_event(session, actor_id=actor.id, case_id=int(record.business_key), action="task_claimed", at=now,
                     details={"task": record.spec_id, "title": record.title, "form": record.form_key})
    return record


def release_task(session: Session, *, actor: User, task_id: str, now: dt.datetime) -> TaskRecord:
    with _unit_of_work(session):
        record = runtime.release_task(session, task_id=task_id, actor_id=actor.id, may_act=_may_see(actor))
        record_event(session, actor_id=actor.id, case_id=int(record.business_key), action="task_released", at=now,
                     details={"task": record.spec_id, "title": record.title, "form": record.form_key})
    return record


def complete_task(
    session: Session,
    *,
    actor: User,
    library: Library,
    task_id: str,
    data: Mapping[str, Any],
    now: dt.datetime,
    expected_version: int | None = None,
) -> list[TaskRecord]:
    """Validate and complete a task; returns the case's tasks that are ready next.

    State, task rows, domain rows written by service operations and the audit event commit
    together; on any error nothing is kept.
    """
    with _unit_of_work(session):
        def store_uploads(record: TaskRecord) -> dict[str, Any]:
            return _store_uploads(session, actor=actor, case_id=int(record.business_key),
                                  form=runtime.form_for(session, library, record), data=data, now=now)

        advance = runtime.complete_task(session, library=library, task_id=task_id, actor_id=actor.id,
                                        data=data, may_act=_may_see(actor), now=now,
                                        expected_version=expected_version, prepare=store_uploads)
        record = advance.completed
        assert record is not None
        case_id = int(record.business_key)
        completed_data = record.data
        record_event(session, actor_id=actor.id, case_id=case_id, action="task_completed", at=now,
                     details={"task": record.spec_id, "title": record.title, "form": record.form_key,
                              "data": completed_data, "next": [r.spec_id for r in advance.ready]})
        changes: dict[str, Any] = {}
        stages = [r.stage for r in advance.ready if r.stage]
        if stages and stages[0] != record.stage:  # the case's stage is the stage of its ready task
            changes["stage"] = stages[0]
        if completed_data and completed_data.get("plan_end_date"):
            changes["plan_end_date"] = dt.date.fromisoformat(completed_data["plan_end_date"])
        if changes:  # one UPDATE, without loading the case: completing a task stays cheap
            session.execute(update(Case).where(Case.id == case_id).values(**changes),
                            execution_options={"synchronize_session": False})
            loaded = session.identity_map.get(session.identity_key(Case, case_id))
            if loaded is not None:
                session.expire(loaded, list(changes))
    return advance.ready


def _store_uploads(session: Session, *, actor: User, case_id: int, form: FormDef, data: Mapping[str, Any],
                   now: dt.datetime) -> dict[str, Any]:
    """Replace uploaded files in file fields by references to stored documents.

    A file arrives as {"name", "content_type", "content": bytes} from the browser, or with
    "content_base64" through the API; what is stored is {"document_id", "name", "size"}.
    """
    if not isinstance(data, Mapping):
        raise FormInvalid({"_form": ["invalid_type"]})
    out = dict(data)
    for f in form.fields:
        if f.type != "file" or f.name not in out or out[f.name] in (None, ""):
            continue
        items = out[f.name] if isinstance(out[f.name], list) else [out[f.name]]
        refs = []
        for item in items:
            if not isinstance(item, Mapping) or not item.get("name"):
                raise FormInvalid({f.name: ["invalid_file"]})
            content = item.get("content")
            if content is None and "content_base64" in item:
                try:
                    content = base64.b64decode(str(item["content_base64"]), validate=True)
                except (binascii.Error, ValueError):
                    raise FormInvalid({f.name: ["invalid_file"]}) from None
            if not isinstance(content, bytes) or not content:
                raise FormInvalid({f.name: ["invalid_file"]})
            if len(content) > MAX_UPLOAD_BYTES:
                raise FormInvalid({f.name: ["file_too_large"]})
            document = Document(case_id=case_id, name=str(item["name"])[:200],
                                content_type=_content_type(item.get("content_type")),
                                size=len(content), sha256=hashlib.sha256(content).hexdigest(), content=content,
                                uploaded_by_id=actor.id, uploaded_at=now)
            session.add(document)
            session.flush()
            refs.append({"document_id": document.id, "name": document.name, "size": document.size})
        out[f.name] = refs
    return out


_MIME = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")


def _content_type(value: Any) -> str:
    """A plain MIME type, or a neutral one: the header must never carry what a client typed."""
    text = str(value or "").strip().lower()
    return text if _MIME.fullmatch(text) and len(text) <= 100 else "application/octet-stream"


def _case_of(session: Session, record: TaskRecord) -> Case:
    case = session.get(Case, int(record.business_key))
    if case is None:
        raise NotFoundForActor(record.id)
    return case


# --- cases -----------------------------------------------------------------------------------

def case_for_actor(session: Session, *, actor: User, case_id: int) -> Case:
    """A case of the actor's directorate; anything else does not exist for them."""
    case = session.get(Case, case_id)
    if case is None or actor.scope is None or case.directorate.code != actor.scope:
        raise NotFoundForActor(str(case_id))
    return case


@dataclass
class CaseView:
    case: Case
    scores: list[EligibilityScore]
    documents: list[Document]
    document_requests: list[DocumentRequest]
    history: list[AuditEvent]
    ready: list[TaskRecord]
    submissions: dict[str, list[TaskRecord]]
    names: dict[int, dict[str, str]] = field(default_factory=dict)


def case_view(session: Session, *, actor: User, case_id: int) -> CaseView:
    case = case_for_actor(session, actor=actor, case_id=case_id)
    scores = list(session.scalars(select(EligibilityScore).where(EligibilityScore.case_id == case.id)
                                  .order_by(EligibilityScore.created_at.desc(), EligibilityScore.id.desc())))
    if case.household_id is not None:
        # Re-scores after a rule change belong to the household, not to one case.
        seen = {s.id for s in scores}
        scores += [s for s in session.scalars(
            select(EligibilityScore).where(EligibilityScore.household_id == case.household_id)
            .order_by(EligibilityScore.created_at.desc(), EligibilityScore.id.desc())) if s.id not in seen]
        scores.sort(key=lambda s: (s.created_at, s.id), reverse=True)
    documents = list(session.scalars(select(Document).where(Document.case_id == case.id).order_by(Document.id)))
    requests = list(session.scalars(select(DocumentRequest).where(DocumentRequest.case_id == case.id)
                                    .order_by(DocumentRequest.id)))
    history = list(session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id)
                                   .order_by(AuditEvent.at, AuditEvent.id)))
    tasks = list(session.scalars(select(TaskRecord).where(TaskRecord.business_key == str(case.id))
                                 .order_by(TaskRecord.created_at)))
    submissions: dict[str, list[TaskRecord]] = {}
    for t in tasks:
        if t.state == TaskState.COMPLETED.value:
            submissions.setdefault(t.form_key, []).append(t)
    for items in submissions.values():
        items.sort(key=lambda t: t.completed_at or t.created_at, reverse=True)
    people = {t.completed_by_id for t in tasks if t.completed_by_id} | {t.assignee_id for t in tasks if t.assignee_id}
    return CaseView(case=case, scores=scores, documents=documents, document_requests=requests, history=history,
                    ready=[t for t in tasks if t.is_ready], submissions=submissions,
                    names=user_names(session, people))


def document_for_actor(session: Session, *, actor: User, document_id: int) -> Document:
    document = session.get(Document, document_id)
    if document is None:
        raise NotFoundForActor(str(document_id))
    case_for_actor(session, actor=actor, case_id=document.case_id)
    return document


def user_names(session: Session, ids: set[int]) -> dict[int, dict[str, str]]:
    if not ids:
        return {}
    return {u.id: {"en": u.display_name("en"), "ar": u.display_name("ar")}
            for u in session.scalars(select(User).where(User.id.in_(ids)))}


def form_of(session: Session, library: Library, record: TaskRecord) -> FormDef:
    return runtime.form_for(session, library, record)


def task_view_for_page(session: Session, *, actor: User, library: Library, task_id: str) -> TaskView:
    """A task with its form and the case's context panels, for the task page."""
    view = open_task(session, actor=actor, library=library, task_id=task_id)
    view.case_view = case_view(session, actor=actor, case_id=view.case.id)
    return view


def begin_registration(session: Session, *, actor: User, library: Library, national_id: str, consent: bool,
                       now: dt.datetime, sources: list[Any] | None) -> Case:
    """Open a registration for an applicant, pre-filled from other ministries when the household consents.

    A ministry that fails or times out never blocks the registration: the form says which one.
    """
    existing = session.scalar(select(Case).where(Case.applicant_national_id == national_id,
                                                 Case.status == CaseStatus.OPEN.value))
    if existing is not None:
        raise DuplicateApplicant(existing.reference if existing.directorate.code == actor.scope else None)
    prefill: dict[str, Any] = {"consent_for_lookup": consent}
    if consent and sources:
        from registry.ministries import prefill_registration
        from registry.operations import local_date

        result = prefill_registration(national_id, sources=sources, today=local_date(now)).to_dict()
        prefill.update(result)
    case = start_registration(session, actor=actor, library=library, now=now, applicant_national_id=national_id,
                              prefill=prefill)
    return case


def first_task_for(session: Session, *, actor: User, case_id: int) -> TaskRecord | None:
    """The case's ready task that is the actor's to do, if any."""
    return session.scalars(
        select(TaskRecord).where(TaskRecord.business_key == str(case_id), TaskRecord.state == TaskState.READY.value,
                                 TaskRecord.assignee_id == actor.id).order_by(TaskRecord.created_at)
    ).first()


def list_cases(session: Session, *, actor: User, status: str | None = None, limit: int = 200) -> list[Case]:
    """The directorate's cases, newest first (case managers see the cases assigned to them first)."""
    if actor.directorate is None:
        return []
    query = select(Case).where(Case.directorate_id == actor.directorate.id)
    if status:
        query = query.where(Case.status == status)
    return list(session.scalars(query.order_by(Case.id.desc()).limit(limit)))


def reassign_case(session: Session, *, actor: User, case_id: int, case_manager_id: int, reason: str,
                  now: dt.datetime) -> Case:
    """A supervisor hands an open case, with its waiting tasks, to another case manager of the directorate."""
    if actor.role != Role.SUPERVISOR.value:
        raise NotPermitted("only supervisors reassign cases")
    with _unit_of_work(session):
        case = case_for_actor(session, actor=actor, case_id=case_id)
        manager = session.get(User, case_manager_id)
        errors: dict[str, list[str]] = {}
        if manager is None or manager.role != Role.CASE_MANAGER.value or not manager.active \
                or manager.directorate_id != case.directorate_id:
            errors["case_manager"] = ["invalid_choice"]
        if not reason.strip():
            errors["reason"] = ["required"]
        if not case.is_open or case.case_manager_id is None:
            errors["case_manager"] = ["not_reassignable"]
        if errors:
            raise FormInvalid(errors)
        assert manager is not None and case.instance_id is not None
        before = case.case_manager_id
        runtime.set_case_data(session, instance_id=case.instance_id, changes={"case_manager_id": manager.id}, now=now)
        for task in session.scalars(select(TaskRecord).where(
                TaskRecord.business_key == str(case.id), TaskRecord.state == TaskState.READY.value,
                TaskRecord.lane == Role.CASE_MANAGER.value)):
            task.assignee_id = manager.id
        case.case_manager_id = manager.id
        record_event(session, actor_id=actor.id, case_id=case.id, action="case_reassigned", at=now,
                     details={"before": before, "after": manager.id, "case_manager": manager.full_name,
                              "case_manager_ar": manager.display_name("ar"), "reason": reason.strip()})
    return case


def case_managers(session: Session, *, actor: User) -> list[User]:
    """The active case managers of the actor's directorate."""
    if actor.directorate is None:
        return []
    return list(session.scalars(select(User).where(User.role == Role.CASE_MANAGER.value, User.active,
                                                   User.directorate_id == actor.directorate.id)
                                .order_by(User.full_name)))
