"""A supervisor's team view: each case manager's caseload by stage, overdue tasks, cases with no contact,
and what waits on the supervisor; and the list behind each figure.

Every figure and its list share one set of conditions, so a figure always equals the length of the list it
links to. All are grouped or paged queries over cases, the task index and case notes of the supervisor's
directorate: none loads a case's history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, String, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from engine.models import TaskRecord, TaskState
from registry.errors import NotFoundForActor, NotPermitted
from registry.households import head_names
from registry.inbox import overdue_condition
from registry.models import Case, CaseNote, CaseStatus, Directorate, Role, User
from registry.paging import Page, bounded, page_of
from registry.supervision.rules import SupervisionRules

#: The lists a figure links to.
LISTS = ("cases", "overdue", "no_contact", "waiting")


def supervised_directorate(actor: User) -> Directorate:
    """The directorate a supervisor oversees; anyone else may not see a team view."""
    if actor.role != Role.SUPERVISOR.value or actor.directorate is None:
        raise NotPermitted("only a directorate's supervisors see its team")
    return actor.directorate


def team_members(session: Session, *, directorate_id: int) -> list[User]:
    """The directorate's active case managers, and anyone else who still holds open cases there."""
    holders = select(Case.case_manager_id).where(Case.directorate_id == directorate_id,
                                                 Case.status == CaseStatus.OPEN.value,
                                                 Case.case_manager_id.is_not(None)).distinct()
    return list(session.scalars(select(User).where(or_(
        (User.role == Role.CASE_MANAGER.value) & User.active & (User.directorate_id == directorate_id),
        User.id.in_(holders))).order_by(User.full_name, User.id)))


# --- the conditions each figure and its list share ------------------------------------------------------

def _open_cases(directorate_id: int, manager_ids: Sequence[int]) -> list[ColumnElement[bool]]:
    return [Case.directorate_id == directorate_id, Case.status == CaseStatus.OPEN.value,
            Case.case_manager_id.in_(manager_ids)]


def _contact_since(cutoff: dt.datetime) -> ColumnElement[bool]:
    """Contact with the case since ``cutoff``: a task of the case completed (a visit, an assessment, a
    follow-up, a review: any step of its process) or a note written on it. Both are index probes
    (ix_task_records_case_form, ix_case_notes_case)."""
    task_done = exists().where(TaskRecord.business_key == cast(Case.id, String),
                               TaskRecord.state == TaskState.COMPLETED.value, TaskRecord.completed_at >= cutoff)
    noted = exists().where(CaseNote.case_id == Case.id, CaseNote.created_at >= cutoff)
    return or_(task_done, noted)


def _no_contact(cutoff: dt.datetime) -> list[ColumnElement[bool]]:
    """No contact since ``cutoff``; a case opened after it has not waited long enough to count."""
    return [Case.created_at < cutoff, ~_contact_since(cutoff)]


def _overdue(scope: str, manager_ids: Sequence[int], now: dt.datetime) -> list[ColumnElement[bool]]:
    """Ready tasks held by the team that are past their staff due date (a wait on the household is not late)."""
    return [TaskRecord.scope == scope, overdue_condition(now), TaskRecord.assignee_id.in_(manager_ids)]


def _waiting_on(actor: User, scope: str) -> list[ColumnElement[bool]]:
    """Ready tasks of the supervisors' lane that are this supervisor's to do: theirs or not yet claimed
    (what their own inbox lists)."""
    return [TaskRecord.scope == scope, TaskRecord.state == TaskState.READY.value,
            TaskRecord.lane == Role.SUPERVISOR.value,
            or_(TaskRecord.assignee_id.is_(None), TaskRecord.assignee_id == actor.id)]


def _task_cases() -> Any:
    return select(TaskRecord, Case).join(Case, Case.instance_id == TaskRecord.instance_id)


# --- the team view ------------------------------------------------------------------------------------

@dataclass
class MemberFigures:
    member: User
    by_stage: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    no_contact: int = 0
    #: Tasks waiting on the supervisor in this member's cases (e.g. a plan to approve).
    waiting: int = 0

    @property
    def open_cases(self) -> int:
        return sum(self.by_stage.values())


@dataclass
class TeamView:
    directorate: Directorate
    members: list[MemberFigures]
    #: The stages that have open cases, in the process's order (``stage_order``), then any others.
    stages: list[str]
    no_contact_days: int
    #: Every task waiting on the supervisor, including those of cases with no case manager yet.
    waiting: int

    def total(self, figure: str) -> int:
        return sum(getattr(m, figure) for m in self.members)

    def stage_total(self, stage: str) -> int:
        return sum(m.by_stage.get(stage, 0) for m in self.members)


def team_view(session: Session, *, actor: User, now: dt.datetime, rules: SupervisionRules,
              stage_order: Sequence[str] = ()) -> TeamView:
    """The supervisor's directorate, figure by figure: four grouped queries whatever the team's size."""
    directorate = supervised_directorate(actor)
    scope = directorate.code
    members = team_members(session, directorate_id=directorate.id)
    ids = [m.id for m in members]
    figures = {m.id: MemberFigures(member=m) for m in members}
    for manager_id, stage, count in session.execute(
            select(Case.case_manager_id, Case.stage, func.count()).where(*_open_cases(directorate.id, ids))
            .group_by(Case.case_manager_id, Case.stage)).tuples():
        if manager_id in figures:
            figures[manager_id].by_stage[stage] = int(count)
    for holder, count in session.execute(
            select(TaskRecord.assignee_id, func.count()).where(*_overdue(scope, ids, now))
            .group_by(TaskRecord.assignee_id)).tuples():
        if holder in figures:
            figures[holder].overdue = int(count)
    cutoff = now - dt.timedelta(days=rules.no_contact_days)
    for manager_id, count in session.execute(
            select(Case.case_manager_id, func.count()).where(*_open_cases(directorate.id, ids), *_no_contact(cutoff))
            .group_by(Case.case_manager_id)).tuples():
        if manager_id in figures:
            figures[manager_id].no_contact = int(count)
    waiting = 0
    for manager_id, count in session.execute(
            select(Case.case_manager_id, func.count()).select_from(TaskRecord)
            .join(Case, Case.instance_id == TaskRecord.instance_id).where(*_waiting_on(actor, scope))
            .group_by(Case.case_manager_id)).tuples():
        waiting += int(count)
        if manager_id in figures:
            figures[manager_id].waiting = int(count)
    present = {stage for f in figures.values() for stage in f.by_stage}
    stages = [s for s in stage_order if s in present] + sorted(present - set(stage_order))
    return TeamView(directorate=directorate, members=list(figures.values()), stages=stages,
                    no_contact_days=rules.no_contact_days, waiting=waiting)


# --- the list behind a figure -------------------------------------------------------------------------

@dataclass
class TeamRow:
    case: Case
    head_name: str | None
    task: TaskRecord | None = None
    #: When the case last had contact (a completed task or a note); None: never since it was opened.
    last_contact: dt.datetime | None = None


@dataclass
class TeamList:
    kind: str
    member: User | None
    stage: str | None
    rows: Page[TeamRow]
    no_contact_days: int


def last_contacts(session: Session, case_ids: Sequence[int]) -> dict[int, dt.datetime]:
    """The latest contact of each case (a page of them): two grouped queries."""
    found: dict[int, dt.datetime] = {}
    keys = [str(i) for i in case_ids]
    for key, at in session.execute(select(TaskRecord.business_key, func.max(TaskRecord.completed_at))
                                   .where(TaskRecord.business_key.in_(keys),
                                          TaskRecord.state == TaskState.COMPLETED.value)
                                   .group_by(TaskRecord.business_key)).tuples():
        if at is not None:
            found[int(key)] = at
    for case_id, at in session.execute(select(CaseNote.case_id, func.max(CaseNote.created_at))
                                       .where(CaseNote.case_id.in_(case_ids)).group_by(CaseNote.case_id)).tuples():
        if at is not None and (case_id not in found or at > found[case_id]):
            found[case_id] = at
    return found


def team_list(session: Session, *, actor: User, kind: str, now: dt.datetime, rules: SupervisionRules,
              member_id: int | None = None, stage: str | None = None, page: int = 1,
              per_page: int | None = None) -> TeamList:
    """The cases or tasks behind one figure of the team view, paged; an unknown member or list is not found."""
    directorate = supervised_directorate(actor)
    scope = directorate.code
    members = {m.id: m for m in team_members(session, directorate_id=directorate.id)}
    if kind not in LISTS or (member_id is not None and member_id not in members):
        raise NotFoundForActor(f"{kind}:{member_id}")
    ids = [member_id] if member_id is not None else list(members)
    number, size = bounded(page, per_page)
    cutoff = now - dt.timedelta(days=rules.no_contact_days)
    if kind in ("cases", "no_contact"):
        where = _open_cases(directorate.id, ids)
        if kind == "cases" and stage:
            where.append(Case.stage == stage)
        if kind == "no_contact":
            where += _no_contact(cutoff)
        total = int(session.scalar(select(func.count()).select_from(Case).where(*where)) or 0)
        info = page_of(total, page=number, per_page=size)
        cases = list(session.scalars(select(Case).where(*where).order_by(Case.created_at, Case.id)
                                     .offset(info.offset).limit(info.per_page)))
        rows = [TeamRow(case=c, head_name=None) for c in cases]
    else:
        where = _overdue(scope, ids, now) if kind == "overdue" else _waiting_on(actor, scope)
        if kind == "waiting" and member_id is not None:
            where.append(Case.case_manager_id == member_id)
        counted = select(func.count()).select_from(TaskRecord).join(Case, Case.instance_id == TaskRecord.instance_id)
        total = int(session.scalar(counted.where(*where)) or 0)
        info = page_of(total, page=number, per_page=size)
        found = session.execute(_task_cases().where(*where).order_by(TaskRecord.due_at.asc().nulls_last(),
                                                                      TaskRecord.id)
                                .offset(info.offset).limit(info.per_page)).tuples().all()
        rows = [TeamRow(case=c, head_name=None, task=t) for t, c in found]
    names = head_names(session, {r.case.household_id for r in rows if r.case.household_id is not None})
    contacts = last_contacts(session, [r.case.id for r in rows]) if rows else {}
    for row in rows:
        row.head_name = names.get(row.case.household_id) if row.case.household_id else None
        row.last_contact = contacts.get(row.case.id)
    return TeamList(kind=kind, member=members.get(member_id) if member_id is not None else None, stage=stage,
                    rows=Page(items=rows, info=info), no_contact_days=rules.no_contact_days)
