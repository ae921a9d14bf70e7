"""Who may see and work on a referral: decided here once, for lists, pages and completions alike.

A referral's tasks carry the scope ``referrals:<partner code>``, so case inboxes and task pages (which match
a directorate code) never list nor open them. A partner's users see only their organisation's referrals, and
of the household only what delivering the service needs (``PartnerReferral``): never its eligibility.
Staff see the referrals of cases in their directorate (case managers and supervisors).
"""

from __future__ import annotations

from engine.models import TaskRecord
from registry.models import Case, Role, User
from registry.referrals.models import Referral

SCOPE_PREFIX = "referrals:"
STAFF_ROLES = frozenset({Role.CASE_MANAGER.value, Role.SUPERVISOR.value})


def referral_scope(partner_code: str) -> str:
    return f"{SCOPE_PREFIX}{partner_code}"


def partner_code_of(scope: str) -> str | None:
    return scope.removeprefix(SCOPE_PREFIX) if scope.startswith(SCOPE_PREFIX) else None


def is_partner(actor: User) -> bool:
    """A partner organisation's user (who may open nothing of the ministry's own pages)."""
    return actor.role == Role.PARTNER.value


def partner_may_see(actor: User, referral: Referral) -> bool:
    return (is_partner(actor) and actor.active and actor.partner_id is not None
            and referral.partner_id == actor.partner_id)


def staff_may_see(actor: User, case: Case) -> bool:
    return (actor.role in STAFF_ROLES and actor.active and actor.directorate_id is not None
            and actor.directorate_id == case.directorate_id)


def may_see(actor: User, referral: Referral, case: Case) -> bool:
    return partner_may_see(actor, referral) or staff_may_see(actor, case)


def may_act(actor: User, referral: Referral, case: Case, record: TaskRecord) -> bool:
    """A referral task is the work of its lane's role, for those who may see the referral."""
    return (record.business_key == referral.reference and record.lane == actor.role
            and may_see(actor, referral, case))
