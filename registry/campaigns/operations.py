"""The service operations of the update_visit process (processes/update_visit.bpmn).

Each runs inside the transaction of the visit's completion (registry.campaigns.services.complete_visit)
and only flushes. The business key of a visit's instance is ``visit:<id>``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from engine.catalog import OperationContext
from engine.forms import load_form
from registry import scores
from registry.audit import record_event
from registry.campaigns.allocation_rules import load_allocation_rules
from registry.campaigns.household_data import update_household
from registry.campaigns.models import Visit
from registry.campaigns.staff_models import StaffDayOff
from registry.households import scoring_data
from registry.models import Case, CaseStatus, Household
from registry.operations import local_date, store_score

VISIT_KEY_PREFIX = "visit:"
#: The form a visit updates the household with: the registration form.
UPDATE_FORM = "registration"
SPOT_CHECK_FILE = "spot_check.yaml"
PROJECT_DIR = Path(__file__).resolve().parents[2]
#: Reasons rules/spot_check.yaml may list under ``always_when``.
ALWAYS_REASONS = frozenset({"category_changed"})


def visit_key(visit_id: int) -> str:
    return f"{VISIT_KEY_PREFIX}{visit_id}"


def visit_id_of(business_key: str) -> int | None:
    """The visit a business key names (``visit:12``), None for any other key."""
    rest = str(business_key).removeprefix(VISIT_KEY_PREFIX)
    if rest == business_key or not rest.isdigit():
        return None
    return int(rest)


def _visit(context: OperationContext) -> Visit:
    visit_id = visit_id_of(context.business_key)
    visit = context.session.get(Visit, visit_id) if visit_id is not None else None
    if visit is None:
        raise LookupError(f"visit {context.business_key} not found")
    return visit


def _open_case_id(context: OperationContext, household_id: int) -> int | None:
    return context.session.scalar(select(Case.id).where(Case.household_id == household_id,
                                                        Case.status == CaseStatus.OPEN.value).limit(1))


def _deployed_dir(context: OperationContext, folder: str) -> Path:
    """The visit's deployed version's folder (rules, forms); the project's when run without one."""
    if context.rules_dir:
        return Path(context.rules_dir).parent / folder
    return PROJECT_DIR / folder


def save_visit_household(context: OperationContext) -> dict[str, Any]:
    """Write what the case manager recorded with the registration form over the household, with sources."""
    visit = _visit(context)
    household = context.session.get(Household, visit.household_id)
    assert household is not None
    form = load_form(_deployed_dir(context, "forms"), UPDATE_FORM)
    data = {name: context.data.get(name) for name in form.field_names() if name in context.data}
    changed = update_household(context.session, household, data, actor_id=context.actor_id, visit_id=visit.id,
                               today=local_date(context.now), now=context.now)
    record_event(context.session, actor_id=context.actor_id, case_id=_open_case_id(context, household.id),
                 action="visit_household_updated", at=context.now,
                 details={"visit_id": visit.id, "household_id": household.id, "changed": changed})
    return {"household_id": household.id, "changed": changed}


def rescore_visit(context: OperationContext) -> dict[str, Any]:
    """Score the updated household with the deployed rules; the visit keeps the category before and after."""
    visit = _visit(context)
    household = context.session.get(Household, visit.household_id)
    assert household is not None
    before = scores.latest_score(context.session, household.id)
    case_id = _open_case_id(context, household.id)
    scoring = store_score(context.session, household_id=household.id, case_id=case_id,
                          directorate_id=household.directorate_id, data=scoring_data(household),
                          rules_dir=context.rules_dir, actor_id=context.actor_id, now=context.now)
    visit.category_before = before.category if before is not None else None
    visit.category_after = scoring.category
    changed = visit.category_before is not None and visit.category_before != visit.category_after
    record_event(context.session, actor_id=context.actor_id, case_id=case_id, action="visit_rescored",
                 at=context.now, details={"visit_id": visit.id, "household_id": household.id,
                                          "before": visit.category_before, "after": visit.category_after,
                                          "score": scoring.score, "rule_version": scoring.rule_version})
    return {"category_before": visit.category_before, "category_after": visit.category_after,
            "category_changed": changed, "score": scoring.score}


def load_spot_check_rules(rules_dir: Path | str) -> dict[str, Any]:
    """rules/spot_check.yaml, checked: a share between 0 and 1 and known reasons."""
    raw = yaml.safe_load((Path(rules_dir) / SPOT_CHECK_FILE).read_text(encoding="utf-8")) or {}
    share = Fraction(str(raw.get("random_share", 0)))
    if not 0 <= share <= 1:
        raise ValueError(f"{SPOT_CHECK_FILE}: random_share must be between 0 and 1")
    always = [str(reason) for reason in raw.get("always_when") or []]
    unknown = sorted(set(always) - ALWAYS_REASONS)
    if unknown:
        raise ValueError(f"{SPOT_CHECK_FILE}: unknown always_when reasons {unknown}")
    return {"random_share": share, "salt": str(raw.get("salt", "")), "always_when": always}


def random_draw(salt: str, visit_id: int) -> Fraction:
    """A number in [0, 1) worked out from the visit's number: the same visit always draws the same."""
    digest = hashlib.sha256(f"{salt}:{visit_id}".encode()).digest()
    return Fraction(int.from_bytes(digest[:8], "big"), 2 ** 64)


def spot_check_reason(rules: dict[str, Any], *, visit_id: int, category_changed: bool) -> str | None:
    """Why the visit is spot-checked (``category_changed``, ``random``), or None when it is not."""
    if category_changed and "category_changed" in rules["always_when"]:
        return "category_changed"
    if random_draw(rules["salt"], visit_id) < rules["random_share"]:
        return "random"
    return None


def choose_spot_check(context: OperationContext) -> bool:
    """Whether a supervisor checks this updated visit again, as rules/spot_check.yaml decides."""
    visit = _visit(context)
    rules = load_spot_check_rules(_deployed_dir(context, "rules"))
    # A household's first category (none before) is no change, as progress counts changes.
    changed = visit.category_before is not None and visit.category_before != visit.category_after
    reason = spot_check_reason(rules, visit_id=visit.id, category_changed=changed)
    return reason is not None


def _next_working_day(context: OperationContext, user_id: int | None, day: dt.date) -> dt.date:
    """``day`` or the first day after it that is a working day (rules/campaign_allocation.yaml) and not one of
    the case manager's days off: a second attempt planned on a Friday or a holiday would be on no day's route."""
    rules = load_allocation_rules()
    off = set(context.session.scalars(select(StaffDayOff.day).where(
        StaffDayOff.user_id == user_id, StaffDayOff.day >= day))) if user_id is not None else set()
    for _ in range(366):
        if rules.is_working_day(day) and day not in off:
            break
        day += dt.timedelta(days=1)
    return day


def plan_next_attempt(context: OperationContext, max_attempts: Any = 2) -> dict[str, Any]:
    """A household not found or refusing: its outcome stays on this visit, and another attempt is planned
    for the next working day (a new visit row, attempt + 1), until ``max_attempts`` were made."""
    visit = _visit(context)
    limit = max(1, int(max_attempts or 1))
    if visit.attempt >= limit:
        return {"next_visit_id": None, "attempt": visit.attempt}
    day = _next_working_day(context, visit.case_manager_id, local_date(context.now) + dt.timedelta(days=1))
    following = Visit(campaign_id=visit.campaign_id, household_id=visit.household_id,
                      directorate_id=visit.directorate_id, locality=visit.locality,
                      case_manager_id=visit.case_manager_id, planned_on=day, attempt=visit.attempt + 1,
                      updated_at=context.now, lock_version=1)
    context.session.add(following)
    context.session.flush()
    record_event(context.session, actor_id=context.actor_id, case_id=None, action="visit_attempt_planned",
                 at=context.now, details={"visit_id": visit.id, "next_visit_id": following.id,
                                          "attempt": following.attempt, "planned_on": day.isoformat(),
                                          "household_id": visit.household_id})
    return {"next_visit_id": following.id, "attempt": following.attempt}


def register() -> None:
    from engine.catalog import register_operation

    register_operation("save_visit_household", save_visit_household)
    register_operation("rescore_visit", rescore_visit)
    register_operation("choose_spot_check", choose_spot_check)
    register_operation("plan_next_attempt", plan_next_attempt)
