"""The task inbox with search, filters, sort, counts per filter, saved filters and bulk reassignment.

Every query starts from the ready tasks of the actor's directorate (and, except in a supervisor's team
view, the actor's role), so scoping is decided here once. Lists are paged; counts are grouped queries.
Priority is the household's latest deprivation score (the poverty measure's score, highest first, as the
waiting list ranks the poorest first); households not yet scored come last.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, union, update
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor
from engine.forms import normalize_national_id
from engine.models import ProcessInstance, TaskRecord, TaskState
from registry.audit import record_event
from registry.cases import hand_over_case
from registry.errors import NotPermitted, RegistryError
from registry.household_waits import HOUSEHOLD
from registry.households import head_names, latest_scores, name_conditions
from registry.models import Case, EligibilityScore, Household, Person, Role, SavedFilter, User
from registry.operations import MINISTRY_TIMEZONE
from registry.paging import PER_PAGE, Page, bounded, page_of
from registry.transactions import unit_of_work

VIEWS = ("work", "team")
#: Sort keys; a leading "-" reverses. "due": soonest first; "priority": poorest first; "age": oldest first.
SORTS = ("due", "-due", "priority", "-priority", "age", "-age")
MAX_SAVED_FILTERS = 30
#: The household filter: tasks waiting on the household, or whose household missed its deadline.
HOUSEHOLD_FILTERS = ("waiting", "missed")
#: Text that starts like a case reference ("RBH-2025-…") is searched for as one, not as a name.
REFERENCE_LIKE = re.compile(r"^[A-Za-z]{2,}-\d")


@dataclass(frozen=True)
class InboxQuery:
    """What the user asked the inbox for: a view, a search, filters, a sort and pages."""

    view: str = "work"
    text: str = ""
    task: str | None = None
    stage: str | None = None
    locality: str | None = None
    due_from: dt.date | None = None
    due_to: dt.date | None = None
    overdue: bool = False
    household: str | None = None
    sort: str = "due"
    mine_page: int = 1
    open_page: int = 1
    team_page: int = 1
    per_page: int = PER_PAGE


@dataclass
class InboxRow:
    task: TaskRecord
    case: Case
    head_name: str | None
    locality: str | None
    score: EligibilityScore | None = None


@dataclass
class Counts:
    """How many tasks each filter value would give, the other filters and the search applied."""

    total: int = 0
    overdue: int = 0
    #: Tasks waiting on the household, and tasks whose household missed its deadline.
    waiting: int = 0
    missed: int = 0
    by_stage: list[tuple[str, int]] = field(default_factory=list)
    #: (task spec id, its title in the diagram, count)
    by_task: list[tuple[str, str, int]] = field(default_factory=list)
    by_locality: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class InboxResult:
    query: InboxQuery
    #: "mine" and "open" in the work view, "team" in a supervisor's team view.
    lists: dict[str, Page[InboxRow]] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)
    #: For a supervisor: ready tasks of the whole directorate whose household missed its deadline.
    team_missed: int = 0


class TasksNotReassignable(RegistryError):
    """Nothing was reassigned: ``tasks`` names each refused task and why (not_found, completed, wrong_role),
    ``assignee`` says why the chosen person cannot take them (None when they can)."""

    def __init__(self, *, tasks: dict[str, str], assignee: str | None = None) -> None:
        super().__init__(f"tasks not reassignable: {tasks} {assignee or ''}")
        self.tasks = tasks
        self.assignee = assignee


def may_see_team(actor: User) -> bool:
    return actor.role == Role.SUPERVISOR.value and actor.scope is not None


# --- building the query ----------------------------------------------------------------------

def _day_start(day: dt.date) -> dt.datetime:
    """Midnight of a ministry day, in UTC (due dates are shown in the ministry's time zone)."""
    return dt.datetime.combine(day, dt.time(), MINISTRY_TIMEZONE).astimezone(dt.UTC)


def _search(text: str, directorate_id: int | None) -> ColumnElement[bool] | None:
    """Head's name (as people type Arabic names), head's or applicant's national ID, or case reference.

    A national ID or a reference is looked up first among the directorate's cases (from indexes: a handful
    of cases), and the tasks are then those cases' tasks, instead of testing each ready task's case.
    """
    text = text.strip()
    if not text:
        return None
    here = Case.directorate_id == directorate_id
    digits = normalize_national_id(text)
    if digits.isascii() and digits.isdigit():
        heads = select(Person.household_id).where(Person.national_id == digits, Person.active,
                                                  Person.relation == "head")
        # A case number ends its reference (RBH-2025-000123): "123" or "000123" finds it (as typed, unpadded).
        typed = digits[-len(text.replace(" ", "")):] if len(text.replace(" ", "")) < len(digits) else digits
        found = union(select(Case.id).where(here, Case.applicant_national_id == digits),
                      select(Case.id).where(here, Case.household_id.in_(heads)),
                      select(Case.id).where(here, Case.reference.endswith(typed, autoescape=True)))
        return Case.id.in_(found)
    # References are written in capitals (registry.cases): the typed text is, so the prefix reads an index.
    by_reference = select(Case.id).where(here, Case.reference.startswith(text.upper(), autoescape=True))
    words = name_conditions(text)
    if not words or REFERENCE_LIKE.match(text):
        return Case.id.in_(by_reference)
    # The heads whose name matches come first (from the names' trigram index: a few rows), then their cases
    # here, instead of testing the head of each of the directorate's ready tasks.
    heads = select(Person.household_id).where(Person.active, Person.relation == "head", *words)
    return Case.id.in_(union(by_reference, select(Case.id).where(here, Case.household_id.in_(heads))))


def _shown_due() -> Any:
    """The date that counts for a task: the household's while it waits on the household, else the staff's."""
    return case((TaskRecord.waiting_on.is_(None), TaskRecord.due_at), else_=TaskRecord.household_due_at)


def _late(now: dt.datetime) -> ColumnElement[bool]:
    """Past the staff due date; time waiting on the household does not count."""
    return and_(TaskRecord.waiting_on.is_(None), TaskRecord.due_at < now)


def overdue_condition(now: dt.datetime) -> ColumnElement[bool]:
    """What "overdue" means everywhere (inbox, team view): ``TaskRecord.is_overdue`` as a query condition."""
    return and_(TaskRecord.state == TaskState.READY.value, _late(now))


def _filters(query: InboxQuery, now: dt.datetime, actor: User) -> dict[str, ColumnElement[bool]]:
    """The query's conditions by filter name, so each count can leave its own filter out."""
    conditions: dict[str, ColumnElement[bool]] = {}
    searched = _search(query.text, actor.directorate_id)
    if searched is not None:
        conditions["text"] = searched
    if query.task:
        conditions["task"] = TaskRecord.spec_id == query.task
    if query.stage:
        conditions["stage"] = TaskRecord.stage == query.stage
    if query.locality:
        conditions["locality"] = Household.locality == query.locality
    due: list[ColumnElement[bool]] = []
    if query.due_from:
        due.append(_shown_due() >= _day_start(query.due_from))
    if query.due_to:
        due.append(_shown_due() < _day_start(query.due_to + dt.timedelta(days=1)))
    if due:
        conditions["due"] = and_(*due)
    if query.overdue:
        conditions["overdue"] = _late(now)
    if query.household == "waiting":
        conditions["household"] = TaskRecord.waiting_on == HOUSEHOLD
    elif query.household == "missed":
        conditions["household"] = TaskRecord.household_missed_at.is_not(None)
    return conditions


def _scope(actor: User, view: str) -> list[ColumnElement[bool]]:
    """Ready tasks of the actor's directorate, and of the actor's role unless a supervisor looks at the team."""
    base = [TaskRecord.state == TaskState.READY.value, TaskRecord.scope == actor.scope]
    if view != "team":
        base.append(TaskRecord.lane == actor.role)
    return base


def _assigned(actor: User, which: str) -> list[ColumnElement[bool]]:
    if which == "mine":
        return [TaskRecord.assignee_id == actor.id]
    if which == "open":
        return [TaskRecord.assignee_id.is_(None)]
    if which == "work":
        return [or_(TaskRecord.assignee_id == actor.id, TaskRecord.assignee_id.is_(None))]
    return []


def _joined(columns: Sequence[Any], actor: User) -> Select[Any]:
    """Tasks with their case and household. A case's tasks are scoped by the case's directorate, so naming it
    again on the case changes no answer: it lets the database join the directorate's cases from an index
    (ix_cases_directorate_instance) by hashing instead of probing cases once per ready task."""
    return (select(*columns).select_from(TaskRecord)
            .join(Case, and_(Case.instance_id == TaskRecord.instance_id, Case.directorate_id == actor.directorate_id))
            .outerjoin(Household, Household.id == Case.household_id))


def _latest_score() -> Any:
    """The household's latest score, read from an index that holds it (ix_eligibility_scores_household_score),
    so a sort by priority over thousands of tasks costs one index probe per task."""
    return (select(EligibilityScore.score).where(EligibilityScore.household_id == Case.household_id)
            .order_by(EligibilityScore.id.desc()).limit(1).correlate(Case).scalar_subquery())


def _sorted(statement: Select[Any], sort: str) -> Select[Any]:
    key = sort.lstrip("-")
    reverse = sort.startswith("-")
    if key == "priority":
        score = _latest_score()
        first = score.asc().nulls_last() if reverse else score.desc().nulls_last()
        return statement.order_by(first, _shown_due().asc().nulls_last(), TaskRecord.id)
    return statement.order_by(*_order(sort))


def _order(sort: str) -> list[Any]:
    key = sort.lstrip("-")
    reverse = sort.startswith("-")
    due = _shown_due().desc().nulls_last() if reverse and key == "due" else _shown_due().asc().nulls_last()
    if key == "age":
        return [TaskRecord.created_at.desc() if reverse else TaskRecord.created_at.asc(), TaskRecord.id]
    return [due, TaskRecord.created_at, TaskRecord.id]


def _page(session: Session, actor: User, where: list[ColumnElement[bool]], *, total: int, sort: str, page: int,
          per_page: int) -> Page[InboxRow]:
    """One page of the tasks ``where`` selects (``total`` of them, counted by ``_counts``)."""
    info = page_of(total, page=page, per_page=per_page)
    # Sort narrow rows (ids, mostly from indexes), then load the page's rows: a sort over thousands of
    # tasks never carries their whole rows.
    ids = list(session.scalars(_sorted(_joined([TaskRecord.id], actor).where(*where), sort)
                               .offset(info.offset).limit(info.per_page)))
    position = {task_id: n for n, task_id in enumerate(ids)}
    rows = sorted(session.execute(_joined([TaskRecord, Case, Household.locality], actor).where(TaskRecord.id.in_(ids)))
                  .tuples().all(), key=lambda row: position[row[0].id]) if ids else []
    household_ids = {c.household_id for _t, c, _l in rows if c.household_id is not None}
    names = head_names(session, household_ids)
    scores = latest_scores(session, list(household_ids), summary=True) if household_ids else {}
    items = [InboxRow(task=t, case=c, locality=loc,
                      head_name=names.get(c.household_id) if c.household_id else None,
                      score=scores.get(c.household_id) if c.household_id else None) for t, c, loc in rows]
    return Page(items=items, info=info)


@dataclass(frozen=True)
class _Group:
    """Tasks that share a stage, a task, a locality, being overdue or not, and whose they are."""

    stage: str | None
    task: str
    title: str
    locality: str | None
    overdue: bool
    holder: str  # "mine", "open" or "other"
    count: int
    waiting: bool = False
    missed: bool = False


FACETS = ("task", "stage", "locality", "overdue", "household")


def _groups(session: Session, *, actor: User, query: InboxQuery, conditions: dict[str, ColumnElement[bool]],
            now: dt.datetime) -> list[_Group]:
    """One grouped query over the view's tasks with the search and due range applied: every count of the
    page (totals, overdue, per stage, task and locality) is a sum of its rows."""
    holder = case((TaskRecord.assignee_id == actor.id, "mine"), (TaskRecord.assignee_id.is_(None), "open"),
                  else_="other")
    inner = (_joined([TaskRecord.stage.label("stage"), TaskRecord.spec_id.label("task"),
                      TaskRecord.title.label("title"), Household.locality.label("locality"),
                      case((_late(now), 1), else_=0).label("overdue"), holder.label("holder"),
                      case((TaskRecord.waiting_on == HOUSEHOLD, 1), else_=0).label("waiting"),
                      case((TaskRecord.household_missed_at.is_not(None), 1), else_=0).label("missed")], actor)
             .where(*_scope(actor, query.view), *[c for key, c in conditions.items() if key not in FACETS])
             .subquery())
    rows = session.execute(
        select(inner.c.stage, inner.c.task, func.max(inner.c.title), inner.c.locality, inner.c.overdue,
               inner.c.holder, inner.c.waiting, inner.c.missed, func.count())
        .group_by(inner.c.stage, inner.c.task, inner.c.locality, inner.c.overdue, inner.c.holder, inner.c.waiting,
                  inner.c.missed)).tuples()
    return [_Group(stage=st, task=str(task), title=str(title), locality=loc, overdue=bool(late), holder=str(who),
                   count=int(n), waiting=bool(waiting), missed=bool(missed))
            for st, task, title, loc, late, who, waiting, missed, n in rows]


def _keeps(group: _Group, query: InboxQuery, *, but: str | None = None) -> bool:
    """Whether the query's facet filters (all but ``but``) keep a group's tasks."""
    checks = {"task": not query.task or group.task == query.task,
              "stage": not query.stage or group.stage == query.stage,
              "locality": not query.locality or group.locality == query.locality,
              "overdue": not query.overdue or group.overdue,
              "household": (not query.household or (group.waiting if query.household == "waiting" else group.missed))}
    return all(ok for name, ok in checks.items() if name != but)


def _counts(groups: list[_Group], query: InboxQuery) -> Counts:
    """Each facet's numbers apply every filter but its own, so they say what choosing a value would give."""
    def tally(but: str | None, key: Any) -> dict[Any, int]:
        found: dict[Any, int] = {}
        for group in groups:
            if _keeps(group, query, but=but) and key(group) is not None:
                found[key(group)] = found.get(key(group), 0) + group.count
        return found

    titles = {g.task: g.title for g in groups}
    everything = tally(None, lambda g: True)
    return Counts(
        total=everything.get(True, 0),
        overdue=tally("overdue", lambda g: True if g.overdue else None).get(True, 0),
        waiting=tally("household", lambda g: True if g.waiting else None).get(True, 0),
        missed=tally("household", lambda g: True if g.missed else None).get(True, 0),
        by_stage=sorted(tally("stage", lambda g: g.stage).items()),
        by_task=[(spec, titles[spec], n) for spec, n in sorted(tally("task", lambda g: g.task).items())],
        by_locality=sorted(tally("locality", lambda g: g.locality).items()))


def search_inbox(session: Session, *, actor: User, query: InboxQuery, now: dt.datetime) -> InboxResult:
    """The actor's inbox as asked: in the work view a page of the actor's own tasks and one of the open tasks
    of their role; in a supervisor's team view a page of every ready task of the directorate."""
    if actor.scope is None:  # staff of no directorate (analysts, administrators) hold no tasks
        return InboxResult(query=replace(query, view="work"), lists={"mine": Page(), "open": Page()})
    if query.view == "team" and not may_see_team(actor):
        query = replace(query, view="work")
    _page_number, per_page = bounded(1, query.per_page)
    conditions = _filters(query, now, actor)
    groups = _groups(session, actor=actor, query=query, conditions=conditions, now=now)
    holders = ("mine", "open", "other") if query.view == "team" else ("mine", "open")
    groups = [g for g in groups if g.holder in holders]
    result = InboxResult(query=query, counts=_counts(groups, query))
    if may_see_team(actor):
        result.team_missed = int(session.scalar(select(func.count()).select_from(TaskRecord).where(
            *_scope(actor, "team"), TaskRecord.household_missed_at.is_not(None))) or 0)
    where = _scope(actor, query.view) + list(conditions.values())
    lists = {"team": query.team_page} if query.view == "team" else {"mine": query.mine_page, "open": query.open_page}
    for name, page in lists.items():
        total = sum(g.count for g in groups if _keeps(g, query) and (name == "team" or g.holder == name))
        result.lists[name] = _page(session, actor, where + _assigned(actor, name), total=total, sort=query.sort,
                                   page=page, per_page=per_page)
    return result


def task_page(session: Session, *, actor: User, query: InboxQuery, now: dt.datetime,
              page: int = 1) -> Page[InboxRow]:
    """One list of the actor's tasks and the open tasks of their role (the API's inbox), filtered and sorted."""
    if actor.scope is None:
        return Page(info=page_of(0, page=page, per_page=query.per_page))
    where = _scope(actor, "work") + _assigned(actor, "work") + list(_filters(query, now, actor).values())
    _number, per_page = bounded(page, query.per_page)
    total = int(session.scalar(_joined([func.count()], actor).where(*where)) or 0)
    return _page(session, actor, where, total=total, sort=query.sort, page=page, per_page=per_page)


# --- saved filters ---------------------------------------------------------------------------



def saved_filters(session: Session, *, actor: User) -> list[SavedFilter]:
    """The actor's own saved filters, by name; nobody sees another user's."""
    return list(session.scalars(select(SavedFilter).where(SavedFilter.user_id == actor.id)
                                .order_by(SavedFilter.name)))


def save_filter(session: Session, *, actor: User, name: str, query: str, now: dt.datetime) -> SavedFilter:
    """Keep a named inbox query for the actor; the same name again replaces the query."""
    name = " ".join(name.split())[:80]
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["required"]
    if len(query) > 1000:
        errors["query"] = ["too_long"]
    if errors:
        raise FormInvalid(errors)
    with unit_of_work(session):
        kept = session.scalar(select(SavedFilter).where(SavedFilter.user_id == actor.id, SavedFilter.name == name))
        if kept is None:
            if len(saved_filters(session, actor=actor)) >= MAX_SAVED_FILTERS:
                raise NotPermitted("too many saved filters")
            kept = SavedFilter(user_id=actor.id, name=name, query=query, created_at=now)
            session.add(kept)
        else:
            kept.query = query
        session.flush()
    return kept


def delete_filter(session: Session, *, actor: User, filter_id: int) -> None:
    """Forget one of the actor's saved filters; another user's is not found."""
    with unit_of_work(session):
        kept = session.get(SavedFilter, filter_id)
        if kept is None or kept.user_id != actor.id:
            raise NotFoundForActor(str(filter_id))
        session.delete(kept)


# --- bulk reassignment -----------------------------------------------------------------------

def assignable_staff(session: Session, *, actor: User) -> list[User]:
    """Active staff of the actor's directorate who can hold tasks (reception, supervisors, case managers)."""
    if not may_see_team(actor) or actor.directorate_id is None:
        return []
    roles = (Role.RECEPTION.value, Role.SUPERVISOR.value, Role.CASE_MANAGER.value)
    return list(session.scalars(select(User).where(User.directorate_id == actor.directorate_id, User.active,
                                                   User.role.in_(roles)).order_by(User.role, User.full_name)))


def reassign_tasks(session: Session, *, actor: User, task_ids: Sequence[str], assignee_id: int,
                   now: dt.datetime) -> list[TaskRecord]:
    """A supervisor gives several ready tasks of the directorate to one person of each task's role.

    All or nothing: a task of another directorate (or unknown), completed meanwhile, or of a role the
    person does not have refuses the whole request. One audit event per task.
    """
    if not may_see_team(actor):
        raise NotPermitted("only supervisors reassign tasks")
    ids = sorted(set(task_ids))
    if not ids:
        raise TasksNotReassignable(tasks={})
    with unit_of_work(session):
        assignee = session.get(User, assignee_id)
        # Lock the tasks and their instances in a fixed order, as a completion does, so a completion
        # running now either finishes first (and the task is refused) or waits for this.
        rows = session.execute(
            select(TaskRecord, ProcessInstance).join(ProcessInstance, ProcessInstance.id == TaskRecord.instance_id)
            .where(TaskRecord.id.in_(ids)).order_by(TaskRecord.instance_id, TaskRecord.id)
            .with_for_update(of=(TaskRecord, ProcessInstance)).execution_options(populate_existing=True)
        ).tuples().all()
        found = {t.id: t for t, _i in rows}
        refused: dict[str, str] = {}
        for task_id in ids:
            task = found.get(task_id)
            if task is None or task.scope != actor.scope:
                refused[task_id] = "not_found"
            elif task.state != TaskState.READY.value:
                refused[task_id] = "completed"
            elif assignee is not None and assignee.role != task.lane:
                refused[task_id] = "wrong_role"
        bad_assignee = None
        if assignee is None or not assignee.active or assignee.directorate_id != actor.directorate_id:
            bad_assignee = "invalid_choice"
        if refused or bad_assignee:
            raise TasksNotReassignable(tasks=refused, assignee=bad_assignee)
        assert assignee is not None
        # Conditional on still being ready: without row locks (SQLite) a completion in between is still caught.
        changed = session.execute(
            update(TaskRecord).where(TaskRecord.id.in_(ids), TaskRecord.state == TaskState.READY.value)
            .values(assignee_id=assignee.id, claimed_at=now).execution_options(synchronize_session=False))
        if changed.rowcount != len(ids):  # type: ignore[attr-defined]
            raise TasksNotReassignable(tasks={i: "completed" for i in ids})
        tasks = [found[i] for i in ids]
        for task in tasks:
            before = task.assignee_id
            record_event(session, actor_id=actor.id, case_id=int(task.business_key), action="task_reassigned",
                         at=now, details={"task": task.spec_id, "title": task.title, "form": task.form_key,
                                          "before": before, "after": assignee.id, "assignee": assignee.full_name,
                                          "assignee_ar": assignee.display_name("ar")})
        _cases_follow(session, actor=actor, tasks=tasks, assignee=assignee, now=now)
        for task in tasks:
            session.refresh(task)
    return tasks


def _cases_follow(session: Session, *, actor: User, tasks: Sequence[TaskRecord], assignee: User,
                  now: dt.datetime) -> None:
    """A case-manager task given to another case manager takes its case along (the case's manager, its other
    case-manager tasks and the process data that assigns its later tasks), as the case page and the team's
    bulk reassignment do; otherwise the case's next task would go back to its former manager."""
    if assignee.role != Role.CASE_MANAGER.value:
        return
    case_ids = sorted({int(t.business_key) for t in tasks if t.lane == Role.CASE_MANAGER.value})
    for held in session.scalars(select(Case).where(Case.id.in_(case_ids)).order_by(Case.id)):
        if held.is_open and held.case_manager_id is not None and held.case_manager_id != assignee.id:
            hand_over_case(session, actor=actor, case=held, manager=assignee, now=now, reason="",
                           extra={"via": "inbox"})
