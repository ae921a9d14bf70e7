"""Case and task services: each public function is one unit of work that commits or rolls back.

Every query is scoped here, by the actor's directorate and role, never in a view or template.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, lazyload
from sqlalchemy.orm.exc import StaleDataError

from engine import runtime
from engine.catalog import CHOICE_PROVIDERS
from engine.deployments import latest_version, version_library
from engine.errors import (
    FormInvalid,
    NotDeployed,
    NotFoundForActor,
    StaleState,
    TaskAlreadyCompleted,
    TaskNotClaimable,
)
from engine.forms import FormDef
from engine.library import Library
from engine.models import ProcessInstance, TaskRecord, TaskState
from registry.audit import record_event
from registry.documents import DocumentStorage
from registry.documents import store_uploads as store_documents
from registry.drafts import discard_task_drafts
from registry.errors import Conflict, DuplicateApplicant, NotPermitted
from registry.models import (
    AuditEvent,
    Case,
    CaseStatus,
    Directorate,
    Document,
    DocumentRequest,
    EligibilityScore,
    Household,
    Role,
    User,
)
from registry.paging import PER_PAGE, Page, PageInfo, page_info, page_of
from registry.records import Banner, Recorded, banners_for, latest_records, record_of, task_for_reader
from registry.verification import case_sources, record_verification, verifying_fields
from registry.vocabulary import case_fields_set, vocabulary_for_hash

CASE_PROCESS = "case_management"


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
    before_commit: Callable[[Case], None] | None = None,
) -> Case:
    """Open a case in the actor's directorate; its registration form becomes the actor's first task.

    ``before_commit`` is called with the new case inside the unit of work (e.g. to store an idempotent answer).
    """
    if actor.role != Role.RECEPTION.value or actor.directorate is None:
        raise NotPermitted("only reception staff open registrations")
    with _unit_of_work(session):
        case = open_case(session, library=library, directorate=actor.directorate, channel=channel, actor_id=actor.id,
                         now=now, applicant_national_id=applicant_national_id, prefill=prefill)
        if before_commit is not None:
            before_commit(case)
    return case


def open_case(session: Session, *, library: Library, directorate: Directorate, channel: str, actor_id: int | None,
              now: dt.datetime, applicant_national_id: str | None = None, prefill: Mapping[str, Any] | None = None,
              data: Mapping[str, Any] | None = None) -> Case:
    """Open a case in ``directorate``, entering the process by the start of its ``channel``; only flushes.

    ``data`` adds to what the process starts with (an online application's declared answers).
    """
    # The latest deployed version, never the files on disk: a broken draft cannot stop intake.
    version = latest_version(session, CASE_PROCESS)
    if version is None:
        raise NotDeployed(CASE_PROCESS)
    case = Case(reference="pending", directorate_id=directorate.id, channel=channel,
                applicant_national_id=applicant_national_id, opened_by_id=actor_id, created_at=now,
                prefill=dict(prefill or {}))
    session.add(case)
    session.flush()
    case.reference = f"{directorate.code}-{now.year}-{case.id:06d}"
    initial: dict[str, Any] = {"case_id": case.id, "case_reference": case.reference,
                               "directorate": directorate.code, "initiator": actor_id, "channel": channel}
    initial.update((prefill or {}).get("values", {}))
    if applicant_national_id:
        initial["head_national_id"] = applicant_national_id
    if (prefill or {}).get("consent_for_lookup"):
        initial["consent_data_exchange"] = True
    initial.update(data or {})
    advance = runtime.start_instance(session, library=library, version=version, business_key=str(case.id),
                                     scope=directorate.code, data=initial, actor_id=actor_id, now=now,
                                     start_message=channel)
    case.instance_id = advance.instance.id
    _follow(case, advance)
    record_event(session, actor_id=actor_id, case_id=case.id, action="case_opened", at=now,
                 details={"reference": case.reference, "channel": channel, "process_version": version.version})
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
    """A page of each list: tasks assigned to the actor, and unclaimed tasks of the actor's role."""

    mine: list[InboxRow] = field(default_factory=list)
    open_for_role: list[InboxRow] = field(default_factory=list)
    mine_info: PageInfo = field(default_factory=lambda: page_of(0, page=1, per_page=PER_PAGE))
    open_info: PageInfo = field(default_factory=lambda: page_of(0, page=1, per_page=PER_PAGE))


def _ready_tasks(actor: User, *, assigned: Any) -> Select[tuple[TaskRecord, Case]]:
    """Ready tasks of the actor's role and directorate, with their cases, soonest due first."""
    return (select(TaskRecord, Case).join(Case, Case.instance_id == TaskRecord.instance_id)
            .where(TaskRecord.state == TaskState.READY.value, TaskRecord.scope == actor.scope,
                   TaskRecord.lane == actor.role, assigned))


def _task_page(session: Session, query: Select[tuple[TaskRecord, Case]], *, page: int | None,
               per_page: int | None) -> tuple[list[InboxRow], PageInfo]:
    """One page of ``query`` (a count, a page of rows, and the heads' names in one more query)."""
    from registry.households import head_names

    info = page_info(session, query, page=page, per_page=per_page)
    rows = session.execute(query.order_by(TaskRecord.due_at.asc().nulls_last(), TaskRecord.created_at,
                                          TaskRecord.id).offset(info.offset).limit(info.per_page)).tuples().all()
    names = head_names(session, {c.household_id for _t, c in rows if c.household_id is not None})
    return [InboxRow(task=t, case=c, head_name=names.get(c.household_id) if c.household_id else None)
            for t, c in rows], info


def inbox(session: Session, *, actor: User, mine_page: int | None = 1, open_page: int | None = 1,
          per_page: int | None = PER_PAGE) -> Inbox:
    """A page of the ready tasks assigned to the actor, and one of the unclaimed tasks of the actor's
    role in the directorate, each with its total."""
    if actor.scope is None:
        return Inbox()
    mine, mine_info = _task_page(session, _ready_tasks(actor, assigned=TaskRecord.assignee_id == actor.id),
                                 page=mine_page, per_page=per_page)
    open_rows, open_info = _task_page(session, _ready_tasks(actor, assigned=TaskRecord.assignee_id.is_(None)),
                                      page=open_page, per_page=per_page)
    return Inbox(mine=mine, open_for_role=open_rows, mine_info=mine_info, open_info=open_info)


def task_list(session: Session, *, actor: User, page: int | None = 1,
              per_page: int | None = PER_PAGE) -> tuple[list[TaskRecord], PageInfo]:
    """One page of the actor's inbox as one list (assigned to the actor or open for the role), soonest due first."""
    if actor.scope is None:
        return [], page_of(0, page=page, per_page=per_page)
    query = _ready_tasks(actor, assigned=or_(TaskRecord.assignee_id == actor.id, TaskRecord.assignee_id.is_(None)))
    rows, info = _task_page(session, query, page=page, per_page=per_page)
    return [r.task for r in rows], info


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
    #: Where each of the case's values came from, by value path (registry.verification).
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What earlier tasks recorded that the form shows on top (``banner_from``).
    banners: list[Banner] = field(default_factory=list)
    #: A completed task: what it recorded, and what changed since the submission before it.
    record: Recorded | None = None


def task_for_actor(session: Session, *, actor: User, task_id: str) -> TaskRecord:
    record = session.get(TaskRecord, task_id)
    if record is None or not record.visible_to(role=actor.role, scope=actor.scope):
        raise NotFoundForActor(task_id)
    return record


def open_task(session: Session, *, actor: User, library: Library, task_id: str) -> TaskView:
    """A task with its form, the values to show, and the case it belongs to."""
    record = task_for_reader(session, actor=actor, task_id=task_id)  # completing stays the lane's (runtime)
    case = _case_of(session, record)
    form = runtime.form_for(session, library, record)
    data = runtime.task_data(session, record) if record.is_ready else dict(record.data or {})
    values = {f.name: f.initial_value(data) for f in form.fields} if record.is_ready else dict(record.data or {})
    choices = {}
    for f in form.fields:
        if f.choices_from:
            choices[f.name] = CHOICE_PROVIDERS[f.choices_from](session, record.scope)
        for sub in f.fields:  # a group's rows name their choices by the field's own name
            if sub.choices_from:
                choices[sub.name] = CHOICE_PROVIDERS[sub.choices_from](session, record.scope)
    instance = session.get(ProcessInstance, record.instance_id)
    assert instance is not None
    return TaskView(task=record, case=case, form=form, values=values, choices=choices,
                    version=instance.lock_version, data=data, sources=case_sources(session, case))


def claim_task(session: Session, *, actor: User, task_id: str, now: dt.datetime,
               before_commit: Callable[[TaskRecord], None] | None = None) -> TaskRecord:
    """Give a task to the actor; a second claim of a task the actor holds is a no-op (no second event)."""
    with _unit_of_work(session):
        claim = runtime.claim_task(session, task_id=task_id, actor_id=actor.id, may_act=_may_see(actor), now=now)
        record = claim.record
        if claim.changed:
            record_event(session, actor_id=actor.id, case_id=int(record.business_key), action="task_claimed",
                         at=now, details={"task": record.spec_id, "title": record.title, "form": record.form_key})
        if before_commit is not None:
            before_commit(record)
    return record


def release_task(session: Session, *, actor: User, task_id: str, now: dt.datetime,
                 before_commit: Callable[[TaskRecord], None] | None = None) -> TaskRecord:
    with _unit_of_work(session):
        record = runtime.release_task(session, task_id=task_id, actor_id=actor.id, may_act=_may_see(actor))
        record_event(session, actor_id=actor.id, case_id=int(record.business_key), action="task_released", at=now,
                     details={"task": record.spec_id, "title": record.title, "form": record.form_key})
        if before_commit is not None:
            before_commit(record)
    return record


@dataclass(frozen=True)
class Completion:
    """What a completion did: the case's stage and status after it, and the tasks now ready."""

    case_id: int
    stage: str
    status: str
    next_tasks: list[TaskRecord]


def complete_task(
    session: Session,
    *,
    actor: User,
    library: Library,
    task_id: str,
    data: Mapping[str, Any],
    now: dt.datetime,
    expected_version: int | None = None,
    before_commit: Callable[[Completion], None] | None = None,
    storage: DocumentStorage | None = None,
) -> Completion:
    """Validate and complete a task; returns where the case stands and its tasks that are ready next.

    State, task rows, domain rows written by service operations, the audit event and whatever
    ``before_commit`` writes with the result (an idempotent answer) commit together; on any error
    nothing is kept. The result is built from what the completion already has: bounded work.
    """
    with _unit_of_work(session):
        # The case is read once the task is locked (prepare runs then) and held: the operations find it in the
        # session, and what they changed on it (its stage, status, fields) is read from it at the end.
        held: list[Case] = []

        def prepare(record: TaskRecord) -> dict[str, Any]:
            held.append(_case_under_lock(session, int(record.business_key)))
            return store_documents(session, storage=storage, actor=actor, case_id=int(record.business_key),
                                   form=runtime.form_for(session, library, record), data=data, now=now)

        advance = runtime.complete_task(session, library=library, task_id=task_id, actor_id=actor.id,
                                        data=data, may_act=_may_see(actor), now=now,
                                        expected_version=expected_version, prepare=prepare)
        record = advance.completed
        assert record is not None
        case_id = int(record.business_key)
        case = held[0]
        completed_data = record.data
        record_event(session, actor_id=actor.id, case_id=case_id, action="task_completed", at=now,
                     details={"task": record.spec_id, "title": record.title, "form": record.form_key,
                              "data": completed_data, "next": [r.spec_id for r in advance.ready]})
        discard_task_drafts(session, task_id=record.id)  # the work is saved: no stale draft to restore
        form = runtime.form_for(session, library, record)
        if verifying_fields(form):  # answers this form confirms (a document, a field visit) count from now on
            record_verification(session, case_id=case_id, form=form, data=completed_data or {}, actor_id=actor.id,
                                now=now, rules_dir=str(version_library(library,
                                                                       advance.instance.process_version).rules_dir))
        stage, status, current = case.stage, case.status, case.fields or {}  # as the operations left it
        changes: dict[str, Any] = {}
        stages = [r.stage for r in advance.ready if r.stage]
        if stages and stages[0] != record.stage:  # the case's stage is the stage of its ready task
            changes["stage"] = stages[0]
        instance = advance.instance
        vocabulary = vocabulary_for_hash(runtime.version_hash(session, instance), lambda: instance.process_version,
                                         library)
        if vocabulary.case_fields:  # values the vocabulary declares as the case's own, set by a form or a service
            fields = case_fields_set(vocabulary, {**(completed_data or {}), **advance.data}, current)
            if fields != current:
                changes["fields"] = fields
        for name, value in changes.items():  # written with the rest at commit
            setattr(case, name, value)
        completion = Completion(case_id=case_id, stage=changes.get("stage", stage), status=status,
                                next_tasks=list(advance.ready))
        if before_commit is not None:
            before_commit(completion)
    return completion


#: Built once, with a parameter (SQLAlchemy then neither rebuilds nor re-keys it on every completion).
_CASE_WITH_HOUSEHOLD = (select(Case).where(Case.id == bindparam("case_id"))
                        .options(joinedload(Case.household).options(lazyload(Household.members)),
                                 lazyload(Case.directorate))  # the actor's: already in the session
                        .execution_options(populate_existing=True))


def _case_under_lock(session: Session, case_id: int) -> Case:
    """A task's case read under its instance lock, with its household (not the members) that operations read.

    Always read from the database: a copy this session read before the lock may be out of date.
    """
    case = session.execute(_CASE_WITH_HOUSEHOLD, {"case_id": case_id}).scalar_one_or_none()
    if case is None:
        raise NotFoundForActor(str(case_id))
    return case


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


@dataclass(frozen=True)
class EarlierElsewhere:
    """An earlier request of the household in another directorate, summarised without its personal data."""

    status: str
    closed_at: dt.datetime | None


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
    household: Household | None = None
    household_elsewhere: bool = False
    earlier_elsewhere: list[EarlierElsewhere] = field(default_factory=list)
    history_info: PageInfo = field(default_factory=lambda: page_of(0, page=1, per_page=HISTORY_PER_PAGE))
    submission_totals: dict[str, int] = field(default_factory=dict)
    documents_total: int = 0
    document_requests_total: int = 0
    #: The latest submission of each form a ``record:<form>`` context panel names.
    records: dict[str, Recorded] = field(default_factory=dict)

    @property
    def submitted_forms(self) -> list[str]:
        """The forms with submissions, in the order the case first reached them."""
        return sorted(self.submissions, key=lambda key: min(t.completed_at or self.case.created_at
                                                             for t in self.submissions[key]))


HISTORY_PER_PAGE = 50
SCORES_SHOWN = 20
DOCUMENTS_SHOWN = 50
REQUESTS_SHOWN = 5
SUBMISSIONS_SHOWN = 10
EARLIER_SHOWN = 5


def case_view(session: Session, *, actor: User, case_id: int, history_page: int | None = 1,
              history_per_page: int = HISTORY_PER_PAGE, submission_forms: Collection[str] | None = None) -> CaseView:
    """A case as the actor's directorate may see it, with bounded work however old the case is.

    History comes a page at a time, newest page first (0 per page: none); submissions are the latest few
    per form (of ``submission_forms`` only, when given). The household and its scores show only what the
    case's directorate recorded; earlier requests elsewhere are summarised by status and date.
    """
    case = case_for_actor(session, actor=actor, case_id=case_id)
    household = session.get(Household, case.household_id) if case.household_id is not None else None
    here = household if household is not None and household.directorate_id == case.directorate_id else None
    earlier: list[EarlierElsewhere] = []
    if case.household_id is not None:
        # Re-scores after a rule change belong to the household, not to one case; another directorate's
        # scores are its own.
        scores = list(session.scalars(
            select(EligibilityScore).where(or_(
                EligibilityScore.case_id == case.id,
                and_(EligibilityScore.household_id == case.household_id,
                     EligibilityScore.directorate_id == case.directorate_id)))
            .order_by(EligibilityScore.created_at.desc(), EligibilityScore.id.desc()).limit(SCORES_SHOWN)))
        earlier = [EarlierElsewhere(status=status, closed_at=closed_at) for status, closed_at in session.execute(
            select(Case.status, Case.closed_at).where(Case.household_id == case.household_id, Case.id < case.id,
                                                      Case.directorate_id != case.directorate_id)
            .order_by(Case.id.desc()).limit(EARLIER_SHOWN)).tuples()]
    else:
        scores = []
    # A case that looped hundreds of times keeps every request and file; the page shows the latest ones.
    documents = _latest(session, select(Document).where(Document.case_id == case.id), Document.id, DOCUMENTS_SHOWN)
    requests = _latest(session, select(DocumentRequest).where(DocumentRequest.case_id == case.id),
                       DocumentRequest.id, REQUESTS_SHOWN)
    history: list[AuditEvent] = []
    history_info = page_of(0, page=1, per_page=HISTORY_PER_PAGE)
    if history_per_page > 0:
        events = select(AuditEvent).where(AuditEvent.case_id == case.id)
        history_info = page_info(session, events, page=history_page, per_page=history_per_page)
        newest_first = session.scalars(events.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                                       .offset(history_info.offset).limit(history_info.per_page))
        history = list(reversed(list(newest_first)))  # each page reads oldest to newest
    ready = list(session.scalars(select(TaskRecord).where(TaskRecord.business_key == str(case.id),
                                                          TaskRecord.state == TaskState.READY.value)
                                 .order_by(TaskRecord.created_at)))
    submissions, totals = _latest_submissions(session, case.id, submission_forms)
    done = [t for items in submissions.values() for t in items]
    people = {t.completed_by_id for t in done if t.completed_by_id} | {t.assignee_id for t in ready + done
                                                                       if t.assignee_id}
    # Who uploaded each file and who asked for them, for the documents checklist.
    people |= {d.uploaded_by_id for d in documents[0] if d.uploaded_by_id}
    people |= {r.requested_by_id for r in requests[0] if r.requested_by_id}
    return CaseView(case=case, scores=scores, documents=documents[0], document_requests=requests[0],
                    history=history,
                    ready=ready, submissions=submissions, names=user_names(session, people), household=here,
                    household_elsewhere=household is not None and here is None, earlier_elsewhere=earlier,
                    history_info=history_info, submission_totals=totals, documents_total=documents[1],
                    document_requests_total=requests[1])


def _latest(session: Session, query: Select[Any], order: Any, limit: int) -> tuple[list[Any], int]:
    """The newest ``limit`` rows of a query, oldest first, and how many there are in all."""
    rows = list(session.scalars(query.order_by(order.desc()).limit(limit)))
    total = len(rows) if len(rows) < limit else int(session.scalar(
        select(func.count()).select_from(query.subquery())) or 0)
    return list(reversed(rows)), total


def _latest_submissions(session: Session, case_id: int, forms: Collection[str] | None
                        ) -> tuple[dict[str, list[TaskRecord]], dict[str, int]]:
    """The latest completed tasks of each form (newest first) and how many there are in all.

    One small query per form, each reading only its newest rows by index, so a case that looped
    hundreds of times costs what a fresh one does.
    """
    done = [TaskRecord.business_key == str(case_id), TaskRecord.state == TaskState.COMPLETED.value]
    if forms is not None:
        if not forms:
            return {}, {}
        done.append(TaskRecord.form_key.in_(list(forms)))
    totals = dict(session.execute(select(TaskRecord.form_key, func.count()).where(*done)
                                  .group_by(TaskRecord.form_key)).tuples().all())
    submissions: dict[str, list[TaskRecord]] = {}
    for form_key in sorted(totals):
        submissions[form_key] = list(session.scalars(
            select(TaskRecord).where(*done, TaskRecord.form_key == form_key)
            .order_by(TaskRecord.completed_at.desc(), TaskRecord.id.desc()).limit(SUBMISSIONS_SHOWN)))
    return submissions, totals


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
    # The panels never show the history, and show submissions only of the forms they name.
    forms = {name.split(":", 1)[1] for name in view.form.context if name.startswith("submissions:")}
    view.case_view = case_view(session, actor=actor, case_id=view.case.id, history_per_page=0,
                               submission_forms=forms)
    view.case_view.records = latest_records(session, library=library, case_id=view.case.id, form_keys=[
        name.split(":", 1)[1] for name in view.form.context if name.startswith("record:")])
    view.banners = banners_for(session, library=library, record=view.task, form=view.form)
    if not view.task.is_ready:
        view.record = record_of(session, library=library, record=view.task)
    return view


def begin_registration(session: Session, *, actor: User, library: Library, national_id: str, consent: bool,
                       now: dt.datetime, sources: list[Any] | None,
                       before_commit: Callable[[Case], None] | None = None) -> Case:
    """Open a registration for an applicant, pre-filled from other ministries when the household consents.

    A ministry that fails or times out never blocks the registration: the form says which one.
    """
    existing = session.scalar(select(Case).where(Case.applicant_national_id == national_id,
                                                 Case.status == CaseStatus.OPEN.value))
    if existing is not None:
        own = existing.directorate.code == actor.scope
        raise DuplicateApplicant(existing.reference if own else None, existing.id if own else None)
    prefill: dict[str, Any] = {"consent_for_lookup": consent}
    if consent and sources:
        from registry.ministries import prefill_registration
        from registry.operations import local_date

        result = prefill_registration(national_id, sources=sources, today=local_date(now)).to_dict()
        prefill.update(result)
    case = start_registration(session, actor=actor, library=library, now=now, applicant_national_id=national_id,
                              prefill=prefill, before_commit=before_commit)
    return case


def first_task_for(session: Session, *, actor: User, case_id: int) -> TaskRecord | None:
    """The case's ready task that is the actor's to do, if any."""
    return session.scalars(
        select(TaskRecord).where(TaskRecord.business_key == str(case_id), TaskRecord.state == TaskState.READY.value,
                                 TaskRecord.assignee_id == actor.id).order_by(TaskRecord.created_at)
    ).first()


@dataclass
class CaseRow:
    case: Case
    head_name: str | None


def list_cases(session: Session, *, actor: User, status: str | None = None, page: int | None = 1,
               per_page: int | None = PER_PAGE) -> Page[CaseRow]:
    """A page of the directorate's cases, newest first, with the total (heads' names in one query)."""
    from registry.households import head_names

    if actor.directorate is None:
        return Page()
    query = select(Case).where(Case.directorate_id == actor.directorate.id)
    if status:
        query = query.where(Case.status == status)
    info = page_info(session, query, page=page, per_page=per_page)
    rows = list(session.scalars(query.options(joinedload(Case.case_manager)).order_by(Case.id.desc())
                                .offset(info.offset).limit(info.per_page)))
    names = head_names(session, {c.household_id for c in rows if c.household_id is not None})
    return Page(items=[CaseRow(case=c, head_name=names.get(c.household_id) if c.household_id else None)
                       for c in rows], info=info)


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
        assert manager is not None
        hand_over_case(session, actor=actor, case=case, manager=manager, reason=reason.strip(), now=now)
    return case


def hand_over_case(session: Session, *, actor: User, case: Case, manager: User, reason: str,
                   now: dt.datetime, extra: dict[str, Any] | None = None) -> None:
    """Give an open case to ``manager``: the case, its ready case-manager tasks and the process data that
    assigns its later tasks all change together, with a ``case_reassigned`` event (only flushes).

    Every way of moving a case's work (the case page, the inbox's bulk reassignment, the team's bulk
    reassignment) goes through here, so a case's case-manager tasks always follow its case manager.
    """
    assert case.instance_id is not None
    before = case.case_manager_id
    runtime.set_case_data(session, instance_id=case.instance_id, changes={"case_manager_id": manager.id}, now=now)
    for task in session.scalars(select(TaskRecord).where(
            TaskRecord.business_key == str(case.id), TaskRecord.state == TaskState.READY.value,
            TaskRecord.lane == Role.CASE_MANAGER.value)):
        task.assignee_id = manager.id
    case.case_manager_id = manager.id
    record_event(session, actor_id=actor.id, case_id=case.id, action="case_reassigned", at=now,
                 details={"before": before, "after": manager.id, "case_manager": manager.full_name,
                          "case_manager_ar": manager.display_name("ar"), "reason": reason, **(extra or {})})
    session.flush()


def case_managers(session: Session, *, actor: User) -> list[User]:
    """The active case managers of the actor's directorate."""
    if actor.directorate is None:
        return []
    return list(session.scalars(select(User).where(User.role == Role.CASE_MANAGER.value, User.active,
                                                   User.directorate_id == actor.directorate.id)
                                .order_by(User.full_name)))
