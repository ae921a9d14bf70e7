"""Moving running cases to a newer deployed version of their process: a dry run, then the move, audited per case.

Chosen cases move all together or not at all: if one of them cannot move, none does, and the answer
says which and why. All cases of a version: those that can move do, the others are listed with the
reason. Either way each move is one ``case_migrated`` event in the case's history, committed with the
new state and task rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import migration
from engine.errors import FormInvalid
from engine.library import Library
from engine.migration import Blocked, InstancePlan, WaitingTask
from engine.models import ProcessVersion, TaskRecord, TaskState
from registry.audit import record_event
from registry.cases import CASE_PROCESS, _unit_of_work
from registry.errors import NotPermitted, RegistryError
from registry.models import Case, Role, User

MIGRATORS = frozenset({Role.ANALYST.value})  # as registry.process_catalogue.EDITORS


@dataclass
class CaseMove:
    """One case in a migration: whether it can move (or moved), why not, and the tasks it waits at."""

    case_id: int | None
    reference: str | None
    plan: InstancePlan
    moved: bool = False

    @property
    def movable(self) -> bool:
        return self.plan.movable

    @property
    def reason(self) -> Blocked | None:
        return self.plan.blocked

    @property
    def elements(self) -> list[str]:
        return self.plan.elements

    @property
    def waiting_before(self) -> list[WaitingTask]:
        return self.plan.waiting_before

    @property
    def waiting_after(self) -> list[WaitingTask]:
        return self.plan.waiting_after


@dataclass
class MigrationReport:
    process_id: str
    to_version: int
    from_version: int | None
    cases: list[CaseMove] = field(default_factory=list)
    #: False for a dry run.
    applied: bool = False

    @property
    def movable(self) -> list[CaseMove]:
        return [c for c in self.cases if c.movable]

    @property
    def cannot_move(self) -> list[CaseMove]:
        return [c for c in self.cases if not c.movable]

    @property
    def moved(self) -> list[CaseMove]:
        return [c for c in self.cases if c.moved]


class CasesCannotMove(RegistryError):
    """Some of the chosen cases cannot move to the version; none moved. ``report`` says which and why."""

    def __init__(self, report: MigrationReport) -> None:
        super().__init__(", ".join(f"{c.reference or c.case_id}: {c.reason}" for c in report.cannot_move))
        self.report = report


def user_named(session: Session, username: str) -> User | None:
    """The staff user a command acts as (the command line has no login)."""
    return session.scalar(select(User).where(User.username == username, User.active))


def _may_migrate(actor: User) -> None:
    if actor.role not in MIGRATORS:
        raise NotPermitted("only process analysts move cases to another version")


def _version(session: Session, process_id: str, number: int, field_name: str) -> ProcessVersion:
    version = session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id,
                                                          ProcessVersion.version == number))
    if version is None:
        raise FormInvalid({field_name: ["unknown_version"]})
    return version


@dataclass
class _Selection:
    target: ProcessVersion
    source: ProcessVersion | None
    #: (case id as asked, the case if found, its instance id if any), in the order asked.
    chosen: list[tuple[int | None, Case | None, int | None]]


def _select(session: Session, *, process_id: str, to_version: int, case_ids: Sequence[int] | None,
            from_version: int | None) -> _Selection:
    if (case_ids is None) == (from_version is None):
        raise FormInvalid({"cases": ["cases_or_version"]})
    target = _version(session, process_id, to_version, "to_version")
    if from_version is not None:
        source = _version(session, process_id, from_version, "from_version")
        if source.version >= target.version:
            raise FormInvalid({"to_version": ["not_newer"]})
        instance_ids = migration.running_instances(session, source)
        by_instance = {c.instance_id: c
                       for c in session.scalars(select(Case).where(Case.instance_id.in_(instance_ids)))}
        chosen: list[tuple[int | None, Case | None, int | None]] = [
            (by_instance[i].id if i in by_instance else None, by_instance.get(i), i) for i in instance_ids]
        return _Selection(target=target, source=source, chosen=chosen)
    assert case_ids is not None
    if not case_ids:
        raise FormInvalid({"cases": ["required"]})
    found = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(list(case_ids))))}
    chosen = [(case_id, found.get(case_id), found[case_id].instance_id if case_id in found else None)
              for case_id in dict.fromkeys(case_ids)]
    return _Selection(target=target, source=None, chosen=chosen)


def _report(selection: _Selection, plan: migration.MigrationPlan, process_id: str) -> MigrationReport:
    plans = {p.instance_id: p for p in plan.instances}
    moves = []
    for case_id, case, instance_id in selection.chosen:
        instance_plan = plans.get(instance_id) if instance_id is not None else None
        if instance_plan is None:  # a case id that names no case (or a case without a process)
            instance_plan = InstancePlan(instance_id=instance_id or 0, business_key=str(case_id), from_version=None,
                                         to_version=selection.target.version, blocked=Blocked.NOT_FOUND)
        moves.append(CaseMove(case_id=case.id if case else case_id, reference=case.reference if case else None,
                              plan=instance_plan))
    return MigrationReport(process_id=process_id, to_version=selection.target.version,
                           from_version=selection.source.version if selection.source else None,
                           cases=sorted(moves, key=lambda m: (m.case_id or 0)))


def _instance_ids(selection: _Selection) -> list[int]:
    return [i for _c, _case, i in selection.chosen if i is not None]


def plan_migration(session: Session, *, actor: User, to_version: int, case_ids: Sequence[int] | None = None,
                   from_version: int | None = None, process_id: str = CASE_PROCESS) -> MigrationReport:
    """A dry run: which cases (the chosen ones, or every running case of ``from_version``) can move to
    ``to_version``, why the others cannot, and what each waits at before and after. Changes nothing."""
    _may_migrate(actor)
    selection = _select(session, process_id=process_id, to_version=to_version, case_ids=case_ids,
                        from_version=from_version)
    plan = migration.plan_migration(session, target=selection.target, instance_ids=_instance_ids(selection))
    return _report(selection, plan, process_id)


def migrate_cases(session: Session, *, actor: User, to_version: int, now: dt.datetime,
                  case_ids: Sequence[int] | None = None, from_version: int | None = None,
                  library: Library | None = None, process_id: str = CASE_PROCESS) -> MigrationReport:
    """Move the chosen cases (all or none: CasesCannotMove), or every case of ``from_version`` that can move.

    One unit of work: the cases' state, task rows, stages and ``case_migrated`` events commit together.
    ``library`` gives the organisation's time zone for due dates given as days.
    """
    _may_migrate(actor)
    with _unit_of_work(session):
        selection = _select(session, process_id=process_id, to_version=to_version, case_ids=case_ids,
                            from_version=from_version)
        planned = migration.plan_migration(session, target=selection.target, instance_ids=_instance_ids(selection))
        report = _report(selection, planned, process_id)
        if case_ids is not None and report.cannot_move:
            raise CasesCannotMove(report)
        movable = [p.instance_id for p in planned.movable]
        if not movable:
            return report
        try:
            applied = migration.migrate_instances(session, target=selection.target, instance_ids=movable, now=now,
                                                  timezone=library.timezone if library is not None else "UTC")
        except migration.MigrationRefused as refused:  # a case changed between the plan and the lock
            raise CasesCannotMove(_report(selection, refused.plan, process_id)) from None
        # The plans made under the lock, for the cases that moved; the dry run's for the others.
        now_planned = {p.instance_id: p for p in applied.instances}
        planned.instances = [now_planned.get(p.instance_id, p) for p in planned.instances]
        report = _report(selection, planned, process_id)
        report.applied = True
        cases = {c.id: c for _i, c, _n in selection.chosen if c is not None}
        for move in report.cases:
            if move.plan.instance_id in now_planned and move.case_id in cases:
                move.moved = True
                _after_move(session, cases[move.case_id], move, actor, now, process_id)
    return report


def _waiting(tasks: list[WaitingTask]) -> list[dict[str, Any]]:
    return [{"task": t.spec_id, "title": t.title, "lane": t.lane} for t in tasks]


def _after_move(session: Session, case: Case, move: CaseMove, actor: User, now: dt.datetime, process_id: str) -> None:
    """The case's stage follows its waiting task on the new version; the move goes into its history."""
    stage = session.scalars(select(TaskRecord.stage).where(
        TaskRecord.business_key == str(case.id), TaskRecord.state == TaskState.READY.value,
        TaskRecord.stage.is_not(None)).order_by(TaskRecord.created_at, TaskRecord.id)).first()
    if stage:
        case.stage = stage
    record_event(session, actor_id=actor.id, case_id=case.id, action="case_migrated", at=now, details={
        "process": process_id, "from_version": move.plan.from_version, "to_version": move.plan.to_version,
        "waiting_before": _waiting(move.waiting_before), "waiting_after": _waiting(move.waiting_after),
        "changes": move.plan.changes})
