"""Bulk reassignment of a case manager's open cases, with their open tasks, previewed before it happens.

The preview lists exactly what would move (each case, who gets it, its ready case-manager tasks); the
confirmation recomputes it, refuses when it differs from what the supervisor saw (its fingerprint), and
otherwise hands each case over through ``registry.cases.hand_over_case``, the one way every page moves a
case (case, tasks, the process data that assigns later tasks, an audit event), all in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor
from engine.models import TaskRecord, TaskState
from registry.audit import record_event
from registry.cases import hand_over_case
from registry.errors import Conflict
from registry.households import head_names
from registry.models import Case, CaseStatus, Role, User
from registry.supervision.team import supervised_directorate, team_members
from registry.transactions import unit_of_work

#: More than a case manager's whole caseload; one confirmation stays one bounded transaction.
MAX_CASES = 500


class ReassignmentChanged(Conflict):
    """The cases or their tasks changed since the preview; nothing was moved."""


@dataclass
class CaseMove:
    case: Case
    head_name: str | None
    to_user: User
    tasks: list[TaskRecord] = field(default_factory=list)


@dataclass
class ReassignmentPlan:
    from_user: User
    #: None: the cases are spread across the directorate's other case managers.
    to_user: User | None
    moves: list[CaseMove]
    recipients: list[User]

    @property
    def task_count(self) -> int:
        return sum(len(m.tasks) for m in self.moves)

    @property
    def fingerprint(self) -> str:
        """What the supervisor saw: each case, its manager and stage, who gets it, its tasks and their holders."""
        parts = [f"from:{self.from_user.id}"] + [
            f"{m.case.id}:{m.case.case_manager_id}:{m.case.stage}:{m.to_user.id}:"
            + ",".join(f"{t.id}={t.assignee_id}" for t in m.tasks) for m in self.moves]
        return hashlib.sha256(";".join(parts).encode()).hexdigest()[:32]

    def per_recipient(self) -> list[tuple[User, int, int]]:
        """(recipient, cases, tasks) for each person who gets something."""
        counts: dict[int, list[int]] = {}
        for move in self.moves:
            counts.setdefault(move.to_user.id, [0, 0])
            counts[move.to_user.id][0] += 1
            counts[move.to_user.id][1] += len(move.tasks)
        return [(u, counts[u.id][0], counts[u.id][1]) for u in self.recipients if u.id in counts]


def _active_managers(session: Session, directorate_id: int) -> list[User]:
    return list(session.scalars(select(User).where(User.role == Role.CASE_MANAGER.value, User.active,
                                                   User.directorate_id == directorate_id)
                                .order_by(User.full_name, User.id)))


def preview_reassignment(session: Session, *, actor: User, from_user_id: int, to_user_id: int | None,
                         case_ids: Sequence[int] | None = None, lock: bool = False) -> ReassignmentPlan:
    """What ``reassign_cases`` would move, changing nothing: the open cases of ``from_user_id`` (or the
    chosen ones among them) to ``to_user_id``, or spread over the other case managers, fewest open cases first.

    A case manager of another directorate is not found; a bad choice is a ``FormInvalid``.
    """
    directorate = supervised_directorate(actor)
    source = next((m for m in team_members(session, directorate_id=directorate.id) if m.id == from_user_id), None)
    if source is None:
        raise NotFoundForActor(f"case manager {from_user_id}")
    others = [m for m in _active_managers(session, directorate.id) if m.id != source.id]
    if to_user_id is None:
        recipients = others
        if not recipients:
            raise FormInvalid({"to": ["no_other_case_manager"]})
    else:
        target = next((m for m in others if m.id == to_user_id), None)
        if target is None:
            if to_user_id == source.id:
                raise FormInvalid({"to": ["same_person"]})
            raise NotFoundForActor(f"case manager {to_user_id}")
        recipients = [target]
    query = select(Case).where(Case.directorate_id == directorate.id, Case.status == CaseStatus.OPEN.value,
                               Case.case_manager_id == source.id, Case.instance_id.is_not(None))
    if case_ids is not None:
        wanted = sorted(set(case_ids))
        if not wanted:
            raise FormInvalid({"cases": ["required"]})
        query = query.where(Case.id.in_(wanted))
    query = query.order_by(Case.id).limit(MAX_CASES + 1)
    if lock:
        query = query.with_for_update(of=Case)
    cases = list(session.scalars(query.execution_options(populate_existing=True)))
    if case_ids is not None and len(cases) != len(set(case_ids)):
        raise FormInvalid({"cases": ["invalid_choice"]})
    if len(cases) > MAX_CASES:
        raise FormInvalid({"cases": ["too_many"]})
    if not cases:
        raise FormInvalid({"cases": ["none_to_move"]})
    tasks: dict[str, list[TaskRecord]] = {}
    for task in session.scalars(select(TaskRecord).where(
            TaskRecord.business_key.in_([str(c.id) for c in cases]), TaskRecord.state == TaskState.READY.value,
            TaskRecord.lane == Role.CASE_MANAGER.value).order_by(TaskRecord.created_at, TaskRecord.id)
            .execution_options(populate_existing=True)):
        tasks.setdefault(task.business_key, []).append(task)
    load = dict(session.execute(
        select(Case.case_manager_id, func.count()).where(
            Case.status == CaseStatus.OPEN.value, Case.case_manager_id.in_([r.id for r in recipients]))
        .group_by(Case.case_manager_id)).tuples().all())
    loads = {r.id: int(load.get(r.id, 0)) for r in recipients}
    names = head_names(session, {c.household_id for c in cases if c.household_id is not None})
    moves = []
    for case in cases:
        # The least loaded first; ties by the recipients' order (by name), so a preview is repeatable.
        chosen = min(recipients, key=lambda r: loads[r.id])
        loads[chosen.id] += 1
        moves.append(CaseMove(case=case, head_name=names.get(case.household_id) if case.household_id else None,
                              to_user=chosen, tasks=tasks.get(str(case.id), [])))
    return ReassignmentPlan(from_user=source, to_user=recipients[0] if to_user_id is not None else None,
                            moves=moves, recipients=recipients)




def reassign_cases(session: Session, *, actor: User, from_user_id: int, to_user_id: int | None,
                   case_ids: Sequence[int] | None, expected: str, reason: str, now: dt.datetime,
                   ) -> ReassignmentPlan:
    """Move the cases and their open tasks exactly as previewed (``expected`` is the preview's fingerprint),
    in one transaction with an audit event per case and one for the whole move; when anything changed
    since the preview, nothing moves and ``ReassignmentChanged`` asks for a new preview."""
    reason = reason.strip()
    if not reason:
        raise FormInvalid({"reason": ["required"]})
    with unit_of_work(session):
        plan = preview_reassignment(session, actor=actor, from_user_id=from_user_id, to_user_id=to_user_id,
                                    case_ids=case_ids, lock=True)
        if plan.fingerprint != expected:
            raise ReassignmentChanged("the cases changed since the preview")
        for move in plan.moves:
            hand_over_case(session, actor=actor, case=move.case, manager=move.to_user, reason=reason, now=now,
                           extra={"via": "team"})
        record_event(session, actor_id=actor.id, case_id=None, action="cases.reassigned", at=now, details={
            "from_user_id": plan.from_user.id, "to_user_id": plan.to_user.id if plan.to_user else None,
            "reason": reason, "moves": [{"case": m.case.id, "to": m.to_user.id, "tasks": [t.id for t in m.tasks]}
                                        for m in plan.moves]})
    return plan
