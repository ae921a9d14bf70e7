"""Campaign and visit services; each public function that changes data is one unit of work.

A campaign creates one visit per household in its scope, bulk-inserted. A visit's process instance
(processes/update_visit.bpmn, business key ``visit:<id>``, task scope ``visits:<directorate>``) is not
started with the campaign (136,000 instances would take long and most would wait weeks): it starts when
the visit is completed (``start_visit``, idempotent, also callable when a visit is opened), and the case
manager's submission then completes its tasks in the same transaction.

Supervisors see their directorate's part of a campaign; administrators (the ministry) see all of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case as when
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from engine import runtime
from engine.deployments import latest_version
from engine.errors import FormInvalid, NotDeployed, NotFoundForActor
from engine.forms import FormDef
from engine.library import Library
from engine.models import ProcessInstance, TaskRecord, TaskState
from registry.audit import record_event
from registry.campaigns.household_data import household_form_data
from registry.campaigns.models import Campaign, CampaignDirectorate, CampaignScope, CampaignStatus, Visit, VisitOutcome
from registry.campaigns.operations import visit_key
from registry.errors import NotPermitted
from registry.households import waiting_household_ids
from registry.models import Directorate, Household, Role, User
from registry.transactions import unit_of_work

VISIT_PROCESS = "update_visit"
VISIT_TASK = "visit_household"
UPDATE_TASK = "update_household_data"
SPOT_CHECK_TASK = "spot_check_visit"
MAX_NAME = 150
BATCH = 5000
#: Households that are beneficiaries: their programme standing (registry.models.Household.programme_status).
ACTIVE_PROGRAMME = "active"
Progress = Callable[[int], None]


def visit_scope(directorate_code: str) -> str:
    """The task scope of a directorate's visits (the case inbox lists only its own scope's tasks)."""
    return f"visits:{directorate_code}"


class VisitConflict(Exception):
    """The visit or its household changed since the version the submission started from; nothing was changed.

    ``differences``: one entry per change, ``{"kind": ..., ...}`` with kind ``already_completed``,
    ``reassigned``, ``household_changed``, ``process_migrated`` or ``visit_changed``.
    """

    def __init__(self, visit_id: int, current_version: int, differences: list[dict[str, Any]]) -> None:
        super().__init__(f"visit {visit_id} changed: {[d['kind'] for d in differences]}")
        self.visit_id = visit_id
        self.current_version = current_version
        self.differences = differences


@dataclass
class VisitResult:
    visit: Visit
    outcome: str
    category_before: str | None = None
    category_after: str | None = None
    spot_check: bool = False
    next_visit_id: int | None = None


def _unit_of_work(session: Session) -> AbstractContextManager[None]:
    return unit_of_work(session, changed="the visit")


# --- who sees what -----------------------------------------------------------------------------

def ministry_wide(actor: User) -> bool:
    return actor.role == Role.ADMIN.value


def may_manage_campaigns(actor: User) -> bool:
    """Supervisors (their directorate) and administrators (the ministry) create and follow campaigns."""
    return ministry_wide(actor) or (actor.role == Role.SUPERVISOR.value and actor.directorate_id is not None)


def _require_manager(actor: User) -> None:
    if not may_manage_campaigns(actor):
        raise NotPermitted("campaigns are run by supervisors and administrators")


def may_see_visit(actor: User, visit: Visit) -> bool:
    if ministry_wide(actor):
        return True
    # The directorate's supervisors and case managers (a visit given to a colleague may come back to them
    # on reassignment; a submission for it is then a conflict, not a missing page).
    return (actor.active and actor.directorate_id == visit.directorate_id
            and actor.role in (Role.SUPERVISOR.value, Role.CASE_MANAGER.value))


def may_do_visit(actor: User, visit: Visit) -> bool:
    return (actor.role == Role.CASE_MANAGER.value and actor.active and actor.directorate_id == visit.directorate_id
            and visit.case_manager_id in (None, actor.id))


# --- campaigns ---------------------------------------------------------------------------------

def _households_in_scope(session: Session, directorate_ids: Sequence[int],
                         include: Sequence[str]) -> list[tuple[int, int, str]]:
    """(household id, directorate id, locality) of every household the campaign visits, by id."""
    wanted: set[int] = set()
    if CampaignScope.WAITING_LIST.value in include:
        for directorate_id in directorate_ids:
            wanted |= waiting_household_ids(session, directorate_id)
    query = select(Household.id, Household.directorate_id, Household.locality).where(
        Household.directorate_id.in_(list(directorate_ids)))
    rows = []
    beneficiaries = CampaignScope.BENEFICIARIES.value in include
    for household_id, directorate_id, locality, status in session.execute(
            query.add_columns(Household.programme_status).order_by(Household.id)).tuples():
        if household_id in wanted or (beneficiaries and status == ACTIVE_PROGRAMME):
            rows.append((household_id, directorate_id, locality))
    return rows


def _campaign_errors(name: str, directorates: list[Directorate], codes: Sequence[str], starts_on: dt.date | None,
                     ends_on: dt.date | None, include: Sequence[str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["required"]
    elif len(name) > MAX_NAME:
        errors["name"] = ["too_long"]
    if not codes:
        errors["directorates"] = ["required"]
    elif len(directorates) != len(set(codes)):
        errors["directorates"] = ["invalid_choice"]
    if starts_on is None:
        errors["starts_on"] = ["required"]
    if ends_on is None:
        errors["ends_on"] = ["required"]
    elif starts_on is not None and ends_on < starts_on:
        errors["ends_on"] = ["ends_before_start"]
    if not include:
        errors["include"] = ["required"]
    elif not set(include) <= set(CampaignScope):
        errors["include"] = ["invalid_choice"]
    return errors


def create_campaign(session: Session, *, actor: User, name: str, directorate_codes: Sequence[str],
                    starts_on: dt.date | None, ends_on: dt.date | None, include: Sequence[str], now: dt.datetime,
                    progress: Progress | None = None) -> Campaign:
    """Create a campaign and one visit per household in its scope (beneficiaries: households whose programme
    status is active; the waiting list: as the registry defines it) of the chosen directorates.

    A supervisor may only choose their own directorate. Visits are inserted in batches within one
    transaction (nothing half-created); ``progress`` gets the number of visits inserted so far.
    Raises FormInvalid (nothing stored) or NotPermitted.
    """
    _require_manager(actor)
    name = (name or "").strip()
    codes = sorted({str(code).strip()[:16] for code in directorate_codes if str(code).strip()})
    include = sorted({str(value) for value in include})
    directorates = list(session.scalars(select(Directorate).where(Directorate.code.in_(codes))
                                        .order_by(Directorate.code))) if codes else []
    errors = _campaign_errors(name, directorates, codes, starts_on, ends_on, include)
    if not ministry_wide(actor) and any(d.id != actor.directorate_id for d in directorates):
        errors.setdefault("directorates", []).append("not_your_directorate")
    if errors:
        raise FormInvalid(errors)
    assert starts_on is not None and ends_on is not None
    with _unit_of_work(session):
        campaign = Campaign(name=name, starts_on=starts_on, ends_on=ends_on, status=CampaignStatus.ACTIVE.value,
                            include=include, created_by_id=actor.id, created_at=now)
        session.add(campaign)
        session.flush()
        session.execute(insert(CampaignDirectorate), [
            {"campaign_id": campaign.id, "directorate_id": d.id} for d in directorates])
        households = _households_in_scope(session, [d.id for d in directorates], include)
        done = 0
        for start in range(0, len(households), BATCH):
            chunk = households[start:start + BATCH]
            session.execute(insert(Visit), [
                {"campaign_id": campaign.id, "household_id": household_id, "directorate_id": directorate_id,
                 "locality": locality, "attempt": 1, "updated_at": now, "lock_version": 1}
                for household_id, directorate_id, locality in chunk])
            done += len(chunk)
            if progress is not None:
                progress(done)
        record_event(session, actor_id=actor.id, case_id=None, action="campaign_created", at=now,
                     details={"campaign_id": campaign.id, "name": name, "directorates": codes, "include": include,
                              "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(),
                              "visits": len(households)})
    return campaign


@dataclass
class Counts:
    """A campaign's visits: households in scope, and where their visits stand."""

    households: int = 0
    visits: int = 0
    open: int = 0
    updated: int = 0
    not_found: int = 0
    refused: int = 0
    category_changed: int = 0


@dataclass
class CampaignRow:
    campaign: Campaign
    counts: Counts


@dataclass
class CampaignView:
    campaign: Campaign
    counts: Counts
    by_directorate: list[tuple[Directorate, Counts]] = field(default_factory=list)


def _visible_directorates(actor: User, campaign: Campaign) -> list[Directorate]:
    if ministry_wide(actor):
        return list(campaign.directorates)
    return [d for d in campaign.directorates if d.id == actor.directorate_id]


def _counts(session: Session, campaign_ids: list[int], directorate_id: int | None) -> dict[tuple[int, int], Counts]:
    """Counts per (campaign, directorate)."""
    if not campaign_ids:
        return {}
    query = select(
        Visit.campaign_id, Visit.directorate_id,
        func.count(func.distinct(Visit.household_id)), func.count(Visit.id),
        func.sum(when((Visit.outcome.is_(None), 1), else_=0)),
        func.sum(when((Visit.outcome == VisitOutcome.UPDATED.value, 1), else_=0)),
        func.sum(when((Visit.outcome == VisitOutcome.NOT_FOUND.value, 1), else_=0)),
        func.sum(when((Visit.outcome == VisitOutcome.REFUSED.value, 1), else_=0)),
        func.sum(when((Visit.category_before != Visit.category_after, 1), else_=0)),
    ).where(Visit.campaign_id.in_(campaign_ids)).group_by(Visit.campaign_id, Visit.directorate_id)
    if directorate_id is not None:
        query = query.where(Visit.directorate_id == directorate_id)
    return {(c, d): Counts(*(int(v or 0) for v in values)) for c, d, *values in session.execute(query).tuples()}


def _total(parts: list[Counts]) -> Counts:
    total = Counts()
    for part in parts:
        for name in vars(total):
            setattr(total, name, getattr(total, name) + getattr(part, name))
    return total


def campaign_list(session: Session, *, actor: User) -> list[CampaignRow]:
    """The campaigns the actor follows, newest first, with the counts of their part."""
    _require_manager(actor)
    query = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc()).limit(200)
    if not ministry_wide(actor):
        query = query.join(CampaignDirectorate, CampaignDirectorate.campaign_id == Campaign.id).where(
            CampaignDirectorate.directorate_id == actor.directorate_id)
    campaigns = list(session.scalars(query))
    counts = _counts(session, [c.id for c in campaigns], None if ministry_wide(actor) else actor.directorate_id)
    return [CampaignRow(campaign=c, counts=_total([v for (cid, _d), v in counts.items() if cid == c.id]))
            for c in campaigns]


def _campaign_for(session: Session, actor: User, campaign_id: int) -> Campaign:
    _require_manager(actor)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or not _visible_directorates(actor, campaign):
        raise NotFoundForActor("campaign")
    return campaign


def campaign_view(session: Session, *, actor: User, campaign_id: int) -> CampaignView:
    """A campaign with its counts per directorate the actor may see (another directorate's campaign: 404)."""
    campaign = _campaign_for(session, actor, campaign_id)
    visible = _visible_directorates(actor, campaign)
    counts = _counts(session, [campaign.id], None if ministry_wide(actor) else actor.directorate_id)
    parts = [(d, counts.get((campaign.id, d.id), Counts())) for d in visible]
    return CampaignView(campaign=campaign, counts=_total([c for _d, c in parts]), by_directorate=parts)


def directorate_choices(session: Session, *, actor: User) -> list[Directorate]:
    """The directorates the actor may run a campaign in."""
    query = select(Directorate).order_by(Directorate.code)
    if not ministry_wide(actor):
        query = query.where(Directorate.id == actor.directorate_id)
    return list(session.scalars(query))


# --- visits ------------------------------------------------------------------------------------

def visit_for_actor(session: Session, *, actor: User, visit_id: int) -> Visit:
    """The visit, for the directorate's case managers and supervisors or the ministry; anyone else: 404."""
    visit = session.get(Visit, visit_id)
    if visit is None or not may_see_visit(actor, visit):
        raise NotFoundForActor("visit")
    return visit


def start_visit(session: Session, *, library: Library, visit: Visit, now: dt.datetime,
                actor_id: int | None = None) -> ProcessInstance:
    """The visit's process instance, started now if it has none (idempotent). Only flushes.

    The instance starts with the household's data under the registration form's names, so the visit's
    forms open filled in with what the registry holds.
    """
    if visit.instance_id is not None:
        instance = session.get(ProcessInstance, visit.instance_id)
        assert instance is not None
        return instance
    version = latest_version(session, VISIT_PROCESS)
    if version is None:
        raise NotDeployed(VISIT_PROCESS)
    household = session.get(Household, visit.household_id)
    assert household is not None
    data = {**household_form_data(household), "visit_id": visit.id, "campaign_id": visit.campaign_id,
            "household_id": visit.household_id, "directorate": visit.directorate.code, "attempt": visit.attempt}
    advance = runtime.start_instance(session, library=library, version=version, business_key=visit_key(visit.id),
                                     scope=visit_scope(visit.directorate.code), data=data, actor_id=actor_id,
                                     now=now)
    visit.instance_id = advance.instance.id
    visit.updated_at = now
    return advance.instance


def visit_form_data(session: Session, visit: Visit) -> dict[str, Any]:
    """What the visit's update form opens with: the household as the registry holds it now."""
    household = session.get(Household, visit.household_id)
    assert household is not None
    return household_form_data(household)


def differences(session: Session, *, visit: Visit, actor: User, base_version: int) -> list[dict[str, Any]]:
    """What changed since ``base_version`` that a submission from it would overwrite (empty: nothing)."""
    found: list[dict[str, Any]] = []
    if visit.outcome is not None:
        found.append({"kind": "already_completed", "outcome": visit.outcome,
                      "completed_at": visit.completed_at.isoformat() if visit.completed_at else None})
    if visit.case_manager_id not in (None, actor.id):
        found.append({"kind": "reassigned", "case_manager_id": visit.case_manager_id})
    household_at = session.scalar(select(Household.updated_at).where(Household.id == visit.household_id))
    if household_at is not None and household_at > visit.updated_at:
        found.append({"kind": "household_changed", "at": household_at.isoformat()})
    if visit.outcome is None and visit.instance_id is not None:
        instance_at = session.scalar(select(ProcessInstance.updated_at)
                                     .where(ProcessInstance.id == visit.instance_id))
        if instance_at is not None and instance_at > visit.updated_at:
            found.append({"kind": "process_migrated", "at": instance_at.isoformat()})
    if base_version != visit.lock_version and not found:
        found.append({"kind": "visit_changed", "from": base_version, "to": visit.lock_version})
    return found


def _ready_task(session: Session, visit: Visit, spec_id: str) -> TaskRecord | None:
    return session.scalar(select(TaskRecord).where(TaskRecord.business_key == visit_key(visit.id),
                                                   TaskRecord.spec_id == spec_id,
                                                   TaskRecord.state == TaskState.READY.value))


def _clean_outcome(outcome: str | None) -> str:
    if outcome not in set(VisitOutcome):
        raise FormInvalid({"outcome": ["required" if not outcome else "invalid_choice"]})
    return str(outcome)


def complete_visit(session: Session, *, actor: User, library: Library, visit_id: int, outcome: str | None,
                   data: Mapping[str, Any], base_version: int, now: dt.datetime,
                   note: str | None = None) -> VisitResult:
    """Record a visit: ``updated`` writes ``data`` (the registration form's answers) over the household with
    sources, scores it again and may ask a supervisor for a spot-check; ``not_found`` and ``refused`` are
    recorded and another attempt is planned for another day, up to the diagram's number of attempts.

    ``base_version`` is the visit's ``lock_version`` when the form was opened or downloaded. When the visit
    or its household changed since, VisitConflict says how and nothing is changed. Raises
    NotFoundForActor, NotPermitted, FormInvalid, NotDeployed or VisitConflict.
    """
    visit = visit_for_actor(session, actor=actor, visit_id=visit_id)
    # On PostgreSQL, lock the row: two submissions of one visit are checked one after the other.
    visit = session.scalars(select(Visit).where(Visit.id == visit.id).with_for_update(of=Visit)
                            .execution_options(populate_existing=True)).one()
    found = differences(session, visit=visit, actor=actor, base_version=base_version)
    if found:
        session.rollback()
        raise VisitConflict(visit.id, visit.lock_version, found)
    if not may_do_visit(actor, visit):
        session.rollback()
        raise NotPermitted("visits are made by the case manager they were given to")
    outcome = _clean_outcome(outcome)
    with _unit_of_work(session):
        visit.case_manager_id = visit.case_manager_id or actor.id  # an unallocated visit is the one who made it
        start_visit(session, library=library, visit=visit, now=now, actor_id=actor.id)

        def may_act(record: TaskRecord) -> bool:
            return record.lane == actor.role and may_do_visit(actor, visit)

        task = _ready_task(session, visit, VISIT_TASK)
        if task is None:
            raise VisitConflict(visit.id, visit.lock_version, [{"kind": "process_migrated", "at": None}])
        runtime.complete_task(session, library=library, task_id=task.id, actor_id=actor.id, may_act=may_act,
                              now=now, data={"outcome": outcome, "visit_note": (note or "").strip()[:2000] or None})
        result = VisitResult(visit=visit, outcome=outcome)
        if outcome == VisitOutcome.UPDATED.value:
            update = _ready_task(session, visit, UPDATE_TASK)
            assert update is not None, "the diagram goes on to the update form"
            advance = runtime.complete_task(session, library=library, task_id=update.id, actor_id=actor.id,
                                            may_act=may_act, now=now, data=dict(data))
            result.spot_check = bool(advance.data.get("spot_check_chosen"))
        else:
            nxt = session.scalar(select(Visit.id).where(Visit.campaign_id == visit.campaign_id,
                                                       Visit.household_id == visit.household_id,
                                                       Visit.attempt == visit.attempt + 1))
            result.next_visit_id = nxt
        visit.outcome = outcome
        visit.visited_at = visit.visited_at or now
        visit.completed_at = now
        visit.updated_at = now
        visit.lock_version += 1
        result.category_before, result.category_after = visit.category_before, visit.category_after
        record_event(session, actor_id=actor.id, case_id=None, action="visit_completed", at=now,
                     details={"visit_id": visit.id, "campaign_id": visit.campaign_id,
                              "household_id": visit.household_id, "outcome": outcome, "attempt": visit.attempt,
                              "category_before": visit.category_before, "category_after": visit.category_after,
                              "spot_check": result.spot_check, "next_visit_id": result.next_visit_id})
    return result


# --- the supervisor's spot-checks ---------------------------------------------------------------

def _may_spot_check(actor: User, visit: Visit) -> bool:
    return actor.role == Role.SUPERVISOR.value and actor.active and actor.directorate_id == visit.directorate_id


def spot_checks(session: Session, *, actor: User) -> list[tuple[TaskRecord, Visit]]:
    """The spot-checks waiting on the actor's directorate, oldest first."""
    if actor.role != Role.SUPERVISOR.value or actor.directorate is None:
        return []
    rows = session.execute(
        select(TaskRecord, Visit).join(Visit, Visit.instance_id == TaskRecord.instance_id)
        .where(TaskRecord.scope == visit_scope(actor.directorate.code), TaskRecord.spec_id == SPOT_CHECK_TASK,
               TaskRecord.state == TaskState.READY.value)
        .order_by(TaskRecord.created_at, TaskRecord.id).limit(200)).tuples()
    return list(rows)


@dataclass
class SpotCheckForm:
    visit: Visit
    task: TaskRecord
    form: FormDef
    version: int


def spot_check_form(session: Session, *, actor: User, library: Library, visit_id: int) -> SpotCheckForm:
    """The visit's waiting spot-check, for a supervisor of its directorate; anything else is a 404."""
    visit = visit_for_actor(session, actor=actor, visit_id=visit_id)
    task = _ready_task(session, visit, SPOT_CHECK_TASK)
    if task is None or not _may_spot_check(actor, visit):
        raise NotFoundForActor("spot-check")
    instance = session.get(ProcessInstance, task.instance_id)
    assert instance is not None
    return SpotCheckForm(visit=visit, task=task, form=runtime.form_for(session, library, task),
                         version=instance.lock_version)


def complete_spot_check(session: Session, *, actor: User, library: Library, visit_id: int,
                        data: Mapping[str, Any], now: dt.datetime, expected_version: int | None = None) -> Visit:
    """Record the supervisor's spot-check of an updated visit. Raises NotFoundForActor, FormInvalid, StaleState."""
    form = spot_check_form(session, actor=actor, library=library, visit_id=visit_id)
    visit = form.visit
    with _unit_of_work(session):
        advance = runtime.complete_task(session, library=library, task_id=form.task.id, actor_id=actor.id,
                                        data=data, now=now, expected_version=expected_version,
                                        may_act=lambda record: _may_spot_check(actor, visit))
        answers = advance.completed.data if advance.completed is not None else {}
        record_event(session, actor_id=actor.id, case_id=None, action="visit_spot_checked", at=now,
                     details={"visit_id": visit.id, "household_id": visit.household_id,
                              "result": (answers or {}).get("spot_check_result")})
    return visit


# --- the visit page ----------------------------------------------------------------------------

@dataclass
class VisitPage:
    """What the visit page shows: the visit, its forms filled in from the household, who may submit."""

    visit: Visit
    outcome_form: FormDef
    update_form: FormDef
    values: dict[str, Any]
    choices: dict[str, list[tuple[str, dict[str, str]]]]
    may_submit: bool
    spot_check_waiting: bool
    earlier: list[Visit] = field(default_factory=list)


def visit_page(session: Session, *, actor: User, library: Library, visit_id: int) -> VisitPage:
    """The visit for its case manager (to fill in) or the directorate's supervisor (to read); else a 404."""
    from engine.catalog import CHOICE_PROVIDERS
    from engine.forms import load_form

    visit = visit_for_actor(session, actor=actor, visit_id=visit_id)
    outcome_form = load_form(library.forms_dir, "visit_outcome")
    update_form = load_form(library.forms_dir, "registration")
    choices = {f.name: CHOICE_PROVIDERS[f.choices_from](session, visit.directorate.code)
               for f in update_form.fields if f.choices_from}
    earlier = list(session.scalars(select(Visit).where(
        Visit.campaign_id == visit.campaign_id, Visit.household_id == visit.household_id,
        Visit.attempt < visit.attempt).order_by(Visit.attempt)))
    return VisitPage(visit=visit, outcome_form=outcome_form, update_form=update_form,
                     values=visit_form_data(session, visit), choices=choices,
                     may_submit=visit.is_open and may_do_visit(actor, visit),
                     spot_check_waiting=_ready_task(session, visit, SPOT_CHECK_TASK) is not None, earlier=earlier)
