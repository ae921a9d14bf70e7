"""Referral services: send, list, show and handle; each public function that changes data is one unit of work.

A referral runs the ``referral`` process (processes/referral.bpmn): the partner accepts or declines it and
records the service delivered; a declined one goes back to the case manager, and its timers bring an
overdue one to the case manager and then the supervisor. Tasks complete through the engine's one path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import runtime
from engine.deployments import latest_version
from engine.errors import FormInvalid, NotDeployed, NotFoundForActor
from engine.forms import FormDef
from engine.library import Library
from engine.models import ProcessInstance, TaskRecord, TaskState
from registry.audit import record_event
from registry.models import Case, CaseStatus, Role, User
from registry.referrals import access
from registry.referrals.models import PartnerOrganisation, Referral, ReferralStatus
from registry.transactions import unit_of_work

REFERRAL_PROCESS = "referral"
ACKNOWLEDGEMENT_FORM = "referral_acknowledgement"
DELIVERY_FORM = "referral_delivery"
DECLINED_FORM = "referral_declined"
#: The delivery form's field whose choice is the referral's outcome (its labels are the form's).
OUTCOME_FIELD = "delivery_outcome"
#: Stages of a referral's ready tasks that mean it is overdue, and the status the pages then show.
OVERDUE_STAGES = {"referral_overdue": "overdue", "referral_escalated": "escalated"}
MAX_TEXT = 2000


def _unit_of_work(session: Session) -> AbstractContextManager[None]:
    return unit_of_work(session, changed="the referral")


# --- partners ----------------------------------------------------------------------------------

def active_partners(session: Session) -> list[PartnerOrganisation]:
    return list(session.scalars(select(PartnerOrganisation).where(PartnerOrganisation.active)
                                .order_by(PartnerOrganisation.code)))


def partner_by_code(session: Session, code: Any) -> PartnerOrganisation | None:
    if not code:
        return None
    return session.scalar(select(PartnerOrganisation).where(PartnerOrganisation.code == str(code)[:16],
                                                            PartnerOrganisation.active))


def partner_choices(session: Session, scope: str) -> list[tuple[str, dict[str, str]]]:
    """The active partners a referral may go to (a declined referral: any but the one that declined)."""
    declined_by = access.partner_code_of(scope)
    return [(p.code, {"en": p.name_en, "ar": p.name_ar}) for p in active_partners(session) if p.code != declined_by]


# --- sending -----------------------------------------------------------------------------------

def _next_reference(session: Session, case: Case) -> str:
    count = session.scalar(select(func.count()).select_from(Referral).where(Referral.case_id == case.id)) or 0
    return f"REF-{case.id}-{count + 1}"


def send_referral(session: Session, *, library: Library, case: Case, partner: PartnerOrganisation, service: str,
                  intervention: str, note: str | None, actor_id: int | None, now: dt.datetime,
                  previous: Referral | None = None, due_on: dt.date | None = None) -> Referral:
    """Create a referral and start its process (only flushes: the caller's transaction commits it)."""
    version = latest_version(session, REFERRAL_PROCESS)
    if version is None:
        raise NotDeployed(REFERRAL_PROCESS)
    referral = Referral(reference=_next_reference(session, case), case_id=case.id, partner_id=partner.id,
                        service=str(service or "")[:32], intervention=str(intervention or "")[:MAX_TEXT],
                        note=(str(note)[:MAX_TEXT] if note else None), plan_due_on=due_on,
                        status=ReferralStatus.SENT.value,
                        previous_id=previous.id if previous else None, sent_by_id=actor_id, created_at=now)
    session.add(referral)
    session.flush()
    advance = runtime.start_instance(
        session, library=library, version=version, business_key=referral.reference,
        scope=access.referral_scope(partner.code), actor_id=actor_id, now=now,
        data={"referral_reference": referral.reference, "partner": partner.code, "service": referral.service})
    referral.instance_id = advance.instance.id
    referral.acknowledge_due_at = next((t.due_at for t in advance.ready if t.form_key == ACKNOWLEDGEMENT_FORM), None)
    record_event(session, actor_id=actor_id, case_id=case.id, action="referral_sent", at=now,
                 details={"reference": referral.reference, "title": referral.reference, "partner": partner.code,
                          "service": referral.service})
    return referral


def already_referred(session: Session, *, case_id: int, partner_id: int, service: str, intervention: str) -> bool:
    """Whether this intervention went to this partner already (a plan approved again refers nothing twice)."""
    return session.scalar(select(Referral.id).where(
        Referral.case_id == case_id, Referral.partner_id == partner_id, Referral.service == service[:32],
        Referral.intervention == intervention[:MAX_TEXT],
        Referral.status.in_([ReferralStatus.SENT.value, ReferralStatus.ACCEPTED.value,
                             ReferralStatus.DELIVERED.value])).limit(1)) is not None


def may_refer(actor: User, case: Case) -> bool:
    """Only the case's own case manager (or any of the directorate's while it has none) refers an open case."""
    return (actor.role == Role.CASE_MANAGER.value and access.staff_may_see(actor, case)
            and case.status == CaseStatus.OPEN.value and case.case_manager_id in (None, actor.id))


@dataclass(frozen=True)
class ReferralChoices:
    """What the case page's "Refer to a partner" form offers: active partners and the services they deliver."""

    partners: list[PartnerOrganisation]
    services: list[str]


def referral_choices(session: Session, *, actor: User, case: Case) -> ReferralChoices | None:
    """The form's choices, or none when the actor may not refer this case."""
    if not may_refer(actor, case):
        return None
    partners = [p for p in active_partners(session) if p.services]
    services = list(dict.fromkeys(str(code) for p in partners for code in p.services))
    return ReferralChoices(partners=partners, services=services)


def refer_from_case(session: Session, *, actor: User, library: Library, case_id: int, partner_code: str,
                    service: str, intervention: str, note: str | None, now: dt.datetime) -> Referral:
    """The case manager refers the household to a partner from the case page; one unit of work."""
    from registry.cases import case_for_actor

    case = case_for_actor(session, actor=actor, case_id=case_id)
    if not may_refer(actor, case):
        raise NotFoundForActor("case")
    partner = partner_by_code(session, partner_code)
    service = (service or "").strip()
    errors: dict[str, list[str]] = {}
    if not (partner_code or "").strip():
        errors["partner"] = ["required"]
    elif partner is None:
        errors["partner"] = ["invalid_choice"]
    elif service and service not in (partner.services or []):
        errors["partner"] = ["not_offered"]
    if not service:
        errors["service"] = ["required"]
    if not (intervention or "").strip():
        errors["intervention"] = ["required"]
    elif len(intervention) > MAX_TEXT:
        errors["intervention"] = ["too_long"]
    if note and len(note) > MAX_TEXT:
        errors["note"] = ["too_long"]
    if errors:
        raise FormInvalid(errors)
    assert partner is not None
    with _unit_of_work(session):
        referral = send_referral(session, library=library, case=case, partner=partner, service=service,
                                 intervention=intervention.strip(), note=(note or "").strip() or None,
                                 actor_id=actor.id, now=now)
    return referral


# --- what partners see -------------------------------------------------------------------------

@dataclass(frozen=True)
class PartnerReferral:
    """A referral as its partner sees it: the service asked and how to reach the household, nothing more."""

    reference: str
    status: str
    service: str
    intervention: str
    note: str | None
    due_on: dt.date | None
    head_name: str | None
    locality: str | None
    phone: str | None
    created_at: dt.datetime
    acknowledge_due_at: dt.datetime | None
    deliver_due_at: dt.datetime | None
    decline_reason: str | None
    service_delivered: str | None
    outcome: str | None
    tasks: list[TaskRecord] = field(default_factory=list)


def _ready(session: Session, reference: str) -> list[TaskRecord]:
    return list(session.scalars(select(TaskRecord).where(TaskRecord.business_key == reference,
                                                         TaskRecord.state == TaskState.READY.value)
                                .order_by(TaskRecord.created_at, TaskRecord.id)))


def shown_status(referral: Referral, ready: list[TaskRecord]) -> str:
    """The status, or ``overdue``/``escalated`` while an open referral has an overdue follow-up waiting."""
    if referral.is_open:
        for stage in ("referral_escalated", "referral_overdue"):
            if any(t.stage == stage for t in ready):
                return OVERDUE_STAGES[stage]
    return referral.status


def _partner_view(session: Session, referral: Referral, case: Case, actor: User) -> PartnerReferral:
    household = case.household
    head = household.head if household is not None else None
    ready = _ready(session, referral.reference)
    return PartnerReferral(
        reference=referral.reference, status=shown_status(referral, ready), service=referral.service,
        intervention=referral.intervention, note=referral.note, due_on=referral.plan_due_on,
        head_name=head.name_ar if head is not None else None,
        locality=household.locality if household is not None else None,
        phone=household.phone if household is not None else None, created_at=referral.created_at,
        acknowledge_due_at=referral.acknowledge_due_at, deliver_due_at=referral.deliver_due_at,
        decline_reason=referral.decline_reason, service_delivered=referral.service_delivered,
        outcome=referral.outcome, tasks=[t for t in ready if t.lane == actor.role])


def partner_of(session: Session, actor: User) -> PartnerOrganisation:
    partner = session.get(PartnerOrganisation, actor.partner_id) if actor.partner_id else None
    if partner is None or not access.is_partner(actor) or not actor.active:
        raise NotFoundForActor("partner")
    return partner


def partner_inbox(session: Session, *, actor: User, limit: int = 200) -> list[PartnerReferral]:
    """The referrals sent to the actor's organisation: open ones first, then the newest."""
    partner = partner_of(session, actor)
    rows = session.execute(select(Referral, Case).join(Case, Case.id == Referral.case_id)
                           .where(Referral.partner_id == partner.id)
                           .order_by(Referral.created_at.desc(), Referral.id.desc()).limit(limit)).tuples()
    views = [_partner_view(session, r, c, actor) for r, c in rows]
    return sorted(views, key=lambda v: (not v.tasks, v.acknowledge_due_at is None))


def _load(session: Session, reference: str) -> tuple[Referral, Case]:
    row = session.execute(select(Referral, Case).join(Case, Case.id == Referral.case_id)
                          .where(Referral.reference == str(reference)[:32])).tuples().first()
    if row is None:
        raise NotFoundForActor("referral")
    return row


def partner_referral(session: Session, *, actor: User, reference: str) -> PartnerReferral:
    """One referral of the actor's organisation; any other does not exist for them."""
    referral, case = _load(session, reference)
    if not access.partner_may_see(actor, referral):
        raise NotFoundForActor("referral")
    return _partner_view(session, referral, case, actor)


# --- what staff see ----------------------------------------------------------------------------

@dataclass
class StaffReferral:
    referral: Referral
    case: Case
    status: str
    tasks: list[TaskRecord]
    actionable: set[str] = field(default_factory=set)


def case_referrals(session: Session, *, actor: User, case: Case) -> list[StaffReferral]:
    """Every referral of a case the actor may see (their directorate's case managers and supervisors)."""
    if not access.staff_may_see(actor, case):
        return []
    referrals = list(session.scalars(select(Referral).where(Referral.case_id == case.id)
                                     .order_by(Referral.created_at, Referral.id)))
    views = []
    for referral in referrals:
        ready = _ready(session, referral.reference)
        views.append(StaffReferral(referral=referral, case=case, status=shown_status(referral, ready), tasks=ready,
                                   actionable={t.id for t in ready if access.may_act(actor, referral, case, t)}))
    return views


def staff_referral(session: Session, *, actor: User, reference: str) -> StaffReferral:
    referral, case = _load(session, reference)
    if not access.staff_may_see(actor, case):
        raise NotFoundForActor("referral")
    ready = _ready(session, referral.reference)
    return StaffReferral(referral=referral, case=case, status=shown_status(referral, ready), tasks=ready,
                         actionable={t.id for t in ready if access.may_act(actor, referral, case, t)})


def inbox_tasks(session: Session, *, actor: User) -> list[tuple[TaskRecord, Referral, Case]]:
    """The referral tasks waiting on a case manager or supervisor of the directorate, soonest due first."""
    if actor.role not in access.STAFF_ROLES or actor.directorate_id is None:
        return []
    rows = session.execute(
        select(TaskRecord, Referral, Case).join(Referral, Referral.reference == TaskRecord.business_key)
        .join(Case, Case.id == Referral.case_id)
        .where(TaskRecord.state == TaskState.READY.value, TaskRecord.lane == actor.role,
               TaskRecord.scope.like(f"{access.SCOPE_PREFIX}%"), Case.directorate_id == actor.directorate_id)
        .order_by(TaskRecord.due_at.asc().nulls_last(), TaskRecord.created_at).limit(200)).tuples()
    return [(t, r, c) for t, r, c in rows if access.may_act(actor, r, c, t)]


# --- working on a referral's tasks --------------------------------------------------------------

@dataclass
class TaskForm:
    reference: str
    task: TaskRecord
    form: FormDef
    choices: dict[str, list[tuple[str, dict[str, str]]]]
    version: int


def _authorised(session: Session, actor: User, reference: str) -> tuple[Referral, Case]:
    referral, case = _load(session, reference)
    if not access.may_see(actor, referral, case):
        raise NotFoundForActor("referral")
    return referral, case


def task_form(session: Session, *, actor: User, library: Library, reference: str, task_id: str) -> TaskForm:
    """A ready referral task the actor may do, with its form; anything else is a 404."""
    from engine.catalog import CHOICE_PROVIDERS

    referral, case = _authorised(session, actor, reference)
    record = session.get(TaskRecord, task_id)
    if record is None or not record.is_ready or not access.may_act(actor, referral, case, record):
        raise NotFoundForActor(task_id)
    instance = session.get(ProcessInstance, record.instance_id)
    assert instance is not None
    form = runtime.form_for(session, library, record)
    choices = {f.name: CHOICE_PROVIDERS[f.choices_from](session, record.scope) for f in form.fields
               if f.choices_from}
    return TaskForm(reference=referral.reference, task=record, form=form, choices=choices,
                    version=instance.lock_version)


def complete_task(session: Session, *, actor: User, library: Library, reference: str, task_id: str,
                  data: Mapping[str, Any], now: dt.datetime, expected_version: int | None = None) -> Referral:
    """Complete a referral task through the engine; the referral and its case's history follow in the same
    transaction."""
    referral, case = _authorised(session, actor, reference)
    with _unit_of_work(session):
        advance = runtime.complete_task(session, library=library, task_id=task_id, actor_id=actor.id, data=data,
                                        may_act=lambda record: access.may_act(actor, referral, case, record),
                                        now=now, expected_version=expected_version)
        record = advance.completed
        assert record is not None
        answers = record.data or {}
        action = "referral_followed_up"
        if record.form_key == ACKNOWLEDGEMENT_FORM:
            referral.acknowledged_at = now
            if answers.get("partner_decision") == "decline":
                referral.status = ReferralStatus.DECLINED.value
                referral.decline_reason = str(answers.get("decline_reason") or "")
                action = "referral_declined"
            else:
                referral.status = ReferralStatus.ACCEPTED.value
                referral.deliver_due_at = next((t.due_at for t in advance.ready if t.form_key == DELIVERY_FORM),
                                               None)
                action = "referral_accepted"
        elif record.form_key == DELIVERY_FORM:
            referral.status = ReferralStatus.DELIVERED.value
            referral.service_delivered = str(answers.get("service_delivered") or "")
            referral.outcome = str(answers.get("delivery_outcome") or "") or None
            referral.delivered_at = now
            action = "referral_delivered"
        elif record.form_key == DECLINED_FORM:
            if answers.get("next_step") != "re_refer":  # sending it on is the diagram's refer_again operation
                referral.status = ReferralStatus.CLOSED.value
                action = "referral_closed"
            else:
                action = "task_completed"
        record_event(session, actor_id=actor.id, case_id=case.id, action=action, at=now,
                     details={"reference": referral.reference, "title": referral.reference, "task": record.spec_id,
                              "data": answers if not access.is_partner(actor) else {
                                  k: v for k, v in answers.items() if k != "partner_contact"}})
    return referral
